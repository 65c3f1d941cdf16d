import type { Kysely } from "kysely";

// Customer-approved support access (#18): the host application asks, for one of its support
// people, for a while at a resource; an administrator there approves it like an access request
// (docs/support-access.md). `requested_by` names the host that asked (null for a member's own
// request); a support person who was no member is one only until `members.support_until`.
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable("access_requests").addColumn("requested_by", "text").execute();
  await db.schema.alterTable("members").addColumn("support_until", "bigint").execute();
}
