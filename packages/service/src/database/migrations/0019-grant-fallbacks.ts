import type { Kysely } from "kysely";

// A temporary role over a standing one (#18): an expiring grant may name the role (and extras) it
// falls back to at its expiry, so an elevation or an approved request at a scope where the member
// holds a role replaces that role for a while, one role per member per resource at every instant.
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable("grants").addColumn("fallback_role", "text").execute();
  await db.schema.alterTable("grants").addColumn("fallback_extras", "text").execute();
}
