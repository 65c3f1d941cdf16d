import type { Kysely } from "kysely";

// Written with Kysely's schema builder only, so it runs unchanged on SQLite and PostgreSQL.
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable("instance")
    .addColumn("id", "integer", (c) => c.primaryKey())
    .addColumn("log_seq", "bigint", (c) => c.notNull())
    .addColumn("log_head", "text", (c) => c.notNull())
    .execute();
  await db
    .insertInto("instance" as never)
    .values({ id: 1, log_seq: 0, log_head: "" } as never)
    .execute();
  await db.schema
    .createTable("instance_log")
    .addColumn("seq", "bigint", (c) => c.primaryKey())
    .addColumn("at", "bigint", (c) => c.notNull())
    .addColumn("action", "text", (c) => c.notNull())
    .addColumn("workspace_id", "text")
    .addColumn("actor", "text", (c) => c.notNull())
    .addColumn("details", "text", (c) => c.notNull())
    .addColumn("prev_hash", "text", (c) => c.notNull())
    .addColumn("hash", "text", (c) => c.notNull())
    .execute();

  await db.schema
    .createTable("users")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("email", "text", (c) => c.notNull().unique())
    .addColumn("name", "text", (c) => c.notNull())
    .addColumn("password_hash", "text")
    .addColumn("created_at", "bigint", (c) => c.notNull())
    .execute();

  await db.schema
    .createTable("workspaces")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("name", "text", (c) => c.notNull())
    .addColumn("preset", "text", (c) => c.notNull())
    .addColumn("plan", "text")
    .addColumn("personal", "integer", (c) => c.notNull())
    .addColumn("join_key", "text", (c) => c.unique())
    .addColumn("require_2fa", "integer", (c) => c.notNull())
    .addColumn("one_workspace_per_email", "integer")
    .addColumn("revision", "bigint", (c) => c.notNull())
    .addColumn("audit_seq", "bigint", (c) => c.notNull())
    .addColumn("audit_head", "text", (c) => c.notNull())
    .addColumn("created_at", "bigint", (c) => c.notNull())
    .addColumn("closed_at", "bigint")
    .execute();

  await db.schema
    .createTable("members")
    .addColumn("workspace_id", "text", (c) => c.notNull())
    .addColumn("user_id", "text", (c) => c.notNull())
    .addColumn("joined_at", "bigint", (c) => c.notNull())
    .addPrimaryKeyConstraint("members_pk", ["workspace_id", "user_id"])
    .execute();
  await db.schema.createIndex("members_by_user").on("members").column("user_id").execute();

  await db.schema
    .createTable("resources")
    .addColumn("workspace_id", "text", (c) => c.notNull())
    .addColumn("resource", "text", (c) => c.notNull())
    .addColumn("parent", "text", (c) => c.notNull())
    .addColumn("created_at", "bigint", (c) => c.notNull())
    .addPrimaryKeyConstraint("resources_pk", ["workspace_id", "resource"])
    .execute();

  await db.schema
    .createTable("grants")
    .addColumn("workspace_id", "text", (c) => c.notNull())
    .addColumn("subject", "text", (c) => c.notNull())
    .addColumn("scope", "text", (c) => c.notNull())
    .addColumn("role", "text", (c) => c.notNull())
    .addColumn("extras", "text", (c) => c.notNull())
    .addColumn("expires_at", "bigint")
    .addColumn("created_at", "bigint", (c) => c.notNull())
    .addColumn("created_by", "text", (c) => c.notNull())
    // One role per subject per resource, enforced by the key itself.
    .addPrimaryKeyConstraint("grants_pk", ["workspace_id", "subject", "scope"])
    .execute();

  await db.schema
    .createTable("groups")
    .addColumn("workspace_id", "text", (c) => c.notNull())
    .addColumn("group_id", "text", (c) => c.notNull())
    .addColumn("name", "text", (c) => c.notNull())
    .addColumn("created_at", "bigint", (c) => c.notNull())
    .addPrimaryKeyConstraint("groups_pk", ["workspace_id", "group_id"])
    .execute();
  await db.schema
    .createTable("group_members")
    .addColumn("workspace_id", "text", (c) => c.notNull())
    .addColumn("group_id", "text", (c) => c.notNull())
    .addColumn("user_id", "text", (c) => c.notNull())
    .addPrimaryKeyConstraint("group_members_pk", ["workspace_id", "group_id", "user_id"])
    .execute();

  await db.schema
    .createTable("invitations")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("workspace_id", "text", (c) => c.notNull())
    .addColumn("email", "text", (c) => c.notNull())
    .addColumn("role", "text", (c) => c.notNull())
    .addColumn("scopes", "text", (c) => c.notNull())
    .addColumn("extras", "text", (c) => c.notNull())
    .addColumn("token_hash", "text", (c) => c.notNull().unique())
    .addColumn("invited_by", "text", (c) => c.notNull())
    .addColumn("created_at", "bigint", (c) => c.notNull())
    .addColumn("expires_at", "bigint", (c) => c.notNull())
    .addColumn("accepted_at", "bigint")
    .addColumn("accepted_by", "text")
    .addColumn("revoked_at", "bigint")
    .execute();
  await db.schema
    .createIndex("invitations_by_workspace")
    .on("invitations")
    .column("workspace_id")
    .execute();

  await db.schema
    .createTable("join_requests")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("workspace_id", "text", (c) => c.notNull())
    .addColumn("user_id", "text", (c) => c.notNull())
    .addColumn("note", "text", (c) => c.notNull())
    .addColumn("created_at", "bigint", (c) => c.notNull())
    .addColumn("status", "text", (c) => c.notNull())
    .addColumn("decided_by", "text")
    .addColumn("decided_at", "bigint")
    .execute();
  await db.schema
    .createIndex("join_requests_by_workspace")
    .on("join_requests")
    .column("workspace_id")
    .execute();
  await db.schema
    .createIndex("join_requests_by_user")
    .on("join_requests")
    .columns(["user_id", "created_at"])
    .execute();

  await db.schema
    .createTable("api_keys")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("workspace_id", "text", (c) => c.notNull())
    .addColumn("owner_user_id", "text", (c) => c.notNull())
    .addColumn("name", "text", (c) => c.notNull())
    .addColumn("prefix", "text", (c) => c.notNull())
    .addColumn("secret_hash", "text", (c) => c.notNull().unique())
    .addColumn("scopes", "text", (c) => c.notNull())
    .addColumn("resources", "text", (c) => c.notNull())
    .addColumn("expires_at", "bigint")
    .addColumn("created_at", "bigint", (c) => c.notNull())
    .addColumn("revoked_at", "bigint")
    .execute();
  await db.schema
    .createIndex("api_keys_by_workspace")
    .on("api_keys")
    .column("workspace_id")
    .execute();

  await db.schema
    .createTable("audit_log")
    .addColumn("workspace_id", "text", (c) => c.notNull())
    .addColumn("seq", "bigint", (c) => c.notNull())
    .addColumn("at", "bigint", (c) => c.notNull())
    .addColumn("actor_type", "text", (c) => c.notNull())
    .addColumn("actor_id", "text", (c) => c.notNull())
    .addColumn("on_behalf_of", "text")
    .addColumn("action", "text", (c) => c.notNull())
    .addColumn("target", "text")
    .addColumn("result", "text", (c) => c.notNull())
    .addColumn("ip", "text")
    .addColumn("agent", "text")
    .addColumn("details", "text", (c) => c.notNull())
    .addColumn("prev_hash", "text", (c) => c.notNull())
    .addColumn("hash", "text", (c) => c.notNull())
    .addPrimaryKeyConstraint("audit_log_pk", ["workspace_id", "seq"])
    .execute();
  await db.schema
    .createIndex("audit_log_by_time")
    .on("audit_log")
    .columns(["workspace_id", "at"])
    .execute();

  await db.schema
    .createTable("changes")
    .addColumn("workspace_id", "text", (c) => c.notNull())
    .addColumn("revision", "bigint", (c) => c.notNull())
    .addColumn("at", "bigint", (c) => c.notNull())
    .addColumn("ops", "text", (c) => c.notNull())
    .addPrimaryKeyConstraint("changes_pk", ["workspace_id", "revision"])
    .execute();
}
