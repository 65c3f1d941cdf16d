import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { GatehouseError } from "@gatehouse/engine";
import type SqliteDatabase from "better-sqlite3";
import { Kysely, SqliteDialect, sql } from "kysely";
import { ErrorCode } from "../../support/error-codes.ts";
import { migrateToLatest } from "../migrate.ts";
import type { Database } from "../schema.ts";
import type { Storage } from "../storage.ts";
import { sqliteChangeFeed } from "./change-feed.ts";
import { guardDatabase, isBusy } from "./faults.ts";

const WRITE_LOCK_WAIT_MS = 15_000;

/**
 * Takes the database write lock, waiting asynchronously: better-sqlite3 is synchronous, so a
 * blocking busy wait would also stop this process's other connection from committing. Another
 * writer past the wait gives DATABASE_BUSY.
 */
async function beginImmediate(
  database: SqliteDatabase.Database,
  begin: () => Promise<unknown>,
): Promise<void> {
  const deadline = Date.now() + WRITE_LOCK_WAIT_MS;
  database.pragma("busy_timeout = 0");
  try {
    for (let attempt = 0; ; attempt++) {
      try {
        await begin();
        return;
      } catch (error) {
        if (!isBusy(error)) throw error;
        if (Date.now() > deadline) {
          throw new GatehouseError(
            ErrorCode.DATABASE_BUSY,
            "the database is busy with other writers; try again",
            { cause: error, details: { retryAfterMs: 1_000 } },
          );
        }
        await new Promise((resolve) =>
          setTimeout(resolve, Math.min(50, 1 + attempt * 2) * (0.5 + Math.random())),
        );
      }
    }
  } finally {
    database.pragma("busy_timeout = 5000");
  }
}

export interface SqliteOptions {
  /** The database file; created with its folder when missing. `:memory:` for a throwaway database. */
  readonly file: string;
  /** Apply migrations on open (default true). */
  readonly migrate?: boolean;
}

/**
 * Opens the embedded SQLite backend: WAL journal, foreign keys on, and every write transaction
 * started with `BEGIN IMMEDIATE` so concurrent writers queue instead of failing. A write that
 * finds the disk full (DATABASE_FULL) or the database locked too long (DATABASE_BUSY) is rolled
 * back whole.
 * @example
 * const storage = await openSqlite({ file: "./data/gatehouse.db" });
 */
export async function openSqlite(options: SqliteOptions): Promise<Storage> {
  if (options.file !== ":memory:") mkdirSync(dirname(options.file), { recursive: true });
  // The driver is an optional peer dependency, loaded only when SQLite is used.
  const { default: Driver } = await import("better-sqlite3");
  const database = new Driver(options.file);
  database.pragma("journal_mode = WAL");
  // NORMAL in WAL mode survives a killed process; only an OS crash may drop the last commits.
  database.pragma("synchronous = NORMAL");
  // Statements other than BEGIN IMMEDIATE (handled below) are rarely blocked, and briefly.
  database.pragma("busy_timeout = 5000");
  database.pragma("foreign_keys = ON");
  // SQLite's own lower() folds only ASCII, so a search for "élodie" would miss "Élodie"; listings
  // search with lower(column) (support/paging.ts) as PostgreSQL's lower() does, beyond ASCII.
  database.function("lower", { deterministic: true }, (text: unknown) =>
    typeof text === "string" ? text.toLowerCase() : text,
  );
  const db = new Kysely<Database>({
    dialect: new SqliteDialect({ database: guardDatabase(database) }),
  });
  const storage: Storage = {
    dialect: "sqlite",
    db,
    locksRows: false,
    changeFeed: sqliteChangeFeed(database),
    transaction: (work) =>
      // The dialect has one connection guarded by a mutex: holding it serializes this process's
      // transactions; BEGIN IMMEDIATE serializes them against other processes.
      db.connection().execute(async (connection) => {
        await beginImmediate(database, () => sql`begin immediate`.execute(connection));
        try {
          const result = await work(connection);
          await sql`commit`.execute(connection);
          return result;
        } catch (error) {
          await sql`rollback`.execute(connection).catch(() => undefined);
          throw error;
        }
      }),
    // A deferred transaction in WAL mode reads one snapshot and does not block writers.
    snapshot: (work) =>
      db.connection().execute(async (connection) => {
        await sql`begin`.execute(connection);
        try {
          return await work(connection);
        } finally {
          await sql`commit`.execute(connection);
        }
      }),
    isUniqueViolation: (error) =>
      typeof error === "object" &&
      error !== null &&
      "code" in error &&
      (error.code === "SQLITE_CONSTRAINT_UNIQUE" || error.code === "SQLITE_CONSTRAINT_PRIMARYKEY"),
    ping: async () => {
      await sql`select 1`.execute(db);
    },
    close: () => db.destroy(),
  };
  if (options.migrate !== false) await migrateToLatest(db);
  return storage;
}
