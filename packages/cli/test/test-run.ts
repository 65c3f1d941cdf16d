/**
 * Vitest's global setup: names this test run, so work done once per run (once-per-run.ts: the
 * console's build, the packed and installed packages; service/test/database-template.ts: the
 * migrated template databases) is shared by the test files, and removes what that work left in
 * the temporary folder and the PostgreSQL template schema afterwards.
 */
import { randomBytes } from "node:crypto";
import { rmSync } from "node:fs";
import { postgresTemplateSchema, runFolder } from "./once-per-run.ts";

export default function setup(): () => Promise<void> {
  const run = randomBytes(6).toString("hex");
  process.env["GATEHOUSE_TEST_RUN"] = run;
  return async () => {
    rmSync(runFolder(run), { recursive: true, force: true });
    const url = process.env["DATABASE_URL"];
    if (url === undefined) return;
    const { default: pg } = await import("pg");
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      // The template and the copies given back to it.
      const { rows } = await client.query<{ name: string }>(
        "select nspname as name from pg_namespace where starts_with(nspname, $1)",
        [postgresTemplateSchema(run)],
      );
      for (const { name } of rows) await client.query(`drop schema if exists "${name}" cascade`);
    } finally {
      await client.end();
    }
  };
}
