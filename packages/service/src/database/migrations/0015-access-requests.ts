import type { Kysely } from "kysely";

// Access requests (#18): a member asks for a role at a resource for a while; those who may give it
// there approve (possibly narrower) or reject. The approved grant's role, scope and end are kept
// here, so the grant can name the request and approver it came from.
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable("access_requests")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("workspace_id", "text", (c) => c.notNull())
    .addColumn("user_id", "text", (c) => c.notNull())
    .addColumn("role", "text", (c) => c.notNull())
    .addColumn("scope", "text", (c) => c.notNull())
    .addColumn("reason", "text", (c) => c.notNull())
    .addColumn("duration_minutes", "integer", (c) => c.notNull())
    .addColumn("created_at", "bigint", (c) => c.notNull())
    .addColumn("expires_at", "bigint", (c) => c.notNull())
    .addColumn("status", "text", (c) => c.notNull())
    .addColumn("decided_by", "text")
    .addColumn("decided_at", "bigint")
    .addColumn("decision_note", "text")
    .addColumn("granted_role", "text")
    .addColumn("granted_scope", "text")
    .addColumn("granted_until", "bigint")
    .execute();
  await db.schema
    .createIndex("access_requests_by_workspace")
    .on("access_requests")
    .columns(["workspace_id", "created_at"])
    .execute();
  await db.schema
    .createIndex("access_requests_by_user")
    .on("access_requests")
    .columns(["workspace_id", "user_id", "created_at"])
    .execute();
}
