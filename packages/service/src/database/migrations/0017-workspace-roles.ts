import type { Kysely } from "kysely";

// Workspace-defined roles (#18): where the model's `policy.workspaceRoles` allows, a workspace's
// own roles, from the model's permissions; the engine loads with the model plus these
// (docs/workspace-roles.md). `scopes` and `permissions` are JSON arrays of names.
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable("workspace_roles")
    .addColumn("workspace_id", "text", (c) => c.notNull())
    .addColumn("name", "text", (c) => c.notNull())
    .addColumn("label", "text", (c) => c.notNull())
    .addColumn("description", "text", (c) => c.notNull())
    .addColumn("scopes", "text", (c) => c.notNull())
    .addColumn("permissions", "text", (c) => c.notNull())
    .addColumn("created_at", "bigint", (c) => c.notNull())
    .addColumn("created_by", "text", (c) => c.notNull())
    .addPrimaryKeyConstraint("workspace_roles_pk", ["workspace_id", "name"])
    .execute();
}
