import type { Kysely } from "kysely";
import type { Database } from "./schema.ts";

/**
 * The storage port: one Kysely database plus what differs between backends. Adapters live in
 * `sqlite/` and `postgres/`, each with the same files: `open.ts` (the `Storage`) and
 * `change-feed.ts` (its `ChangeFeed`).
 */
export interface Storage {
  readonly dialect: "sqlite" | "postgres";
  readonly db: Kysely<Database>;
  /**
   * True when `SELECT … FOR UPDATE` locks rows (PostgreSQL). SQLite takes the database write lock
   * when a transaction begins, so writers are serialized without row locks.
   */
  readonly locksRows: boolean;
  /** Runs `work` in one transaction: committed when it resolves, rolled back when it throws. */
  transaction<T>(work: (trx: Kysely<Database>) => Promise<T>): Promise<T>;
  /** Runs `work` in a read-only transaction that sees one consistent snapshot of the database. */
  snapshot<T>(work: (trx: Kysely<Database>) => Promise<T>): Promise<T>;
  /** How commits of other instances become known (see `ChangeFeed`). */
  readonly changeFeed: ChangeFeed;
  /** True for a unique or primary-key violation raised by the driver. */
  isUniqueViolation(error: unknown): boolean;
  /** Resolves when the database answers a trivial query; rejects when it cannot (readiness). */
  ping(): Promise<void>;
  close(): Promise<void>;
}

/** A workspace reached a revision: what one instance tells the others. */
export interface ChangeNotice {
  readonly workspaceId: string;
  readonly revision: number;
}

/** Callbacks of a `ChangeFeed` listener. */
export interface ChangeFeedHandlers {
  /** A notice from any instance (this one included); may arrive late, twice or never. */
  readonly notice: (notice: ChangeNotice) => void;
  /** The listener is connected (`true`) or lost its connection and is reconnecting (`false`). */
  readonly state: (connected: boolean) => void;
}

/**
 * How an instance learns of other instances' commits, through the database itself. Notices are
 * hints: the committed `changes` rows, read by revision, are the truth, so a lost notice delays
 * an update (until the next poll) but never loses one.
 */
export interface ChangeFeed {
  /** Inside a write transaction: announces, when it commits, that a workspace reached `revision`. */
  announce(trx: Kysely<Database>, notice: ChangeNotice): Promise<void>;
  /**
   * Listens to every instance's announcements (PostgreSQL LISTEN/NOTIFY), reconnecting when the
   * connection drops. Absent where the backend has no such channel (SQLite: see `commitCounter`).
   */
  listen?(handlers: ChangeFeedHandlers): Promise<{ close(): Promise<void> }>;
  /**
   * A number that changes whenever another connection — another process on the same file —
   * commits (SQLite's `data_version`), so a poll costs nothing while nobody else writes.
   */
  commitCounter?(): number;
}
