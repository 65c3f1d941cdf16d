import type { Bits } from "../bitset.ts";
import type { ApiKey, Decision, Grant, GranteeRef, ResourceRef, SubjectRef } from "./types.ts";

/** What a subject is, read off its name's prefix. */
export const Kind = { User: 0, Group: 1, Key: 2 } as const;
export type Kind = (typeof Kind)[keyof typeof Kind];

/**
 * A grant as the engine holds it. Its public `Grant` and the `allow` decision naming it are built
 * on first use and kept, so a check still allocates nothing while loading a million grants does not
 * build two million objects nobody may ask for.
 */
export class GrantRecord {
  // The fields a check reads come first, so one probe touches one or two cache lines of the record.
  #allow: Decision | undefined = undefined;
  /**
   * `bits[0]` as a signed 32-bit number (a small integer in V8, stored in the record): a check and
   * `permissionsOn` of a one-word model, or of a permission in word 0, read no typed array.
   */
  readonly word0: number;
  /**
   * Whether it expires (`expiresAt` is finite): a check of a grant that never expires does not read
   * `expiresAt`, a number V8 keeps in a box of its own, one more dependent memory read.
   */
  readonly expires: boolean;
  /**
   * What an expiring grant gives from `expiresAt` on (`Grant.fallback`): a record of the same holder
   * and node that never expires, reached only through `inForce`; `undefined` for none.
   */
  readonly fallback: GrantRecord | undefined;
  readonly bits: Bits;
  readonly node: number;
  /** `Infinity` when the grant never expires. */
  readonly expiresAt: number;
  readonly holder: Principal;
  readonly role: string;
  readonly scope: string;
  readonly extras: readonly string[];
  /** The store's opaque note (`Grant.note`); `undefined` for none. */
  readonly note: string | undefined;
  #grant: Grant | undefined = undefined;
  constructor(
    holder: Principal,
    node: number,
    role: string,
    scope: string,
    extras: readonly string[],
    bits: Bits,
    expiresAt: number,
    note: string | undefined = undefined,
    fallback: GrantRecord | undefined = undefined,
  ) {
    this.word0 = bits[0]! | 0;
    this.expires = expiresAt !== Number.POSITIVE_INFINITY;
    this.fallback = fallback;
    this.bits = bits;
    this.node = node;
    this.expiresAt = expiresAt;
    this.holder = holder;
    this.role = role;
    this.scope = scope;
    this.extras = extras;
    this.note = note;
  }

  get grant(): Grant {
    this.#grant ??= Object.freeze({
      subject: this.holder.name as GranteeRef,
      role: this.role,
      scope: this.scope as ResourceRef,
      extras: this.extras,
      expiresAt: this.expiresAt === Number.POSITIVE_INFINITY ? undefined : this.expiresAt,
      ...(this.note === undefined ? {} : { note: this.note }),
      ...(this.fallback === undefined
        ? {}
        : { fallback: Object.freeze({ role: this.fallback.role, extras: this.fallback.extras }) }),
    });
    return this.#grant;
  }

  get allow(): Decision {
    this.#allow ??= Object.freeze({ allowed: true, via: this.grant });
    return this.#allow;
  }
}

export interface KeyRecord {
  readonly key: ApiKey;
  readonly owner: Principal;
  readonly bits: Bits;
  /** The nodes now carrying the names in `key.resources`, as of tree version `nodesAt`. */
  nodes: ReadonlySet<number>;
  nodesAt: number;
  readonly expiresAt: number;
}

/** Shared by every principal without groups, members or keys: most users of a large workspace. */
const NO_PRINCIPALS: readonly Principal[] = Object.freeze([]);
const NO_SET: ReadonlySet<Principal> = new Set();
/** Shared by every grant without extras. */
export const NO_EXTRAS: readonly string[] = Object.freeze([]);

/** What the snapshot encoder reads of a grant: a record, or a grant still held in columns. */
export type GrantFields = Pick<GrantRecord, "node" | "role" | "extras" | "expiresAt" | "note"> & {
  readonly fallback: { readonly role: string; readonly extras: readonly string[] } | undefined;
};

/**
 * Grants held in columns (a restored snapshot's) and turned into records for one principal when
 * its grants are first read: `run` is the principal's place in those columns.
 */
export interface HeldGrants {
  /** How many grants the run holds. */
  countOf(run: number): number;
  /** Adds the run's records to `into` (keyed by node). */
  materialize(holder: Principal, run: number, into: Map<number, GrantRecord>): void;
  /** The run's grants as fields, without building records. */
  fieldsOf(run: number): Iterable<GrantFields>;
  /** Builds the records of every principal holding a grant at `node` still in columns. */
  materializeAt(node: number): void;
  /** What is still held: grants and their holders without records yet, and the bytes retained. */
  readonly held: HeldFootprint;
}

/** What a restored snapshot's columns still hold (`HeldGrants.held`), for the memory estimate. */
export interface HeldFootprint {
  /** Grants whose records are not built yet. */
  readonly grants: number;
  /** Principals whose grants are all still in the columns. */
  readonly holders: number;
  /** The snapshot's bytes, its decoded string table and the columns' indexes, retained meanwhile. */
  readonly bytes: number;
}

/** How many grants a principal keeps in its own fields (`Principal.n0`…): most users hold few. */
const INLINE = 4;

/**
 * A user, group or API key with the grants it holds directly. The fields a check reads come first
 * (`typesHeld` … `r3`), so a check of a principal holding at most `INLINE` grants reads them off the
 * principal's own fields, without its map of grants and that map's table (two dependent reads).
 */
export class Principal {
  /**
   * Where it has held grants, in two words read after `grants` (which builds records held in
   * columns): a bit per resource type, and bit `node % 32` per node. A check skips a level whose
   * type or node bit is clear without probing the map. Never cleared when a grant goes: they may
   * say more than it holds, never less.
   */
  typesHeld = 0;
  nodesHeld = 0;
  key: KeyRecord | undefined = undefined;
  /** For users: the groups they belong to (replaced, never mutated). */
  groups: readonly Principal[] = NO_PRINCIPALS;
  #grants: Map<number, GrantRecord> | undefined = undefined;
  /**
   * Whether it holds more than `INLINE` grants: then only `grants` has them. Otherwise its grants
   * are also in `n0`…`n3` (their nodes, `-1` for an empty slot) and `r0`…`r3` (their records), in
   * no order; kept by `setGrant`, `deleteGrant` and the first read of grants held in columns, and
   * read after `grants`.
   */
  many = false;
  n0 = -1;
  n1 = -1;
  n2 = -1;
  n3 = -1;
  r0: GrantRecord | undefined = undefined;
  r1: GrantRecord | undefined = undefined;
  r2: GrantRecord | undefined = undefined;
  r3: GrantRecord | undefined = undefined;
  readonly name: SubjectRef;
  readonly kind: Kind;
  #held: HeldGrants | undefined = undefined;
  #run = 0;
  /** For groups: their members; allocated on the first. */
  members: ReadonlySet<Principal> = NO_SET;
  /** For users: the API keys they own; allocated on the first. */
  keys: ReadonlySet<Principal> = NO_SET;
  constructor(name: SubjectRef, kind: Kind) {
    this.name = name;
    this.kind = kind;
  }

  /**
   * Its grants by node; those still held in columns become records on this first read. Changed
   * only through `setGrant` and `deleteGrant`, which keep the fields `n0`… in step.
   */
  get grants(): ReadonlyMap<number, GrantRecord> {
    return this.#grants ?? this.#materialize();
  }

  /** Adds or replaces its grant at `record.node`. */
  setGrant(record: GrantRecord): void {
    this.#grants ??= this.#materialize();
    this.#grants.set(record.node, record);
    this.#inline();
  }

  /** Forgets its grant at `node`; whether it held one. */
  deleteGrant(node: number): boolean {
    this.#grants ??= this.#materialize();
    const deleted = this.#grants.delete(node);
    if (deleted) this.#inline();
    return deleted;
  }

  /** Copies the grants into `n0`… while they fit (`many` past that). */
  #inline(): void {
    const grants = this.#grants!;
    if (grants.size > INLINE) {
      if (!this.many) {
        this.many = true;
        this.n0 = this.n1 = this.n2 = this.n3 = -1;
        this.r0 = this.r1 = this.r2 = this.r3 = undefined;
      }
      return;
    }
    this.many = false;
    const records = grants.values();
    this.r0 = records.next().value;
    this.r1 = records.next().value;
    this.r2 = records.next().value;
    this.r3 = records.next().value;
    this.n0 = this.r0?.node ?? -1;
    this.n1 = this.r1?.node ?? -1;
    this.n2 = this.r2?.node ?? -1;
    this.n3 = this.r3?.node ?? -1;
  }

  /** How many grants it holds, without building records for those still in columns. */
  get grantCount(): number {
    return this.#grants?.size ?? this.#held?.countOf(this.#run) ?? 0;
  }

  /** Its grants' fields, without building records for those still in columns (for encoding). */
  grantFields(): Iterable<GrantFields> {
    return this.#grants?.values() ?? this.#held?.fieldsOf(this.#run) ?? [];
  }

  /** Leaves its grants in `held`'s columns until they are first read (a fresh principal only). */
  holdGrants(held: HeldGrants, run: number): void {
    this.#held = held;
    this.#run = run;
  }

  #materialize(): Map<number, GrantRecord> {
    const grants = new Map<number, GrantRecord>();
    this.#grants = grants;
    const held = this.#held;
    if (held !== undefined) {
      this.#held = undefined;
      held.materialize(this, this.#run, grants);
      this.#inline();
    }
    return grants;
  }

  /** Notes a grant of its at `node` (of type `type`) in `typesHeld` and `nodesHeld`. */
  noteGrantAt(node: number, type: number): void {
    this.typesHeld |= 1 << type;
    this.nodesHeld |= 1 << (node & 31);
  }

  addMember(member: Principal): void {
    if (this.members === NO_SET) this.members = new Set();
    (this.members as Set<Principal>).add(member);
  }

  /** Deleting from the shared empty set finds nothing: no allocation needed first. */
  deleteMember(member: Principal): void {
    (this.members as Set<Principal>).delete(member);
  }

  addKey(key: Principal): void {
    if (this.keys === NO_SET) this.keys = new Set();
    (this.keys as Set<Principal>).add(key);
  }

  deleteKey(key: Principal): void {
    (this.keys as Set<Principal>).delete(key);
  }
}
