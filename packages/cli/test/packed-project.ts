/**
 * The published packages as a panel builder gets them: build the repository (`npm run build`), `npm
 * pack` every published package, and install the tarballs with plain npm into an empty project (no
 * workspace links), with both database drivers. Done once per test run (once-per-run.ts): the first
 * caller builds and installs, every other test file (in any worker) waits for it and gets the same
 * project.
 *
 * better-sqlite3 is a native module. Its install script downloads a prebuilt binary from GitHub,
 * which this machine cannot reach, and then compiles SQLite from source, which takes more than ten
 * minutes on two busy cores. So the project installs it with `--ignore-scripts` (no other runtime
 * dependency has an install script) and receives the binary the repository's own install built for
 * the same version and the same Node.js: what the prebuilt download would have put there.
 */
import { execFileSync } from "node:child_process";
import { copyFileSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { builtConsole, oncePerRun, runFolder } from "./once-per-run.ts";

const ROOT = resolve(import.meta.dirname, "../../..");
/** Every package a panel builder installs, in dependency order. */
export const PUBLISHED = ["engine", "client", "service", "server", "cli"] as const;

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
  // What `npm start` builds (`npm run build`): the packages' JavaScript and declarations, the
  // bundled server, and the console, which the console's tests may have built already in this run.
  run(
    process.execPath,
    [join(ROOT, "node_modules/typescript/bin/tsc"), "-b", "tsconfig.build.json"],
    ROOT,
  );
  run(process.execPath, [join(ROOT, "scripts/prune-dist.mjs")], ROOT);
  run(process.execPath, [join(ROOT, "scripts/bundle-server.mjs")], ROOT);
  builtConsole();
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
  return oncePerRun("packed", () => build(join(runFolder(), "packed")));
}
