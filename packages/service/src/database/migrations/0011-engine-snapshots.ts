import { type Kysely, sql } from "kysely";

// Engine snapshots (#17): one per workspace, the compact bytes of its engine at `revision`
// (`Engine.snapshot`), so an instance loads a large workspace without rebuilding it grant by grant
// and replays the changes since. `format` is the engine's snapshot format and `checksum` the
// SHA-256 of `data`: a snapshot of another format, or damaged, is ignored. Written in one statement
// (a half-written one never commits). `bytea` is PostgreSQL's binary type; SQLite stores a blob.
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable("engine_snapshots")
    .addColumn("workspace_id", "text", (c) => c.primaryKey())
    .addColumn("revision", "bigint", (c) => c.notNull())
    .addColumn("format", "integer", (c) => c.notNull())
    .addColumn("checksum", "text", (c) => c.notNull())
    .addColumn("data", sql`bytea`, (c) => c.notNull())
    .addColumn("created_at", "bigint", (c) => c.notNull())
    .execute();
}
