/**
 * Resource sync: 100,000 sites (under 500 servers) synced into an empty workspace in one call, then
 * a reconcile of the same 100,000 with 1 % changed (500 moved, 250 deleted, 250 new), on SQLite and
 * PostgreSQL (when DATABASE_URL is set). Through the service in this process, as the sync route
 * calls it: the time is the call's, from the request object to the committed revision.
 * Its metrics are merged into bench/results/latest.json (latest-quick.json with `--quick`).
 */
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  asUser,
  createGatehouse,
  type Gatehouse,
  openPostgres,
  openSqlite,
  type Storage,
  systemActor,
} from "@gatehouse/service";
import { loadAverage, machine } from "./lib/env.ts";

const HERE = dirname(fileURLToPath(import.meta.url));
const quick = process.argv.includes("--quick");
const SITES = quick ? 20_000 : 100_000;
const SERVERS = SITES / 200;
const host = systemActor();

interface Row {
  readonly resource: string;
  readonly parent: string;
}

/** The panel's tree as it sends it: sites first, then their servers (parents in any order). */
function panelTree(ws: string): Row[] {
  const rows: Row[] = [];
  for (let index = 0; index < SITES; index++)
    rows.push({ resource: `site:s${index}.example`, parent: `server:v${index % SERVERS}` });
  for (let index = 0; index < SERVERS; index++)
    rows.push({ resource: `server:v${index}`, parent: `workspace:${ws}` });
  return rows;
}

/** The same tree after drift: 1 % of the sites changed (half moved, a quarter gone, a quarter new). */
function drifted(tree: readonly Row[]): Row[] {
  const changed = SITES / 100;
  const rows = tree.filter((row) => row.resource.startsWith("site:"));
  const out: Row[] = [];
  rows.forEach((row, index) => {
    if (index < changed / 4) return; // deleted
    if (index < changed * 0.75) {
      const server = Number(row.parent.slice("server:v".length));
      out.push({ resource: row.resource, parent: `server:v${(server + 1) % SERVERS}` });
    } else out.push(row);
  });
  for (let index = 0; index < changed / 4; index++)
    out.push({ resource: `site:new${index}.example`, parent: `server:v${index % SERVERS}` });
  return out;
}

async function timed<T>(work: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const start = performance.now();
  const value = await work();
  return { value, ms: performance.now() - start };
}

async function run(name: string, storage: Storage): Promise<Record<string, number>> {
  const gatehouse: Gatehouse = createGatehouse({
    storage,
    passwordCost: { N: 2 ** 10, r: 8, p: 1 },
    personalPreset: null,
  });
  try {
    const { user } = await gatehouse.users.signUp({
      email: "owner@example.com",
      password: "correct horse battery staple",
    });
    const ws = (
      await gatehouse.workspaces.create(asUser(user.id), { name: "Fleet", preset: "mzpanel" })
    ).id;
    const tree = panelTree(ws);
    const first = await timed(() => gatehouse.resources.sync(host, ws, { resources: tree }));
    const again = await timed(() => gatehouse.resources.sync(host, ws, { resources: tree }));
    const truth = drifted(tree);
    const dry = await timed(() =>
      gatehouse.resources.sync(host, ws, {
        resources: truth,
        reconcile: { type: "site" },
        dryRun: true,
      }),
    );
    const reconcile = await timed(() =>
      gatehouse.resources.sync(host, ws, { resources: truth, reconcile: { type: "site" } }),
    );
    const line = (what: string, ms: number, detail: string) =>
      process.stdout.write(
        `  ${name.padEnd(9)} ${what.padEnd(34)} ${ms.toFixed(0).padStart(7)} ms  ${detail}\n`,
      );
    line(`sync ${SITES} sites into an empty workspace`, first.ms, `added ${first.value.added}`);
    line("the same sync again (idempotent)", again.ms, `unchanged ${again.value.unchanged}`);
    line(
      "reconcile, 1 % changed, dry run",
      dry.ms,
      `moved ${dry.value.moved.length}, deleted ${dry.value.deleted.length}, added ${dry.value.added}`,
    );
    line("reconcile, 1 % changed, applied", reconcile.ms, `revision ${reconcile.value.revision}`);
    return {
      [`sync.${name}.initial_ms`]: first.ms,
      [`sync.${name}.repeat_ms`]: again.ms,
      [`sync.${name}.reconcile_dry_ms`]: dry.ms,
      [`sync.${name}.reconcile_ms`]: reconcile.ms,
    };
  } finally {
    await gatehouse.close();
  }
}

async function main(): Promise<void> {
  process.stdout.write(
    `\nResource sync: ${SITES} sites under ${SERVERS} servers (load average ${loadAverage()})\n`,
  );
  const metrics: Record<string, number> = { "sync.sites": SITES };
  const folder = mkdtempSync(join(tmpdir(), "gatehouse-sync-bench-"));
  try {
    Object.assign(metrics, await run("sqlite", await openSqlite({ file: join(folder, "g.db") })));
  } finally {
    rmSync(folder, { recursive: true, force: true });
  }
  const url = process.env["DATABASE_URL"];
  if (url === undefined) process.stdout.write("  postgres  skipped: DATABASE_URL is not set\n");
  else {
    const schema = `bench_${randomBytes(4).toString("hex")}`;
    try {
      Object.assign(
        metrics,
        await run("postgres", await openPostgres({ connectionString: url, schema })),
      );
    } finally {
      const cleanup = await openPostgres({
        connectionString: url,
        migrate: false,
        maxConnections: 1,
      });
      await cleanup.db.schema.dropSchema(schema).ifExists().cascade().execute();
      await cleanup.close();
    }
  }
  const file = join(HERE, "results", quick ? "latest-quick.json" : "latest.json");
  let report: Record<string, unknown> = {};
  if (existsSync(file)) report = JSON.parse(readFileSync(file, "utf8")) as Record<string, unknown>;
  const kept = Object.fromEntries(
    Object.entries((report["metrics"] as Record<string, number> | undefined) ?? {}).filter(
      ([name]) => !name.startsWith("sync."),
    ),
  );
  report["metrics"] = { ...kept, ...metrics };
  if (report["machine"] === undefined) report["machine"] = machine();
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
}

await main();
