// Files: Bun implements node:fs/promises, including fsync of a folder opened read-only
// (checked on Bun 1.4), so the Node adapter's code serves as it is.

export { appendBytes, fileSize, readBytes, readText, rename, stat, writeFileAtomic } from '../node/fs.ts';
