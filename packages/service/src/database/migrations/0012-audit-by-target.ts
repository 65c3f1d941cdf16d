import type { Kysely } from "kysely";

// A resource's scoped activity (#15) reads the entries whose target is in its sub-tree, newest
// first: by target and sequence, an index lookup per target instead of a walk back through the log.
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createIndex("audit_log_by_target")
    .on("audit_log")
    .columns(["workspace_id", "target", "seq"])
    .execute();
}
