import type { Kysely } from "kysely";

// Just-in-time elevation (#18): a manager makes a member eligible for a role at a scope; it gives
// nothing until the member activates it, which adds an expiring grant carrying a note (its
// provenance: the eligibility and the reason), the note the engine names in explanations.
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable("eligibilities")
    .addColumn("workspace_id", "text", (c) => c.notNull())
    .addColumn("id", "text", (c) => c.notNull())
    .addColumn("subject", "text", (c) => c.notNull())
    .addColumn("role", "text", (c) => c.notNull())
    .addColumn("scope", "text", (c) => c.notNull())
    .addColumn("max_duration_ms", "bigint", (c) => c.notNull())
    .addColumn("require_2fa", "integer", (c) => c.notNull())
    .addColumn("created_at", "bigint", (c) => c.notNull())
    .addColumn("created_by", "text", (c) => c.notNull())
    .addPrimaryKeyConstraint("eligibilities_pk", ["workspace_id", "id"])
    // One eligibility per member per resource, as one role per member per resource.
    .addUniqueConstraint("eligibilities_by_subject", ["workspace_id", "subject", "scope"])
    .execute();
  await db.schema.alterTable("grants").addColumn("note", "text").execute();
}
