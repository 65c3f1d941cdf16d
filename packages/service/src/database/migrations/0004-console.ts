import type { Kysely } from "kysely";

// Copyable invitation links: besides the mailed token, a manager may copy a second link for
// a pending invitation. Only its hash is stored, like the mailed token's; copying again replaces it.
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable("invitations").addColumn("link_token_hash", "text").execute();
  await db.schema
    .createIndex("invitations_by_link_token")
    .on("invitations")
    .column("link_token_hash")
    .unique()
    .execute();
}
