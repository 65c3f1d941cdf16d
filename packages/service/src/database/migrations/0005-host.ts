import type { Kysely } from "kysely";

// The host application: credentials the instance operator gives a panel (only their hash is
// stored), and users the panel provisions by its own ids (marked with the credential's name).
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable("host_credentials")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("name", "text", (c) => c.notNull())
    .addColumn("prefix", "text", (c) => c.notNull())
    .addColumn("secret_hash", "text", (c) => c.notNull().unique())
    // JSON list of workspace ids; null for every workspace.
    .addColumn("workspaces", "text")
    .addColumn("created_at", "bigint", (c) => c.notNull())
    .addColumn("revoked_at", "bigint")
    .execute();
  await db.schema
    .createIndex("host_credentials_by_name")
    .on("host_credentials")
    .column("name")
    .execute();
  await db.schema.alterTable("users").addColumn("provisioned_by", "text").execute();
}
