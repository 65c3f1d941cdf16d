import type { Kysely } from "kysely";

// Email change by confirmed address (#16): a change link is mailed to the new address and, when
// followed by the same account, moves the account to it (sign-in/email-changes.ts). Its own table,
// not a kind of magic link: a change link never signs anyone in, and no sign-in path can take one
// for a sign-in link. Only the token's SHA-256 is kept; a link works once, for an hour.
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable("email_changes")
    .addColumn("token_hash", "text", (c) => c.primaryKey())
    .addColumn("user_id", "text", (c) => c.notNull())
    .addColumn("email", "text", (c) => c.notNull())
    .addColumn("created_at", "bigint", (c) => c.notNull())
    .addColumn("expires_at", "bigint", (c) => c.notNull())
    .addColumn("used_at", "bigint")
    .addColumn("ip", "text")
    .execute();
  await db.schema
    .createIndex("email_changes_by_user")
    .on("email_changes")
    .column("user_id")
    .execute();
  await db.schema
    .createIndex("email_changes_by_expiry")
    .on("email_changes")
    .column("expires_at")
    .execute();
}
