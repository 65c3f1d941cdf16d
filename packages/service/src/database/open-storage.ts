import { openPostgres } from "./postgres/open.ts";
import { openSqlite } from "./sqlite/open.ts";
import type { Storage } from "./storage.ts";

/**
 * Opens PostgreSQL for a `postgres://` or `postgresql://` URL (in `options.schema` when given),
 * otherwise the SQLite file at `target`.
 * @example
 * const storage = await openStorage(process.env.DATABASE_URL ?? "./data/gatehouse.db");
 */
export function openStorage(
  target: string,
  options: { readonly schema?: string | undefined } = {},
): Promise<Storage> {
  return /^postgres(ql)?:\/\//.test(target)
    ? openPostgres({
        connectionString: target,
        ...(options.schema === undefined ? {} : { schema: options.schema }),
      })
    : openSqlite({ file: target });
}
