// Files on Deno's own API.

import { folderOf, tempPathFor } from '../shared/paths.ts';

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

export async function writeFileAtomic(path: string, bytes: Uint8Array): Promise<void> {
  const tmp = tempPathFor(path);
  try {
    const file = await Deno.open(tmp, { write: true, create: true, truncate: true, mode: 0o644 });
    try {
      let written = 0;
      while (written < bytes.length) written += await file.write(bytes.subarray(written));
      await file.sync();
    } finally {
      file.close();
    }
    await Deno.rename(tmp, path);
  } catch (e) {
    // The target is untouched; do not leave a partial copy taking flash space.
    await Deno.remove(tmp).catch(() => {});
    throw e;
  }
  await syncFolder(folderOf(path));
}

export function rename(from: string, to: string): Promise<void> {
  return Deno.rename(from, to);
}

export function appendBytes(path: string, bytes: Uint8Array): Promise<void> {
  return Deno.writeFile(path, bytes, { append: true, create: true, mode: 0o644 });
}

export function fileSize(path: string): Promise<number | null> {
  return Deno.stat(path).then((s) => s.size, nullIfMissing);
}

export function stat(path: string): Promise<{ sizeBytes: number; mtimeMs: number } | null> {
  // mtime is null only where the platform keeps none; the size alone then shows a change.
  return Deno.stat(path).then((s) => ({ sizeBytes: s.size, mtimeMs: s.mtime?.getTime() ?? 0 }), nullIfMissing);
}
