// --help: citty renders the usage; this adds only what it lacks. citty pads every row of a
// table to its widest description (300+ columns for serve) and decides colours from NO_COLOR=1,
// TERM, TEST and CI alone, never from whether stdout is a terminal. A router's serial console
// is 80 columns and `holdfast serve --help | less` is common, so rows are folded to the width,
// and colours are kept only where consola says stdout takes them (a TTY, no NO_COLOR).

import { renderUsage, type CommandDef } from 'citty';
import { colors, stripAnsi } from 'consola/utils';

/** Serial consoles and the default terminal: 80 columns. */
export const HELP_WIDTH = 80;
/** Where a description goes under its flag when the flags are too wide to share a line. */
const UNDER_INDENT = 6;

/** consola's decision (NO_COLOR, FORCE_COLOR, a TTY on fd 1, TERM=dumb), read off its colours. */
export function stdoutTakesColour(): boolean {
  return colors.cyan('x') !== 'x';
}

const visible = (s: string) => stripAnsi(s).length;

/** Words of `text` in lines no wider than `width` (a longer word keeps its own line). */
function wrapWords(text: string, width: number): string[] {
  const out: string[] = [];
  let line = '';
  for (const word of text.split(' ').filter((w) => w !== '')) {
    if (line && visible(line) + 1 + visible(word) > width) {
      out.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) out.push(line);
  return out.length ? out : [''];
}

/** A table row as citty lays it out: indent, the name, two or more spaces, the description. */
const ROW = /^( +)(\S+(?: \S+)*?) {2,}(\S.*)$/;
const HEADING = /^(?:\u001B\[[\d;]*m)*[A-Z]+(?:\u001B\[[\d;]*m)*$/;

/** One table (the rows under a heading), folded to `width`. */
function foldTable(rows: Array<{ name: string; text: string }>, width: number): string[] {
  const nameWidth = Math.max(...rows.map((r) => visible(r.name)));
  const column = 2 + nameWidth + 2;
  const out: string[] = [];
  // Names side by side with their text while that leaves the text most of the width; else each
  // name on its own line and its text indented under it.
  if (column <= (width * 3) / 8) {
    for (const r of rows) {
      const [first, ...rest] = wrapWords(r.text, width - column);
      out.push(`  ${' '.repeat(nameWidth - visible(r.name))}${r.name}  ${first}`.trimEnd());
      for (const l of rest) out.push(' '.repeat(column) + l);
    }
  } else {
    for (const r of rows) {
      out.push(`  ${r.name}`);
      if (r.text) for (const l of wrapWords(r.text, width - UNDER_INDENT)) out.push(' '.repeat(UNDER_INDENT) + l);
    }
  }
  return out;
}

/** citty's usage text fitted to `width` columns, without colours unless `colour`. */
export function fitUsage(text: string, width: number, colour: boolean): string {
  const src = (colour ? text : stripAnsi(text)).split('\n').map((l) => l.trimEnd());
  const out: string[] = [];
  for (let i = 0; i < src.length; ) {
    const row = ROW.exec(src[i]);
    // A table: consecutive rows after a heading and its blank line.
    if (row && i >= 2 && src[i - 1] === '' && HEADING.test(src[i - 2])) {
      const rows: Array<{ name: string; text: string }> = [];
      for (let m = ROW.exec(src[i]); i < src.length && m; m = ROW.exec(src[++i] ?? '')) rows.push({ name: m[2], text: m[3] });
      out.push(...foldTable(rows, width));
      continue;
    }
    out.push(...(visible(src[i]) > width ? wrapWords(src[i], width) : [src[i]]));
    i++;
  }
  return out.join('\n');
}

/** The usage of `cmd` (a subcommand under `parent`), fitted for stdout. */
export async function helpText(cmd: CommandDef, parent?: CommandDef, colour = stdoutTakesColour(), width = HELP_WIDTH): Promise<string> {
  return fitUsage(await renderUsage(cmd, parent), width, colour);
}
