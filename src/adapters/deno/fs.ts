// Files on Deno's own API.

import { folderOf, isTempNameOf, tempPathFor } from '../shared/paths.ts';

/** As in the Node adapter: the query log and snapshot are for the owner's eyes only. */
const PRIVATE_MODE = 0o600;

function nullIfMissing(e: unknown): null {
  if (e instanceof Deno.errors.NotFound) return null;
  throw e;
}

export function readText(path: string): Promise<string | null> {
  return Deno.readTextFile(path).catch(nullIfMissing);
}

export function readBytes(path: string): Promise<Uint8Array | null> {
  return Deno.readFile(path).catch(nullIfMissing);
}

/** fsync of the folder, so the rename that replaced the file is itself on disk. */
async function syncFolder(folder: string): Promise<void> {
  // Deno opens a folder read-only on Linux and FsFile.sync() is fsync(2) on it (checked on
  // Deno 2.9). Where that is refused (Windows cannot open a folder this way; some mounts say
  // EINVAL), the file is already whole under its name; at worst a power cut brings back the
  // previous whole file, so this stays best effort.
  try {
    const dir = await Deno.open(folder, { read: true });
    try {
      await dir.sync();
    } finally {
      dir.close();
    }
  } catch {
    // See above: nothing better to do.
  }
}

/** Removes what earlier writes of `path` left when they were cut short; best effort. */
async function clearStaleTemps(path: string): Promise<void> {
  const folder = folderOf(path);
  try {
    for await (const e of Deno.readDir(folder)) if (isTempNameOf(path, e.name)) await Deno.remove(`${folder}/${e.name}`).catch(() => {});
  } catch {
    // An unreadable folder: the write below will say what is wrong.
  }
}

export async function writeFileAtomic(path: string, bytes: Uint8Array): Promise<void> {
  await clearStaleTemps(path);
  const tmp = tempPathFor(path);
  let created = false;
  try {
    // createNew is O_CREAT|O_EXCL, which never follows a link (see tempPathFor); Deno has no
    // O_NOFOLLOW option, and with O_EXCL it needs none.
    const file = await Deno.open(tmp, { write: true, createNew: true, mode: PRIVATE_MODE });
    created = true;
    try {
      let written = 0;
      while (written < bytes.length) written += await file.write(bytes.subarray(written));
      await file.sync();
    } finally {
      file.close();
    }
    await Deno.rename(tmp, path);
  } catch (e) {
    // The target is untouched; do not leave a partial copy taking flash space (nor remove
    // what was there under that name if the open itself failed).
    if (created) await Deno.remove(tmp).catch(() => {});
    throw e;
  }
  await syncFolder(folderOf(path));
}

export function rename(from: string, to: string): Promise<void> {
  return Deno.rename(from, to);
}

export function appendBytes(path: string, bytes: Uint8Array): Promise<void> {
  return Deno.writeFile(path, bytes, { append: true, create: true, mode: PRIVATE_MODE });
}

export function fileSize(path: string): Promise<number | null> {
  return Deno.stat(path).then((s) => s.size, nullIfMissing);
}

export function stat(path: string): Promise<{ sizeBytes: number; mtimeMs: number } | null> {
  // mtime is null only where the platform keeps none; the size alone then shows a change.
  return Deno.stat(path).then((s) => ({ sizeBytes: s.size, mtimeMs: s.mtime?.getTime() ?? 0 }), nullIfMissing);
}
