/**
 * The PostgreSQL schemas a test run leaves, and the sweep of those of runs that died. Every schema
 * a run makes is named after it — `tpl_<run>` (the template), `tpl_<run>_free_<random>` (copies
 * given back to it), `<kind>_<run>_<random>` (a test's database, once-per-run.ts `testSchema`) — and
 * its teardown drops them. A run that is killed (Ctrl-C twice, out of memory, a CI timeout) never
 * gets there, so each run holds a session-level advisory lock keyed by its id on a connection open
 * for its whole life, and at its start drops the schemas of every run whose lock it can take:
 * PostgreSQL releases a session's locks when its connection ends, however the process ended, and
 * runs still going (other checkouts test against the same database) keep theirs.
 *
 * Only runs named `r` + 12 hex digits hold such a lock. Runs without one — PostgreSQL unreachable
 * at the start (12 hex digits), a process outside vitest's global setup (`p<pid>`) — and schemas
 * named before the lock existed (`t_<12 hex digits>`, `tpl_<12 hex digits>`) are never swept.
 */
import { randomBytes } from "node:crypto";
import type { Socket } from "node:net";
import type { Client } from "pg";

/** The id of a run that holds its lock. */
const LOCKED_RUN = /^r[0-9a-f]{12}$/;

/**
 * A schema of a run whose id matches `run` (a pattern): `<kind>_<run>` or `<kind>_<run>_<suffix>`,
 * the kind lower-case words; the run's id is the first group.
 */
function runSchema(run: string): RegExp {
  return new RegExp(`^[a-z]+(?:_[a-z]+)*_(${run})(?:_[a-z0-9_]+)?$`);
}

/** A schema of a run that holds its lock. */
const LOCKED_RUN_SCHEMA = runSchema("r[0-9a-f]{12}");

/** Takes run `key`'s lock on `client`'s session if it is free; whether it did. */
async function tryLock(client: Client, key: string): Promise<boolean> {
  const { rows } = await client.query<{ locked: boolean }>(
    "select pg_try_advisory_lock($1::bigint) as locked",
    [key],
  );
  return rows[0]!.locked;
}

/**
 * The advisory lock of run `run`: "GH" (0x4748) in the top 16 bits, the run's 48 random bits
 * below — no two runs share one, and it stays clear of the `hashtext` keys (32 bits) of
 * database-template.ts.
 */
export function runLockKey(run: string): string {
  if (!LOCKED_RUN.test(run)) throw new Error(`test run ${run} holds no lock`);
  return BigInt(`0x4748${run.slice(1)}`).toString();
}

/**
 * Connects to `url` and takes the lock of a new run id, held until the connection ends (however
 * the process ends: PostgreSQL releases a session's locks with its connection).
 */
export async function lockNewRun(url: string): Promise<{ run: string; client: Client }> {
  const { default: pg } = await import("pg");
  const client = new pg.Client({
    connectionString: url,
    connectionTimeoutMillis: 5_000,
    keepAlive: true,
  });
  // A lost connection is an error event; unhandled it would end vitest.
  client.on("error", (error) => {
    console.warn(
      `The test run's lock connection to PostgreSQL failed (${error.message}): a run starting now may drop this run's schemas.`,
    );
  });
  try {
    await client.connect();
    for (;;) {
      const run = `r${randomBytes(6).toString("hex")}`;
      if (await tryLock(client, runLockKey(run))) return { run, client };
    }
  } catch (error) {
    await client.end().catch(() => undefined);
    throw error;
  }
}

/**
 * Whether `client`'s connection keeps the process running: the lock's connection must not while
 * it is idle, so a process that is done exits (its lock ending with it), but must while a query
 * on it is pending.
 */
export function keepAlive(client: Client, keep: boolean): void {
  const socket = client.connection.stream as Socket;
  if (keep) socket.ref();
  else socket.unref();
}

/** The schemas named after run `run`. */
async function schemasOf(client: Client, run: string): Promise<string[]> {
  if (!/^[a-z0-9]+$/.test(run)) throw new Error(`test run id ${run}`);
  const own = runSchema(run);
  return (await namespaces(client)).filter((name) => own.test(name));
}

async function namespaces(client: Client): Promise<string[]> {
  const { rows } = await client.query<{ name: string }>(
    "select nspname as name from pg_namespace order by nspname",
  );
  return rows.map((row) => row.name);
}

/** Drops `schemas`; one that cannot be dropped within the lock timeout is reported and left. */
async function drop(client: Client, schemas: readonly string[]): Promise<string[]> {
  const dropped: string[] = [];
  // An orphaned server of a dead run may still hold a lock on its tables.
  await client.query("select set_config('lock_timeout', '5s', false)");
  for (const schema of schemas) {
    try {
      await client.query(`drop schema if exists "${schema}" cascade`);
      dropped.push(schema);
    } catch (error) {
      console.warn(`Could not drop the test schema ${schema}: ${(error as Error).message}`);
    }
  }
  return dropped;
}

/** Drops every schema of run `run` (this run's teardown). */
export async function dropRunSchemas(client: Client, run: string): Promise<string[]> {
  return drop(client, await schemasOf(client, run));
}

/**
 * Drops the schemas of the runs that are no longer alive — those whose lock `client` can take —
 * other than `ownRun`'s (this session holds that lock already, and taking it again would succeed).
 * Answers the schemas dropped.
 */
export async function sweepDeadRuns(client: Client, ownRun: string): Promise<string[]> {
  const byRun = new Map<string, string[]>();
  for (const name of await namespaces(client)) {
    const run = LOCKED_RUN_SCHEMA.exec(name)?.[1];
    if (run === undefined || run === ownRun) continue;
    byRun.set(run, [...(byRun.get(run) ?? []), name]);
  }
  const dropped: string[] = [];
  for (const [run, schemas] of byRun) {
    const key = runLockKey(run);
    if (!(await tryLock(client, key))) continue;
    try {
      dropped.push(...(await drop(client, schemas)));
    } finally {
      await client.query("select pg_advisory_unlock($1::bigint)", [key]);
    }
  }
  return dropped;
}
