/**
 * Scoped activity: how long a page of a resource's activity takes when the log is large. An
 * MZPanel workspace of 10,000 sites under 100 servers and an activity log of 100,000 entries (their
 * targets spread over the sites, the servers and members), on SQLite and PostgreSQL (when
 * DATABASE_URL is set). Through the service in this process, as the audit route calls it; the median
 * of 5 calls. The entries are written straight into the table (the chain is not what is measured).
 * Run: `DATABASE_URL=… npx tsx bench/activity.bench.ts` (`--quick`: 20,000 entries).
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  asUser,
  createGatehouse,
  type Gatehouse,
  openPostgres,
  openSqlite,
  type Storage,
  systemActor,
} from "@gatehouse/service";
import { loadAverage } from "./lib/env.ts";
import { Prng } from "./lib/prng.ts";

const quick = process.argv.includes("--quick");
const ENTRIES = quick ? 20_000 : 100_000;
const SITES = 10_000;
const SERVERS = 100;
const RUNS = 5;
const host = systemActor();

async function median(work: () => Promise<unknown>): Promise<number> {
  const times: number[] = [];
  for (let run = 0; run < RUNS; run++) {
    const start = performance.now();
    await work();
    times.push(performance.now() - start);
  }
  return times.sort((a, b) => a - b)[Math.floor(RUNS / 2)]!;
}

async function run(name: string, storage: Storage): Promise<void> {
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
    const owner = asUser(user.id);
    const ws = (await gatehouse.workspaces.create(owner, { name: "Fleet", preset: "mzpanel" })).id;
    const resources = [];
    for (let index = 0; index < SERVERS; index++)
      resources.push({ resource: `server:v${index}`, parent: `workspace:${ws}` });
    for (let index = 0; index < SITES; index++)
      resources.push({ resource: `site:s${index}`, parent: `server:v${index % SERVERS}` });
    await gatehouse.resources.sync(host, ws, { resources });
    // Entries: 80 % about sites, 10 % about servers, 10 % about members.
    const prng = new Prng(7);
    const random = () => prng.float();
    const start = 1_000_000;
    for (let seq = 0; seq < ENTRIES; seq += 500) {
      const rows = [];
      for (let offset = 0; offset < 500 && seq + offset < ENTRIES; offset++) {
        const pick = random();
        const target =
          pick < 0.8
            ? `site:s${Math.floor(random() * SITES)}`
            : pick < 0.9
              ? `server:v${Math.floor(random() * SERVERS)}`
              : `user:u${Math.floor(random() * 1000)}`;
        rows.push({
          workspace_id: ws,
          seq: start + seq + offset,
          at: Date.now(),
          actor_type: "system",
          actor_id: "bench",
          on_behalf_of: null,
          action: "site.deploy",
          target,
          result: "success",
          ip: null,
          agent: null,
          details: "{}",
          prev_hash: "",
          hash: "",
        });
      }
      await storage.db.insertInto("audit_log").values(rows).execute();
    }
    const line = (what: string, ms: number, detail: string) =>
      process.stdout.write(
        `  ${name.padEnd(9)} ${what.padEnd(44)} ${ms.toFixed(1).padStart(8)} ms  ${detail}\n`,
      );
    const page = async (resource?: string) =>
      (
        await gatehouse.activityLog.list(owner, ws, {
          ...(resource === undefined ? {} : { resource }),
          limit: 50,
        })
      ).entries.length;
    line("whole log, first page of 50", await median(() => page()), "");
    line("one site (1 target), first page", await median(() => page("site:s7")), "");
    line("one server (101 targets), first page", await median(() => page("server:v7")), "");
    line(
      `the root (${SITES + SERVERS + 1} targets, one JSON parameter)`,
      await median(() => page(`workspace:${ws}`)),
      "",
    );
    const exported = await gatehouse.activityLog.export(owner, ws, {
      format: "jsonl",
      resource: "server:v7",
    });
    line(
      "export of one server's activity (JSONL)",
      await median(() =>
        gatehouse.activityLog.export(owner, ws, { format: "jsonl", resource: "server:v7" }),
      ),
      `${exported.split("\n").length - 1} entries`,
    );
  } finally {
    await gatehouse.close();
  }
}

async function main(): Promise<void> {
  process.stdout.write(
    `\nScoped activity: ${ENTRIES} entries, ${SITES} sites under ${SERVERS} servers (load average ${loadAverage()})\n`,
  );
  const folder = mkdtempSync(join(tmpdir(), "gatehouse-activity-bench-"));
  try {
    await run("sqlite", await openSqlite({ file: join(folder, "g.db") }));
  } finally {
    rmSync(folder, { recursive: true, force: true });
  }
  const url = process.env["DATABASE_URL"];
  if (url === undefined) process.stdout.write("  postgres  skipped: DATABASE_URL is not set\n");
  else {
    const schema = `bench_${randomBytes(4).toString("hex")}`;
    try {
      await run("postgres", await openPostgres({ connectionString: url, schema }));
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
}

await main();
