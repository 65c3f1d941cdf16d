/**
 * The sweep of the PostgreSQL schemas of dead test runs (run-schemas.ts): a run whose lock is free
 * loses its schemas, a run still holding it keeps them, and schemas not named after a locked run
 * are never touched; the global setup's lock ends with its process however it ends, without
 * keeping it alive.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import pg from "pg";
import { afterAll, describe, expect, it } from "vitest";
import { lockNewRun, runLockKey, sweepDeadRuns } from "./run-schemas.ts";

const url = process.env["DATABASE_URL"];
const REPO = resolve(import.meta.dirname, "../../..");
const hex = () => randomBytes(6).toString("hex");

/** The name of every schema in the database. */
async function namespaces(client: pg.Client): Promise<Set<string>> {
  const { rows } = await client.query<{ name: string }>("select nspname as name from pg_namespace");
  return new Set(rows.map((row) => row.name));
}

/** Creates `schemas`, each with a table, as a run's databases have. */
async function create(client: pg.Client, schemas: readonly string[]): Promise<void> {
  for (const schema of schemas) {
    await client.query(`create schema "${schema}"`);
    await client.query(`create table "${schema}".rows (id int primary key)`);
  }
}

/** Whether the session holding run `run`'s lock is gone (PostgreSQL ends it shortly after its client). */
async function lockFree(client: pg.Client, run: string): Promise<boolean> {
  const { rows } = await client.query<{ held: boolean }>(
    `select exists(select from pg_locks where locktype = 'advisory' and objsubid = 1
       and ((classid::bigint << 32) | objid::bigint) = $1::bigint) as held`,
    [runLockKey(run)],
  );
  return !rows[0]!.held;
}

/**
 * A process that runs vitest's global setup (test-run.ts) with `DATABASE_URL`, creates
 * `t_<run>_<random>`, prints its run id and that schema, and then either returns (never running
 * the teardown) or stays until it is killed.
 */
function runProcess(stay: boolean): { child: ChildProcess; started: Promise<[string, string]> } {
  const source = `
    const { default: setup } = await import(${JSON.stringify(pathToFileURL(join(import.meta.dirname, "test-run.ts")).href)});
    await setup();
    const run = process.env.GATEHOUSE_TEST_RUN;
    const schema = "t_" + run + "_" + ${JSON.stringify(hex())};
    const { default: pg } = await import("pg");
    const client = new pg.Client({ connectionString: process.env.DATABASE_URL });
    await client.connect();
    await client.query('create schema "' + schema + '"');
    await client.end();
    console.log(run + " " + schema);
    if (${stay}) setInterval(() => {}, 60_000);
  `;
  const child = spawn(process.execPath, ["--import", "tsx", "--input-type=module", "-e", source], {
    cwd: REPO,
    env: process.env,
    stdio: ["ignore", "pipe", "inherit"],
  });
  const started = new Promise<[string, string]>((resolveStarted, reject) => {
    let out = "";
    child.stdout!.setEncoding("utf8");
    child.stdout!.on("data", (chunk: string) => {
      out += chunk;
      const line = /^(r[0-9a-f]{12}) (\S+)$/m.exec(out);
      if (line) resolveStarted([line[1]!, line[2]!]);
    });
    child.on("close", (code) => reject(new Error(`run process exited (${code}): ${out}`)));
  });
  return { child, started };
}

describe.skipIf(url === undefined)("the sweep of dead test runs' schemas", () => {
  const clients: pg.Client[] = [];
  const children: ChildProcess[] = [];
  const leftovers: string[] = [];

  async function connect(): Promise<pg.Client> {
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    clients.push(client);
    return client;
  }

  afterAll(async () => {
    for (const child of children) child.kill("SIGKILL");
    const admin = await connect();
    for (const schema of leftovers) await admin.query(`drop schema if exists "${schema}" cascade`);
    for (const client of clients) await client.end().catch(() => undefined);
  });

  it("drops the schemas of a run whose lock is free, keeps a live run's and never touches unlocked names", async () => {
    const admin = await connect();
    // A run that died: it held its lock, made its schemas, and its connection ended.
    const dead = `r${hex()}`;
    const deadClient = await connect();
    await deadClient.query("select pg_advisory_lock($1::bigint)", [runLockKey(dead)]);
    const deadSchemas = [
      `tpl_${dead}`,
      `tpl_${dead}_free_${hex()}`,
      `t_${dead}_${hex()}`,
      `t_prop_${dead}_${hex()}`,
      `crash_${dead}_${hex()}`,
    ];
    await create(deadClient, deadSchemas);
    await deadClient.end();
    // A run still going: another connection holds its lock.
    const live = `r${hex()}`;
    const liveClient = await connect();
    await liveClient.query("select pg_advisory_lock($1::bigint)", [runLockKey(live)]);
    const liveSchemas = [`tpl_${live}`, `tpl_${live}_free_${hex()}`, `t_${live}_${hex()}`];
    await create(admin, liveSchemas);
    // Names no lock covers: before the lock existed, a run without PostgreSQL at its start, a
    // process outside vitest's global setup.
    const unlocked = [`t_${hex()}`, `tpl_${hex()}`, `t_${hex()}_${hex()}`, `t_p4242_${hex()}`];
    await create(admin, unlocked);
    leftovers.push(...deadSchemas, ...liveSchemas, ...unlocked);

    const sweeper = await lockNewRun(url!);
    clients.push(sweeper.client);
    const own = [`t_${sweeper.run}_${hex()}`];
    await create(admin, own);
    leftovers.push(...own);
    while (!(await lockFree(admin, dead))) await new Promise((wait) => setTimeout(wait, 50));

    const dropped = await sweepDeadRuns(sweeper.client, sweeper.run);
    expect(dropped).toEqual(expect.arrayContaining(deadSchemas));
    let present = await namespaces(admin);
    for (const schema of deadSchemas) expect(present.has(schema), schema).toBe(false);
    for (const schema of [...liveSchemas, ...unlocked, ...own]) {
      expect(present.has(schema), schema).toBe(true);
    }
    // The sweeper let go of the dead run's lock, and holds its own still.
    expect(await lockFree(admin, dead)).toBe(true);
    expect(await lockFree(admin, sweeper.run)).toBe(false);

    // Once the live run ends, the next sweep drops its schemas too.
    await liveClient.end();
    while (!(await lockFree(admin, live))) await new Promise((wait) => setTimeout(wait, 50));
    expect(await sweepDeadRuns(sweeper.client, sweeper.run)).toEqual(
      expect.arrayContaining(liveSchemas),
    );
    present = await namespaces(admin);
    for (const schema of liveSchemas) expect(present.has(schema), schema).toBe(false);
    for (const schema of [...unlocked, ...own]) expect(present.has(schema), schema).toBe(true);
  });

  it("holds a run's lock for as long as its process lives, however it ends, without keeping it alive", async () => {
    const admin = await connect();
    // A run that returns without its teardown: the open lock connection does not keep it running.
    const ended = runProcess(false);
    children.push(ended.child);
    const [endedRun, endedSchema] = await ended.started;
    leftovers.push(endedSchema);
    const exit = await new Promise<number | null>((resolveExit) => {
      if (ended.child.exitCode !== null) resolveExit(ended.child.exitCode);
      else ended.child.on("exit", (code) => resolveExit(code));
    });
    expect(exit).toBe(0);

    // A run still going, then killed.
    const killed = runProcess(true);
    children.push(killed.child);
    const [killedRun, killedSchema] = await killed.started;
    leftovers.push(killedSchema);
    expect(await lockFree(admin, killedRun)).toBe(false);

    const sweeper = await lockNewRun(url!);
    clients.push(sweeper.client);
    while (!(await lockFree(admin, endedRun))) await new Promise((wait) => setTimeout(wait, 50));
    await sweepDeadRuns(sweeper.client, sweeper.run);
    let present = await namespaces(admin);
    expect(present.has(endedSchema)).toBe(false);
    expect(present.has(killedSchema)).toBe(true);

    killed.child.kill("SIGKILL");
    while (!(await lockFree(admin, killedRun))) await new Promise((wait) => setTimeout(wait, 50));
    await sweepDeadRuns(sweeper.client, sweeper.run);
    present = await namespaces(admin);
    expect(present.has(killedSchema)).toBe(false);
  });
});
