import { type Bits, emptyBits } from "../bitset.ts";
import type { CompiledModel } from "../model/define-model.ts";
import type { GrantRecord, HeldFootprint, HeldGrants, Principal } from "./records.ts";
import { SortedNames } from "./sorted-names.ts";

/** The parent of the root. */
export const NO_PARENT = -1;

export interface StateOptions {
  readonly clock: (() => number) | undefined;
  readonly gatherLimit: number | undefined;
  readonly revision: number | undefined;
}

/**
 * One workspace's tree, principals and grants: what every part of the engine (tree, principals,
 * check, list, explain) reads and changes. Plain fields, so the hot paths read them directly.
 */
export class EngineState {
  readonly model: CompiledModel;
  readonly clock: () => number;
  /**
   * A page of `listVisible` collects and sorts the covered resources while there are at most this
   * many; past that it reads the type's sorted list instead.
   */
  readonly gatherLimit: number;
  revision: number;
  /** Bumped when resources are added or deleted, to refresh API keys' resource constraints. */
  treeVersion = 0;

  // The resource tree, one slot per node; slots are never reused.
  readonly nodeIndex = new Map<string, number>();
  /** The node now carrying a name, if any (for `SortedNames.settle`). */
  readonly current = (name: string): number | undefined => this.nodeIndex.get(name);
  parent = new Int32Array(1024);
  type = new Uint8Array(1024);
  nodeCount = 0;
  readonly keys: string[] = [];
  readonly children: (number[] | undefined)[] = [];
  /** Per node: the grants there as records (see `grantsAtNode` for those still in columns). */
  readonly grantsAt: (Set<GrantRecord> | undefined)[] = [];
  /** A restored snapshot's grants not all turned into records yet, if any. */
  heldGrants: HeldGrants | undefined = undefined;
  /** Per type: its resources in name order, kept incrementally for listing. */
  readonly byType: SortedNames[];

  readonly principals = new Map<string, Principal>();
  /** Live grants, for the memory estimate. */
  grantCount = 0;
  /** The principal `principalNamed` answered last (forgotten when any principal is removed). */
  lastPrincipal: Principal | undefined = undefined;
  ownerGrant: GrantRecord | undefined = undefined;
  /**
   * Per node: the listing that last marked it as covered (`coverEpoch`), so a scan tests "under a
   * covering grant" with typed-array reads instead of a Set per call. Grown with the tree.
   */
  coverStamp = new Uint32Array(1024);
  coverEpoch = 0;
  /** Reused by `permissionsOn`, which allocates nothing but its answer. */
  readonly scratch: Bits;
  /** Decoded permission lists by bitset, keyed by the word itself when one word holds them all. */
  readonly namesCache = new Map<string | number, readonly string[]>();

  constructor(model: CompiledModel, options: StateOptions) {
    this.model = model;
    this.clock = options.clock ?? Date.now;
    this.gatherLimit = options.gatherLimit ?? 2048;
    this.revision = options.revision ?? 0;
    this.byType = model.typeNames.map(() => new SortedNames());
    this.scratch = emptyBits(model.words);
  }
}

/**
 * Retained heap per part of a workspace, in bytes, measured on Node 24 with the names parsed from
 * JSON (the engine then holds the only copy): `npm run bench -- --only=engine` prints the estimate
 * beside the measured heap. A principal restored from a snapshot whose grants are still in the
 * snapshot's columns (no record, no map of grants yet) weighs about half a built one (measured on
 * Node 20 with 200k of them: 1M grants restored in ~90 MiB, heap and snapshot bytes). A principal's
 * inline grants (`Principal.n0`…) add 72 bytes to each, a record's `word0` and `expires` 16
 * (measured on Node 20: 20k users with 5 grants each, restored 9.4 → 10.6 MiB, built 37.5 → 40.2).
 */
const BYTES = { engine: 4096, resource: 128, subject: 472, heldSubject: 272, grant: 240 } as const;

const NOTHING_HELD: HeldFootprint = { grants: 0, holders: 0, bytes: 0 };

/**
 * About how much memory `state` retains, from its counts; deleted resources' slots included. For
 * a restored engine, grants still in the snapshot's columns count as the bytes those retain, and
 * as built records once read.
 */
export function estimatedBytes(state: EngineState): number {
  const held = state.heldGrants?.held ?? NOTHING_HELD;
  return (
    BYTES.engine +
    BYTES.resource * state.nodeCount +
    BYTES.subject * Math.max(0, state.principals.size - held.holders) +
    BYTES.heldSubject * held.holders +
    BYTES.grant * Math.max(0, state.grantCount - held.grants) +
    held.bytes
  );
}

/** Whether a grant or key expiring at `expiresAt` (`Infinity` for never) has expired. */
export function isExpired(state: EngineState, expiresAt: number): boolean {
  return expiresAt !== Number.POSITIVE_INFINITY && state.clock() >= expiresAt;
}

/**
 * The grant in force at the engine's clock: the record itself until it expires, then its fallback
 * (`fallback`), or `undefined` when it holds nothing. Every reader asks this one function.
 */
export function inForce(state: EngineState, record: GrantRecord): GrantRecord | undefined {
  // `expires` first: a grant that never expires is in force without reading its boxed `expiresAt`.
  return record.expires && isExpired(state, record.expiresAt) ? record.fallback : record;
}
