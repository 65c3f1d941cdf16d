import { type Kysely, sql } from "kysely";
import type pg from "pg";
import type { Database } from "../schema.ts";
import type { ChangeFeed, ChangeFeedHandlers } from "../storage.ts";

const RETRY_MIN_MS = 100;
// Short enough that the listener is back within a couple of seconds of the database.
const RETRY_MAX_MS = 1_000;

/**
 * The PostgreSQL change feed: a commit NOTIFYs `channel`, and every instance LISTENs on it.
 * @example
 * const changeFeed = postgresChangeFeed({ driver, connectionString, channel: "gatehouse_changes" });
 */
export function postgresChangeFeed(options: {
  readonly driver: typeof pg;
  readonly connectionString: string;
  /** Gives up on a listener's connection attempt after this long, and tries again later. */
  readonly connectTimeoutMs: number;
  /** Unquoted, at most 63 characters. */
  readonly channel: string;
  readonly quote: (name: string, maxLength: number) => string;
}): ChangeFeed {
  const { driver, connectionString, connectTimeoutMs, channel, quote } = options;
  return {
    // NOTIFY is transactional: delivered to listeners when the transaction commits, never before.
    announce: async (trx: Kysely<Database>, notice) => {
      await sql`select pg_notify(${channel}, ${`${notice.revision}:${notice.workspaceId}`})`.execute(
        trx,
      );
    },
    listen: (handlers) =>
      listenForChanges({
        driver,
        connectionString,
        connectTimeoutMs,
        channel: quote(channel, 63),
        handlers,
      }),
  };
}

/**
 * LISTENs on `channel` over a connection of its own (a pooled one would be handed to others),
 * parses `revision:workspaceId` payloads and reconnects with backoff when the connection drops.
 * Resolves once the first LISTEN is in place, or failed and is being retried.
 */
async function listenForChanges(options: {
  readonly driver: typeof pg;
  readonly connectionString: string;
  /** Gives up on a connection attempt after this long, and tries again later. */
  readonly connectTimeoutMs: number;
  /** Already quoted. */
  readonly channel: string;
  readonly handlers: ChangeFeedHandlers;
}): Promise<{ close(): Promise<void> }> {
  const { driver, connectionString, connectTimeoutMs, channel, handlers } = options;
  let client: pg.Client | undefined;
  let closed = false;
  let retryMs = RETRY_MIN_MS;
  let timer: NodeJS.Timeout | undefined;

  const connect = async (): Promise<void> => {
    const next = new driver.Client({
      connectionString,
      keepAlive: true,
      // A connection whose peer vanished without closing it is noticed within about a minute.
      keepAliveInitialDelayMillis: 10_000,
      connectionTimeoutMillis: connectTimeoutMs,
    });
    next.on("notification", (message) => {
      const payload = message.payload ?? "";
      const colon = payload.indexOf(":");
      const revision = Number(payload.slice(0, colon));
      if (colon > 0 && Number.isSafeInteger(revision))
        handlers.notice({ workspaceId: payload.slice(colon + 1), revision });
    });
    // Errors end the connection; `end` schedules the reconnect. Without this listener a dropped
    // connection would end the process.
    next.on("error", () => undefined);
    next.on("end", () => {
      if (client !== next) return;
      client = undefined;
      handlers.state(false);
      reconnectLater();
    });
    try {
      await next.connect();
      await next.query(`listen ${channel}`);
    } catch (error) {
      await next.end().catch(() => undefined);
      throw error;
    }
    if (closed) {
      await next.end().catch(() => undefined);
      return;
    }
    client = next;
    retryMs = RETRY_MIN_MS;
    handlers.state(true);
  };

  const reconnectLater = (): void => {
    if (closed || timer !== undefined) return;
    timer = setTimeout(() => {
      timer = undefined;
      connect().catch(() => {
        retryMs = Math.min(retryMs * 2, RETRY_MAX_MS);
        reconnectLater();
      });
    }, retryMs);
    timer.unref();
  };

  try {
    await connect();
  } catch {
    // Unreachable for now: the follower polls meanwhile, and the listener keeps trying.
    handlers.state(false);
    reconnectLater();
  }
  return {
    async close() {
      closed = true;
      if (timer !== undefined) clearTimeout(timer);
      const current = client;
      client = undefined;
      await current?.end().catch(() => undefined);
    },
  };
}
