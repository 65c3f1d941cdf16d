import { invalid, unknownPermission } from "./names.ts";
import { grantsAtNode } from "./principals.ts";
import { type GrantRecord, Kind, type Principal } from "./records.ts";
import { type EngineState, inForce, NO_PARENT } from "./state.ts";
import { compareNames } from "./tree.ts";
import type { AccessPath, SubjectAccess, SubjectPage, SubjectPageRequest } from "./types.ts";

const NO_SUBJECTS: SubjectPage = Object.freeze({ items: Object.freeze([]), next: undefined });

/** A live grant reaching a subject: at `depth` steps above the resource, maybe through a group. */
interface Reach {
  readonly record: GrantRecord;
  readonly group: Principal | undefined;
  readonly depth: number;
}

/**
 * The users and groups holding `permission` on `resource` — the reverse of `check` — sorted by
 * name and paged by `after`. Found from the grants at the resource and its ancestors (the state's
 * per-node index), a group's grant reaching the group and each of its members. API keys are not
 * listed: a key acts for its owner, who is. Unknown resources and permissions that do not act on
 * the resource's type answer an empty page; an unknown permission throws, as in `check`.
 */
export function subjectsWith(
  state: EngineState,
  permission: string,
  resource: string,
  page: SubjectPageRequest,
): SubjectPage {
  const model = state.model;
  const p = model.permissionIndex.get(permission);
  if (p === undefined) throw unknownPermission(permission);
  const limit = page.limit ?? Number.POSITIVE_INFINITY;
  if (!(limit >= 0) || (Number.isFinite(limit) && !Number.isInteger(limit)))
    throw invalid("limit must be a whole number ≥ 0");
  const node = state.nodeIndex.get(resource);
  if (node === undefined) return NO_SUBJECTS;
  if ((model.permissionTypeMask[p]! & (1 << state.type[node]!)) === 0) return NO_SUBJECTS;
  const word = p >>> 5;
  const bit = 1 << (p & 31);
  const after = page.after;
  const found = new Map<string, Reach[]>();
  const add = (name: string, reach: Reach) => {
    if (after !== undefined && name <= after) return;
    const reaches = found.get(name);
    if (reaches === undefined) found.set(name, [reach]);
    else reaches.push(reach);
  };
  let depth = 0;
  for (let n = node; n !== NO_PARENT; n = state.parent[n]!, depth++) {
    const records = grantsAtNode(state, n);
    if (records === undefined) continue;
    for (const stored of records) {
      const record = inForce(state, stored);
      if (record === undefined || (record.bits[word]! & bit) === 0) continue;
      const holder = record.holder;
      add(holder.name, { record, group: undefined, depth });
      if (holder.kind === Kind.Group)
        for (const member of holder.members) add(member.name, { record, group: holder, depth });
    }
  }
  return pageOf(found, limit);
}

/**
 * Every user and group with access in the part of the tree `resource` heads — the reverse query
 * behind a resource's Permissions card: live grants at the resource and its ancestors carrying a
 * permission that acts on the resource's type or a type below it (inherited), and every live grant
 * below it (a path whose grant scope is a descendant). Sorted by name and paged like
 * `subjectsWith`; a group's members are listed through the group. Empty for an unknown resource.
 */
export function subjectsAt(
  state: EngineState,
  resource: string,
  page: SubjectPageRequest,
): SubjectPage {
  const limit = page.limit ?? Number.POSITIVE_INFINITY;
  if (!(limit >= 0) || (Number.isFinite(limit) && !Number.isInteger(limit)))
    throw invalid("limit must be a whole number ≥ 0");
  const node = state.nodeIndex.get(resource);
  if (node === undefined) return NO_SUBJECTS;
  const under = state.model.underBits[state.type[node]!]!;
  const after = page.after;
  const found = new Map<string, Reach[]>();
  const collect = (stored: GrantRecord, depth: number) => {
    const record = inForce(state, stored);
    if (record === undefined) return;
    const holder = record.holder;
    const reaches = [{ name: holder.name, group: undefined as Principal | undefined }];
    if (holder.kind === Kind.Group)
      for (const member of holder.members) reaches.push({ name: member.name, group: holder });
    for (const { name, group } of reaches) {
      if (after !== undefined && name <= after) continue;
      const list = found.get(name);
      const reach = { record, group, depth };
      if (list === undefined) found.set(name, [reach]);
      else list.push(reach);
    }
  };
  let depth = 0;
  for (let n = node; n !== NO_PARENT; n = state.parent[n]!, depth++) {
    for (const record of grantsAtNode(state, n) ?? []) {
      if (depth > 0 && !intersects((inForce(state, record) ?? record).bits, under)) continue;
      collect(record, depth);
    }
  }
  // Below: breadth first, so nearer scopes come first, every one after the ancestors.
  const queue = [...(state.children[node] ?? [])];
  for (let index = 0; index < queue.length; index++) {
    const current = queue[index]!;
    for (const record of grantsAtNode(state, current) ?? []) collect(record, BELOW + index);
    for (const child of state.children[current] ?? []) queue.push(child);
  }
  return pageOf(found, limit);
}

/** Depths of grants below the resource start here: after every ancestor's. */
const BELOW = 1 << 20;

function intersects(a: ArrayLike<number>, b: ArrayLike<number>): boolean {
  for (let index = 0; index < a.length; index++) if ((a[index]! & b[index]!) !== 0) return true;
  return false;
}

function pageOf(found: Map<string, Reach[]>, limit: number): SubjectPage {
  if (found.size === 0) return NO_SUBJECTS;
  const names = [...found.keys()].sort(compareNames);
  const end = Math.min(names.length, limit);
  const items: SubjectAccess[] = [];
  for (let index = 0; index < end; index++) {
    const name = names[index]!;
    items.push(accessOf(name, found.get(name)!));
  }
  const next = end < names.length && end > 0 ? items[end - 1]!.subject : undefined;
  return { items, next };
}

/** Nearest scope first; at one scope the subject's own grant, then its groups' by name. */
function compareReaches(a: Reach, b: Reach): number {
  if (a.depth !== b.depth) return a.depth - b.depth;
  if (a.group === undefined) return b.group === undefined ? 0 : -1;
  if (b.group === undefined) return 1;
  return compareNames(a.group.name, b.group.name);
}

function accessOf(name: string, reaches: Reach[]): SubjectAccess {
  reaches.sort(compareReaches);
  let expiresAt = 0;
  const via: AccessPath[] = reaches.map(({ record, group, depth }) => {
    expiresAt = Math.max(expiresAt, record.expiresAt);
    return {
      grant: record.grant,
      throughGroup: group?.name as `group:${string}` | undefined,
      inherited: depth > 0 && depth < BELOW,
    };
  });
  return {
    subject: name as SubjectAccess["subject"],
    via,
    expiresAt: expiresAt === Number.POSITIVE_INFINITY ? undefined : expiresAt,
  };
}
