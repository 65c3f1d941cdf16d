import type { Bits } from "../bitset.ts";
import type { CompiledRole } from "../model/define-model.ts";
import { invalid } from "./names.ts";
import {
  addApiKey,
  type GrantParts,
  grantBits,
  grantRecord,
  indexGrant,
  prepareGrant,
} from "./principals.ts";
import {
  type GrantFields,
  type GrantRecord,
  type HeldFootprint,
  type HeldGrants,
  Kind,
  NO_EXTRAS,
  Principal,
} from "./records.ts";
import type { EngineState } from "./state.ts";
import { NO_PARENT } from "./state.ts";
import { addNode } from "./tree.ts";
import type { ApiKeyInput, GrantInput, SubjectRef } from "./types.ts";

/**
 * A workspace's engine as bytes: typed arrays for the tree, the principals and the grants, and one
 * string table for every name, so that loading it builds no per-grant input or check. Written by
 * `Engine.snapshot`, read by `Engine.fromSnapshot`. Little-endian; every section 8-byte aligned.
 *
 * Header (14 × u32, then the revision as f64): magic "GHS1", format, then the counts of nodes,
 * principals, grants, memberships, roles, grants with extras or a note, expiring grants, strings,
 * string bytes, API keys' string, 2 reserved. Strings: the model definition (JSON), the root, the
 * API keys (JSON), the roles, one per node (parents before children), one per principal, then each
 * such grant's extras (a JSON list) or, when it has a note or a fallback,
 * `{"extras":[…],"note":"…","fallback":{"role":"…","extras":[…]}}`. Format 2 (no fallbacks) is read too.
 */
const MAGIC = 0x3153_4847;
/** Bumped whenever the layout changes: a snapshot of another format is refused. */
export const SNAPSHOT_FORMAT = 3;
/** Earlier formats still read: 2 differs only in never carrying a grant's fallback. */
const READABLE_FORMATS: ReadonlySet<number> = new Set([2, SNAPSHOT_FORMAT]);
const HEADER_WORDS = 14;
const HEADER_BYTES = HEADER_WORDS * 4 + 8;
const FIXED_STRINGS = 3;

type Section = Uint8Array | Uint16Array | Uint32Array | Int32Array | Float64Array;

const align = (bytes: number) => (bytes + 7) & ~7;

/** Items encoded between two pauses of `encodeSnapshotSteps`. */
const STEP = 16_384;

/**
 * Encodes the state of a model whose definition is `definition` (as JSON), pausing (yielding) every
 * few thousand items so a caller can let other work run between slices; the result is consistent
 * only if the state did not change meanwhile (compare `revision` before and after). Throws when a
 * name is not well-formed UTF-16 (it would not round-trip).
 */
export function* encodeSnapshotSteps(
  state: EngineState,
  definition: string,
): Generator<void, Uint8Array> {
  const model = state.model;
  const roleNames = [...model.roles.keys()];
  const roleIndex = new Map(roleNames.map((name, index) => [name, index]));
  const strings: string[] = [definition, state.keys[0]!, ""];
  strings.push(...roleNames);

  // Live nodes, parents before children, renumbered densely.
  const order: number[] = [0];
  for (let i = 0; i < order.length; i++)
    for (const child of state.children[order[i]!] ?? []) order.push(child);
  const renumber = new Int32Array(state.nodeCount).fill(-1);
  order.forEach((node, index) => {
    renumber[node] = index;
  });
  const nodeCount = order.length;
  const parent = new Int32Array(nodeCount);
  const type = new Uint8Array(nodeCount);
  for (let i = 0; i < nodeCount; i++) {
    const node = order[i]!;
    parent[i] = i === 0 ? NO_PARENT : renumber[state.parent[node]!]!;
    type[i] = state.type[node]!;
    strings.push(state.keys[node]!);
    if (i > 0 && i % STEP === 0) yield;
  }

  // Users and groups that hold or relate to anything (a fresh load has no others); keys as JSON.
  const principals: Principal[] = [];
  const keys: ApiKeyInput[] = [];
  for (const principal of state.principals.values()) {
    if (principal.kind === Kind.Key) {
      const { id, owner, scopes, resources, expiresAt } = principal.key!.key;
      keys.push({ id, owner, scopes, resources, expiresAt });
    } else if (
      principal.grantCount > 0 ||
      principal.groups.length > 0 ||
      principal.members.size > 0 ||
      principal.keys.size > 0
    ) {
      principals.push(principal);
    }
  }
  strings[2] = JSON.stringify(keys);
  const principalIndex = new Map(principals.map((principal, index) => [principal, index]));
  const kind = new Uint8Array(principals.length);
  const memberships: number[] = [];
  let grantCount = 0;
  for (const [index, principal] of principals.entries()) {
    kind[index] = principal.kind;
    strings.push(principal.name);
    for (const member of principal.members) memberships.push(index, principalIndex.get(member)!);
    grantCount += principal.grantCount;
    if (index > 0 && index % STEP === 0) yield;
  }

  const holder = new Uint32Array(grantCount);
  const node = new Uint32Array(grantCount);
  const role = new Uint16Array(grantCount);
  const extrasGrant: number[] = [];
  const extrasString: number[] = [];
  const expiringGrant: number[] = [];
  const expiring: number[] = [];
  let g = 0;
  for (const [index, principal] of principals.entries()) {
    // Grants still held in a restored snapshot's columns are copied without building records.
    for (const record of principal.grantFields()) {
      holder[g] = index;
      node[g] = renumber[record.node]!;
      role[g] = roleIndex.get(record.role)!;
      if (record.note !== undefined || record.fallback !== undefined) {
        extrasGrant.push(g);
        extrasString.push(strings.length);
        const fallback = record.fallback && {
          role: record.fallback.role,
          extras: record.fallback.extras,
        };
        strings.push(JSON.stringify({ extras: record.extras, note: record.note, fallback }));
      } else if (record.extras !== NO_EXTRAS && record.extras.length > 0) {
        extrasGrant.push(g);
        extrasString.push(strings.length);
        strings.push(JSON.stringify(record.extras));
      }
      if (record.expiresAt !== Number.POSITIVE_INFINITY) {
        expiringGrant.push(g);
        expiring.push(record.expiresAt);
      }
      g++;
      if (g % STEP === 0) yield;
    }
  }

  const joined = strings.join("");
  if (/[\uD800-\uDFFF]/u.test(joined)) throw invalid("a name is not well-formed UTF-16");
  const text = new TextEncoder().encode(joined);
  const sections: Section[] = [
    Uint32Array.from(strings, (s) => s.length),
    text,
    parent,
    type,
    kind,
    Uint32Array.from(memberships),
    holder,
    node,
    role,
    Uint32Array.from(extrasGrant),
    Uint32Array.from(extrasString),
    Uint32Array.from(expiringGrant),
    Float64Array.from(expiring),
  ];
  let size = HEADER_BYTES;
  for (const section of sections) size += align(section.byteLength);
  const bytes = new Uint8Array(size);
  const header = new Uint32Array(bytes.buffer, 0, HEADER_WORDS);
  header.set([
    MAGIC,
    SNAPSHOT_FORMAT,
    nodeCount,
    principals.length,
    grantCount,
    memberships.length / 2,
    roleNames.length,
    extrasGrant.length,
    expiringGrant.length,
    strings.length,
    text.byteLength,
    0,
    0,
    0,
  ]);
  new Float64Array(bytes.buffer, HEADER_WORDS * 4, 1)[0] = state.revision;
  let offset = HEADER_BYTES;
  for (const section of sections) {
    bytes.set(new Uint8Array(section.buffer, section.byteOffset, section.byteLength), offset);
    offset += align(section.byteLength);
  }
  return bytes;
}

/** Encodes the state at once (see `encodeSnapshotSteps`). */
export function encodeSnapshot(state: EngineState, definition: string): Uint8Array {
  const steps = encodeSnapshotSteps(state, definition);
  for (;;) {
    const step = steps.next();
    if (step.done === true) return step.value;
  }
}

/** What a grant with extras, a note or a fallback adds to its row, checked at restore. */
interface Detail {
  readonly extras: readonly string[];
  readonly bits: Bits;
  readonly note: string | undefined;
  /** The role (and extras) an expiring grant falls back to (`Grant.fallback`). */
  readonly fallback:
    | { readonly role: CompiledRole; readonly extras: readonly string[]; readonly bits: Bits }
    | undefined;
}

interface GrantColumns {
  /** Principal `i`'s grants are `runs[i]` up to `runs[i + 1]`. */
  readonly runs: Uint32Array;
  /** The users and groups of the snapshot, by their place in it. */
  readonly holders: readonly Principal[];
  /** By grant: its holder's place in `holders`. */
  readonly holder: Uint32Array;
  readonly node: Uint32Array;
  readonly role: Uint16Array;
  readonly roles: readonly CompiledRole[];
  /** By grant, for those that expire. */
  readonly expiresAt: ReadonlyMap<number, number>;
  /** By grant, for those with extras or a note. */
  readonly detailed: ReadonlyMap<number, Detail>;
}

/** A restored snapshot's grants, checked, kept in its columns until a principal's are read. */
class SnapshotGrants implements HeldGrants {
  readonly #state: EngineState;
  readonly #columns: GrantColumns;
  /** Per node, its grants' holders (`holdersAt[at[n]]` up to `at[n + 1]`), made on first need. */
  #byNode: { readonly at: Uint32Array; readonly holdersAt: Uint32Array } | undefined;
  /** Grants and holders not turned into records yet. */
  #grants: number;
  #holders: number;
  /** The snapshot's buffer and decoded string table, which the columns and names keep alive. */
  readonly #retained: number;
  constructor(state: EngineState, columns: GrantColumns, holders: number, retained: number) {
    this.#state = state;
    this.#columns = columns;
    this.#grants = columns.holder.length;
    this.#holders = holders;
    this.#retained = retained;
  }

  get held(): HeldFootprint {
    const index = this.#byNode;
    return {
      grants: this.#grants,
      holders: this.#holders,
      bytes:
        this.#retained +
        this.#columns.runs.byteLength +
        (index === undefined ? 0 : index.at.byteLength + index.holdersAt.byteLength),
    };
  }

  countOf(run: number): number {
    return this.#columns.runs[run + 1]! - this.#columns.runs[run]!;
  }

  materialize(holder: Principal, run: number, into: Map<number, GrantRecord>): void {
    const { runs } = this.#columns;
    this.#grants -= runs[run + 1]! - runs[run]!;
    this.#holders--;
    // Once every holder has its records, the columns (and the snapshot's buffer) can go.
    if (this.#holders === 0 && this.#state.heldGrants === this) this.#state.heldGrants = undefined;
    for (let g = runs[run]!, end = runs[run + 1]!; g < end; g++) {
      const parts = this.#partsAt(g);
      const fallback = this.#columns.detailed.get(g)?.fallback;
      const record = grantRecord(this.#state, {
        holder,
        ...parts,
        fallback:
          fallback === undefined
            ? undefined
            : grantRecord(this.#state, {
                holder,
                node: parts.node,
                ...fallback,
                expiresAt: Number.POSITIVE_INFINITY,
                note: undefined,
                fallback: undefined,
              }),
      });
      into.set(record.node, record);
      holder.noteGrantAt(record.node, this.#state.type[record.node]!);
      indexGrant(this.#state, record);
    }
  }

  materializeAt(node: number): void {
    this.#byNode ??= this.#indexByNode();
    const { at, holdersAt } = this.#byNode;
    // Nodes added after the restore hold no snapshot grants.
    if (node + 1 >= at.length) return;
    for (let i = at[node]!, end = at[node + 1]!; i < end; i++)
      void this.#columns.holders[holdersAt[i]!]!.grants;
  }

  /** The grants' holders grouped by node (a counting sort over the node column). */
  #indexByNode() {
    const { node, holder } = this.#columns;
    const at = new Uint32Array(this.#state.nodeCount + 1);
    for (let g = 0; g < node.length; g++) at[node[g]! + 1]!++;
    for (let n = 0; n + 1 < at.length; n++) at[n + 1]! += at[n]!;
    const next = at.slice(0, -1);
    const holdersAt = new Uint32Array(node.length);
    for (let g = 0; g < node.length; g++) holdersAt[next[node[g]!]!++] = holder[g]!;
    return { at, holdersAt };
  }

  *fieldsOf(run: number): IterableIterator<GrantFields> {
    const { runs } = this.#columns;
    for (let g = runs[run]!, end = runs[run + 1]!; g < end; g++) {
      const parts = this.#partsAt(g);
      const fallback = this.#columns.detailed.get(g)?.fallback;
      yield {
        ...parts,
        role: parts.role.name,
        fallback: fallback && { role: fallback.role.name, extras: fallback.extras },
      };
    }
  }

  /** Grant `g` read off the columns: what a record of it is made of, but its holder. */
  #partsAt(g: number): Omit<GrantParts, "holder" | "fallback"> {
    const { node, role, roles, expiresAt, detailed } = this.#columns;
    const r = roles[role[g]!]!;
    const detail = detailed.get(g);
    return {
      node: node[g]!,
      role: r,
      extras: detail?.extras ?? NO_EXTRAS,
      bits: detail?.bits ?? r.bits,
      expiresAt: expiresAt.get(g) ?? Number.POSITIVE_INFINITY,
      note: detail?.note,
    };
  }
}

/** Reads typed sections off the snapshot in order, refusing one that overruns it. */
class Reader {
  readonly #bytes: Uint8Array;
  #offset = HEADER_BYTES;
  constructor(bytes: Uint8Array) {
    this.#bytes = bytes;
  }
  #take(byteLength: number): number {
    const at = this.#offset;
    if (at + byteLength > this.#bytes.byteLength) throw broken("it is truncated");
    this.#offset = at + align(byteLength);
    return this.#bytes.byteOffset + at;
  }
  u8(count: number): Uint8Array {
    return new Uint8Array(this.#bytes.buffer, this.#take(count), count);
  }
  u16(count: number): Uint16Array {
    return new Uint16Array(this.#bytes.buffer, this.#take(count * 2), count);
  }
  u32(count: number): Uint32Array {
    return new Uint32Array(this.#bytes.buffer, this.#take(count * 4), count);
  }
  i32(count: number): Int32Array {
    return new Int32Array(this.#bytes.buffer, this.#take(count * 4), count);
  }
  f64(count: number): Float64Array {
    return new Float64Array(this.#bytes.buffer, this.#take(count * 8), count);
  }
  end(): void {
    if (this.#offset !== this.#bytes.byteLength) throw broken("it has trailing bytes");
  }
}

function broken(why: string) {
  return invalid(`not a usable engine snapshot: ${why}`);
}

/**
 * Fills a state that holds only its root with a snapshot of the same workspace and model. Throws
 * `INVALID_INPUT` when the bytes are not a snapshot of this format, of this model and workspace,
 * or do not describe a valid workspace; the state is then unusable.
 */
export function restoreSnapshot(state: EngineState, definition: string, source: Uint8Array): void {
  const model = state.model;
  // Typed views need aligned offsets: copy a misaligned buffer (a Buffer from a pool) once.
  const bytes = source.byteOffset % 8 === 0 ? source : source.slice();
  if (bytes.byteLength < HEADER_BYTES) throw broken("it is truncated");
  const header = new Uint32Array(bytes.buffer, bytes.byteOffset, HEADER_WORDS);
  if (header[0] !== MAGIC) throw broken("wrong magic number");
  if (!READABLE_FORMATS.has(header[1]!))
    throw broken(`format ${header[1]}, not ${SNAPSHOT_FORMAT}`);
  const [, , nodeCount, principalCount, grantCount, membershipCount, roleCount] = header;
  const [extrasCount, expiringCount, stringCount, textBytes] = header.subarray(7, 11);
  const revision = new Float64Array(bytes.buffer, bytes.byteOffset + HEADER_WORDS * 4, 1)[0]!;
  const read = new Reader(bytes);
  const lengths = read.u32(stringCount!);
  const text = new TextDecoder("utf-8", { fatal: true }).decode(read.u8(textBytes!));
  const strings = new Array<string>(stringCount!);
  let at = 0;
  for (let i = 0; i < stringCount!; i++) {
    strings[i] = text.slice(at, at + lengths[i]!);
    at += lengths[i]!;
  }
  if (at !== text.length) throw broken("its string table does not add up");
  const firstNode = FIXED_STRINGS + roleCount!;
  const firstPrincipal = firstNode + nodeCount!;
  if (firstPrincipal + principalCount! + extrasCount! !== stringCount)
    throw broken("its string table does not add up");
  if (strings[0] !== definition) throw broken("another model (or version)");
  if (strings[1] !== state.keys[0] || strings[firstNode] !== state.keys[0])
    throw broken("another workspace");
  const roles = strings.slice(FIXED_STRINGS, firstNode).map((name) => {
    const role = model.roles.get(name);
    if (role === undefined) throw broken(`unknown role "${name}"`);
    return role;
  });

  const parent = read.i32(nodeCount!);
  const type = read.u8(nodeCount!);
  if (nodeCount! > state.parent.length) {
    // Keep the root's slot (its parent is NO_PARENT, not 0) when growing to the snapshot's size.
    const parents = new Int32Array(nodeCount!);
    parents.set(state.parent);
    state.parent = parents;
    const types = new Uint8Array(nodeCount!);
    types.set(state.type);
    state.type = types;
  }
  for (let i = 1; i < nodeCount!; i++) {
    const p = parent[i]!;
    const t = type[i]!;
    if (
      !(p >= 0 && p < i) ||
      t >= model.typeNames.length ||
      (model.parentMask[t]! & (1 << type[p]!)) === 0
    )
      throw broken(`node ${i} does not fit the tree`);
    addNode(state, strings[firstNode + i]!, t, p);
  }
  // A name given twice would have replaced the first in the index (one lookup per node less).
  if (state.nodeIndex.size !== nodeCount) throw broken("a resource appears twice");

  const kind = read.u8(principalCount!);
  const principals = new Array<Principal>(principalCount!);
  for (let i = 0; i < principalCount!; i++) {
    const name = strings[firstPrincipal + i]! as SubjectRef;
    const k = kind[i]!;
    if (
      (k !== Kind.User && k !== Kind.Group) ||
      !name.startsWith(k === Kind.User ? "user:" : "group:")
    )
      throw broken(`principal ${name} has kind ${k}`);
    const principal = new Principal(name, k);
    state.principals.set(name, principal);
    principals[i] = principal;
  }
  if (state.principals.size !== principalCount) throw broken("a principal appears twice");
  const memberships = read.u32(membershipCount! * 2);
  for (let i = 0; i < memberships.length; i += 2) {
    const group = principals[memberships[i]!];
    const user = principals[memberships[i + 1]!];
    if (group?.kind !== Kind.Group || user?.kind !== Kind.User || group.members.has(user))
      throw broken("a membership is not of a user in a group");
    group.addMember(user);
    user.groups = [...user.groups, group];
  }

  const holder = read.u32(grantCount!);
  const node = read.u32(grantCount!);
  const role = read.u16(grantCount!);
  const extrasGrant = read.u32(extrasCount!);
  const extrasString = read.u32(extrasCount!);
  const expiringGrant = read.u32(expiringCount!);
  const expiring = read.f64(expiringCount!);
  read.end();
  const expiresAt = new Map<number, number>();
  for (let i = 0; i < expiringCount!; i++) {
    const g = expiringGrant[i]!;
    if (!(g < grantCount!) || !Number.isFinite(expiring[i]!)) throw broken("a bad expiry");
    expiresAt.set(g, expiring[i]!);
  }
  // Rare: a grant's extras, note and fallback are checked against the model as any new grant's are.
  const detailed = new Map<number, Detail>();
  for (let i = 0; i < extrasCount!; i++) {
    const g = extrasGrant[i]!;
    if (!(g < grantCount!) || (i > 0 && g <= extrasGrant[i - 1]!))
      throw broken("extras out of order");
    const detail = JSON.parse(strings[extrasString[i]!] ?? "null") as unknown;
    const { extras, note, fallback } = Array.isArray(detail)
      ? { extras: detail, note: undefined, fallback: undefined }
      : ((detail ?? {}) as { extras?: unknown; note?: unknown; fallback?: unknown });
    const principal = principals[holder[g]!];
    const r = roles[role[g]!];
    if (
      !Array.isArray(extras) ||
      (note !== undefined && typeof note !== "string") ||
      (fallback !== undefined && (typeof fallback !== "object" || fallback === null)) ||
      principal === undefined ||
      r === undefined ||
      !(node[g]! < nodeCount!)
    )
      throw broken(`grant ${g} has bad extras`);
    const expiry = expiresAt.get(g);
    const prepared = prepareGrant(state, {
      subject: principal.name as GrantInput["subject"],
      role: r.name,
      scope: state.keys[node[g]!] as GrantInput["scope"],
      extras: extras as string[],
      expiresAt: expiry,
      note,
      fallback: fallback as GrantInput["fallback"],
    });
    const fallen = prepared.fallback;
    detailed.set(g, {
      extras: prepared.extras === NO_EXTRAS ? NO_EXTRAS : Object.freeze(prepared.extras),
      bits: grantBits(state, r, prepared.extraBits),
      note: prepared.note,
      fallback:
        fallen === undefined
          ? undefined
          : {
              role: fallen.role,
              extras: fallen.extras === NO_EXTRAS ? NO_EXTRAS : Object.freeze(fallen.extras),
              bits: grantBits(state, fallen.role, fallen.extraBits),
            },
    });
  }

  // Grants come in one run per principal: checked here, turned into records when first read.
  const runs = new Uint32Array(principalCount! + 1);
  const seenBy = new Uint32Array(nodeCount!);
  let owner: Principal | undefined;
  for (let g = 0; g < grantCount!; g++) {
    const h = holder[g]!;
    const principal = principals[h];
    const n = node[g]!;
    const r = roles[role[g]!];
    if (principal === undefined || !(n < nodeCount!) || r === undefined)
      throw broken(`grant ${g} names what is not there`);
    if (g > 0 && h < holder[g - 1]!) throw broken("grants out of order");
    runs[h + 1]!++;
    // One role per principal per node: the runs are contiguous, so a stamp per node suffices.
    if ((r.scopeMask & (1 << state.type[n]!)) === 0 || seenBy[n] === h + 1)
      throw broken(`grant ${g} does not fit the model`);
    seenBy[n] = h + 1;
    if (r.isOwner) {
      if (principal.kind !== Kind.User || expiresAt.has(g) || owner !== undefined)
        throw broken(`grant ${g} does not fit the model`);
      owner = principal;
    }
  }
  let holders = 0;
  for (let i = 0; i < principalCount!; i++) {
    if (runs[i + 1]! > 0) holders++;
    runs[i + 1]! += runs[i]!;
  }
  const held = new SnapshotGrants(
    state,
    { runs, holders: principals, holder, node, role, roles, expiresAt, detailed },
    holders,
    // The columns are views of the snapshot's buffer; the names are slices of one decoded string.
    bytes.buffer.byteLength + textBytes!,
  );
  for (let i = 0; i < principalCount!; i++)
    if (runs[i + 1]! > runs[i]!) principals[i]!.holdGrants(held, i);
  state.grantCount += grantCount!;
  // Who-can-access and deleting a subtree build the records of the holders at the nodes they read.
  state.heldGrants = held;
  for (const record of owner?.grants.values() ?? [])
    if (model.roles.get(record.role)?.isOwner === true) state.ownerGrant = record;

  const keys = JSON.parse(strings[2]!) as ApiKeyInput[];
  if (!Array.isArray(keys)) throw broken("bad API keys");
  for (const key of keys) addApiKey(state, key);
  state.lastPrincipal = undefined;
  state.revision = revision;
}
