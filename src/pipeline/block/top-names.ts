// The names blocked most often, in bounded memory: the space-saving algorithm (Metwally,
// Agrawal, El Abbadi, "Efficient computation of frequent and top-k elements in data streams",
// 2005). At most `capacity` names are kept; a new name takes the place of the least counted one
// and inherits its count, which is then an upper bound with `error` the most it may be over. A
// name blocked more than 1/capacity of the time is always among those kept, so with 64 entries
// the top ten of a household's blocked traffic are found whatever the number of distinct names.

export interface TopName {
  readonly name: string;
  /** Times counted; at most `error` more than the truth. */
  readonly count: number;
  readonly error: number;
}

export interface TopNames {
  add(name: string): void;
  /** The `limit` most counted names, most first. */
  top(limit: number): TopName[];
  readonly size: number;
}

/** 64: a few hundred bytes of names, and a full table costs 64 comparisons per new name. */
export const TOP_BLOCKED_CAPACITY = 64;

export function createTopNames(capacity = TOP_BLOCKED_CAPACITY): TopNames {
  const counts = new Map<string, { count: number; error: number }>();
  return {
    add(name) {
      const hit = counts.get(name);
      if (hit) {
        hit.count++;
        return;
      }
      if (counts.size < capacity) {
        counts.set(name, { count: 1, error: 0 });
        return;
      }
      let minName = '';
      let min = Infinity;
      for (const [n, c] of counts) {
        if (c.count < min) {
          min = c.count;
          minName = n;
        }
      }
      counts.delete(minName);
      counts.set(name, { count: min + 1, error: min });
    },
    top(limit) {
      return [...counts]
        .map(([name, c]) => ({ name, count: c.count, error: c.error }))
        .sort((a, b) => b.count - a.count || a.error - b.error || (a.name < b.name ? -1 : 1))
        .slice(0, limit);
    },
    get size() {
      return counts.size;
    },
  };
}
