import { GatehouseError } from "@gatehouse/engine";
import { type Kysely, type MigrationResultSet, Migrator } from "kysely";
import { ErrorCode } from "../support/error-codes.ts";
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
  let result = await migrator.migrateToLatest();
  // Kysely's migrator lists the tables of every schema; another schema dropped meanwhile
  // (PostgreSQL "undefined schema/table/column", the last from pg_get_serial_sequence on a table
  // being dropped) fails that listing, and a retry succeeds. So does losing the race to create
  // the migration tables to another instance starting at the same moment.
  for (let attempt = 1; attempt < 5 && isConcurrentDrop(result.error); attempt++) {
    await new Promise((resolve) => setTimeout(resolve, 50 * attempt));
    result = await migrator.migrateToLatest();
  }
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

function isConcurrentDrop(error: unknown): boolean {
  return (
    typeof error === "object" &&
    error !== null &&
    "code" in error &&
    ["3F000", "42P01", "42703", "23505", "42P07"].includes(String(error.code))
  );
}
