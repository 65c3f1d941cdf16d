import { type Bits, emptyBits, hasBit, indicesOf, missingFrom, orInto, setBit } from "../bitset.ts";
import { ErrorCode, GatehouseError } from "../errors.ts";
import type { CompiledRole } from "../model/define-model.ts";
import {
  bitsOfNames,
  expandScope,
  invalid,
  requireNode,
  roleNamed,
  scopeTypesOf,
  subjectKind,
  typeOfResource,
} from "./names.ts";
import { GrantRecord, Kind, NO_EXTRAS, Principal } from "./records.ts";
import { type EngineState, inForce } from "./state.ts";
import type { ApiKey, ApiKeyInput, Grant, GrantInput, GrantRow, SubjectRef } from "./types.ts";

/** The principal named `name`, created when new. */
export function principalNamed(state: EngineState, name: SubjectRef, kind: Kind): Principal {
  // Loading reads grants by subject: the same one, again and again, skips the map.
  const last = state.lastPrincipal;
  if (last !== undefined && last.name === name) return last;
  let principal = state.principals.get(name);
  if (principal === undefined) {
    principal = new Principal(name, kind);
    state.principals.set(name, principal);
  }
  state.lastPrincipal = principal;
  return principal;
}

// ---------------------------------------------------------------- grants

/**
 * Checks a grant against the model and the tree: subject kind, role, scope type, extras (never
 * owner-only, acting at or below the scope) and expiry; the owner role goes to a user and never
 * expires. Not the subject's other grants nor the current owner: `insertGrant` checks those.
 */
export function prepareGrant(state: EngineState, input: GrantInput) {
  const model = state.model;
  const kind = subjectKind(input.subject);
  if (kind !== Kind.User && kind !== Kind.Group)
    throw invalid(`grants go to "user:…" or "group:…" subjects, not "${String(input.subject)}"`);
  const role = roleNamed(model, input.role);
  const node = requireNode(state, input.scope);
  const type = state.type[node]!;
  if ((role.scopeMask & (1 << type)) === 0) {
    throw new GatehouseError(
      ErrorCode.ROLE_NOT_GRANTABLE_AT_SCOPE,
      `role "${input.role}" cannot be granted at a ${model.typeNames[type]}; it is granted at ${scopeTypesOf(model, role)}`,
    );
  }
  const { extras, extraBits } = prepareExtras(state, node, input.extras);
  const expiresAt = input.expiresAt;
  if (expiresAt !== undefined && !Number.isFinite(expiresAt))
    throw invalid("expiresAt must be a finite epoch-milliseconds number");
  if (role.isOwner) {
    if (kind !== Kind.User) throw invalid("the owner role is held by a user, never a group");
    if (expiresAt !== undefined) throw invalid("the owner role cannot expire");
  }
  const note = input.note === undefined || input.note === "" ? undefined : input.note;
  if (note !== undefined && typeof note !== "string") throw invalid("a grant's note is text");
  let fallback:
    | { role: CompiledRole; extras: readonly string[]; extraBits: Bits | undefined }
    | undefined;
  if (input.fallback !== undefined) {
    if (expiresAt === undefined) throw invalid("only an expiring grant falls back to another role");
    const fallbackRole = roleNamed(model, input.fallback.role);
    if (fallbackRole.isOwner) throw invalid("a grant never falls back to the owner role");
    if ((fallbackRole.scopeMask & (1 << type)) === 0)
      throw new GatehouseError(
        ErrorCode.ROLE_NOT_GRANTABLE_AT_SCOPE,
        `role "${input.fallback.role}" cannot be granted at a ${model.typeNames[type]}; it is granted at ${scopeTypesOf(model, fallbackRole)}`,
      );
    fallback = { role: fallbackRole, ...prepareExtras(state, node, input.fallback.extras) };
  }
  return { kind, role, node, extras, extraBits, expiresAt, note, fallback };
}

/** A grant's extras, deduplicated, and their bits: never owner-only, acting at or below `node`. */
function prepareExtras(
  state: EngineState,
  node: number,
  input: readonly string[] | undefined,
): { extras: readonly string[]; extraBits: Bits | undefined } {
  const model = state.model;
  const type = state.type[node]!;
  const extras =
    input === undefined || input.length === 0
      ? (NO_EXTRAS as readonly string[])
      : [...new Set(input)];
  let extraBits: Bits | undefined;
  if (extras.length > 0) {
    extraBits = bitsOfNames(model, extras);
    const ownerOnly = missingFrom(extraBits, model.delegableBits);
    if (ownerOnly.length > 0) {
      throw new GatehouseError(
        ErrorCode.OWNER_ONLY_PERMISSION,
        `owner-only permissions cannot be granted as extras: ${ownerOnly.map((i) => model.permissionNames[i]).join(", ")}`,
      );
    }
    const outside = missingFrom(extraBits, model.underBits[type]!);
    if (outside.length > 0) {
      throw new GatehouseError(
        ErrorCode.PERMISSION_NOT_APPLICABLE_AT_SCOPE,
        `extras do not act at or below a ${model.typeNames[type]}: ${outside.map((i) => model.permissionNames[i]).join(", ")}`,
      );
    }
  }
  return { extras, extraBits };
}

/** Adds a grant: one role per subject per resource, and one owner per workspace. */
export function insertGrant(state: EngineState, input: GrantInput): GrantRecord {
  const { kind, role, node, extras, extraBits, expiresAt, note, fallback } = prepareGrant(
    state,
    input,
  );
  if (role.isOwner && state.ownerGrant !== undefined) {
    throw new GatehouseError(
      ErrorCode.OWNER_EXISTS,
      `the workspace already has an owner (${state.ownerGrant.grant.subject})`,
    );
  }
  const holder = principalNamed(state, input.subject, kind);
  refuseSecondRole(state, holder, node);
  const fallbackRecord =
    fallback === undefined
      ? undefined
      : grantRecord(state, {
          holder,
          node,
          role: fallback.role,
          extras: fallback.extras === NO_EXTRAS ? NO_EXTRAS : Object.freeze(fallback.extras),
          bits: grantBits(state, fallback.role, fallback.extraBits),
          expiresAt: Number.POSITIVE_INFINITY,
          note: undefined,
          fallback: undefined,
        });
  return attachGrant(
    state,
    holder,
    node,
    role,
    extras === NO_EXTRAS ? NO_EXTRAS : Object.freeze(extras),
    grantBits(state, role, extraBits),
    expiresAt ?? Number.POSITIVE_INFINITY,
    note,
    fallbackRecord,
  );
}

/** Refuses a second role for `holder` at `node` with `ROLE_CONFLICT`. */
function refuseSecondRole(state: EngineState, holder: Principal, node: number): void {
  const current = holder.grants.get(node);
  if (current === undefined) return;
  throw new GatehouseError(
    ErrorCode.ROLE_CONFLICT,
    `${holder.name} already holds "${current.role}" on ${state.keys[node]}; roles cannot be combined on one resource — replace it or pick a broader role`,
    { details: { currentRole: current.role } },
  );
}

/**
 * Records a grant already checked against the model and the tree on both sides (its holder's and
 * its node's): the one place every way of adding a grant (one by one, rows, a snapshot) ends.
 */
export function attachGrant(
  state: EngineState,
  holder: Principal,
  node: number,
  role: CompiledRole,
  extras: readonly string[],
  bits: Bits,
  expiresAt: number,
  note: string | undefined = undefined,
  fallback: GrantRecord | undefined = undefined,
): GrantRecord {
  const record = grantRecord(state, {
    holder,
    node,
    role,
    extras,
    bits,
    expiresAt,
    note,
    fallback,
  });
  holder.setGrant(record);
  holder.noteGrantAt(node, state.type[node]!);
  state.grantCount++;
  indexGrant(state, record);
  if (role.isOwner) state.ownerGrant = record;
  state.revision++;
  return record;
}

/** What a grant record is made of, checked already. */
export interface GrantParts {
  readonly holder: Principal;
  readonly node: number;
  readonly role: CompiledRole;
  readonly extras: readonly string[];
  readonly bits: Bits;
  readonly expiresAt: number;
  readonly note: string | undefined;
  /** What an expiring grant gives from `expiresAt` on (`Grant.fallback`). */
  readonly fallback: GrantRecord | undefined;
}

/**
 * The one place a grant record is built: by `attachGrant` and when a principal's grants held in a
 * snapshot's columns are first read.
 */
export function grantRecord(state: EngineState, parts: GrantParts): GrantRecord {
  // The role's, the principal's and the node's names: one string each, however many grants.
  return new GrantRecord(
    parts.holder,
    parts.node,
    parts.role.name,
    state.keys[parts.node]!,
    parts.extras,
    parts.bits,
    parts.expiresAt,
    parts.note,
    parts.fallback,
  );
}

/** A grant's bits: its role's, shared when it has no extras (bits are never mutated). */
export function grantBits(state: EngineState, role: CompiledRole, extraBits: Bits | undefined) {
  if (extraBits === undefined) return role.bits;
  const bits = emptyBits(state.model.words);
  orInto(bits, role.bits);
  orInto(bits, extraBits);
  return bits;
}

/**
 * Adds rows that a store validated when it wrote them, without building a `GrantInput` and its
 * checks per grant: a row is checked only for what would make the engine inconsistent (a user or
 * group subject, a known role grantable at an existing scope, one role per subject per resource,
 * one owner that never expires). A row with extras, a note or a fallback takes the full path of
 * `insertGrant`.
 */
export function loadGrantRows(state: EngineState, rows: Iterable<GrantRow>): void {
  const model = state.model;
  let role: CompiledRole | undefined;
  for (const row of rows) {
    const [subject, scope, roleName, extras, expiresAt, note, fallback] = row;
    if ((extras != null && extras.length > 0) || note != null || fallback != null) {
      insertGrant(state, {
        subject: subject as GrantInput["subject"],
        scope: scope as GrantInput["scope"],
        role: roleName,
        extras: extras ?? [],
        expiresAt: expiresAt ?? undefined,
        note: note ?? undefined,
        fallback: fallback ?? undefined,
      });
      continue;
    }
    if (role === undefined || role.name !== roleName) role = roleNamed(model, roleName);
    let holder = state.lastPrincipal;
    if (holder === undefined || holder.name !== subject) {
      const kind = subjectKind(subject);
      if (kind !== Kind.User && kind !== Kind.Group)
        throw invalid(`grants go to "user:…" or "group:…" subjects, not "${subject}"`);
      holder = principalNamed(state, subject as SubjectRef, kind);
    }
    const node = state.nodeIndex.get(scope) ?? requireNode(state, scope);
    if ((role.scopeMask & (1 << state.type[node]!)) === 0)
      throw new GatehouseError(
        ErrorCode.ROLE_NOT_GRANTABLE_AT_SCOPE,
        `role "${roleName}" cannot be granted at ${scope}; it is granted at ${scopeTypesOf(model, role)}`,
      );
    if (expiresAt != null && !Number.isFinite(expiresAt))
      throw invalid("expiresAt must be a finite epoch-milliseconds number");
    if (role.isOwner) {
      if (holder.kind !== Kind.User || expiresAt != null)
        throw invalid("the owner role is held by a user and never expires");
      if (state.ownerGrant !== undefined)
        throw new GatehouseError(ErrorCode.OWNER_EXISTS, "the workspace already has an owner");
    }
    refuseSecondRole(state, holder, node);
    attachGrant(
      state,
      holder,
      node,
      role,
      NO_EXTRAS,
      role.bits,
      expiresAt ?? Number.POSITIVE_INFINITY,
    );
  }
}

/**
 * The grants at a node. After a snapshot restore, the principals holding grants there that are
 * still in the snapshot's columns get their records first (and so join the index).
 */
export function grantsAtNode(
  state: EngineState,
  node: number,
): ReadonlySet<GrantRecord> | undefined {
  state.heldGrants?.materializeAt(node);
  return state.grantsAt[node];
}

/** Adds a grant to the per-node index. */
export function indexGrant(state: EngineState, record: GrantRecord): void {
  const records = state.grantsAt[record.node];
  if (records === undefined) state.grantsAt[record.node] = new Set([record]);
  else records.add(record);
}

/** Removes a grant from the per-node index. */
function unindexGrant(state: EngineState, record: GrantRecord): void {
  state.grantsAt[record.node]?.delete(record);
}

/** Removes the grant `subject` holds at `scope` and returns it. */
export function removeGrant(state: EngineState, subject: string, scope: string): Grant {
  const node = state.nodeIndex.get(scope);
  const record = node === undefined ? undefined : state.principals.get(subject)?.grants.get(node);
  if (record === undefined)
    throw new GatehouseError(ErrorCode.GRANT_NOT_FOUND, `${subject} holds no grant on ${scope}`);
  dropGrant(state, record);
  unindexGrant(state, record);
  state.revision++;
  return record.grant;
}

/** Forgets a grant on its holder's side (the caller clears the node's side). */
export function dropGrant(state: EngineState, record: GrantRecord): void {
  if (record.holder.deleteGrant(record.node)) state.grantCount--;
  if (state.ownerGrant === record) state.ownerGrant = undefined;
}

/** A grant as readers see it now: the one in force, or the expired one that holds nothing. */
function shown(state: EngineState, record: GrantRecord): Grant {
  return (inForce(state, record) ?? record).grant;
}

/** Every grant as in force now (a temporary one past its end as its fallback), in no particular order. */
export function* allGrants(state: EngineState): IterableIterator<Grant> {
  for (const principal of state.principals.values()) {
    for (const record of principal.grants.values()) yield shown(state, record);
  }
}

/** The grants held directly by a user or group (not through groups), as in force now. */
export function grantsOf(state: EngineState, subject: string): readonly Grant[] {
  const principal = state.principals.get(subject);
  return principal === undefined
    ? []
    : [...principal.grants.values()].map((record) => shown(state, record));
}

// ---------------------------------------------------------------- subjects and groups

/** Removes a user or group: its grants, its memberships and (for a user) the keys it owns. */
export function removeSubject(state: EngineState, subject: string): void {
  const principal = state.principals.get(subject);
  if (principal === undefined) return;
  for (const record of [...principal.grants.values()]) {
    dropGrant(state, record);
    unindexGrant(state, record);
  }
  for (const group of principal.groups) group.deleteMember(principal);
  for (const member of principal.members)
    member.groups = member.groups.filter((group) => group !== principal);
  for (const key of principal.keys) state.principals.delete(key.name);
  state.principals.delete(subject);
  state.lastPrincipal = undefined;
  state.revision++;
}

export function addGroupMember(
  state: EngineState,
  group: `group:${string}`,
  user: `user:${string}`,
): void {
  if (subjectKind(group) !== Kind.Group) throw invalid(`"${group}" is not a group subject`);
  if (subjectKind(user) !== Kind.User) throw invalid(`"${user}" is not a user subject`);
  const groupPrincipal = principalNamed(state, group, Kind.Group);
  const userPrincipal = principalNamed(state, user, Kind.User);
  if (groupPrincipal.members.has(userPrincipal)) return;
  groupPrincipal.addMember(userPrincipal);
  userPrincipal.groups = [...userPrincipal.groups, groupPrincipal];
  state.revision++;
}

export function removeGroupMember(state: EngineState, group: string, user: string): void {
  const groupPrincipal = state.principals.get(group);
  const userPrincipal = state.principals.get(user);
  if (
    groupPrincipal === undefined ||
    userPrincipal === undefined ||
    !groupPrincipal.members.has(userPrincipal)
  )
    return;
  groupPrincipal.deleteMember(userPrincipal);
  userPrincipal.groups = userPrincipal.groups.filter((candidate) => candidate !== groupPrincipal);
  state.revision++;
}

/** The users of a group. */
export function membersOf(state: EngineState, group: string): readonly `user:${string}`[] {
  const principal = state.principals.get(group);
  return principal === undefined
    ? []
    : [...principal.members].map((member) => member.name as `user:${string}`);
}

// ---------------------------------------------------------------- API keys

/** Checks an API key against the model: id, owner, scopes (never owner-only), resource names. */
export function prepareApiKey(state: EngineState, input: ApiKeyInput) {
  const model = state.model;
  if (typeof input.id !== "string" || input.id === "")
    throw invalid("API key id must be a non-empty string");
  if (state.principals.has(`apikey:${input.id}`))
    throw invalid(`API key "${input.id}" already exists`);
  if (subjectKind(input.owner) !== Kind.User)
    throw invalid(`API keys are owned by a user, not "${String(input.owner)}"`);
  if (!Array.isArray(input.scopes) || input.scopes.length === 0)
    throw invalid("an API key needs at least one scope");
  const bits = emptyBits(model.words);
  for (const scope of input.scopes) {
    const matched = expandScope(model, scope);
    if (matched.length === 0)
      throw new GatehouseError(
        ErrorCode.UNKNOWN_PERMISSION,
        `scope "${scope}" matches no permission`,
      );
    // A pattern takes the delegable permissions it matches; naming an owner-only one is refused.
    const delegable = matched.filter((index) => hasBit(model.delegableBits, index));
    if (delegable.length === 0) {
      throw new GatehouseError(
        ErrorCode.OWNER_ONLY_PERMISSION,
        `API keys cannot carry owner-only permissions (scope "${scope}")`,
      );
    }
    for (const index of delegable) setBit(bits, index);
  }
  const resources = [...new Set(input.resources ?? [])];
  // Names need not exist yet: the constraint holds by name and only ever narrows the key. The
  // service checks existence when a person creates a key; a store restores keys as they were.
  for (const resource of resources) typeOfResource(state, resource);
  const expiresAt = input.expiresAt;
  if (expiresAt !== undefined && !Number.isFinite(expiresAt))
    throw invalid("expiresAt must be a finite epoch-milliseconds number");
  return { bits, resources, expiresAt };
}

/** Registers an API key as the subject `apikey:<id>`. */
export function addApiKey(state: EngineState, input: ApiKeyInput): ApiKey {
  const model = state.model;
  const { bits, resources, expiresAt } = prepareApiKey(state, input);
  const key: ApiKey = Object.freeze({
    id: input.id,
    owner: input.owner,
    scopes: Object.freeze([...input.scopes]),
    permissions: Object.freeze(indicesOf(bits).map((index) => model.permissionNames[index]!)),
    resources: Object.freeze(resources),
    expiresAt,
  });
  const owner = principalNamed(state, input.owner, Kind.User);
  const principal = principalNamed(state, `apikey:${input.id}`, Kind.Key);
  principal.key = {
    key,
    owner,
    bits,
    nodes: new Set(),
    nodesAt: -1,
    expiresAt: expiresAt ?? Number.POSITIVE_INFINITY,
  };
  owner.addKey(principal);
  state.revision++;
  return key;
}

export function removeApiKey(state: EngineState, id: string): ApiKey {
  const principal = state.principals.get(`apikey:${id}`);
  if (principal?.key === undefined)
    throw new GatehouseError(ErrorCode.API_KEY_NOT_FOUND, `no API key "${id}"`);
  principal.key.owner.deleteKey(principal);
  state.principals.delete(principal.name);
  state.lastPrincipal = undefined;
  state.revision++;
  return principal.key.key;
}

/** The API key with this id, if registered. */
export function apiKeyById(state: EngineState, id: string): ApiKey | undefined {
  return state.principals.get(`apikey:${id}`)?.key?.key;
}
