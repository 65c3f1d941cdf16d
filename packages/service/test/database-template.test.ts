import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Kysely, sql } from "kysely";
import { afterEach, describe, expect, it } from "vitest";
import { testSchema } from "../../cli/test/once-per-run.ts";
import { migrations } from "../src/database/migrations/index.ts";
import { openPostgres } from "../src/database/postgres/open.ts";
import type { Database } from "../src/database/schema.ts";
import { openSqlite } from "../src/database/sqlite/open.ts";
import type { Storage } from "../src/database/storage.ts";
import { openPostgresCopy, openSqliteCopy, releasePostgresCopy } from "./database-template.ts";

const url = process.env["DATABASE_URL"];
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** Every table's rows, the migration table's by name only (its timestamps are when each ran). */
async function rowsOf(db: Kysely<Database>, tables: readonly string[]): Promise<unknown> {
  const rows: Record<string, unknown> = {};
  for (const table of tables) {
    const all = (await sql<Record<string, unknown>>`select * from ${sql.table(table)}`.execute(db))
      .rows;
    rows[table] = all
      .map((row) => JSON.stringify(table === "gatehouse_migrations" ? { name: row["name"] } : row))
      .sort();
  }
  return rows;
}

/** SQLite: every object's definition, the file's settings, and every table's rows. */
async function sqliteFingerprint(storage: Storage): Promise<unknown> {
  const objects = (
    await sql<{ type: string; name: string; tbl_name: string; sql: string | null }>`
      select type, name, tbl_name, sql from sqlite_schema order by name`.execute(storage.db)
  ).rows;
  const pragmas: Record<string, unknown> = {};
  for (const pragma of [
    "journal_mode",
    "user_version",
    "application_id",
    "page_size",
    "encoding",
  ]) {
    pragmas[pragma] = (await sql.raw(`pragma ${pragma}`).execute(storage.db)).rows;
  }
  const tables = objects.filter((object) => object.type === "table").map((object) => object.name);
  return { objects, pragmas, rows: await rowsOf(storage.db, tables) };
}

/**
 * PostgreSQL: every relation of the connection's schema with its columns (type, NOT NULL,
 * default, storage, collation), constraints and indexes by name and definition (the schema's own
 * name left out), and every table's rows.
 */
async function postgresFingerprint(storage: Storage, schema: string): Promise<unknown> {
  const strip = (text: string) => text.replaceAll(`${schema}.`, "");
  const relations = (
    await sql<{ name: string; kind: string; persistence: string; options: string[] | null }>`
      select relname as name, relkind as kind, relpersistence as persistence, reloptions as options
      from pg_class where relnamespace = ${schema}::regnamespace order by relname`.execute(
      storage.db,
    )
  ).rows;
  const columns = (
    await sql`
      select c.relname, a.attnum, a.attname, format_type(a.atttypid, a.atttypmod) as type,
        a.attnotnull, pg_get_expr(d.adbin, d.adrelid) as default, a.attstorage, a.attcollation,
        a.attidentity, a.attgenerated, a.attcompression
      from pg_attribute a join pg_class c on c.oid = a.attrelid
      left join pg_attrdef d on d.adrelid = a.attrelid and d.adnum = a.attnum
      where c.relnamespace = ${schema}::regnamespace and a.attnum > 0 and not a.attisdropped
      order by c.relname, a.attnum`.execute(storage.db)
  ).rows;
  const constraints = (
    await sql<{ relname: string; conname: string; definition: string }>`
      select c.relname, k.conname, k.contype, pg_get_constraintdef(k.oid) as definition
      from pg_constraint k join pg_class c on c.oid = k.conrelid
      where k.connamespace = ${schema}::regnamespace order by c.relname, k.conname`.execute(
      storage.db,
    )
  ).rows;
  const indexes = (
    await sql<{ name: string; definition: string }>`
      select c.relname as name, pg_get_indexdef(c.oid) as definition
      from pg_class c where c.relnamespace = ${schema}::regnamespace and c.relkind = 'i'
      order by c.relname`.execute(storage.db)
  ).rows.map((index) => ({ ...index, definition: strip(index.definition) }));
  const tables = relations.filter((relation) => relation.kind === "r").map((table) => table.name);
  return { relations, columns, constraints, indexes, rows: await rowsOf(storage.db, tables) };
}

describe("the tests' migrated template (database-template.ts)", () => {
  it("gives SQLite copies equal to a freshly migrated file: objects, settings and rows", async () => {
    const folder = mkdtempSync(join(tmpdir(), "gatehouse-template-"));
    cleanups.push(async () => rmSync(folder, { recursive: true, force: true }));
    const fresh = await openSqlite({ file: join(folder, "fresh.db") });
    cleanups.push(() => fresh.close());
    const copy = await openSqliteCopy(join(folder, "copy.db"));
    cleanups.push(() => copy.close());
    const expected = await sqliteFingerprint(fresh);
    expect(await sqliteFingerprint(copy)).toEqual(expected);
    // Built in this run from the migrations being tested: every one of them, in order.
    const applied = await sql<{
      name: string;
    }>`select name from gatehouse_migrations order by name`.execute(copy.db);
    expect(applied.rows.map((row) => row.name)).toEqual(Object.keys(migrations));
    // The comparison sees a difference in a definition.
    await sql`create index extra on users (name)`.execute(copy.db);
    expect(await sqliteFingerprint(copy)).not.toEqual(expected);
  });

  it.runIf(url !== undefined)(
    "gives PostgreSQL copies equal to a freshly migrated schema: tables, columns, storage, constraints, indexes and rows",
    async () => {
      const open = async (copy: boolean) => {
        const schema = testSchema("t");
        const storage = copy
          ? await openPostgresCopy(url!, schema, 2)
          : await openPostgres({ connectionString: url!, schema, maxConnections: 2 });
        cleanups.push(async () => {
          await storage.close();
          const admin = await openPostgres({
            connectionString: url!,
            migrate: false,
            maxConnections: 1,
          });
          await admin.db.schema.dropSchema(schema).ifExists().cascade().execute();
          await admin.close();
        });
        return { storage, schema };
      };
      const fresh = await open(false);
      const copy = await open(true);
      const expected = await postgresFingerprint(fresh.storage, fresh.schema);
      expect(await postgresFingerprint(copy.storage, copy.schema)).toEqual(expected);
      const applied = await sql<{
        name: string;
      }>`select name from gatehouse_migrations order by name`.execute(copy.storage.db);
      expect(applied.rows.map((row) => row.name)).toEqual(Object.keys(migrations));
      // The comparison sees a difference in a column's storage (what migration 0020 sets).
      await sql`alter table engine_snapshots alter column data set storage extended`.execute(
        copy.storage.db,
      );
      expect(await postgresFingerprint(copy.storage, copy.schema)).not.toEqual(expected);
    },
  );

  it.runIf(url !== undefined)(
    "resets a PostgreSQL copy given back to the template's rows for the next open, and drops one a test altered",
    async () => {
      const freshSchema = testSchema("t");
      const fresh = await openPostgres({
        connectionString: url!,
        schema: freshSchema,
        maxConnections: 2,
      });
      cleanups.push(async () => {
        await fresh.close();
        await releasePostgresCopy(url!, freshSchema);
      });
      const expected = await postgresFingerprint(fresh, freshSchema);
      const used = testSchema("t");
      const storage = await openPostgresCopy(url!, used, 2);
      await sql`insert into users (id, email, name, created_at) values ('u1', 'a@example.com', 'A', 1)`.execute(
        storage.db,
      );
      await sql`update instance set log_seq = 7`.execute(storage.db);
      await storage.close();
      expect(await releasePostgresCopy(url!, used)).toBe("kept");
      const schemas = async (name: string) =>
        (
          await sql<{
            count: number;
          }>`select count(*)::int as count from pg_namespace where nspname = ${name}`.execute(
            fresh.db,
          )
        ).rows[0]!.count;
      expect(await schemas(used)).toBe(0);
      // Whichever copy the next open takes — this one or another given back — it is as fresh.
      for (let round = 0; round < 3; round++) {
        const schema = testSchema("t");
        const again = await openPostgresCopy(url!, schema, 2);
        expect(await postgresFingerprint(again, schema)).toEqual(expected);
        await sql`insert into users (id, email, name, created_at) values ('u1', 'a@example.com', 'A', 1)`.execute(
          again.db,
        );
        await again.close();
        expect(await releasePostgresCopy(url!, schema)).toBe("kept");
      }
      // A copy whose definitions a test changed is never given to another.
      const altered = testSchema("t");
      const changed = await openPostgresCopy(url!, altered, 2);
      await sql`alter table engine_snapshots alter column data set storage extended`.execute(
        changed.db,
      );
      await changed.close();
      expect(await releasePostgresCopy(url!, altered)).toBe("dropped");
      expect(await schemas(altered)).toBe(0);
    },
  );
});
