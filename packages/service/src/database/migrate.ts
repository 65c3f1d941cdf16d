import { GatehouseError, isGatehouseError } from "@gatehouse/engine";
import { type Kysely, type MigrationResultSet, Migrator, sql } from "kysely";
import { ErrorCode } from "../support/error-codes.ts";
import { migrations } from "./migrations/index.ts";
import type { Database } from "./schema.ts";

const MIGRATION_TABLE = "gatehouse_migrations";

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
  if (await isUpToDate(db, schema)) return { results: [] };
  const migrator = new Migrator({
    db,
    provider: { getMigrations: async () => migrations },
    migrationTableName: MIGRATION_TABLE,
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
  if (result.error !== undefined) throw migrationFailed(result.error);
  return result;
}

function migrationFailed(error: unknown): GatehouseError {
  return new GatehouseError(
    ErrorCode.DATABASE_ERROR,
    `database migration failed: ${String(error)}`,
    {
      cause: error,
    },
  );
}

/**
 * True when the migration table lists exactly the known migrations, in order: the usual start,
 * answered by one query. Kysely's migrator would list every table of every schema twice first
 * (~30–90 ms each on a PostgreSQL with many schemas). A database that cannot be reached fails as
 * the migrator would; anything else, a missing table included, is the migrator's to handle.
 */
async function isUpToDate(db: Kysely<Database>, schema: string | undefined): Promise<boolean> {
  const table = sql.table(schema === undefined ? MIGRATION_TABLE : `${schema}.${MIGRATION_TABLE}`);
  try {
    const { rows } = await sql<{ name: string; timestamp: string }>`
      select name, timestamp from ${table}`.execute(db);
    // The migrator's order: by the time each was applied, then by name.
    const applied = rows
      .map((row) => ({ name: row.name, at: new Date(row.timestamp).getTime() }))
      .sort((a, b) => a.at - b.at || a.name.localeCompare(b.name));
    const known = Object.keys(migrations).sort();
    return (
      applied.length === known.length &&
      applied.every((row, index) => Number.isFinite(row.at) && row.name === known[index])
    );
  } catch (error) {
    if (isGatehouseError(error) && error.code === ErrorCode.DATABASE_UNAVAILABLE)
      throw migrationFailed(error);
    return false;
  }
}

function isConcurrentDrop(error: unknown): boolean {
  return (
    typeof error === "object" &&
    error !== null &&
    "code" in error &&
    ["3F000", "42P01", "42703", "23505", "42P07"].includes(String(error.code))
  );
}
