import { GatehouseError } from "@gatehouse/engine";
import type { PostgresCursor, PostgresPool, PostgresPoolClient, PostgresQueryResult } from "kysely";
import type pg from "pg";
import { ErrorCode } from "../../support/error-codes.ts";

/** What a client is told to wait before retrying while the database is unreachable. */
const RETRY_AFTER_MS = 2_000;

/** Socket errors of a connection that is gone or was never made. */
const SOCKET_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ECONNABORTED",
  "EPIPE",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENOTFOUND",
  "EAI_AGAIN",
]);

/**
 * SQLSTATEs that mean the server went away, is starting or stopping, or gave up on a statement:
 * class 08 (connection exception) is matched by prefix.
 */
const UNAVAILABLE_STATES = new Set([
  "57P01", // admin_shutdown: pg_terminate_backend, a fast or immediate stop
  "57P02", // crash_shutdown
  "57P03", // cannot_connect_now: starting up or shutting down
  "53300", // too_many_connections
  "57014", // query_canceled: statement_timeout
  "25P03", // idle_in_transaction_session_timeout
]);

/** Messages of node-postgres for a connection lost, not made in time, or a query not answered in time. */
const UNAVAILABLE_MESSAGE =
  /^(Connection terminated|timeout exceeded when trying to connect|Query read timeout|Client has encountered a connection error|Connection terminated due to connection timeout)/;

/** True when `error` says the database cannot be reached now, rather than that a query is wrong. */
function isDatabaseUnavailable(error: unknown): boolean {
  if (typeof error !== "object" || error === null) return false;
  const code = "code" in error && typeof error.code === "string" ? error.code : undefined;
  if (code !== undefined) {
    if (SOCKET_CODES.has(code) || UNAVAILABLE_STATES.has(code) || code.startsWith("08"))
      return true;
  }
  return error instanceof Error && UNAVAILABLE_MESSAGE.test(error.message);
}

/** DATABASE_UNAVAILABLE for a connection-level failure; any other error unchanged. */
function translateError(error: unknown): unknown {
  if (!isDatabaseUnavailable(error)) return error;
  const timedOut =
    typeof error === "object" && error !== null && "code" in error && error.code === "57014";
  return new GatehouseError(
    ErrorCode.DATABASE_UNAVAILABLE,
    timedOut
      ? "the database did not answer in time; try again"
      : "the database is unreachable; try again shortly",
    { cause: error, details: { retryAfterMs: RETRY_AFTER_MS } },
  );
}

/**
 * The pool as Kysely sees it: a failure to connect or a lost connection becomes
 * DATABASE_UNAVAILABLE, and a client whose connection failed is destroyed on release instead of
 * going back to the pool.
 */
export function guardPool(pool: pg.Pool): PostgresPool {
  return {
    async connect() {
      try {
        return new GuardedClient(await pool.connect());
      } catch (error) {
        throw translateError(error);
      }
    },
    end: () => pool.end(),
  };
}

class GuardedClient implements PostgresPoolClient {
  readonly #client: pg.PoolClient;
  #broken = false;

  constructor(client: pg.PoolClient) {
    this.#client = client;
  }

  query<R>(sql: string, parameters: ReadonlyArray<unknown>): Promise<PostgresQueryResult<R>>;
  query<R>(cursor: PostgresCursor<R>): PostgresCursor<R>;
  query<R>(
    first: string | PostgresCursor<R>,
    parameters?: ReadonlyArray<unknown>,
  ): Promise<PostgresQueryResult<R>> | PostgresCursor<R> {
    if (typeof first !== "string") {
      // Cursors (streaming) are not configured; pass them through untouched.
      return (this.#client as unknown as PostgresPoolClient).query(first);
    }
    return this.#run<R>(first, parameters ?? []);
  }

  async #run<R>(sql: string, parameters: ReadonlyArray<unknown>): Promise<PostgresQueryResult<R>> {
    try {
      return (await this.#client.query(sql, [...parameters])) as unknown as PostgresQueryResult<R>;
    } catch (error) {
      if (isDatabaseUnavailable(error)) this.#broken = true;
      throw translateError(error);
    }
  }

  release(): void {
    // `release(true)` destroys the client: a timed-out query may still be running on it.
    this.#client.release(this.#broken ? true : undefined);
  }
}
