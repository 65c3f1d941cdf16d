/** Migrations on open: an up-to-date database is recognised by one read; anything else goes to the migrator. */
import { sql } from "kysely";
import { afterEach, describe, expect, it } from "vitest";
import { migrateToLatest } from "../src/database/migrate.ts";
import { migrations } from "../src/database/migrations/index.ts";
import type { Storage } from "../src/database/storage.ts";
import { backends, codeOf } from "./backends.ts";

describe.each(backends)("migrations on $name", (backend) => {
  let storage: Storage | undefined;
  afterEach(async () => {
    await storage?.close();
    storage = undefined;
  });

  const lockRows = async (db: Storage["db"]) =>
    (await sql<{ id: string }>`select id from gatehouse_migrations_lock`.execute(db)).rows.length;

  it("recognises an up-to-date database without running the migrator (its lock row is not put back)", async () => {
    storage = await backend.open();
    const { db } = storage;
    // PostgreSQL names the schema, as the server's start does.
    const schema =
      backend.name === "postgres"
        ? (await sql<{ name: string }>`select current_schema() as name`.execute(db)).rows[0]?.name
        : undefined;
    await sql`delete from gatehouse_migrations_lock`.execute(db);
    expect(await migrateToLatest(db, schema)).toEqual({ results: [] });
    // The migrator would have put its lock row back before looking at the migrations.
    expect(await lockRows(db)).toBe(0);
  });

  it("applies a migration the table does not list, and refuses one this version does not know", async () => {
    storage = await backend.open();
    const { db } = storage;
    const last = Object.keys(migrations).sort().at(-1)!;
    await sql`delete from gatehouse_migrations where name = ${last}`.execute(db);
    const { results = [] } = await migrateToLatest(db);
    expect(results.map((result) => [result.migrationName, result.status])).toEqual([
      [last, "Success"],
    ]);
    await sql`insert into gatehouse_migrations (name, timestamp) values ('9999-from-a-newer-version', ${new Date().toISOString()})`.execute(
      db,
    );
    expect(await codeOf(migrateToLatest(db))).toBe("DATABASE_ERROR");
  });
});
