/**
 * Vitest's global setup: names this test run, so work done once per run (once-per-run.ts: the
 * console's build, the packed and installed packages; service/test/database-template.ts: the
 * migrated template databases) is shared by the test files, and removes what that work left in
 * the temporary folder and the run's PostgreSQL schemas afterwards. With `DATABASE_URL` set, the
 * run holds a PostgreSQL lock for its whole life and first drops the schemas of runs that were
 * killed before their own teardown (run-schemas.ts).
 */
import { randomBytes } from "node:crypto";
import { rmSync } from "node:fs";
import type { Client } from "pg";
import { runFolder } from "./once-per-run.ts";
import { dropRunSchemas, keepAlive, lockNewRun, sweepDeadRuns } from "./run-schemas.ts";

export default async function setup(): Promise<() => Promise<void>> {
  const url = process.env["DATABASE_URL"];
  let run = randomBytes(6).toString("hex");
  let lock: Client | undefined;
  if (url !== undefined) {
    try {
      ({ run, client: lock } = await lockNewRun(url));
    } catch (error) {
      // The PostgreSQL tests will say so; the run goes on unlocked, so no sweep drops its schemas.
      console.warn(`No test run lock on DATABASE_URL: ${(error as Error).message}`);
    }
  }
  if (lock !== undefined) {
    try {
      const dropped = await sweepDeadRuns(lock, run);
      if (dropped.length > 0) {
        console.log(`Dropped ${dropped.length} schemas left by test runs that died.`);
      }
    } catch (error) {
      console.warn(`Could not sweep the schemas of dead test runs: ${(error as Error).message}`);
    }
    // Idle for the rest of the run, the lock's connection must not keep vitest from exiting.
    keepAlive(lock, false);
  }
  process.env["GATEHOUSE_TEST_RUN"] = run;
  return async () => {
    rmSync(runFolder(run), { recursive: true, force: true });
    if (url === undefined) return;
    let client = lock;
    if (client !== undefined) {
      keepAlive(client, true);
    } else {
      const { default: pg } = await import("pg");
      client = new pg.Client({ connectionString: url });
      await client.connect();
    }
    try {
      // The template, the copies given back to it and any database a test left.
      await dropRunSchemas(client, run);
    } finally {
      await client.end();
    }
  };
}
