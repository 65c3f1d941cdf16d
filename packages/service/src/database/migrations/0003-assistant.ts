import type { Kysely } from "kysely";

// The assistant gate and the sign-in handoff: the host app's tools per workspace, the
// admin app of each resource, one-time sign-in links and the keys that sign assertions. Stored in
// the database so every instance behind a load balancer sees the same. Kysely's schema builder
// only, so it runs unchanged on SQLite and PostgreSQL.
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable("assistant_tools")
    .addColumn("workspace_id", "text", (c) => c.notNull())
    .addColumn("name", "text", (c) => c.notNull())
    .addColumn("description", "text", (c) => c.notNull())
    .addColumn("input_schema", "text", (c) => c.notNull())
    .addColumn("permission", "text", (c) => c.notNull())
    // `type:{field}`: the resource a call acts on, named by a field of its input; null for the root.
    .addColumn("resource", "text")
    .addColumn("endpoint", "text")
    .addColumn("created_at", "bigint", (c) => c.notNull())
    .addColumn("updated_at", "bigint", (c) => c.notNull())
    .addColumn("updated_by", "text", (c) => c.notNull())
    .addPrimaryKeyConstraint("assistant_tools_pk", ["workspace_id", "name"])
    .execute();

  await db.schema
    .createTable("sign_in_targets")
    .addColumn("workspace_id", "text", (c) => c.notNull())
    .addColumn("resource", "text", (c) => c.notNull())
    .addColumn("url", "text", (c) => c.notNull())
    .addColumn("created_at", "bigint", (c) => c.notNull())
    .addColumn("updated_at", "bigint", (c) => c.notNull())
    .addColumn("updated_by", "text", (c) => c.notNull())
    .addPrimaryKeyConstraint("sign_in_targets_pk", ["workspace_id", "resource"])
    .execute();

  // The link's token is never stored, only its SHA-256; `used_at` is set once, atomically.
  await db.schema
    .createTable("sign_in_links")
    .addColumn("token_hash", "text", (c) => c.primaryKey())
    .addColumn("workspace_id", "text", (c) => c.notNull())
    .addColumn("resource", "text", (c) => c.notNull())
    .addColumn("user_id", "text", (c) => c.notNull())
    .addColumn("key_id", "text")
    .addColumn("created_at", "bigint", (c) => c.notNull())
    .addColumn("expires_at", "bigint", (c) => c.notNull())
    .addColumn("used_at", "bigint")
    .execute();
  await db.schema
    .createIndex("sign_in_links_by_expiry")
    .on("sign_in_links")
    .column("expires_at")
    .execute();

  // Published from `created_at`, signing from `activates_at`, published until `published_until`.
  await db.schema
    .createTable("signing_keys")
    .addColumn("kid", "text", (c) => c.primaryKey())
    // Increases with every key: orders keys that activate at the same millisecond.
    .addColumn("generation", "integer", (c) => c.notNull().unique())
    .addColumn("alg", "text", (c) => c.notNull())
    .addColumn("public_jwk", "text", (c) => c.notNull())
    .addColumn("sealed_private_jwk", "text", (c) => c.notNull())
    .addColumn("created_at", "bigint", (c) => c.notNull())
    .addColumn("activates_at", "bigint", (c) => c.notNull())
    .addColumn("published_until", "bigint")
    .execute();
}
