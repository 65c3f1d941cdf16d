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

/**
 * The engines of recently used workspaces, each tagged with the store revision it reflects and
 * advanced by replaying committed ops in revision order; anything else evicts (and the next read
 * reloads). Least recently stored entries go first beyond `limit`.
 */
export class EngineCache {
  readonly #entries = new Map<string, CachedWorkspace>();
  readonly #limit: number;

  constructor(limit = 10_000) {
    this.#limit = limit;
  }

  get size(): number {
    return this.#entries.size;
  }

  /** The cached workspace, whatever its revision. */
  peek(workspaceId: string): CachedWorkspace | undefined {
    return this.#entries.get(workspaceId);
  }

  /** Caches a freshly loaded engine, unless the cache already holds that revision or a later one. */
  store(engine: Engine, row: WorkspaceRow, verifiedAt: number): CachedWorkspace {
    const current = this.#entries.get(row.id);
    if (current !== undefined && current.revision >= row.revision) return current;
    const entry = { engine, revision: row.revision, row, verifiedAt, usedAt: verifiedAt };
    this.#entries.delete(row.id);
    this.#entries.set(row.id, entry);
    if (this.#entries.size > this.#limit) {
      const oldest = this.#entries.keys().next().value;
      if (oldest !== undefined) this.#entries.delete(oldest);
    }
    return entry;
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
      this.#entries.delete(workspaceId);
      return false;
    }
    if (entry.revision !== row.revision) {
      this.#entries.delete(workspaceId);
      return false;
    }
    this.verified(entry, row, verifiedAt);
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

  evict(workspaceId: string): void {
    this.#entries.delete(workspaceId);
  }
}
