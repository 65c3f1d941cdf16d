import { applyOps, type Engine } from "@gatehouse/engine";
import type { Selectable } from "kysely";
import type { WorkspacesTable } from "../database/schema.ts";
import type { StoredChange } from "./load-engine.ts";

export type WorkspaceRow = Selectable<WorkspacesTable>;

/** A committed revision with its engine ops (as `readChanges` reads them, or a local commit). */
export type AppliedChange = Pick<StoredChange, "revision" | "ops">;

/**
 * A workspace as this instance holds it: the engine and the workspace row at `revision`, and when
 * the store was last known to be at that revision.
 */
export interface CachedWorkspace {
  readonly engine: Engine;
  /** The store revision the engine and row reflect. */
  revision: number;
  /** The workspace row at `revision` (its audit head may lag: denials append without a revision). */
  row: WorkspaceRow;
  /** Monotonic ms (`performance.now()`): the store was at `revision` no earlier than this. */
  verifiedAt: number;
  /** Monotonic ms of the last read, so the follower polls only workspaces in use. */
  usedAt: number;
}

/** The engine cache's counters, for metrics. */
export interface EngineCacheStats {
  /** Workspaces held. */
  readonly workspaces: number;
  /** The estimated heap of the engines held, in bytes (`Engine.footprint.estimatedBytes`). */
  readonly bytes: number;
  /** The memory budget, in bytes. */
  readonly budgetBytes: number;
  /** Engines loaded from the store into the cache, since start. */
  readonly loads: number;
  /** Engines dropped to stay within the budget (least recently used first), since start. */
  readonly evictions: number;
}

/** 512 MiB: well inside Node's default heap limit, with room for requests and the rest. */
export const DEFAULT_ENGINE_CACHE_BYTES = 512 * 2 ** 20;

/**
 * The engines of recently used workspaces, each tagged with the store revision it reflects and
 * advanced by replaying committed ops in revision order; anything else evicts (and the next read
 * reloads). Bounded by an estimate of memory: past `budgetBytes`, the least recently used
 * workspaces go first. The one just loaded or used always stays, even alone over the budget.
 */
export class EngineCache {
  /** In order of use, least recent first: a use moves the entry to the end. */
  readonly #entries = new Map<string, CachedWorkspace>();
  /** Each entry's estimated bytes, as of its load or last advance. */
  readonly #bytesOf = new Map<string, number>();
  readonly #budget: number;
  #bytes = 0;
  #loads = 0;
  #evictions = 0;
  /** The workspace last put at the end of `#entries`: used again, it has nowhere to move. */
  #newest: string | undefined;

  constructor(budgetBytes = DEFAULT_ENGINE_CACHE_BYTES) {
    if (!(budgetBytes > 0)) throw new RangeError("the engine cache budget must be positive");
    this.#budget = budgetBytes;
  }

  get size(): number {
    return this.#entries.size;
  }

  get stats(): EngineCacheStats {
    return {
      workspaces: this.#entries.size,
      bytes: this.#bytes,
      budgetBytes: this.#budget,
      loads: this.#loads,
      evictions: this.#evictions,
    };
  }

  /** The cached workspace, whatever its revision; does not count as a use. */
  peek(workspaceId: string): CachedWorkspace | undefined {
    return this.#entries.get(workspaceId);
  }

  /** Marks a cached entry the most recently used: the last to be evicted. */
  use(entry: CachedWorkspace): void {
    const id = entry.row.id;
    if (id === this.#newest || this.#entries.get(id) !== entry) return;
    this.#entries.delete(id);
    this.#entries.set(id, entry);
    this.#newest = id;
  }

  /** Caches a freshly loaded engine, unless the cache already holds that revision or a later one. */
  store(engine: Engine, row: WorkspaceRow, verifiedAt: number): CachedWorkspace {
    const current = this.#entries.get(row.id);
    if (current !== undefined && current.revision >= row.revision) return current;
    const entry = { engine, revision: row.revision, row, verifiedAt, usedAt: verifiedAt };
    this.evict(row.id);
    this.#entries.set(row.id, entry);
    this.#newest = row.id;
    this.#loads++;
    this.#account(row.id, engine);
    return entry;
  }

  /** Records the entry's new size, then evicts the least recently used others beyond the budget. */
  #account(workspaceId: string, engine: Engine): void {
    const bytes = engine.footprint.estimatedBytes;
    this.#bytes += bytes - (this.#bytesOf.get(workspaceId) ?? 0);
    this.#bytesOf.set(workspaceId, bytes);
    for (const id of this.#entries.keys()) {
      if (this.#bytes <= this.#budget) break;
      if (id === workspaceId) continue;
      this.evict(id);
      this.#evictions++;
    }
  }

  /** Records that the store was at the entry's revision at `at`, with `row` as read then. */
  verified(entry: CachedWorkspace, row: WorkspaceRow | undefined, at: number): void {
    if (row !== undefined && row.revision === entry.revision) entry.row = row;
    if (at > entry.verifiedAt) entry.verifiedAt = at;
  }

  /**
   * Advances a cached engine through consecutive committed changes up to `row.revision`. Answers
   * whether the entry now reflects `row`; on a gap or an op that does not apply it is evicted.
   */
  advance(
    workspaceId: string,
    changes: readonly AppliedChange[],
    row: WorkspaceRow,
    verifiedAt: number,
  ): boolean {
    const entry = this.#entries.get(workspaceId);
    if (entry === undefined) return false;
    try {
      for (const change of changes) {
        if (change.revision <= entry.revision) continue;
        if (change.revision !== entry.revision + 1) break;
        applyOps(entry.engine, change.ops);
        entry.revision = change.revision;
      }
    } catch {
      this.evict(workspaceId);
      return false;
    }
    if (entry.revision !== row.revision) {
      this.evict(workspaceId);
      return false;
    }
    this.verified(entry, row, verifiedAt);
    this.#account(workspaceId, entry.engine);
    return true;
  }

  /** The workspaces read since `since` (monotonic ms): the ones worth polling. */
  usedSince(since: number): CachedWorkspace[] {
    const used: CachedWorkspace[] = [];
    for (const entry of this.#entries.values()) if (entry.usedAt >= since) used.push(entry);
    return used;
  }

  /** Every cached workspace. */
  all(): IterableIterator<CachedWorkspace> {
    return this.#entries.values();
  }

  /** Drops a workspace (closed, or out of step with the store); the next read reloads it. */
  evict(workspaceId: string): void {
    this.#entries.delete(workspaceId);
    this.#bytes -= this.#bytesOf.get(workspaceId) ?? 0;
    this.#bytesOf.delete(workspaceId);
  }
}
