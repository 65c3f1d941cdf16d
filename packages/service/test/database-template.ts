/**
 * Migrated templates for the tests' fresh databases. The migrations run once per test run and
 * backend — into a SQLite file in the run's folder, into one PostgreSQL schema named after the run
 * — and every fresh database a test opens is a copy of that template: the file copied, or the
 * schema's tables, constraints, indexes and rows recreated from the template's catalog in one
 * round trip. The template lives only as long as the run (test-run.ts removes both afterwards; a later run
 * drops the schemas of a run that was killed, run-schemas.ts), so it is always built from the
 * migrations being tested. database-template.test.ts compares a copy with a
 * freshly migrated database on both backends.
 */
import { randomBytes } from "node:crypto";
import { copyFileSync, existsSync, mkdirSync, renameSync, rmSync } from "node:fs";
import { join } from "node:path";
import { sql } from "kysely";
import { postgresTemplateSchema, runFolder } from "../../cli/test/once-per-run.ts";
import { migrations } from "../src/database/migrations/index.ts";
import { openPostgres } from "../src/database/postgres/open.ts";
import { openSqlite } from "../src/database/sqlite/open.ts";
import type { Storage } from "../src/database/storage.ts";

let sqliteReady: Promise<string> | undefined;

/** The migrated SQLite file of this run, built by the first caller (in any worker). */
async function ensureSqliteTemplate(): Promise<string> {
  const template = join(runFolder(), "sqlite-template.db");
  if (existsSync(template)) return template;
  const folder = join(runFolder(), `sqlite-template-${randomBytes(6).toString("hex")}`);
  mkdirSync(folder, { recursive: true });
  try {
    const file = join(folder, "gatehouse.db");
    const storage = await openSqlite({ file });
    await storage.close();
    // Closing the last connection checkpoints the WAL into the file and removes it.
    if (existsSync(`${file}-wal`)) throw new Error(`${file}-wal left after close`);
    // Workers racing here each rename an identical file into place; a copy in progress keeps
    // reading the file it opened.
    renameSync(file, template);
  } finally {
    rmSync(folder, { recursive: true, force: true });
  }
  return template;
}

/**
 * Copies this run's migrated SQLite template to `file` (a new path) and opens it, as
 * `openSqlite({ file })` on a new file would have left it.
 */
export async function openSqliteCopy(file: string): Promise<Storage> {
  sqliteReady ??= ensureSqliteTemplate();
  copyFileSync(await sqliteReady, file);
  const storage = await openSqlite({ file, migrate: false });
  await initialize(storage);
  return storage;
}

/**
 * Kysely sets its driver up on the first query and a close before that does nothing, so a later
 * query would still work: the migration check used to be that first query (the expiry sweep test
 * relies on a closed database failing).
 */
async function initialize(storage: Storage): Promise<void> {
  try {
    await storage.ping();
  } catch (error) {
    await storage.close();
    throw error;
  }
}

/** What a copy of the template is made from, read once per process. */
interface Template {
  readonly name: string;
  /** The statements that recreate the template in the connection's own schema (its search_path). */
  readonly clone: string;
  /** The statements that bring a copy's rows back to the template's. */
  readonly resetRows: string;
  /** {@link fingerprint} of the template. */
  readonly fingerprint: string;
  /** A connection pool of this process for claiming and giving back copies. */
  readonly admin: Storage;
}

const templates = new Map<string, Promise<Template>>();

function templateAt(url: string): Promise<Template> {
  let template = templates.get(url);
  if (template === undefined) {
    template = ensurePostgresTemplate(url);
    templates.set(url, template);
  }
  return template;
}

/**
 * Opens a new, migrated PostgreSQL schema `schema` at `url`: a copy of this run's template given
 * back by an earlier test ({@link releasePostgresCopy}), else a new copy.
 * @example
 * const storage = await openPostgresCopy(url, testSchema("t"), 20);
 */
export async function openPostgresCopy(
  url: string,
  schema: string,
  maxConnections: number,
): Promise<Storage> {
  const template = await templateAt(url);
  const claimed = await claimFreeCopy(template, schema);
  const storage = await openPostgres({
    connectionString: url,
    schema,
    maxConnections,
    migrate: false,
  });
  if (claimed) {
    await initialize(storage);
  } else {
    try {
      await sql.raw(template.clone).execute(storage.db);
    } catch (error) {
      await storage.close();
      throw error;
    }
  }
  return storage;
}

/** Renames a copy given back earlier to `schema`; false when there is none (or others took them). */
async function claimFreeCopy(template: Template, schema: string): Promise<boolean> {
  const free = await sql<{ name: string }>`
    select nspname as name from pg_namespace where starts_with(nspname, ${`${template.name}_free_`})
    order by random() limit 4`.execute(template.admin.db);
  for (const { name } of free.rows) {
    try {
      await sql`alter schema ${sql.id(name)} rename to ${sql.id(schema)}`.execute(
        template.admin.db,
      );
      return true;
    } catch (error) {
      // Another worker renamed it first.
      if ((error as { code?: string }).code !== "3F000") throw error;
    }
  }
  return false;
}

/**
 * Gives back the copy `schema` once every storage on it is closed: when its definitions are still
 * the template's, its rows are reset to the template's and the next open takes it ("kept");
 * otherwise (a test altered it) it is dropped.
 */
export async function releasePostgresCopy(
  url: string,
  schema: string,
): Promise<"kept" | "dropped"> {
  const template = await templateAt(url);
  const db = template.admin.db;
  if ((await fingerprint(template.admin, schema)) === template.fingerprint) {
    const free = `${template.name}_free_${randomBytes(6).toString("hex")}`;
    await db.connection().execute(async (connection) => {
      await sql`select set_config('search_path', ${schema}, false)`.execute(connection);
      try {
        await sql
          .raw(
            `BEGIN; ${template.resetRows}; ALTER SCHEMA ${quote(schema)} RENAME TO ${quote(free)}; COMMIT`,
          )
          .execute(connection);
      } finally {
        await sql`select set_config('search_path', '', false)`.execute(connection);
      }
    });
    return "kept";
  }
  await db.schema.dropSchema(schema).ifExists().cascade().execute();
  return "dropped";
}

/**
 * A digest of schema `schema`'s definitions: its relations, each table's columns in order (type,
 * NOT NULL, default, storage, collation, identity, generation, compression), constraints and
 * indexes by name and definition, triggers, functions and types — the schema's own name left out.
 */
async function fingerprint(admin: Storage, schema: string): Promise<string> {
  const result = await sql<{ digest: string }>`
    with ns as (select oid from pg_namespace where nspname = ${schema}),
    lines as (
      select 'relation ' || relname || ' ' || relkind::text || ' ' || relpersistence::text || ' '
        || coalesce(reloptions::text, '') as line
      from pg_class where relnamespace = (select oid from ns)
      union all
      select 'column ' || c.relname || ' '
        || row_number() over (partition by a.attrelid order by a.attnum) || ' ' || a.attname
        || ' ' || format_type(a.atttypid, a.atttypmod) || ' ' || a.attnotnull::text || ' '
        || coalesce(pg_get_expr(d.adbin, d.adrelid), '') || ' ' || a.attstorage::text || ' '
        || a.attcollation::text || ' ' || a.attidentity::text || a.attgenerated::text
        || a.attcompression::text
      from pg_attribute a join pg_class c on c.oid = a.attrelid
      left join pg_attrdef d on d.adrelid = a.attrelid and d.adnum = a.attnum
      where c.relnamespace = (select oid from ns) and c.relkind = 'r' and a.attnum > 0
        and not a.attisdropped
      union all
      select 'constraint ' || c.relname || ' ' || k.conname || ' ' || pg_get_constraintdef(k.oid)
      from pg_constraint k join pg_class c on c.oid = k.conrelid
      where k.connamespace = (select oid from ns)
      union all
      select 'index ' || pg_get_indexdef(c.oid) from pg_class c
      where c.relnamespace = (select oid from ns) and c.relkind = 'i'
      union all
      select 'trigger ' || t.tgname from pg_trigger t join pg_class c on c.oid = t.tgrelid
      where c.relnamespace = (select oid from ns)
      union all
      select 'function ' || proname from pg_proc where pronamespace = (select oid from ns)
      union all
      select 'type ' || typname from pg_type where typnamespace = (select oid from ns)
    )
    select coalesce(md5(string_agg(replace(line, ${`${schema}.`}, ''), E'\n' order by line)), '') as digest
    from lines`.execute(admin.db);
  return result.rows[0]!.digest;
}

function quote(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/** Builds this run's template schema unless another worker did, and reads how to copy it. */
async function ensurePostgresTemplate(url: string): Promise<Template> {
  const template = postgresTemplateSchema();
  const admin = await openPostgres({ connectionString: url, migrate: false, maxConnections: 2 });
  try {
    await admin.db.connection().execute(async (connection) => {
      // Workers wait for the one that migrates it.
      await sql`select pg_advisory_lock(hashtext(${template}))`.execute(connection);
      try {
        const applied = await sql<{ count: number }>`
          select count(*)::int as count from pg_tables
          where schemaname = ${template} and tablename = 'gatehouse_migrations'`.execute(
          connection,
        );
        const complete =
          applied.rows[0]!.count === 1 &&
          (
            await sql<{ count: number }>`select count(*)::int as count from ${sql.table(
              `${template}.gatehouse_migrations`,
            )}`.execute(connection)
          ).rows[0]!.count === Object.keys(migrations).length;
        if (!complete) {
          // Absent, or left half-built by a worker that died: migrate it afresh.
          await sql`drop schema if exists ${sql.id(template)} cascade`.execute(connection);
          const storage = await openPostgres({ connectionString: url, schema: template });
          await storage.close();
        }
      } finally {
        await sql`select pg_advisory_unlock(hashtext(${template}))`.execute(connection);
      }
    });
    const { clone, resetRows } = await copyScripts(admin, template);
    return {
      name: template,
      clone,
      resetRows,
      fingerprint: await fingerprint(admin, template),
      admin,
    };
  } catch (error) {
    await admin.close();
    throw error;
  }
}

/**
 * Reads the template's catalog into the statements that recreate it, unqualified (they run under
 * the new schema's search_path): each table's columns (type, collation, NOT NULL, default,
 * storage), its constraints and other indexes by name, and the rows the migrations wrote. Objects
 * this copy does not know (sequences, views, functions, triggers, types…) fail loudly, so a
 * migration that adds one extends this rather than being silently left out.
 */
async function copyScripts(
  admin: Storage,
  template: string,
): Promise<{ clone: string; resetRows: string }> {
  const q = quote;
  const namespace = (
    await sql<{
      oid: number;
    }>`select oid::int as oid from pg_namespace where nspname = ${template}`.execute(admin.db)
  ).rows[0]!.oid;
  const unknown = await sql<{ what: string }>`
    select 'relation ' || relname || ' of kind ' || relkind::text as what from pg_class
      where relnamespace = ${namespace} and relkind not in ('r', 'i')
    union all select 'table ' || relname || ' with options' from pg_class
      where relnamespace = ${namespace} and (reloptions is not null or relpersistence <> 'p')
    union all select 'function ' || proname from pg_proc where pronamespace = ${namespace}
    union all select 'type ' || typname from pg_type
      where typnamespace = ${namespace} and typrelid = 0 and typelem = 0
    union all select 'trigger ' || tgname from pg_trigger t join pg_class c on c.oid = t.tgrelid
      where c.relnamespace = ${namespace}
    union all select 'column ' || c.relname || '.' || attname || ' (identity, generated or compression)'
      from pg_attribute a join pg_class c on c.oid = a.attrelid
      where c.relnamespace = ${namespace} and c.relkind = 'r' and a.attnum > 0
        and (attidentity <> '' or attgenerated <> '' or attcompression <> '')`.execute(admin.db);
  if (unknown.rows.length > 0) {
    throw new Error(
      `the test template copy (database-template.ts) does not copy: ${unknown.rows.map((row) => row.what).join(", ")}`,
    );
  }
  // Expressions and definitions unqualified, as they resolve in the new schema.
  return admin.db.connection().execute(async (connection) => {
    await sql`select set_config('search_path', ${template}, false)`.execute(connection);
    const tables = await sql<{ oid: number; name: string }>`
      select c.oid::int as oid, c.relname as name from pg_class c
      where c.relnamespace = ${namespace} and c.relkind = 'r' order by c.relname`.execute(
      connection,
    );
    const columns = await sql<{
      table: number;
      name: string;
      type: string;
      not_null: boolean;
      default: string | null;
      storage: string;
      type_storage: string;
      collation: string | null;
    }>`
      select a.attrelid::int as table, a.attname as name, format_type(a.atttypid, a.atttypmod) as type,
        a.attnotnull as not_null, pg_get_expr(d.adbin, d.adrelid) as default,
        a.attstorage as storage, t.typstorage as type_storage,
        case when a.attcollation <> t.typcollation then co.collname end as collation
      from pg_attribute a
      join pg_class c on c.oid = a.attrelid
      join pg_type t on t.oid = a.atttypid
      left join pg_attrdef d on d.adrelid = a.attrelid and d.adnum = a.attnum
      left join pg_collation co on co.oid = a.attcollation
      where c.relnamespace = ${namespace} and c.relkind = 'r' and a.attnum > 0 and not a.attisdropped
      order by a.attrelid, a.attnum`.execute(connection);
    const constraints = await sql<{ table: number; name: string; definition: string }>`
      select conrelid::int as table, conname as name, pg_get_constraintdef(oid) as definition
      from pg_constraint where connamespace = ${namespace}
      order by contype = 'f', conrelid, conname`.execute(connection);
    const indexes = await sql<{ definition: string }>`
      select pg_get_indexdef(i.indexrelid) as definition
      from pg_index i join pg_class c on c.oid = i.indexrelid
      where c.relnamespace = ${namespace} and not exists (
        select from pg_constraint k where k.conindid = i.indexrelid and k.contype in ('p', 'u', 'x'))
      order by c.relname`.execute(connection);
    await sql`select set_config('search_path', '', false)`.execute(connection);
    const statements: string[] = [];
    const nameOf = new Map(tables.rows.map((table) => [table.oid, q(table.name)]));
    for (const table of tables.rows) {
      const own = columns.rows.filter((column) => column.table === table.oid);
      const definitions = own.map(
        (column) =>
          `${q(column.name)} ${column.type}` +
          (column.collation === null ? "" : ` COLLATE ${q(column.collation)}`) +
          (column.not_null ? " NOT NULL" : "") +
          (column.default === null ? "" : ` DEFAULT ${column.default}`),
      );
      statements.push(`CREATE TABLE ${q(table.name)} (${definitions.join(", ")})`);
      const storage = { p: "PLAIN", e: "EXTERNAL", m: "MAIN", x: "EXTENDED" } as const;
      for (const column of own) {
        if (column.storage !== column.type_storage) {
          statements.push(
            `ALTER TABLE ${q(table.name)} ALTER COLUMN ${q(column.name)} SET STORAGE ${storage[column.storage as keyof typeof storage]}`,
          );
        }
      }
    }
    for (const constraint of constraints.rows) {
      statements.push(
        `ALTER TABLE ${nameOf.get(constraint.table)} ADD CONSTRAINT ${q(constraint.name)} ${constraint.definition}`,
      );
    }
    // pg_get_indexdef names the table with its schema whatever the search_path.
    for (const index of indexes.rows) {
      statements.push(
        index.definition.replaceAll(`${q(template)}.`, "").replaceAll(`${template}.`, ""),
      );
    }
    // The rows the migrations wrote (the instance row, the migration table and its lock).
    const copyRows: string[] = [];
    for (const table of tables.rows) {
      const rows = await sql<{ any: boolean }>`select exists(select from ${sql.table(
        `${template}.${table.name}`,
      )}) as any`.execute(connection);
      if (rows.rows[0]!.any) {
        copyRows.push(`INSERT INTO ${q(table.name)} SELECT * FROM ${q(template)}.${q(table.name)}`);
      }
    }
    const emptyTables = tables.rows.map((table) => `DELETE FROM ${q(table.name)}`);
    return {
      clone: `BEGIN; ${[...statements, ...copyRows].join(";\n")}; COMMIT`,
      resetRows: [...emptyTables, ...copyRows].join(";\n"),
    };
  });
}
