// Path helpers for the fs adapters, written out rather than taken from node:path so the Deno
// adapter needs nothing from Node. POSIX separators only: Holdfast runs on Linux routers.

/** The folder holding `path` ("." for a bare file name), whose entry a rename changes. */
export function folderOf(path: string): string {
  const slash = path.lastIndexOf('/');
  if (slash < 0) return '.';
  return slash === 0 ? '/' : path.slice(0, slash);
}

/**
 * Where an atomic write puts its bytes before the rename: the same folder (a rename across
 * file systems is a copy, not atomic) and a fixed name, so a write cut short by a crash leaves
 * one stray file that the next write truncates, not a new one each time on the router's flash.
 */
export function tempPathFor(path: string): string {
  return `${path}.tmp`;
}
