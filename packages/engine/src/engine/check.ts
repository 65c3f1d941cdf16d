import { type Bits, emptyBits, hasBit, missingFrom, orInto } from "../bitset.ts";
import { bitsOfNames, roleNamed, unknownPermission } from "./names.ts";
import type { GrantRecord, KeyRecord, Principal } from "./records.ts";
import { type EngineState, inForce, isExpired, NO_PARENT } from "./state.ts";
import { isUnder, isWithin } from "./tree.ts";
import type { Decision, DenyReason } from "./types.ts";

function deny(reason: DenyReason): Decision {
  return Object.freeze({ allowed: false, reason });
}
/** One frozen denial per reason: a denied check allocates nothing. */
export const DENY = {
  not_found: deny("not_found"),
  not_applicable: deny("not_applicable"),
  no_grant: deny("no_grant"),
  key_expired: deny("key_expired"),
  key_scope: deny("key_scope"),
  key_resource: deny("key_resource"),
  owner_not_grantable: deny("owner_not_grantable"),
  role_not_grantable_at_scope: deny("role_not_grantable_at_scope"),
  owner_only_permission: deny("owner_only_permission"),
  no_people_management: deny("no_people_management"),
} as const satisfies Partial<Record<DenyReason, Decision>>;

/**
 * `check` and `holds` in one: does `subject` hold `permission` through a live grant at `resource`
 * or above (and, for a key, inside its scopes and resources)? With `onlyApplicable`, a permission
 * that does not act on the resource's type is denied as `not_applicable` (`check`); without it
 * (`holds`) the type does not matter.
 */
export function decide(
  state: EngineState,
  subject: string,
  permission: string,
  resource: string,
  onlyApplicable: boolean,
): Decision {
  // The principal first, and its key read at once: the principal's object (a likely cache miss at
  // scale) then loads while the permission and the resource are looked up, not after.
  const principal = state.principals.get(subject);
  const key = principal?.key;
  const model = state.model;
  const p = model.permissionIndex.get(permission);
  if (p === undefined) throw unknownPermission(permission);
  const node = state.nodeIndex.get(resource);
  if (node === undefined) return DENY.not_found;
  if (onlyApplicable && (model.permissionTypeMask[p]! & (1 << state.type[node]!)) === 0)
    return DENY.not_applicable;
  if (principal === undefined) return DENY.no_grant;
  if (key !== undefined) {
    const denied = keyDenial(state, key, p, node);
    if (denied !== undefined) return denied;
    return find(state, key.owner, p, node);
  }
  return find(state, principal, p, node);
}

/**
 * The grant in force of `holder` at node `n`, if any. A node whose type or node bit the holder never
 * held a grant at (`typesHeld`, `nodesHeld`) is answered without probing its map.
 */
function liveAt(state: EngineState, holder: Principal, n: number): GrantRecord | undefined {
  // The grants first: a principal restored from a snapshot notes its bits as its records are built.
  const grants = holder.grants;
  if (
    (holder.typesHeld & (1 << state.type[n]!)) === 0 ||
    (holder.nodesHeld & (1 << (n & 31))) === 0
  )
    return undefined;
  // Off the holder's own fields when it holds few grants (`Principal.n0`…), else its map; written
  // out here, where a method V8 did not inline this deep cost 3.7 % of a check at 100k.
  const stored = holder.many
    ? grants.get(n)
    : n === holder.n0
      ? holder.r0
      : n === holder.n1
        ? holder.r1
        : n === holder.n2
          ? holder.r2
          : n === holder.n3
            ? holder.r3
            : undefined;
  return stored === undefined ? undefined : inForce(state, stored);
}

/** The first grant in force of `principal` (or its groups) holding `p` at `node` or above. */
function find(state: EngineState, principal: Principal, p: number, node: number): Decision {
  const word = p >>> 5;
  const bit = 1 << (p & 31);
  const parent = state.parent;
  const groups = principal.groups;
  for (let n = node; n !== NO_PARENT; n = parent[n]!) {
    const record = liveAt(state, principal, n);
    if (record !== undefined && (wordOf(record, word) & bit) !== 0) return record.allow;
    for (let g = 0; g < groups.length; g++) {
      const shared = liveAt(state, groups[g]!, n);
      if (shared !== undefined && (wordOf(shared, word) & bit) !== 0) return shared.allow;
    }
  }
  return DENY.no_grant;
}

/** Word `word` of a record's bits: word 0 off the record itself (`word0`), no typed array read. */
function wordOf(record: GrantRecord, word: number): number {
  return word === 0 ? record.word0 : record.bits[word]!;
}

function keyDenial(
  state: EngineState,
  key: KeyRecord,
  p: number,
  node: number,
): Decision | undefined {
  if (isExpired(state, key.expiresAt)) return DENY.key_expired;
  if (!hasBit(key.bits, p)) return DENY.key_scope;
  if (!isInKeyResources(state, key, node)) return DENY.key_resource;
  return undefined;
}

/**
 * The nodes of the key's resource constraint. It holds by name: a resource deleted and created
 * again under the same name is inside it again; while none of its resources exists, the key
 * reaches nothing.
 */
export function keyNodes(state: EngineState, key: KeyRecord): ReadonlySet<number> {
  if (key.nodesAt !== state.treeVersion) {
    const nodes = new Set<number>();
    for (const name of key.key.resources) {
      const node = state.nodeIndex.get(name);
      if (node !== undefined) nodes.add(node);
    }
    key.nodes = nodes;
    key.nodesAt = state.treeVersion;
  }
  return key.nodes;
}

export function isInKeyResources(state: EngineState, key: KeyRecord, node: number): boolean {
  return key.key.resources.length === 0 || isWithin(state, node, keyNodes(state, key));
}

/** ORs into `held` the bits of every grant in force of `principal` (and its groups) at `node` or above. */
export function collect(state: EngineState, principal: Principal, node: number, held: Bits): void {
  for (let n = node; n !== NO_PARENT; n = state.parent[n]!) {
    const live = liveAt(state, principal, n);
    if (live !== undefined) orInto(held, live.bits);
    for (const group of principal.groups) {
      const liveShared = liveAt(state, group, n);
      if (liveShared !== undefined) orInto(held, liveShared.bits);
    }
  }
}

/**
 * `collect` for a model whose permissions fit one word, as a number: no scratch bitset to clear
 * and OR into word by word (`permissionsOn`'s path).
 */
export function collectWord(state: EngineState, principal: Principal, node: number): number {
  const parent = state.parent;
  const groups = principal.groups;
  let held = 0;
  for (let n = node; n !== NO_PARENT; n = parent[n]!) {
    const record = liveAt(state, principal, n);
    if (record !== undefined) held |= record.word0;
    for (let g = 0; g < groups.length; g++) {
      const shared = liveAt(state, groups[g]!, n);
      if (shared !== undefined) held |= shared.word0;
    }
  }
  return held;
}

/**
 * Whether `resource` lies at or below a live grant of the subject (of a key's owner, inside the
 * key's resources); the root is within reach of anyone holding a grant.
 */
export function reaches(state: EngineState, subject: string, resource: string): boolean {
  const node = state.nodeIndex.get(resource);
  const principal = state.principals.get(subject);
  if (node === undefined || principal === undefined) return false;
  const key = principal.key;
  if (key !== undefined && isExpired(state, key.expiresAt)) return false;
  const holder = key?.owner ?? principal;
  const related = (record: GrantRecord) =>
    inForce(state, record) !== undefined && (node === 0 || isUnder(state, node, record.node));
  if (key !== undefined && node !== 0 && !isInKeyResources(state, key, node)) return false;
  for (const record of holder.grants.values()) if (related(record)) return true;
  for (const group of holder.groups)
    for (const record of group.grants.values()) if (related(record)) return true;
  return false;
}

/**
 * May `granter` give `role` plus `extras` at `scope`? Only with the model's people-management
 * permission there, and never more than the granter holds there; the owner role never.
 */
export function canGrant(
  state: EngineState,
  granter: string,
  role: string,
  scope: string,
  extras: readonly string[],
): Decision {
  const model = state.model;
  const compiledRole = roleNamed(model, role);
  const extraBits = bitsOfNames(model, extras);
  const node = state.nodeIndex.get(scope);
  if (node === undefined) return DENY.not_found;
  if (compiledRole.isOwner) return DENY.owner_not_grantable;
  const type = state.type[node]!;
  if ((compiledRole.scopeMask & (1 << type)) === 0) return DENY.role_not_grantable_at_scope;
  if (missingFrom(extraBits, model.delegableBits).length > 0) return DENY.owner_only_permission;
  if (missingFrom(extraBits, model.underBits[type]!).length > 0) return DENY.not_applicable;
  // People management held at the scope or above, whatever types the permission acts on.
  const allowed = decide(state, granter, model.permissionNames[model.delegation]!, scope, false);
  if (!allowed.allowed) return DENY.no_people_management;
  const principal = state.principals.get(granter)!;
  const key = principal.key;
  const holder = key?.owner ?? principal;
  const held = emptyBits(model.words);
  collect(state, holder, node, held);
  if (key !== undefined)
    for (let word = 0; word < held.length; word++) held[word]! &= key.bits[word]!;
  const wanted = emptyBits(model.words);
  orInto(wanted, compiledRole.bits);
  orInto(wanted, extraBits);
  const missing = missingFrom(wanted, held);
  if (missing.length > 0) {
    return Object.freeze({
      allowed: false,
      reason: "exceeds_granter",
      missing: Object.freeze(missing.map((index) => model.permissionNames[index]!)),
    });
  }
  return allowed;
}
