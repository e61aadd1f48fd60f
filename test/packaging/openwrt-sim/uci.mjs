// A stand-in for OpenWrt's `uci` command in the init-script harness (test/packaging/), written
// for these tests: the subset of the real CLI the init script and the harness's functions.sh
// call (get, set, add_list, del_list, delete, changes, commit, revert, show, export; -q, -c, -t,
// -d), on files in uci's own format under $HF_ROOT/etc/config. Changes wait in
// $HF_ROOT/tmp/.uci until `commit`, as with the real one, and a commit writes the file the way
// uci does: a blank line before each section, one tab before each option, values in single
// quotes. Anonymous sections are shown as @type[N], as `uci show` does.
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const root = process.env.HF_ROOT ?? '';
let quiet = false;
let configDir = join(root, '/etc/config');
let saveDir = join(root, '/tmp/.uci');
let delimiter = ' ';

const args = process.argv.slice(2);
while (args.length && args[0].startsWith('-')) {
  const flag = args.shift();
  if (flag === '-q') quiet = true;
  else if (flag === '-c') configDir = args.shift();
  else if (flag === '-t') saveDir = args.shift();
  else if (flag === '-d') delimiter = args.shift();
  else fail(`unknown option ${flag}`, 2);
}

function fail(message, code = 1) {
  if (!quiet) process.stderr.write(`uci: ${message}\n`);
  process.exit(code);
}

/** Words of one line: quoted parts ('...' or "...") and bare parts, glued as the shell does. */
function words(line) {
  const out = [];
  let cur = null;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (c === ' ' || c === '\t') {
      if (cur !== null) out.push(cur);
      cur = null;
    } else if (c === "'" || c === '"') {
      const end = line.indexOf(c, i + 1);
      if (end < 0) throw new Error(`unterminated quote: ${line}`);
      cur = (cur ?? '') + line.slice(i + 1, end);
      i = end;
    } else if (c === '#' && cur === null) break;
    else cur = (cur ?? '') + c;
  }
  if (cur !== null) out.push(cur);
  return out;
}

function parse(text) {
  const sections = [];
  for (const line of text.split('\n')) {
    const w = words(line);
    if (w.length === 0 || w[0] === 'package') continue;
    if (w[0] === 'config') sections.push({ type: w[1], name: w[2] ?? null, options: [] });
    else if (w[0] === 'option') setOption(sections.at(-1), w[1], w[2] ?? '');
    else if (w[0] === 'list') addList(sections.at(-1), w[1], w[2] ?? '');
    else throw new Error(`cannot parse: ${line}`);
  }
  return sections;
}

const quote = (v) => `'${v.replaceAll("'", "'\\''")}'`;

function serialize(sections) {
  let out = '';
  for (const s of sections) {
    out += `\nconfig ${s.type}${s.name ? ` ${quote(s.name)}` : ''}\n`;
    for (const o of s.options) {
      if (Array.isArray(o.value)) for (const v of o.value) out += `\tlist ${o.key} ${quote(v)}\n`;
      else out += `\toption ${o.key} ${quote(o.value)}\n`;
    }
  }
  return out;
}

function setOption(section, key, value) {
  const o = section.options.find((x) => x.key === key);
  if (o) o.value = value;
  else section.options.push({ key, value });
}

function addList(section, key, value) {
  const o = section.options.find((x) => x.key === key);
  if (!o) section.options.push({ key, value: [value] });
  else if (Array.isArray(o.value)) o.value.push(value);
  else o.value = [o.value, value];
}

const filePath = (pkg) => join(configDir, pkg);
const pendingPath = (pkg) => join(saveDir, `${pkg}.pending`);

function load(pkg) {
  if (existsSync(pendingPath(pkg))) return parse(readFileSync(pendingPath(pkg), 'utf8'));
  if (!existsSync(filePath(pkg))) fail('Entry not found');
  return parse(readFileSync(filePath(pkg), 'utf8'));
}

function save(pkg, sections) {
  mkdirSync(saveDir, { recursive: true });
  writeFileSync(pendingPath(pkg), serialize(sections));
}

/** The section that `ref` names: a name, or @type[N] (N may be negative). */
function findSection(sections, ref) {
  const m = /^@([^[]+)\[(-?\d+)\]$/.exec(ref);
  if (!m) return sections.find((s) => s.name === ref);
  const ofType = sections.filter((s) => s.type === m[1]);
  const i = Number(m[2]);
  return ofType.at(i);
}

function refOf(sections, s) {
  if (s.name) return s.name;
  const ofType = sections.filter((x) => x.type === s.type);
  return `@${s.type}[${ofType.indexOf(s)}]`;
}

/** "pkg.sec.opt=value" → { pkg, sec, opt, value } */
function splitPath(path) {
  const eq = path.indexOf('=');
  const left = eq < 0 ? path : path.slice(0, eq);
  const value = eq < 0 ? undefined : path.slice(eq + 1);
  const [pkg, sec, ...rest] = left.split('.');
  return { pkg, sec, opt: rest.length ? rest.join('.') : undefined, value };
}

const show = (v) => (Array.isArray(v) ? v.map(quote).join(' ') : quote(v));

const [command, ...rest] = args;
switch (command) {
  case 'get': {
    const { pkg, sec, opt } = splitPath(rest[0]);
    const s = findSection(load(pkg), sec);
    if (!s) fail('Entry not found');
    if (opt === undefined) {
      process.stdout.write(`${s.type}\n`);
      break;
    }
    const o = s.options.find((x) => x.key === opt);
    if (!o) fail('Entry not found');
    process.stdout.write(`${Array.isArray(o.value) ? o.value.join(delimiter) : o.value}\n`);
    break;
  }
  case 'set':
  case 'add_list':
  case 'del_list':
  case 'delete': {
    const { pkg, sec, opt, value } = splitPath(rest[0]);
    const sections = load(pkg);
    let s = findSection(sections, sec);
    if (command === 'set' && opt === undefined) {
      if (!s) sections.push({ type: value, name: sec, options: [] });
      else s.type = value;
    } else {
      if (!s) fail('Invalid argument');
      if (command === 'set') setOption(s, opt, value);
      else if (command === 'add_list') addList(s, opt, value);
      else if (command === 'del_list') {
        const o = s.options.find((x) => x.key === opt);
        if (o && Array.isArray(o.value)) {
          o.value = o.value.filter((v) => v !== value);
          if (o.value.length === 0) s.options.splice(s.options.indexOf(o), 1);
        }
      } else if (opt === undefined) sections.splice(sections.indexOf(s), 1);
      else s.options = s.options.filter((x) => x.key !== opt);
    }
    save(pkg, sections);
    break;
  }
  case 'changes': {
    const pkg = rest[0];
    if (existsSync(pendingPath(pkg)) && readFileSync(pendingPath(pkg), 'utf8') !== serialize(parse(readFileSync(filePath(pkg), 'utf8')))) {
      process.stdout.write(`${pkg}: uncommitted changes\n`);
    }
    break;
  }
  case 'commit': {
    const pkg = rest[0];
    if (existsSync(pendingPath(pkg))) {
      writeFileSync(filePath(pkg), readFileSync(pendingPath(pkg)));
      rmSync(pendingPath(pkg));
    }
    break;
  }
  case 'revert':
    rmSync(pendingPath(rest[0]), { force: true });
    break;
  case 'show': {
    const { pkg, sec } = splitPath(rest[0]);
    const sections = load(pkg);
    for (const s of sections) {
      const ref = refOf(sections, s);
      if (sec !== undefined && ref !== sec) continue;
      process.stdout.write(`${pkg}.${ref}=${s.type}\n`);
      for (const o of s.options) process.stdout.write(`${pkg}.${ref}.${o.key}=${show(o.value)}\n`);
    }
    break;
  }
  case 'export':
    process.stdout.write(`package ${rest[0]}\n${serialize(load(rest[0]))}`);
    break;
  default:
    fail(`unknown command ${command}`, 2);
}
