/**
 * A count with its noun in the right number: "1 member", "2 members", "0 entries".
 * @example
 * countOf(1, "pending invitation"); // "1 pending invitation"
 * countOf(3, "entry", "entries"); // "3 entries"
 */
export function countOf(count: number, one: string, many = `${one}s`): string {
  return `${count} ${count === 1 ? one : many}`;
}
