import { type Kysely, PostgresAdapter, sql } from "kysely";

// Engine snapshots read in slices (#17): PostgreSQL compresses a large `bytea` by default, and a
// slice of a compressed value is read by decompressing everything before it — reading a 19 MiB
// snapshot in 1 MiB slices decompressed ~190 MiB, about a second of the database's CPU at every
// cold start. Stored uncompressed (STORAGE EXTERNAL) a slice reads only its own chunks. Snapshots
// already stored are rewritten so they are stored that way too. SQLite has no such setting.
export async function up(db: Kysely<unknown>): Promise<void> {
  if (!(db.getExecutor().adapter instanceof PostgresAdapter)) return;
  await sql`ALTER TABLE engine_snapshots ALTER COLUMN data SET STORAGE EXTERNAL`.execute(db);
  await sql`UPDATE engine_snapshots SET data = data || ''::bytea`.execute(db);
}
