import { Kysely, PostgresDialect, sql } from "kysely";
import type pg from "pg";
import { migrateToLatest } from "../migrate.ts";
import type { Database } from "../schema.ts";
import type { Storage } from "../storage.ts";
import { postgresChangeFeed } from "./change-feed.ts";
import { guardPool } from "./faults.ts";

export interface PostgresOptions {
  /** e.g. `postgres://127.0.0.1:5432/gatehouse` */
  readonly connectionString: string;
  /** Pool size (default 10). */
  readonly maxConnections?: number;
  /** Apply migrations on open (default true). */
  readonly migrate?: boolean;
  /** Use this schema (created when missing) instead of `public`, e.g. one per test suite. */
  readonly schema?: string;
  /** How long to wait for a connection, new or from the pool, in ms (default 5000). */
  readonly connectTimeoutMs?: number;
  /**
   * How long one statement may run, and a transaction sit idle, in ms (default 15000); the
   * client gives up on a server that stopped answering a second later.
   */
  readonly statementTimeoutMs?: number;
}

const DEFAULT_CONNECT_TIMEOUT_MS = 5_000;
const DEFAULT_STATEMENT_TIMEOUT_MS = 15_000;

const INT8 = 20;
const NUMERIC = 1700;

/**
 * Opens the PostgreSQL backend. Writers to one workspace serialize on its row
 * (`SELECT … FOR UPDATE`), so several instances can share the database. A lost or refused
 * connection never ends the process: queries fail with DATABASE_UNAVAILABLE, and the pool and
 * the listener reconnect by themselves once the database is back.
 * @example
 * const storage = await openPostgres({ connectionString: process.env.DATABASE_URL! });
 */
export async function openPostgres(options: PostgresOptions): Promise<Storage> {
  // The driver is an optional peer dependency, loaded only when PostgreSQL is used.
  const { default: driver } = await import("pg");
  const connectTimeoutMs = options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
  const statementTimeoutMs = options.statementTimeoutMs ?? DEFAULT_STATEMENT_TIMEOUT_MS;
  const pool = new driver.Pool({
    connectionString: options.connectionString,
    max: options.maxConnections ?? 10,
    connectionTimeoutMillis: connectTimeoutMs,
    statement_timeout: statementTimeoutMs,
    idle_in_transaction_session_timeout: statementTimeoutMs,
    query_timeout: statementTimeoutMs + 1_000,
    keepAlive: true,
    keepAliveInitialDelayMillis: 10_000,
    ...(options.schema === undefined
      ? {}
      : { options: `-c search_path=${quoteIdentifier(options.schema)}` }),
    // Times are epoch milliseconds and counters stay far below 2^53: read bigint as number.
    types: {
      getTypeParser: ((oid: number, format?: "text" | "binary") =>
        oid === INT8 || oid === NUMERIC
          ? (value: string) => Number(value)
          : driver.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
    },
  });
  // An idle client whose connection drops (pg_terminate_backend, a restart) is reported here and
  // removed by the pool; without a listener Node would end the process on the 'error' event.
  pool.on("error", () => undefined);
  // A checked-out client has no pool listener: its error also fails its query, which is enough.
  pool.on("connect", (client) => client.on("error", () => undefined));
  if (options.schema !== undefined) {
    // Instances starting together race to create it: losing that race is fine.
    await pool
      .query(`create schema if not exists ${quoteIdentifier(options.schema)}`)
      .catch((error: { code?: string }) => {
        if (error.code !== "23505" && error.code !== "42P06") throw error;
      });
  }
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool: guardPool(pool) }) });
  // One channel per schema: instances on one database but in other schemas hear nothing of it.
  const channel =
    options.schema === undefined ? "gatehouse_changes" : `gatehouse_changes__${options.schema}`;
  const changeFeed = postgresChangeFeed({
    driver,
    connectionString: options.connectionString,
    connectTimeoutMs,
    channel,
    quote: quoteIdentifier,
  });
  const storage: Storage = {
    dialect: "postgres",
    db,
    locksRows: true,
    changeFeed,
    transaction: (work) => db.transaction().execute(work),
    snapshot: (work) => db.transaction().setIsolationLevel("repeatable read").execute(work),
    isUniqueViolation: (error) =>
      typeof error === "object" && error !== null && "code" in error && error.code === "23505",
    ping: async () => {
      await sql`select 1`.execute(db);
    },
    close: () => db.destroy(),
  };
  if (options.migrate !== false) await migrateToLatest(db, options.schema);
  return storage;
}

function quoteIdentifier(name: string, maxLength = 50): string {
  if (!/^[a-z_][a-z0-9_]*$/.test(name) || name.length > maxLength)
    throw new Error(`invalid schema name "${name}"`);
  return `"${name}"`;
}
