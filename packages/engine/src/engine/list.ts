import { type Bits, hasBit, indicesOf, isEmptyBits } from "../bitset.ts";
import { collect, collectWord, isInKeyResources, keyNodes } from "./check.ts";
import { invalid, requireNode, unknownPermission, unknownType } from "./names.ts";
import type { GrantRecord, KeyRecord, Principal } from "./records.ts";
import type { SortedNames } from "./sorted-names.ts";
import { type EngineState, inForce, isExpired, NO_PARENT } from "./state.ts";
import {
  childCount,
  compareNames,
  isWithin,
  matcherOf,
  pageOfChildren,
  pageOfType,
  sortedOfType,
} from "./tree.ts";
import type { Page, PageRequest, ResourceRef } from "./types.ts";

/** Every permission `subject` holds on `resource`: exactly those for which `check` allows. */
export function permissionsOn(
  state: EngineState,
  subject: string,
  resource: string,
): readonly string[] {
  // The principal first (see `decide`): its object loads while the resource is looked up.
  const principal = state.principals.get(subject);
  const key = principal?.key;
  const node = state.nodeIndex.get(resource);
  if (node === undefined || principal === undefined) return NO_NAMES;
  if (state.model.words === 1) return permissionsOnInWord(state, principal, key, node);
  const held = state.scratch;
  held.fill(0);
  if (key !== undefined) {
    if (isExpired(state, key.expiresAt) || !isInKeyResources(state, key, node)) return NO_NAMES;
    collect(state, key.owner, node, held);
    for (let word = 0; word < held.length; word++) held[word]! &= key.bits[word]!;
  } else {
    collect(state, principal, node, held);
  }
  const applicable = state.model.typeBits[state.type[node]!]!;
  for (let word = 0; word < held.length; word++) held[word]! &= applicable[word]!;
  return namesOf(state, held);
}

/** `permissionsOn` for a model whose permissions fit one word: the bits as one number throughout. */
function permissionsOnInWord(
  state: EngineState,
  principal: Principal,
  key: KeyRecord | undefined,
  node: number,
): readonly string[] {
  let held: number;
  if (key !== undefined) {
    if (isExpired(state, key.expiresAt) || !isInKeyResources(state, key, node)) return NO_NAMES;
    held = collectWord(state, key.owner, node) & key.bits[0]!;
  } else {
    held = collectWord(state, principal, node);
  }
  held &= state.model.typeBits[state.type[node]!]![0]!;
  if (held === 0) return NO_NAMES;
  // Unsigned, as the word reads in a bitset (the multi-word path's cache keys are strings).
  const cacheKey = held >>> 0;
  const names = state.namesCache.get(cacheKey);
  if (names !== undefined) return names;
  state.scratch[0] = cacheKey;
  return namesOf(state, state.scratch);
}

/** Shared by every empty answer of `permissionsOn`. */
const NO_NAMES: readonly string[] = Object.freeze([]);

/** The permission names of `bits`, frozen and cached by bitset. */
function namesOf(state: EngineState, bits: Bits): readonly string[] {
  if (isEmptyBits(bits)) return NO_NAMES;
  const cacheKey = bits.length === 1 ? bits[0]! : bits.join(",");
  let names = state.namesCache.get(cacheKey);
  if (names === undefined) {
    names = Object.freeze(indicesOf(bits).map((index) => state.model.permissionNames[index]!));
    if (state.namesCache.size < 4096) state.namesCache.set(cacheKey, names);
  }
  return names;
}

/**
 * The resources of `type` on which `subject` holds `permission`, found by expanding the subject's
 * own grants down the tree (never by checking every resource); sorted by name, paged by `after`;
 * with `page.parent`, only that resource's children.
 */
export function listVisible(
  state: EngineState,
  subject: string,
  type: string,
  permission: string,
  page: PageRequest,
): Page {
  const model = state.model;
  const t = model.typeIndex.get(type);
  if (t === undefined) throw unknownType(type);
  const p = model.permissionIndex.get(permission);
  if (p === undefined) throw unknownPermission(permission);
  const limit = page.limit ?? Number.POSITIVE_INFINITY;
  if (!(limit >= 0) || (Number.isFinite(limit) && !Number.isInteger(limit)))
    throw invalid("limit must be a whole number ≥ 0");
  const parent = page.parent === undefined ? undefined : requireNode(state, page.parent);
  if ((model.permissionTypeMask[p]! & (1 << t)) === 0) return { items: [], next: undefined };
  const principal = state.principals.get(subject);
  if (principal === undefined) return { items: [], next: undefined };
  const covering = minimalCover(state, coveringNodes(state, principal, p));
  if (parent !== undefined) {
    // A child is covered through its parent (then all are) or by a grant on itself.
    const whole = isWithin(state, parent, new Set(covering));
    return pageOfChildren(state, parent, t, {
      page,
      limit,
      ...(whole ? {} : { covered: covering }),
    });
  }
  if (covering.length === 1 && covering[0] === 0) return pageOfType(state, t, page, limit);
  const after = page.after;
  const accepts = matcherOf(page.match);
  if (Number.isFinite(limit)) return pageOfCover(state, covering, t, { after, accepts }, limit);
  // The full set. Few covered resources: collect and sort them; past an eighth of the type,
  // filtering its sorted list beats sorting names.
  const gathered: string[] = [];
  const budget = Math.max(state.gatherLimit, state.byType[t]!.approximateSize / 8);
  const bit = 1 << t;
  let seen = 0;
  for (const node of covering) {
    seen = gather(state, node, t, bit, gathered, after, seen, budget);
    if (seen > budget) return scanAll(state, covering, t, { after, accepts });
  }
  if (accepts !== undefined) {
    let kept = 0;
    for (const name of gathered) if (accepts(name)) gathered[kept++] = name;
    gathered.length = kept;
  }
  gathered.sort(compareNames);
  return { items: gathered as ResourceRef[], next: undefined };
}

/** Steps of one side of `pageOfCover` before the other side takes its turn. */
const CHUNK = 128;
/**
 * The gather's first turn, longer: a scan step reads nodes scattered over the whole type (a cache
 * miss or three), a gather step reads one subtree, so small covers (an operator of a few servers)
 * finish gathering before any scan.
 */
const FIRST_GATHER = 512;

/**
 * One page (finite `limit`) of type-`t` resources under `covering`, by whichever of two ways
 * finishes first, run in turns (`FIRST_GATHER` steps, then `CHUNK` each): gathering the covered
 * subtrees (then picking the first `limit` names), or walking the type's sorted list from the
 * cursor and keeping the covered names. A page thus costs at most about twice the cheaper way:
 * O(covered) when few resources are covered, O(limit / share covered) when many are; never a
 * doomed gather of the whole budget before the scan. The gather gives up past `gatherLimit`
 * resources.
 */
function pageOfCover(
  state: EngineState,
  covering: readonly number[],
  t: number,
  filter: { after: string | undefined; accepts: ((name: string) => boolean) | undefined },
  limit: number,
): Page {
  const { after, accepts } = filter;
  const reach = state.model.reachMask;
  const bit = 1 << t;
  const types = state.type;
  const keys = state.keys;
  const children = state.children;
  const stack = covering.slice();
  const gathered: string[] = [];
  let seen = 0;
  let gathering = true;
  // The scan starts at its first turn: a gather done within one turn (a customer, an operator of
  // a few servers) never touches the sorted list, whose first read after a load sorts the type.
  let sorted: SortedNames | undefined;
  let epoch = 0;
  let stamp = state.coverStamp;
  const parent = state.parent;
  const items: ResourceRef[] = [];
  let block = 0;
  let offset = 0;
  let names: string[] | undefined;
  let nodes: number[] | undefined;
  for (;;) {
    if (gathering) {
      const turn = sorted === undefined ? FIRST_GATHER : CHUNK;
      for (let steps = 0; steps < turn && stack.length > 0; steps++) {
        const current = stack.pop()!;
        const type = types[current]!;
        if ((reach[type]! & bit) === 0) continue;
        if (type === t) {
          seen++;
          const name = keys[current]!;
          if ((after === undefined || name > after) && (accepts === undefined || accepts(name)))
            gathered.push(name);
        }
        const below = children[current];
        if (below !== undefined) for (let i = 0; i < below.length; i++) stack.push(below[i]!);
      }
      if (stack.length === 0) return firstOf(gathered, limit);
      if (seen > state.gatherLimit) {
        gathering = false;
        gathered.length = 0;
        stack.length = 0;
      }
    }
    // The scan's turn: up to CHUNK entries of the sorted list (all that remain once the gather gave up).
    if (sorted === undefined) {
      sorted = sortedOfType(state, t);
      epoch = markCover(state, covering);
      stamp = state.coverStamp;
      ({ block, offset } = sorted.seek(after));
      names = sorted.names[block];
      nodes = sorted.nodes[block];
    }
    for (let steps = gathering ? CHUNK : Number.POSITIVE_INFINITY; steps > 0; steps--) {
      if (nodes === undefined || names === undefined) return { items, next: undefined };
      if (offset === nodes.length) {
        block++;
        offset = 0;
        names = sorted.names[block];
        nodes = sorted.nodes[block];
        continue;
      }
      const i = offset++;
      if (accepts !== undefined && !accepts(names[i]!)) continue;
      let covered = false;
      for (let n = nodes[i]!; n !== NO_PARENT && !covered; n = parent[n]!)
        covered = stamp[n]! >= epoch;
      if (!covered) continue;
      // One more item than the page holds: `next` is set only when another page has items.
      if (items.length === limit)
        return { items, next: items.length > 0 ? items[items.length - 1] : undefined };
      items.push(names[i] as ResourceRef);
    }
  }
}

/** The first `limit` of `names` in name order, and `next` when more follow; reorders `names`. */
function firstOf(names: string[], limit: number): Page {
  const end = Math.min(names.length, limit);
  let items: ResourceRef[];
  // Many more than a page: move the page's names to the front, then sort those; few: sort them all.
  if (names.length > 2 * limit) {
    selectSmallest(names, limit);
    items = names.slice(0, end).sort(compareNames) as ResourceRef[];
  } else items = names.sort(compareNames).slice(0, end) as ResourceRef[];
  const next = end < names.length && items.length > 0 ? items[items.length - 1] : undefined;
  return { items, next };
}

/**
 * Moves the `k` smallest names to the front of `names` (in no order), by quickselect: O(n) on
 * average instead of sorting them all.
 */
function selectSmallest(names: string[], k: number): void {
  let lo = 0;
  let hi = names.length - 1;
  while (lo < hi) {
    // Median of three as the pivot.
    const mid = (lo + hi) >>> 1;
    const a = names[lo]!;
    const b = names[mid]!;
    const c = names[hi]!;
    const pivot = a < b ? (b < c ? b : a < c ? c : a) : a < c ? a : b < c ? c : b;
    let i = lo;
    let j = hi;
    while (i <= j) {
      while (names[i]! < pivot) i++;
      while (names[j]! > pivot) j--;
      if (i <= j) {
        const swap = names[i]!;
        names[i] = names[j]!;
        names[j] = swap;
        i++;
        j--;
      }
    }
    // [lo, j] ≤ pivot ≤ [i, hi]; the k-th smallest (index k - 1) decides which side to keep.
    if (k - 1 <= j) hi = j;
    else if (k - 1 >= i) lo = i;
    else return;
  }
}

/**
 * How many children of `type` each of `parents` has on which `subject` holds `permission` (0 for an
 * unknown resource): the subject's covering grants are expanded once for all the parents.
 */
export function countVisibleChildren(
  state: EngineState,
  subject: string,
  parents: readonly string[],
  query: { type: string; permission: string },
): number[] {
  const model = state.model;
  const t = model.typeIndex.get(query.type);
  if (t === undefined) throw unknownType(query.type);
  const p = model.permissionIndex.get(query.permission);
  if (p === undefined) throw unknownPermission(query.permission);
  const principal = state.principals.get(subject);
  if ((model.permissionTypeMask[p]! & (1 << t)) === 0 || principal === undefined)
    return parents.map(() => 0);
  const covering = minimalCover(state, coveringNodes(state, principal, p));
  const cover = new Set(covering);
  // Children covered by a grant on themselves, by parent (their parents are not covered: the cover is minimal).
  const ownCover = new Map<number, number>();
  for (const node of covering) {
    if (state.type[node] !== t || node === 0) continue;
    const above = state.parent[node]!;
    ownCover.set(above, (ownCover.get(above) ?? 0) + 1);
  }
  return parents.map((name) => {
    const node = state.nodeIndex.get(name);
    if (node === undefined) return 0;
    return isWithin(state, node, cover) ? childCount(state, node, t) : (ownCover.get(node) ?? 0);
  });
}

/** Nodes where the subject holds `p` through a live grant, before narrowing by a key's resources. */
function coveringNodes(state: EngineState, principal: Principal, p: number): number[] {
  const key = principal.key;
  if (key !== undefined) {
    if (isExpired(state, key.expiresAt) || !hasBit(key.bits, p)) return [];
    const owned = coveringNodes(state, key.owner, p);
    if (key.key.resources.length === 0) return owned;
    // Intersect subtrees: of two nested subtrees the deeper one remains.
    const constraints = keyNodes(state, key);
    const ownedSet = new Set(owned);
    const result = owned.filter((node) => isWithin(state, node, constraints));
    for (const constraint of constraints)
      if (isWithin(state, constraint, ownedSet)) result.push(constraint);
    return result;
  }
  const nodes: number[] = [];
  const add = (record: GrantRecord) => {
    const live = inForce(state, record);
    if (live !== undefined && hasBit(live.bits, p)) nodes.push(record.node);
  };
  for (const record of principal.grants.values()) add(record);
  for (const group of principal.groups) for (const record of group.grants.values()) add(record);
  return nodes;
}

/**
 * Drops nodes that have another covering node above them (and repeats), so subtrees are disjoint.
 * Stamps them with a new epoch on the way (see `markCover`): no Set per call.
 */
function minimalCover(state: EngineState, nodes: number[]): number[] {
  if (nodes.length <= 1) return nodes;
  const epoch = markCover(state, nodes);
  const stamp = state.coverStamp;
  const parent = state.parent;
  const minimal: number[] = [];
  for (const node of nodes) {
    // `epoch + 1`: already kept (a repeat of a kept node is dropped).
    if (stamp[node] !== epoch) continue;
    let covered = false;
    for (let n = parent[node]!; n !== NO_PARENT && !covered; n = parent[n]!)
      covered = stamp[n]! >= epoch;
    if (covered) continue;
    stamp[node] = epoch + 1;
    minimal.push(node);
  }
  return minimal;
}

/**
 * Appends the names of type-`t` nodes in `node`'s subtree that sort after `after`; returns the
 * running count of type-`t` nodes seen, stopping once it passes `budget`. Positional parameters:
 * it runs once per covering grant of a listing.
 */
function gather(
  state: EngineState,
  node: number,
  t: number,
  bit: number,
  out: string[],
  after: string | undefined,
  seen: number,
  budget: number,
): number {
  const reach = state.model.reachMask;
  const stack = [node];
  while (stack.length > 0 && seen <= budget) {
    const current = stack.pop()!;
    const type = state.type[current]!;
    if ((reach[type]! & bit) === 0) continue;
    if (type === t) {
      seen++;
      const name = state.keys[current]!;
      if (after === undefined || name > after) out.push(name);
    }
    const children = state.children[current];
    if (children !== undefined) for (let i = 0; i < children.length; i++) stack.push(children[i]!);
  }
  return seen;
}

/**
 * Stamps the covering nodes with a new epoch (see `EngineState.coverStamp`) and returns it. Epochs
 * advance by two (`minimalCover` stamps kept nodes with `epoch + 1`), so "covered in this listing"
 * is `stamp >= epoch`.
 */
function markCover(state: EngineState, covering: readonly number[]): number {
  if (state.coverStamp.length < state.nodeCount) {
    const grown = new Uint32Array(Math.max(state.nodeCount, state.coverStamp.length * 2));
    grown.set(state.coverStamp);
    state.coverStamp = grown;
  }
  if (state.coverEpoch >= 0xffff_fff0) {
    state.coverStamp.fill(0);
    state.coverEpoch = 0;
  }
  const epoch = state.coverEpoch + 1;
  state.coverEpoch += 2;
  const stamp = state.coverStamp;
  for (const node of covering) stamp[node] = epoch;
  return epoch;
}

/** Every type-`t` resource under `covering` (those `accepts`) after `after`, off the type's sorted list. */
function scanAll(
  state: EngineState,
  covering: readonly number[],
  t: number,
  filter: { after: string | undefined; accepts: ((name: string) => boolean) | undefined },
): Page {
  const { after, accepts } = filter;
  const sorted = sortedOfType(state, t);
  const epoch = markCover(state, covering);
  const stamp = state.coverStamp;
  const parent = state.parent;
  const items: ResourceRef[] = [];
  let { block, offset } = sorted.seek(after);
  for (; block < sorted.names.length; block++, offset = 0) {
    const names = sorted.names[block]!;
    const nodes = sorted.nodes[block]!;
    for (let i = offset; i < nodes.length; i++) {
      if (accepts !== undefined && !accepts(names[i]!)) continue;
      let covered = false;
      for (let n = nodes[i]!; n !== NO_PARENT && !covered; n = parent[n]!)
        covered = stamp[n]! >= epoch;
      if (covered) items.push(names[i] as ResourceRef);
    }
  }
  return { items, next: undefined };
}
