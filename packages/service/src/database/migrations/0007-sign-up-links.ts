import type { Kysely } from "kysely";

// Sign-up by confirmed address: a sign-up link is a magic link that carries the new account's
// name; following it, whoever holds the mailbox chooses the password, and the account is created
// and signed in (sign-in/sign-ups.ts, sign-in/magic-links.ts). No password is stored with the link.
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable("magic_links").addColumn("signup_name", "text").execute();
}
