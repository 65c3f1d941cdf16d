import type { Kysely } from "kysely";

// Membership through a team on the way in (#15): an invitation names the teams (groups) its
// invitee joins on accepting, as well as or instead of a direct role. A JSON list of group ids;
// an invitation sent before this holds none.
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .alterTable("invitations")
    .addColumn("group_ids", "text", (c) => c.notNull().defaultTo("[]"))
    .execute();
}
