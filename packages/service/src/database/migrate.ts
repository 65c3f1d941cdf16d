import { ErrorCode, GatehouseError } from "@gatehouse/engine";
import { type Kysely, type MigrationResultSet, Migrator } from "kysely";
import { migrations } from "./migrations/index.ts";
import type { Database } from "./schema.ts";

/**
 * Brings the database to the latest schema; safe to run on every start and from several
 * instances at once (Kysely takes a lock).
 * @example
 * await migrateToLatest(storage.db);
 */
export async function migrateToLatest(
  db: Kysely<Database>,
  schema?: string,
): Promise<MigrationResultSet> {
  const migrator = new Migrator({
    db,
    provider: { getMigrations: async () => migrations },
    migrationTableName: "gatehouse_migrations",
    migrationLockTableName: "gatehouse_migrations_lock",
    ...(schema === undefined ? {} : { migrationTableSchema: schema }),
  });
  const result = await migrator.migrateToLatest();
  if (result.error !== undefined) {
    throw new GatehouseError(
      ErrorCode.DATABASE_ERROR,
      `database migration failed: ${String(result.error)}`,
      {
        cause: result.error,
      },
    );
  }
  return result;
}
