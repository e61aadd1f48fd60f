// Files on node:fs/promises (Bun uses this too: see bun/fs.ts).

import { constants } from 'node:fs';
import { appendFile, open, readdir, readFile, rename as renameFile, stat as nodeStat, unlink } from 'node:fs/promises';
import { folderOf, isTempNameOf, tempPathFor } from '../shared/paths.ts';

/**
 * Files we create hold clients' addresses and names (query log) or what they asked (snapshot):
 * readable by the owner only.
 */
const PRIVATE_MODE = 0o600;
/** A new file only, never through a link: see tempPathFor. O_EXCL alone refuses a symlink; NOFOLLOW says so twice. */
const CREATE_NEW = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | (constants.O_NOFOLLOW ?? 0);

function nullIfMissing(e: NodeJS.ErrnoException): null {
  if (e.code === 'ENOENT') return null;
  throw e;
}

export function readText(path: string): Promise<string | null> {
  return readFile(path, 'utf8').catch(nullIfMissing);
}

export function readBytes(path: string): Promise<Uint8Array | null> {
  return readFile(path).then((b) => new Uint8Array(b.buffer, b.byteOffset, b.byteLength), nullIfMissing);
}

/** fsync of the folder, so the rename that replaced the file is itself on disk. */
async function syncFolder(folder: string): Promise<void> {
  // Linux lets a folder be opened read-only and fsynced. Where a file system refuses (some
  // FUSE or network mounts say EINVAL), the file is already whole under its name either way;
  // at worst a power cut brings back the previous whole file, so this stays best effort.
  try {
    const dir = await open(folder, 'r');
    try {
      await dir.sync();
    } finally {
      await dir.close();
    }
  } catch {
    // See above: nothing better to do.
  }
}

/** Removes what earlier writes of `path` left when they were cut short; best effort. */
async function clearStaleTemps(path: string): Promise<void> {
  const folder = folderOf(path);
  try {
    for (const name of await readdir(folder)) if (isTempNameOf(path, name)) await unlink(`${folder}/${name}`).catch(() => {});
  } catch {
    // An unreadable folder: the write below will say what is wrong.
  }
}

export async function writeFileAtomic(path: string, bytes: Uint8Array): Promise<void> {
  await clearStaleTemps(path);
  const tmp = tempPathFor(path);
  let created = false;
  try {
    const file = await open(tmp, CREATE_NEW, PRIVATE_MODE);
    created = true;
    try {
      await file.writeFile(bytes);
      await file.sync();
    } finally {
      await file.close();
    }
    await renameFile(tmp, path);
  } catch (e) {
    // The target is untouched; do not leave a partial copy taking flash space (nor remove
    // what was there under that name if the open itself failed).
    if (created) await unlink(tmp).catch(() => {});
    throw e;
  }
  await syncFolder(folderOf(path));
}

export function rename(from: string, to: string): Promise<void> {
  return renameFile(from, to);
}

export function appendBytes(path: string, bytes: Uint8Array): Promise<void> {
  return appendFile(path, bytes, { mode: PRIVATE_MODE });
}

export function fileSize(path: string): Promise<number | null> {
  return nodeStat(path).then((s) => s.size, nullIfMissing);
}

export function stat(path: string): Promise<{ sizeBytes: number; mtimeMs: number } | null> {
  return nodeStat(path).then((s) => ({ sizeBytes: s.size, mtimeMs: s.mtimeMs }), nullIfMissing);
}
