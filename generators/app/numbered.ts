/** A list with at least one element: a stack has at least one of each service it runs (validation sees to it). */
export type NonEmpty<T> = [T, ...T[]];

/** `make(1)` … `make(count)`; `count` is at least 1 (the answers are validated before anything is built). */
export function numbered<T>(count: number, make: (i: number) => T): NonEmpty<T> {
  if (!Number.isInteger(count) || count < 1) throw new Error(`expected a count of at least 1, got ${count}`);
  return [make(1), ...Array.from({ length: count - 1 }, (_, i) => make(i + 2))];
}
