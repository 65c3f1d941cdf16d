/**
 * Work done once per test run and shared by every test file, in any worker: the first caller does
 * it, the others wait for its result. Vitest's global setup (test-run.ts) names the run and removes
 * its folder afterwards.
 */
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const ROOT = resolve(import.meta.dirname, "../../..");
const WAIT_MS = 15 * 60_000;

/** This test run's id (test-run.ts), or `p<pid>` for a process outside vitest's global setup. */
function thisRun(): string {
  return process.env["GATEHOUSE_TEST_RUN"] ?? `p${process.pid}`;
}

/** This run's folder (one per process when run outside vitest's global setup). */
export function runFolder(run = thisRun()): string {
  return join(tmpdir(), `gatehouse-run-${run}`);
}

/**
 * This run's PostgreSQL schema holding the migrated template (service/test/database-template.ts),
 * dropped with the run's folder.
 */
export function postgresTemplateSchema(run = thisRun()): string {
  return `tpl_${run}`;
}

/**
 * A new PostgreSQL schema name for one test's database, `<kind>_<run>_<random>`: named after the
 * run, so the run's teardown drops it if the test did not, and a later run drops it once this
 * run has died (run-schemas.ts).
 * @example
 * testSchema("t"); // "t_r0a1b2c3d4e5f_8e1f00c2a9b4"
 */
export function testSchema(kind: string): string {
  if (!/^[a-z]+(_[a-z]+)*$/.test(kind)) throw new Error(`schema kind ${kind}: lower-case words`);
  return `${kind}_${thisRun()}_${randomBytes(6).toString("hex")}`;
}

function pause(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** Runs `work` once in this test run and answers its result (a string) to every caller. */
export function oncePerRun(name: string, work: () => string): string {
  const folder = join(runFolder(), name);
  const done = join(folder, "done");
  const failed = join(folder, "failed");
  mkdirSync(runFolder(), { recursive: true });
  let mine = false;
  try {
    mkdirSync(folder);
    mine = true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
  }
  if (mine) {
    try {
      const result = work();
      // Written whole, then renamed: a waiting worker never reads half of it.
      writeFileSync(`${done}.tmp`, result);
      renameSync(`${done}.tmp`, done);
      return result;
    } catch (error) {
      const { stderr } = error as { stderr?: string };
      writeFileSync(failed, `${String(error)}\n${stderr ?? ""}`);
      throw error;
    }
  }
  const deadline = Date.now() + WAIT_MS;
  while (Date.now() < deadline) {
    if (existsSync(done)) return readFileSync(done, "utf8");
    if (existsSync(failed)) throw new Error(`${name} failed:\n${readFileSync(failed, "utf8")}`);
    pause(250);
  }
  throw new Error(`${name} did not finish within ${WAIT_MS / 60_000} minutes`);
}

/**
 * Builds the console into packages/server/console, as `npm start` does, once per run: the console's
 * browser tests serve it and the packed @gatehouse/server ships it, so nobody rebuilds (and so
 * empties) it while another test file serves it.
 */
export function builtConsole(): string {
  return oncePerRun("console", () => {
    execFileSync("npm", ["run", "build", "-w", "@gatehouse/console", "--silent"], {
      cwd: ROOT,
      stdio: ["ignore", "ignore", "pipe"],
    });
    return join(ROOT, "packages/server/console");
  });
}

/**
 * This checkout's CLI bundled into one JavaScript file (bundle-cli.mjs), once per run: what the tests
 * spawn with plain Node.js, as quick to start as the published build yet made from the sources.
 */
export function cliBundle(): string {
  return oncePerRun("cli", () => {
    const out = join(runFolder(), "cli-bundle");
    execFileSync(process.execPath, [join(ROOT, "packages/cli/test/bundle-cli.mjs"), out], {
      cwd: ROOT,
      stdio: ["ignore", "ignore", "pipe"],
      encoding: "utf8",
    });
    return join(out, "gatehouse.mjs");
  });
}
