// Every relative link in README.md and docs/*.md points at a file that exists, and a link to a
// heading (#anchor) at a heading that exists, so moving a page or renaming a section cannot
// quietly leave a newcomer at a dead end; and every TOML example there is a config file that
// `holdfast config check` accepts. Paths are from the repository root (the tests' cwd).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, normalize } from 'node:path';
import { validateConfig } from '../src/config/config.ts';
import { configFromText } from '../src/config/file.ts';

const PAGES = ['README.md', ...readdirSync('docs').filter((f) => f.endsWith('.md')).sort().map((f) => `docs/${f}`)];

/** The text outside fenced code blocks and inline code spans, where a link is a link. */
function prose(markdown: string): string {
  return markdown
    .replace(/^(```|~~~)[^\n]*\n[\s\S]*?^\1[^\n]*$/gm, '')
    .replace(/`[^`\n]*`/g, '');
}

/** The bodies of the page's ```toml blocks. */
export function tomlBlocks(markdown: string): string[] {
  return [...markdown.matchAll(/^```toml[^\n]*\n([\s\S]*?)^```\s*$/gm)].map((m) => m[1]);
}

/** Link targets: inline `[text](target "title")` and reference definitions `[id]: target`. */
export function linkTargets(markdown: string): string[] {
  const text = prose(markdown);
  const inline = [...text.matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)].map((m) => m[1]);
  const defined = [...text.matchAll(/^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)/gm)].map((m) => m[1]);
  return [...inline, ...defined];
}

/** The anchors GitHub gives a page's headings (lower case, punctuation dropped, spaces as dashes, repeats numbered), and any explicit id or name. */
export function anchorsOf(markdown: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  for (const m of markdown.replace(/^(```|~~~)[^\n]*\n[\s\S]*?^\1[^\n]*$/gm, '').matchAll(/^#{1,6}\s+(.+?)\s*#*\s*$/gm)) {
    const text = m[1].replace(/\[([^\]]*)\]\([^)]*\)/g, '$1').replace(/<[^>]+>/g, '');
    const base = text.toLowerCase().replace(/[^\p{L}\p{N}\s_-]/gu, '').replace(/ /g, '-');
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    anchors.add(n === 0 ? base : `${base}-${n}`);
  }
  for (const m of markdown.matchAll(/<a\s+(?:id|name)="([^"]+)"/g)) anchors.add(m[1]);
  return anchors;
}

/** What is wrong with `target` as a link from `page`, or null when it resolves. */
function problem(page: string, target: string): string | null {
  if (/^[a-z][a-z0-9+.-]*:/i.test(target)) return null; // https:, mailto: and the like
  const [pathPart, anchor] = target.split('#', 2);
  const file = pathPart === '' ? page : normalize(join(dirname(page), decodeURIComponent(pathPart)));
  if (file.startsWith('..')) return `${target} leaves the repository`;
  if (!existsSync(file)) return `${target}: ${file} does not exist`;
  if (anchor === undefined || anchor === '' || !file.endsWith('.md') || statSync(file).isDirectory()) return null;
  return anchorsOf(readFileSync(file, 'utf8')).has(anchor) ? null : `${target}: ${file} has no heading #${anchor}`;
}

describe('#13 - docs links', () => {
  it('reads links and anchors as GitHub renders them', () => {
    const page = '# Holdfast\n\n## No `--upstream`: the system\'s resolvers\n\n## Notes\n## Notes\n\n[a](docs/x.md#y) and `[b](not/a/link.md)`\n\n```\n[c](in/code.md)\n```\n\n[d]: ../e.md\n';
    assert.deepEqual(linkTargets(page), ['docs/x.md#y', '../e.md']);
    assert.deepEqual([...anchorsOf(page)], ['holdfast', 'no---upstream-the-systems-resolvers', 'notes', 'notes-1']);
  });

  for (const page of PAGES) {
    it(`every relative link in ${page} points at a file (and heading) that exists`, () => {
      const bad = linkTargets(readFileSync(page, 'utf8')).map((t) => problem(page, t)).filter((p) => p !== null);
      assert.deepEqual(bad, []);
    });
  }
});

describe('#13 - docs config examples', () => {
  it('finds the README\'s example, and a wrong key in one fails the check', () => {
    const blocks = tomlBlocks(readFileSync('README.md', 'utf8'));
    assert.ok(blocks.length >= 1, 'README.md has a ```toml example');
    assert.throws(() => configFromText(`${blocks[0]}\n[queryLog]\nmaxEntrys = 5\n`, 'README.md'), { code: 'HF_CONFIG', message: /maxEntrys is an unknown key/ });
  });

  for (const page of PAGES) {
    it(`every TOML example in ${page} is a valid config file`, () => {
      for (const block of tomlBlocks(readFileSync(page, 'utf8'))) validateConfig(configFromText(block, page));
    });
  }
});
