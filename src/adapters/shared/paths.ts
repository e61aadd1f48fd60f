// Path helpers for the fs adapters, written out rather than taken from node:path so the Deno
// adapter needs nothing from Node. POSIX separators only: Holdfast runs on Linux routers.

/** The folder holding `path` ("." for a bare file name), whose entry a rename changes. */
export function folderOf(path: string): string {
  const slash = path.lastIndexOf('/');
  if (slash < 0) return '.';
  return slash === 0 ? '/' : path.slice(0, slash);
}

/** Random hex characters in a temporary file's name: 64 bits, never guessed in advance. */
const TEMP_RANDOM_BYTES = 8;

/**
 * Where an atomic write puts its bytes before the rename: the same folder (a rename across
 * file systems is a copy, not atomic) under a name nobody can predict, opened only if it does
 * not exist yet (O_EXCL, which never follows a link). A fixed name let whoever could write to
 * the folder plant a symlink there and have root overwrite the file it pointed to (#15).
 */
export function tempPathFor(path: string, random: () => Uint8Array = randomBytes): string {
  const hex = Array.from(random(), (b) => b.toString(16).padStart(2, '0')).join('');
  return `${path}.${hex}.tmp`;
}

/**
 * Whether `name` (an entry of the folder, without the folder) is a temporary file that an
 * atomic write of `path` left behind when it was cut short: a crash leaves one each time, so
 * the next write clears them rather than let them fill a router's flash.
 */
export function isTempNameOf(path: string, name: string): boolean {
  const base = path.slice(path.lastIndexOf('/') + 1);
  if (!name.startsWith(`${base}.`) || !name.endsWith('.tmp')) return false;
  return name.length === base.length + 1 + 2 * TEMP_RANDOM_BYTES + 4 && /^[0-9a-f]+$/.test(name.slice(base.length + 1, -4));
}

function randomBytes(): Uint8Array {
  return crypto.getRandomValues(new Uint8Array(TEMP_RANDOM_BYTES));
}
