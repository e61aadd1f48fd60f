// Writes docs/configuration.md's reference section from the settings table (src/config/settings.ts).
//   node build/settings-doc.mjs          (test/config/settings.test.ts fails while it is stale)
import { readFile, writeFile } from 'node:fs/promises';
import { build } from 'esbuild';

const out = await build({ entryPoints: ['src/config/derive.ts'], bundle: true, format: 'esm', platform: 'neutral', write: false, logLevel: 'warning' });
const { settingsMarkdown } = await import(`data:text/javascript;base64,${Buffer.from(out.outputFiles[0].text).toString('base64')}`);
const file = 'docs/configuration.md';
const text = await readFile(file, 'utf8');
const next = text.replace(/(<!-- settings:begin -->\n)[\s\S]*?(<!-- settings:end -->)/, `$1${settingsMarkdown()}$2`);
await writeFile(file, next);
process.stdout.write(next === text ? `${file}: up to date\n` : `${file}: written\n`);
