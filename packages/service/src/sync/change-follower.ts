import type { Kysely } from "kysely";
import type { Database } from "../database/schema.ts";
import type { ChangeFeed, ChangeNotice } from "../database/storage.ts";
import type { CachedWorkspace, EngineCache } from "./engine-cache.ts";

/** How an instance keeps its cached workspaces in step with commits made by other instances. */
export interface FollowOptions {
  /** Listen to other instances' announcements (PostgreSQL LISTEN/NOTIFY); `true` by default. */
  readonly notifications?: boolean;
  /**
   * How often cached workspaces in use are compared with the store, in ms: the bound on how late
   * a change arrives when notifications are lost or off. 100 by default.
   */
  readonly pollIntervalMs?: number;
  /**
   * How long a cached workspace answers reads without asking the store, in ms, after the store was
   * last seen at its revision; past it a read asks the store first. 350 by default, so no read is
   * more than ~400 ms behind a commit even when polls fail (changes must apply within 500 ms).
   */
  readonly maxStalenessMs?: number;
}

/** What the follower needs of the service core. */
export interface FollowTarget {
  readonly db: Kysely<Database>;
  readonly engines: EngineCache;
  /** Brings a workspace's cached state up to the store (catching up by revision or reloading). */
  refresh(workspaceId: string): Promise<unknown>;
}

/** A workspace read within this window is polled; older ones are re-checked on their next read. */
const IN_USE_MS = 60_000;
const POLL_BATCH = 500;

export const DEFAULT_FOLLOW: Required<FollowOptions> = {
  notifications: true,
  pollIntervalMs: 100,
  maxStalenessMs: 350,
};

/**
 * Follows other instances' commits: notices (LISTEN/NOTIFY) trigger an immediate catch-up by
 * revision, and a bounded poll compares the cached workspaces in use with the store, so a lost
 * notice delays a change by at most one poll and loses nothing.
 */
export class ChangeFollower {
  readonly options: Required<FollowOptions>;
  readonly #target: FollowTarget;
  readonly #feed: ChangeFeed;
  readonly #watched = new Map<string, number>();
  /** Workspaces being caught up, and whether another notice came meanwhile. */
  readonly #catchingUp = new Map<string, { again: boolean }>();
  #listener: { close(): Promise<void> } | undefined;
  #timer: NodeJS.Timeout | undefined;
  #polling: Promise<void> | undefined;
  #connected = false;
  /** SQLite: the commit counter after the last full poll, and when it was read. */
  #counter: { value: number; at: number } | undefined;
  #stopped = false;
  #started: Promise<void> | undefined;

  constructor(target: FollowTarget, feed: ChangeFeed, options: FollowOptions = {}) {
    this.options = { ...DEFAULT_FOLLOW, ...options };
    const { pollIntervalMs, maxStalenessMs } = this.options;
    if (!(pollIntervalMs >= 10 && maxStalenessMs > pollIntervalMs)) {
      throw new RangeError("pollIntervalMs ≥ 10, and maxStalenessMs above it");
    }
    this.#target = target;
    this.#feed = feed;
  }

  /** True while the notification listener is connected. */
  get listening(): boolean {
    return this.#connected;
  }

  /** Starts listening and polling; resolves once the listener is in place (or being retried). */
  start(): Promise<void> {
    this.#started ??= this.#start();
    return this.#started;
  }

  async #start(): Promise<void> {
    if (this.options.notifications && this.#feed.listen !== undefined) {
      this.#listener = await this.#feed.listen({
        notice: (notice) => this.#onNotice(notice),
        state: (connected) => {
          const reconnected = connected && !this.#connected;
          this.#connected = connected;
          // Whatever was announced while disconnected is found by polling at once.
          if (reconnected) this.#pollAfterReconnect();
        },
      });
    }
    if (this.#stopped) {
      await this.#listener?.close();
      return;
    }
    this.#timer = setInterval(() => void this.poll(), this.options.pollIntervalMs);
    this.#timer.unref();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    await this.#started;
    if (this.#timer !== undefined) clearInterval(this.#timer);
    await this.#listener?.close();
    await this.#polling;
  }

  /** Keeps a workspace followed while a consumer (a change stream) needs it, read or not. */
  watch(workspaceId: string): () => void {
    this.#watched.set(workspaceId, (this.#watched.get(workspaceId) ?? 0) + 1);
    let done = false;
    return () => {
      if (done) return;
      done = true;
      const count = (this.#watched.get(workspaceId) ?? 1) - 1;
      if (count === 0) this.#watched.delete(workspaceId);
      else this.#watched.set(workspaceId, count);
    };
  }

  #onNotice({ workspaceId, revision }: ChangeNotice): void {
    const entry = this.#target.engines.peek(workspaceId);
    const behind = entry === undefined ? this.#watched.has(workspaceId) : entry.revision < revision;
    if (behind) this.catchUp(workspaceId);
  }

  /** Refreshes a workspace now; concurrent requests for one workspace share one refresh. */
  catchUp(workspaceId: string): void {
    const running = this.#catchingUp.get(workspaceId);
    if (running !== undefined) {
      running.again = true;
      return;
    }
    const state = { again: false };
    this.#catchingUp.set(workspaceId, state);
    const run = async (): Promise<void> => {
      do {
        state.again = false;
        try {
          await this.#target.refresh(workspaceId);
        } catch {
          // Closed, or the store is unreachable: drop it; the next read asks the store.
          this.#target.engines.evict(workspaceId);
        }
      } while (state.again && !this.#stopped);
      this.#catchingUp.delete(workspaceId);
    };
    void run();
  }

  /**
   * Polls now, and once more after a poll already running: that one began while the database was
   * unreachable and may have failed, which would leave the catch-up to the next interval.
   */
  #pollAfterReconnect(): void {
    const running = this.#polling;
    void this.poll();
    if (running !== undefined) void running.then(() => this.poll());
  }

  /** One poll (at most one runs at a time): verifies or catches up every workspace in use. */
  poll(): Promise<void> {
    if (this.#polling !== undefined || this.#stopped) return this.#polling ?? Promise.resolve();
    this.#polling = this.#poll().finally(() => {
      this.#polling = undefined;
    });
    return this.#polling;
  }

  async #poll(): Promise<void> {
    const startedAt = performance.now();
    const engines = this.#target.engines;
    let counter: number | undefined;
    try {
      counter = this.#feed.commitCounter?.();
    } catch {
      return; // The store is closed or unreachable: entries go stale; reads ask the store.
    }
    if (counter !== undefined && this.#counter?.value === counter) {
      // Nobody else committed since the last full poll: what was current then still is.
      for (const entry of engines.all())
        if (entry.verifiedAt >= this.#counter.at) engines.verified(entry, undefined, startedAt);
      return;
    }
    const entries = new Map<string, CachedWorkspace | undefined>();
    for (const entry of engines.usedSince(startedAt - IN_USE_MS)) entries.set(entry.row.id, entry);
    for (const id of this.#watched.keys()) if (!entries.has(id)) entries.set(id, engines.peek(id));
    const ids = [...entries.keys()];
    try {
      for (let start = 0; start < ids.length; start += POLL_BATCH) {
        const batch = ids.slice(start, start + POLL_BATCH);
        const rows = await this.#target.db
          .selectFrom("workspaces")
          .select(["id", "revision", "closed_at"])
          .where("id", "in", batch)
          .execute();
        const found = new Map(rows.map((row) => [row.id, row]));
        for (const id of batch) {
          const row = found.get(id);
          const entry = entries.get(id);
          if (row === undefined || row.closed_at !== null) {
            engines.evict(id);
          } else if (entry !== undefined && entry === engines.peek(id)) {
            if (row.revision === entry.revision) engines.verified(entry, undefined, startedAt);
            else this.catchUp(id);
          } else if (this.#watched.has(id)) {
            this.catchUp(id);
          }
        }
      }
      if (counter !== undefined) this.#counter = { value: counter, at: startedAt };
    } catch {
      // The store is unreachable: entries go stale and reads ask the store themselves.
    }
  }
}
