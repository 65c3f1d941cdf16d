/**
 * The published packages as a panel builder gets them: build the repository (`npm run build`), `npm
 * pack` every published package, and install the tarballs with plain npm into an empty project (no
 * workspace links), with both database drivers. Done once per test run: the first caller builds
 * and installs, every other test file (in any worker) waits for it and gets the same project.
 *
 * better-sqlite3 is a native module. Its install script downloads a prebuilt binary from GitHub,
 * which this machine cannot reach, and then compiles SQLite from source, which takes more than ten
 * minutes on two busy cores. So the project installs it with `--ignore-scripts` (no other runtime
 * dependency has an install script) and receives the binary the repository's own install built for
 * the same version and the same Node.js: what the prebuilt download would have put there.
 */
import { execFileSync } from "node:child_process";
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";

const ROOT = resolve(import.meta.dirname, "../../..");
/** Every package a panel builder installs, in dependency order. */
export const PUBLISHED = ["engine", "client", "service", "server", "cli"] as const;
const WAIT_MS = 15 * 60_000;

/** npm's own settings from an enclosing `npm test` (workspace, prefix, …) must not reach the inner npm. */
function plainEnvironment(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!/^npm_/i.test(key)) env[key] = value;
  }
  return env;
}

function run(command: string, args: readonly string[], cwd: string): string {
  return execFileSync(command, [...args], {
    cwd,
    env: plainEnvironment(),
    encoding: "utf8",
    stdio: ["ignore", "pipe", "pipe"],
    maxBuffer: 64 * 1024 * 1024,
  });
}

function build(dir: string): string {
  // What `npm start` builds: the packages' JavaScript and declarations, and the console.
  run("npm", ["run", "build", "--silent"], ROOT);
  const tarballs = join(dir, "tarballs");
  mkdirSync(tarballs);
  run(
    "npm",
    [
      "pack",
      ...PUBLISHED.flatMap((name) => ["-w", `@gatehouse/${name}`]),
      "--pack-destination",
      tarballs,
    ],
    ROOT,
  );
  const project = join(dir, "project");
  mkdirSync(project);
  writeFileSync(
    join(project, "package.json"),
    `${JSON.stringify({ name: "panel", private: true, type: "module" }, null, 2)}\n`,
  );
  const sqlite = JSON.parse(
    readFileSync(join(ROOT, "node_modules/better-sqlite3/package.json"), "utf8"),
  ) as { version: string };
  const pg = JSON.parse(readFileSync(join(ROOT, "node_modules/pg/package.json"), "utf8")) as {
    version: string;
  };
  run(
    "npm",
    [
      "install",
      "--prefer-offline",
      "--no-audit",
      "--no-fund",
      "--ignore-scripts",
      ...readdirSync(tarballs).map((file) => join(tarballs, file)),
      `better-sqlite3@${sqlite.version}`,
      `pg@${pg.version}`,
    ],
    project,
  );
  const binary = "build/Release/better_sqlite3.node";
  mkdirSync(join(project, "node_modules/better-sqlite3/build/Release"), { recursive: true });
  copyFileSync(
    join(ROOT, "node_modules/better-sqlite3", binary),
    join(project, "node_modules/better-sqlite3", binary),
  );
  return project;
}

/**
 * The installed project's directory (its `node_modules` holds the five packages from their
 * tarballs, `better-sqlite3` and `pg`). Plain `.mjs` files written there import the packages as a
 * panel does.
 */
export async function packedProject(): Promise<string> {
  // One directory per test run (vitest's global setup names the run), shared by its workers.
  const run = process.env["GATEHOUSE_TEST_RUN"] ?? `${process.pid}`;
  const dir = join(tmpdir(), `gatehouse-packed-${run}`);
  const ready = join(dir, "ready");
  const failed = join(dir, "failed");
  let mine = false;
  try {
    mkdirSync(dir);
    mine = true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
  }
  if (mine) {
    try {
      const project = build(dir);
      // Written whole, then renamed: a waiting worker never reads half of it.
      writeFileSync(`${ready}.tmp`, project);
      renameSync(`${ready}.tmp`, ready);
    } catch (error) {
      const { stderr } = error as { stderr?: string };
      writeFileSync(failed, `${String(error)}\n${stderr ?? ""}`);
      throw error;
    }
  }
  const deadline = Date.now() + WAIT_MS;
  while (Date.now() < deadline) {
    if (existsSync(ready)) return readFileSync(ready, "utf8");
    if (existsSync(failed)) throw new Error(`packing failed:\n${readFileSync(failed, "utf8")}`);
    await sleep(500);
  }
  throw new Error(`packing did not finish within ${WAIT_MS / 60_000} minutes`);
}
