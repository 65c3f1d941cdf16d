import { ErrorCode, GatehouseError } from "../errors.ts";
import { invalid, requireNode, typeOfResource, unknownType } from "./names.ts";
import { dropGrant, grantsAtNode } from "./principals.ts";
import type { SortedNames } from "./sorted-names.ts";
import { type EngineState, NO_PARENT } from "./state.ts";
import type { Grant, Page, PageRequest, ResourceInput, ResourceRef } from "./types.ts";

/** Appends a resource as a new node under `parent` (or as the root, under `NO_PARENT`). */
export function addNode(state: EngineState, name: string, type: number, parent: number): number {
  const node = state.nodeCount++;
  if (node >= state.parent.length) {
    const parents = new Int32Array(state.parent.length * 2);
    parents.set(state.parent);
    state.parent = parents;
    const types = new Uint8Array(state.type.length * 2);
    types.set(state.type);
    state.type = types;
  }
  state.parent[node] = parent;
  state.type[node] = type;
  state.keys[node] = name;
  state.nodeIndex.set(name, node);
  if (parent !== NO_PARENT) childrenOf(state, parent).push(node);
  state.byType[type]!.add(name, node);
  state.treeVersion++;
  return node;
}

function childrenOf(state: EngineState, node: number): number[] {
  let children = state.children[node];
  if (children === undefined) {
    children = [];
    state.children[node] = children;
  }
  return children;
}

/** Where `upsertResource(resource, parent)` would put the resource; throws when it may not. */
export function placement(state: EngineState, resource: string, parent: string) {
  const type = typeOfResource(state, resource);
  const node = state.nodeIndex.get(resource);
  if (node === 0) throw invalid("the workspace root cannot be moved");
  const parentNode = requireNode(state, parent);
  requireParentType(state, resource, type, parentNode);
  if (node !== undefined) {
    for (let n = parentNode; n !== NO_PARENT; n = state.parent[n]!) {
      if (n === node) {
        throw new GatehouseError(
          ErrorCode.INVALID_PARENT,
          `cannot move ${resource} under its own descendant ${parent}`,
        );
      }
    }
  }
  return { type, node, parentNode };
}

function requireParentType(
  state: EngineState,
  resource: string,
  type: number,
  parentNode: number,
): void {
  const model = state.model;
  const parentType = state.type[parentNode]!;
  if ((model.parentMask[type]! & (1 << parentType)) === 0) {
    const allowed = model.typeNames.filter((_, t) => (model.parentMask[type]! & (1 << t)) !== 0);
    throw new GatehouseError(
      ErrorCode.INVALID_PARENT,
      `a ${model.typeNames[type]} cannot hang under a ${model.typeNames[parentType]} (${resource}); allowed parents: ${allowed.join(", ") || "none"}`,
    );
  }
}

/** Adds a resource under `parent`, or moves it there when it exists. */
export function upsertResource(state: EngineState, resource: string, parent: string): void {
  const target = placement(state, resource, parent);
  if (target.node === undefined) {
    addNode(state, resource, target.type, target.parentNode);
  } else {
    if (state.parent[target.node] === target.parentNode) return;
    removeItem(state.children[state.parent[target.node]!]!, target.node);
    state.parent[target.node] = target.parentNode;
    childrenOf(state, target.parentNode).push(target.node);
  }
  state.revision++;
}

/** Deletes a resource with its subtree and the grants there; returns what was removed. */
export function deleteResource(
  state: EngineState,
  resource: string,
): { resources: ResourceRef[]; grants: Grant[] } {
  const node = requireNode(state, resource);
  if (node === 0)
    throw invalid("the workspace root cannot be deleted; close the workspace instead");
  removeItem(state.children[state.parent[node]!]!, node);
  const resources: ResourceRef[] = [];
  const grants: Grant[] = [];
  const stack = [node];
  while (stack.length > 0) {
    const current = stack.pop()!;
    const name = state.keys[current]!;
    resources.push(name as ResourceRef);
    state.nodeIndex.delete(name);
    state.byType[state.type[current]!]!.remove(name);
    for (const record of grantsAtNode(state, current) ?? []) {
      dropGrant(state, record);
      grants.push(record.grant);
    }
    state.grantsAt[current] = undefined;
    stack.push(...(state.children[current] ?? []));
    state.children[current] = undefined;
    state.parent[current] = NO_PARENT;
  }
  state.treeVersion++;
  state.revision++;
  return { resources, grants };
}

/** Adds resources given in any order, parents first; rejects unknown parents and cycles. */
export function loadResources(state: EngineState, resources: Iterable<ResourceInput>): void {
  const waiting = new Map<string, ResourceInput[]>();
  const place = (input: ResourceInput) => {
    const queue = [input];
    while (queue.length > 0) {
      const next = queue.pop()!;
      upsertResource(state, next.resource, next.parent);
      const children = waiting.get(next.resource);
      if (children !== undefined) {
        waiting.delete(next.resource);
        queue.push(...children);
      }
    }
  };
  for (const input of resources) {
    if (state.nodeIndex.has(input.parent)) place(input);
    else {
      const list = waiting.get(input.parent) ?? [];
      list.push(input);
      waiting.set(input.parent, list);
    }
  }
  if (waiting.size > 0) {
    const [parent, children] = waiting.entries().next().value!;
    throw new GatehouseError(
      ErrorCode.INVALID_PARENT,
      `${children[0]!.resource} names parent ${parent}, which is not among the resources (or forms a cycle)`,
    );
  }
}

/** The parent of a resource; `undefined` for the root or an unknown resource. */
export function parentOf(state: EngineState, resource: string): string | undefined {
  const node = state.nodeIndex.get(resource);
  if (node === undefined || node === 0) return undefined;
  return state.keys[state.parent[node]!];
}

/** The resource and every resource below it, parents before children. */
export function subtreeOf(state: EngineState, resource: string): string[] {
  const node = state.nodeIndex.get(resource);
  if (node === undefined) return [];
  const names: string[] = [];
  const queue = [node];
  for (let index = 0; index < queue.length; index++) {
    const current = queue[index]!;
    names.push(state.keys[current]!);
    for (const child of state.children[current] ?? []) queue.push(child);
  }
  return names;
}

/** Every resource of `type` (under `page.parent`, when given), sorted by name and paged like `listVisible`. */
export function resourcesOfType(state: EngineState, type: string, page: PageRequest): Page {
  const t = state.model.typeIndex.get(type);
  if (t === undefined) throw unknownType(type);
  const limit = page.limit ?? Number.POSITIVE_INFINITY;
  if (page.parent === undefined) return pageOfType(state, t, page, limit);
  return pageOfChildren(state, requireNode(state, page.parent), t, { page, limit });
}

/**
 * One page of the type-`t` children of `parent` — all of them, or with `covered`, only those in
 * the nodes listed there (the parent itself not being covered). Few children are collected and
 * sorted; many are read off the type's sorted list, keeping those under `parent`.
 */
export function pageOfChildren(
  state: EngineState,
  parent: number,
  t: number,
  options: { page: PageRequest; limit: number; covered?: readonly number[] },
): Page {
  const { page, limit, covered } = options;
  const after = page.after;
  const accepts = matcherOf(page.match);
  const candidates =
    covered === undefined
      ? (state.children[parent] ?? [])
      : covered.filter((node) => state.parent[node] === parent);
  if (candidates.length > Math.max(state.gatherLimit, limit * 4)) {
    const keep = covered === undefined ? undefined : new Set(candidates);
    const sorted = sortedOfType(state, t);
    const items: ResourceRef[] = [];
    let { block, offset } = sorted.seek(after);
    for (; block < sorted.names.length; block++, offset = 0) {
      const names = sorted.names[block]!;
      const nodes = sorted.nodes[block]!;
      for (let i = offset; i < nodes.length; i++) {
        const node = nodes[i]!;
        if (state.parent[node] !== parent || (keep !== undefined && !keep.has(node))) continue;
        if (accepts !== undefined && !accepts(names[i]!)) continue;
        // One more item than the page holds: `next` is set only when another page has items.
        if (items.length === limit) return { items, next: items[items.length - 1] };
        items.push(names[i] as ResourceRef);
      }
    }
    return { items, next: undefined };
  }
  const names: string[] = [];
  for (const node of candidates) {
    if (state.type[node] !== t) continue;
    const name = state.keys[node]!;
    if ((after === undefined || name > after) && (accepts === undefined || accepts(name)))
      names.push(name);
  }
  names.sort(compareNames);
  const end = Math.min(names.length, limit);
  const items = names.slice(0, end) as ResourceRef[];
  return {
    items,
    next: end < names.length && items.length > 0 ? items[items.length - 1] : undefined,
  };
}

/** How many children of type `t` the node has. */
export function childCount(state: EngineState, node: number, t: number): number {
  let count = 0;
  for (const child of state.children[node] ?? []) if (state.type[child] === t) count++;
  return count;
}

/** How many children of `type` each of `parents` has (0 for an unknown resource). */
export function countChildren(
  state: EngineState,
  parents: readonly string[],
  type: string,
): number[] {
  const t = state.model.typeIndex.get(type);
  if (t === undefined) throw unknownType(type);
  return parents.map((name) => {
    const node = state.nodeIndex.get(name);
    return node === undefined ? 0 : childCount(state, node, t);
  });
}

/**
 * Whether a resource's id contains `match`, ignoring case (`undefined` when there is no text to
 * match, so that listings skip the test).
 * @example
 * matcherOf("Shop")?.("site:my-shop") // true
 */
export function matcherOf(match: string | undefined): ((name: string) => boolean) | undefined {
  const text = match?.trim().toLowerCase();
  if (text === undefined || text === "") return undefined;
  return (name) =>
    name
      .slice(name.indexOf(":") + 1)
      .toLowerCase()
      .includes(text);
}

/** Every resource of type `t` after `page.after` (matching `page.match`), in name order, `limit` at most. */
export function pageOfType(
  state: EngineState,
  t: number,
  page: Pick<PageRequest, "after" | "match">,
  limit: number,
): Page {
  const sorted = sortedOfType(state, t);
  const { names, more } = sorted.take(sorted.seek(page.after), limit, matcherOf(page.match));
  const items = names as ResourceRef[];
  return { items, next: more && items.length > 0 ? items[items.length - 1] : undefined };
}

/** The resources of type `t` in name order, with every change since the last read applied. */
export function sortedOfType(state: EngineState, t: number): SortedNames {
  const sorted = state.byType[t]!;
  sorted.settle(state.current);
  return sorted;
}

/** Whether `node` is `ancestor` or lies below it. */
export function isUnder(state: EngineState, node: number, ancestor: number): boolean {
  for (let n = node; n !== NO_PARENT; n = state.parent[n]!) if (n === ancestor) return true;
  return false;
}

/** Whether `node` or one of its ancestors is in `scopes`. */
export function isWithin(state: EngineState, node: number, scopes: ReadonlySet<number>): boolean {
  for (let n = node; n !== NO_PARENT; n = state.parent[n]!) if (scopes.has(n)) return true;
  return false;
}

export function compareNames(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function removeItem(list: number[], item: number): void {
  const index = list.indexOf(item);
  if (index >= 0) list.splice(index, 1);
}
