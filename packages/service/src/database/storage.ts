import type { Kysely } from "kysely";
import type { Database } from "./schema.ts";

/**
 * The storage port: one Kysely database plus what differs between backends. Adapters live in
 * `sqlite/` and `postgres/`, each with the same files.
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
  /** True for a unique or primary-key violation raised by the driver. */
  isUniqueViolation(error: unknown): boolean;
  close(): Promise<void>;
}
