/** The incremental per-type order, against a plain map sorted afresh at every read. */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { propertyRuns } from "../../test/property-runs.ts";
import { SortedNames } from "./sorted-names.ts";

const write = fc.record({
  add: fc.boolean(),
  /** From a small pool, so names are often deleted and added again. */
  name: fc.integer({ min: 0, max: 400 }).map((n) => `site:${n.toString(36)}`),
});

/** Batches of writes, each followed by a read: small ones take the incremental path. */
const history = fc.array(fc.array(write, { minLength: 1, maxLength: 40 }), {
  minLength: 1,
  maxLength: 30,
});

describe("SortedNames", () => {
  it("reads the live names in order, with their current nodes, after any writes", () => {
    fc.assert(
      fc.property(history, fc.integer({ min: 1, max: 6 }), (batches, block) => {
        const sorted = new SortedNames(block);
        const live = new Map<string, number>();
        let nextNode = 0;
        const current = (name: string) => live.get(name);
        for (const batch of batches) {
          for (const { add, name } of batch) {
            if (add && !live.has(name)) {
              live.set(name, nextNode);
              sorted.add(name, nextNode++);
            } else if (!add && live.has(name)) {
              live.delete(name);
              sorted.remove(name);
            }
          }
          sorted.settle(current);
          const expected = [...live.keys()].sort();
          expect(sorted.size).toBe(expected.length);
          expect(sorted.names.flat()).toEqual(expected);
          expect(sorted.nodes.flat()).toEqual(expected.map((name) => live.get(name)));
          for (const names of sorted.names) expect(names.length).toBeLessThanOrEqual(2 * block);
          // Paging from any cursor, existing or not, reads on from the next name.
          for (const after of [undefined, expected[3], "site:5", "site:zz", "a"]) {
            const rest = expected.filter((name) => after === undefined || name > after);
            expect(sorted.take(sorted.seek(after), 3)).toEqual({
              names: rest.slice(0, 3),
              more: rest.length > 3,
            });
            expect(sorted.take(sorted.seek(after), Number.POSITIVE_INFINITY).names).toEqual(rest);
          }
        }
      }),
      { numRuns: propertyRuns(300) },
    );
  });

  it("inserts one name into a large order without rebuilding it", () => {
    const sorted = new SortedNames();
    const live = new Map<string, number>();
    for (let i = 0; i < 20_000; i++) {
      live.set(`site:${i}`, i);
      sorted.add(`site:${i}`, i);
    }
    const current = (name: string) => live.get(name);
    sorted.settle(current);
    const blocks = sorted.names;
    const untouched = blocks[blocks.length - 1];
    live.set("site:10000a", 20_000);
    sorted.add("site:10000a", 20_000);
    sorted.settle(current);
    // The same block arrays: only the one holding the new name changed.
    expect(sorted.names).toBe(blocks);
    expect(sorted.names[sorted.names.length - 1]).toBe(untouched);
    expect(sorted.names.flat()).toEqual([...live.keys()].sort());
  });
});
