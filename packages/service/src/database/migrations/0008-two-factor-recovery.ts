import type { Kysely } from "kysely";

// Two-factor recovery codes (#14): only each code's SHA-256 is stored; a used code keeps its row
// (used_at set) until the user makes new codes, which replaces them all.
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable("recovery_codes")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("user_id", "text", (c) => c.notNull())
    .addColumn("code_hash", "text", (c) => c.notNull())
    .addColumn("created_at", "bigint", (c) => c.notNull())
    .addColumn("used_at", "bigint")
    .execute();
  await db.schema
    .createIndex("recovery_codes_by_user")
    .on("recovery_codes")
    .column("user_id")
    .execute();
}
