import type { Kysely } from "kysely";

// Sign-up by confirmed address: a sign-up link is a magic link that carries the new account's
// name and password hash; following it creates the account and signs in (sign-in/sign-ups.ts).
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable("magic_links").addColumn("signup_name", "text").execute();
  await db.schema.alterTable("magic_links").addColumn("signup_password_hash", "text").execute();
}
