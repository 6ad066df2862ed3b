/** Wording shared by error messages of every layer. */

/** "a, b and c" (or "a, b or c"). */
export function listOf(items: readonly string[], conjunction = 'and'): string {
  return items.length <= 1 ? (items[0] ?? '') : `${items.slice(0, -1).join(', ')} ${conjunction} ${items.at(-1)}`;
}
