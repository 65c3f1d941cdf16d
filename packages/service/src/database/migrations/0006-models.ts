import type { Kysely } from "kysely";

// The models an instance last served, by name: a model file that changes between starts is
// checked against the stored workspaces before the server serves (models/model-change.ts).
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable("models")
    .addColumn("name", "text", (column) => column.primaryKey())
    .addColumn("definition", "text", (column) => column.notNull())
    .addColumn("fingerprint", "text", (column) => column.notNull())
    .addColumn("applied_at", "bigint", (column) => column.notNull())
    .execute();
}
