import { GatehouseError } from "@gatehouse/engine";
import type { SqliteDatabase, SqliteStatement } from "kysely";
import { ErrorCode } from "../../support/error-codes.ts";

/** What a client is told to wait before retrying a write that found the database busy. */
const BUSY_RETRY_AFTER_MS = 1_000;

/** The SQLite result code of a driver error (`SQLITE_BUSY_SNAPSHOT`, `SQLITE_FULL`, …), if any. */
function sqliteCode(error: unknown): string | undefined {
  if (typeof error !== "object" || error === null) return undefined;
  if (error instanceof GatehouseError) return sqliteCode(error.cause);
  return "code" in error && typeof error.code === "string" && error.code.startsWith("SQLITE_")
    ? error.code
    : undefined;
}

/** True for SQLITE_BUSY and SQLITE_LOCKED, with any extended code. */
export function isBusy(error: unknown): boolean {
  const code = sqliteCode(error);
  return code !== undefined && (/^SQLITE_BUSY(_|$)/.test(code) || /^SQLITE_LOCKED(_|$)/.test(code));
}

/** DATABASE_BUSY or DATABASE_FULL for those SQLite failures; any other error unchanged. */
function translateError(error: unknown): unknown {
  if (error instanceof GatehouseError) return error;
  if (isBusy(error)) {
    return new GatehouseError(
      ErrorCode.DATABASE_BUSY,
      "the database is busy with other writers; try again",
      { cause: error, details: { retryAfterMs: BUSY_RETRY_AFTER_MS } },
    );
  }
  if (sqliteCode(error) === "SQLITE_FULL") {
    return new GatehouseError(
      ErrorCode.DATABASE_FULL,
      "the disk holding the database is full; nothing was written",
      { cause: error },
    );
  }
  return error;
}

/**
 * The database as Kysely sees it: every statement's busy, locked or disk-full failure becomes a
 * Gatehouse error, so reads outside a transaction report it the same way as writes.
 */
export function guardDatabase(database: SqliteDatabase): SqliteDatabase {
  return {
    close: () => database.close(),
    prepare: (sql) => guardStatement(attempt(() => database.prepare(sql))),
  };
}

function guardStatement(statement: SqliteStatement): SqliteStatement {
  return {
    reader: statement.reader,
    all: (parameters) => attempt(() => statement.all(parameters)),
    run: (parameters) => attempt(() => statement.run(parameters)),
    iterate: (parameters) => attempt(() => statement.iterate(parameters)),
  };
}

function attempt<T>(work: () => T): T {
  try {
    return work();
  } catch (error) {
    throw translateError(error);
  }
}
