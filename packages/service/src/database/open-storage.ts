import { openPostgres } from "./postgres/open.ts";
import { openSqlite } from "./sqlite/open.ts";
import type { Storage } from "./storage.ts";

export interface StorageOptions {
  /** PostgreSQL only: use this schema (created when missing) instead of `public`. */
  readonly schema?: string | undefined;
  /** Apply migrations on open (default true). */
  readonly migrate?: boolean;
  /** PostgreSQL only: how long to wait for a connection, in ms (default 5000). */
  readonly connectTimeoutMs?: number | undefined;
  /** PostgreSQL only: how long one statement may run, in ms (default 15000). */
  readonly statementTimeoutMs?: number | undefined;
}

/**
 * Opens PostgreSQL for a `postgres://` or `postgresql://` URL (in `options.schema` when given),
 * otherwise the SQLite file at `target`.
 * @example
 * const storage = await openStorage(process.env.DATABASE_URL ?? "./data/gatehouse.db");
 */
export function openStorage(target: string, options: StorageOptions = {}): Promise<Storage> {
  const migrate = options.migrate ?? true;
  return /^postgres(ql)?:\/\//.test(target)
    ? openPostgres({
        connectionString: target,
        migrate,
        ...(options.schema === undefined ? {} : { schema: options.schema }),
        ...(options.connectTimeoutMs === undefined
          ? {}
          : { connectTimeoutMs: options.connectTimeoutMs }),
        ...(options.statementTimeoutMs === undefined
          ? {}
          : { statementTimeoutMs: options.statementTimeoutMs }),
      })
    : openSqlite({ file: target, migrate });
}
