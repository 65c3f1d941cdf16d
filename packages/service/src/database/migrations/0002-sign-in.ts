import type { Kysely } from "kysely";

// Sign-in: sessions, magic links, login throttling, TOTP on users and sealed integration
// credentials. Kysely's schema builder only, so it runs unchanged on SQLite and PostgreSQL.
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable("sessions")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("token_hash", "text", (c) => c.notNull().unique())
    .addColumn("user_id", "text", (c) => c.notNull())
    .addColumn("created_at", "bigint", (c) => c.notNull())
    .addColumn("expires_at", "bigint", (c) => c.notNull())
    .addColumn("last_seen_at", "bigint", (c) => c.notNull())
    .addColumn("ip", "text")
    .addColumn("agent", "text")
    .addColumn("revoked_at", "bigint")
    .execute();
  await db.schema.createIndex("sessions_by_user").on("sessions").column("user_id").execute();

  await db.schema
    .createTable("magic_links")
    .addColumn("token_hash", "text", (c) => c.primaryKey())
    .addColumn("email", "text", (c) => c.notNull())
    .addColumn("created_at", "bigint", (c) => c.notNull())
    .addColumn("expires_at", "bigint", (c) => c.notNull())
    .addColumn("used_at", "bigint")
    .addColumn("ip", "text")
    .execute();
  await db.schema
    .createIndex("magic_links_by_expiry")
    .on("magic_links")
    .column("expires_at")
    .execute();

  // One row per counted attempt and bucket (e.g. `login.account` + email, `login.ip` + address):
  // rows in the shared database make every instance throttle together.
  await db.schema
    .createTable("login_attempts")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("bucket", "text", (c) => c.notNull())
    .addColumn("key", "text", (c) => c.notNull())
    .addColumn("at", "bigint", (c) => c.notNull())
    .execute();
  await db.schema
    .createIndex("login_attempts_by_key")
    .on("login_attempts")
    .columns(["bucket", "key", "at"])
    .execute();
  await db.schema.createIndex("login_attempts_by_time").on("login_attempts").column("at").execute();

  // SQLite adds one column per statement.
  await db.schema.alterTable("users").addColumn("totp_secret", "text").execute();
  await db.schema.alterTable("users").addColumn("totp_enabled_at", "bigint").execute();
  await db.schema.alterTable("users").addColumn("totp_last_step", "bigint").execute();

  await db.schema
    .createTable("integration_credentials")
    .addColumn("workspace_id", "text", (c) => c.notNull())
    .addColumn("name", "text", (c) => c.notNull())
    .addColumn("sealed_value", "text", (c) => c.notNull())
    .addColumn("created_at", "bigint", (c) => c.notNull())
    .addColumn("updated_at", "bigint", (c) => c.notNull())
    .addColumn("updated_by", "text", (c) => c.notNull())
    .addPrimaryKeyConstraint("integration_credentials_pk", ["workspace_id", "name"])
    .execute();
}
