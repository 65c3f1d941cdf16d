/**
 * The resources of one type in name order, kept incrementally so that no write makes the next list
 * sort everything. Names live in sorted blocks of at most `2 * BLOCK` (with their nodes alongside):
 * an insert or delete finds its block and position by binary search and moves at most one block's
 * entries. Writes are queued and applied at the next read; a large batch (loading a workspace,
 * deleting a big subtree) rebuilds the blocks with one sort instead.
 */
const BLOCK = 256;

/** A position in the order: entry `offset` of block `block`. */
export interface Cursor {
  block: number;
  offset: number;
}

export class SortedNames {
  /** Half the most entries a block holds; smaller in tests, to split blocks often. */
  readonly #block: number;
  /** Sorted blocks of names; every block non-empty; their concatenation sorted. */
  names: string[][] = [];
  /** The node of each name, block for block. */
  nodes: number[][] = [];
  /** Live entries in the blocks (queued writes not applied). */
  #size = 0;
  /** Queued writes: names added (with their node) and names deleted, in any order. */
  #addedNames: string[] = [];
  #addedNodes: number[] = [];
  #removed: string[] = [];

  constructor(block = BLOCK) {
    this.#block = block;
  }

  /** Queues `name` (now carried by `node`). */
  add(name: string, node: number): void {
    this.#addedNames.push(name);
    this.#addedNodes.push(node);
  }

  /** Queues the removal of `name`. */
  remove(name: string): void {
    this.#removed.push(name);
  }

  /** The number of entries, counting queued additions (an estimate until the next read). */
  get approximateSize(): number {
    return this.#size + this.#addedNames.length;
  }

  /**
   * Applies queued writes. `current(name)` is the node now carrying `name` (or `undefined`), so a
   * name added, deleted and added again ends with its latest node, once.
   */
  settle(current: (name: string) => number | undefined): void {
    const pending = this.#addedNames.length + this.#removed.length;
    if (pending === 0) return;
    if (pending * 8 > this.#size + 64) this.#rebuild(current);
    else {
      for (const name of this.#removed) if (current(name) === undefined) this.#delete(name);
      for (let i = 0; i < this.#addedNames.length; i++) {
        const name = this.#addedNames[i]!;
        const node = this.#addedNodes[i]!;
        if (current(name) === node) {
          // A name deleted and added again since the last read: drop the old node first.
          this.#delete(name);
          this.#insert(name, node);
        }
      }
    }
    this.#addedNames = [];
    this.#addedNodes = [];
    this.#removed = [];
  }

  /** Sorts everything live once and cuts it into blocks. */
  #rebuild(current: (name: string) => number | undefined): void {
    const entries: { name: string; node: number }[] = [];
    for (let b = 0; b < this.names.length; b++) {
      const names = this.names[b]!;
      const nodes = this.nodes[b]!;
      for (let i = 0; i < names.length; i++)
        if (current(names[i]!) === nodes[i]) entries.push({ name: names[i]!, node: nodes[i]! });
    }
    for (let i = 0; i < this.#addedNames.length; i++) {
      const name = this.#addedNames[i]!;
      if (current(name) === this.#addedNodes[i]) entries.push({ name, node: this.#addedNodes[i]! });
    }
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    // A name is carried by one node at a time, so after the filter names are unique.
    this.names = [];
    this.nodes = [];
    for (let start = 0; start < entries.length; start += this.#block) {
      const slice = entries.slice(start, start + this.#block);
      this.names.push(slice.map((entry) => entry.name));
      this.nodes.push(slice.map((entry) => entry.node));
    }
    this.#size = entries.length;
  }

  /** The block that holds, or would hold, `name`: the first whose last name is ≥ `name`. */
  #blockFor(name: string): number {
    let low = 0;
    let high = this.names.length - 1;
    while (low < high) {
      const middle = (low + high) >>> 1;
      const block = this.names[middle]!;
      if (block[block.length - 1]! < name) low = middle + 1;
      else high = middle;
    }
    return low;
  }

  #insert(name: string, node: number): void {
    if (this.names.length === 0) {
      this.names.push([name]);
      this.nodes.push([node]);
      this.#size = 1;
      return;
    }
    const b = this.#blockFor(name);
    const names = this.names[b]!;
    const nodes = this.nodes[b]!;
    const at = lowerBound(names, name);
    names.splice(at, 0, name);
    nodes.splice(at, 0, node);
    this.#size++;
    if (names.length > 2 * this.#block) {
      this.names.splice(b + 1, 0, names.splice(this.#block));
      this.nodes.splice(b + 1, 0, nodes.splice(this.#block));
    }
  }

  #delete(name: string): void {
    if (this.names.length === 0) return;
    const b = this.#blockFor(name);
    const names = this.names[b]!;
    const at = lowerBound(names, name);
    if (names[at] !== name) return;
    names.splice(at, 1);
    this.nodes[b]!.splice(at, 1);
    this.#size--;
    if (names.length === 0) {
      this.names.splice(b, 1);
      this.nodes.splice(b, 1);
    }
  }

  /** The live entry count; only exact after `settle`. */
  get size(): number {
    return this.#size;
  }

  /** The position of the first name after `after` (the first name when `undefined`). */
  seek(after: string | undefined): Cursor {
    if (after === undefined || this.names.length === 0) return { block: 0, offset: 0 };
    const b = this.#blockFor(after);
    const names = this.names[b]!;
    const offset = upperBound(names, after);
    return offset === names.length ? { block: b + 1, offset: 0 } : { block: b, offset };
  }

  /**
   * Up to `limit` names from `cursor` on (those `accepts`, when given), and whether more follow —
   * with a filter, whether another accepted name follows.
   */
  take(
    cursor: Cursor,
    limit: number,
    accepts?: (name: string) => boolean,
  ): { names: string[]; more: boolean } {
    const out: string[] = [];
    let { block, offset } = cursor;
    if (accepts !== undefined) {
      for (; block < this.names.length; block++, offset = 0) {
        const names = this.names[block]!;
        for (let i = offset; i < names.length; i++) {
          if (!accepts(names[i]!)) continue;
          if (out.length === limit) return { names: out, more: true };
          out.push(names[i]!);
        }
      }
      return { names: out, more: false };
    }
    while (block < this.names.length && out.length < limit) {
      const names = this.names[block]!;
      const end = Math.min(names.length, offset + (limit - out.length));
      for (let i = offset; i < end; i++) out.push(names[i]!);
      if (end === names.length) {
        block++;
        offset = 0;
      } else offset = end;
    }
    return { names: out, more: block < this.names.length };
  }
}

function lowerBound(sorted: readonly string[], name: string): number {
  let low = 0;
  let high = sorted.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (sorted[middle]! < name) low = middle + 1;
    else high = middle;
  }
  return low;
}

/** The first index whose name sorts after `name`. */
function upperBound(sorted: readonly string[], name: string): number {
  let low = 0;
  let high = sorted.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (sorted[middle]! <= name) low = middle + 1;
    else high = middle;
  }
  return low;
}
