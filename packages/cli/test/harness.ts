import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { Model } from "@gatehouse/engine";
import {
  createGatehouse,
  type Gatehouse,
  openPostgres,
  openSqlite,
  type Storage,
} from "@gatehouse/service";
import { cliBundle, testSchema } from "./once-per-run.ts";

/** The repository root; the CLI runs from there as `npx gatehouse` would. */
export const ROOT = resolve(import.meta.dirname, "../../..");
/**
 * The CLI from this checkout's sources, as `gatehouse` (a linked `node_modules/.bin` may belong to
 * another checkout of the repository): its TypeScript sources and their dependencies bundled into
 * one file once per test run (bundle-cli.mjs), run with plain Node.js, so no build is needed and a
 * start costs what the published build's does rather than tsx's second more. The published
 * launcher (bin/gatehouse.js, plain Node.js on dist/) is run from installed tarballs by
 * packages.test.ts.
 */
export const CLI: readonly [string, ...string[]] = [process.execPath, cliBundle()];
export const SECRET_KEY = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
const TEST_PASSWORD_COST = { N: 2 ** 10, r: 8, p: 1 } as const;

/** The configuration variables the CLI reads; tests set them explicitly, never inherit them. */
const CONFIG_KEYS = [
  "DATABASE_URL",
  "DATABASE_SCHEMA",
  "DATA_DIR",
  "SECRET_KEY",
  "GATEHOUSE_CONFIG",
  "PORT",
  "HOST",
  "DEMO",
  "PUBLIC_URL",
  "SMTP_URL",
  "LOG_LEVEL",
  "MODELS",
  "PERSONAL_WORKSPACE_MODEL",
];

export interface CliResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

function environment(extra: Readonly<Record<string, string>>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const key of CONFIG_KEYS) delete env[key];
  return { ...env, ...extra };
}

/** Spawns the real CLI and collects its output and exit status. */
export function gatehouse(
  args: readonly string[],
  options: {
    env?: Readonly<Record<string, string>>;
    input?: string;
    cwd?: string;
    /** Close the reading end of its standard output at once, as `| head` does once it has enough. */
    closeStdout?: boolean;
  } = {},
): Promise<CliResult> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(CLI[0], [...CLI.slice(1), ...args], {
      cwd: options.cwd ?? ROOT,
      env: environment(options.env ?? {}),
      stdio: ["pipe", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    if (options.closeStdout === true) child.stdout.destroy();
    else
      child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
        stdout += chunk;
      });
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => {
      stderr += chunk;
    });
    const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolvePromise({ code, stdout, stderr });
    });
    child.stdin.end(options.input ?? "");
  });
}

/**
 * Starts a long-running command (`serve`), given as the program and its arguments, and resolves once
 * `ready` matches its standard output.
 */
export function startCommand(
  [command, ...args]: readonly [string, ...string[]],
  { env, ready }: { env: Readonly<Record<string, string>>; ready: RegExp },
): Promise<{ child: ChildProcess; match: RegExpMatchArray; output: () => string }> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(command, args, { cwd: ROOT, env: environment(env) });
    let output = "";
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`not ready within 60 s:\n${output}`));
    }, 60_000);
    const onData = (chunk: Buffer) => {
      output += chunk.toString("utf8");
      const match = output.match(ready);
      if (match !== null) {
        clearTimeout(timer);
        resolvePromise({ child, match, output: () => output });
      }
    };
    child.stdout?.on("data", onData);
    child.stderr?.on("data", onData);
    child.on("error", reject);
    child.on("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`exited with ${code} before it was ready:\n${output}`));
    });
  });
}

/** Where a CLI run keeps its data: the environment that points it there, and direct access. */
export interface CliDatabase {
  readonly name: "sqlite" | "postgres";
  /** The configuration variables for the CLI. */
  readonly env: Readonly<Record<string, string>>;
  /**
   * The service over the same database, in this process (fast scrypt), for setup and checks;
   * serving `models` (the presets by default).
   */
  open(models?: Readonly<Record<string, Model>>): Promise<Gatehouse>;
  /** Removes the database. */
  drop(): Promise<void>;
}

export interface CliBackend {
  readonly name: "sqlite" | "postgres";
  /** A fresh database (a new folder, or a new PostgreSQL schema); created on first use. */
  create(): CliDatabase;
}

const sqlite: CliBackend = {
  name: "sqlite",
  create() {
    const folder = mkdtempSync(join(tmpdir(), "gatehouse-cli-"));
    const file = join(folder, "gatehouse.db");
    return {
      name: "sqlite",
      env: { DATA_DIR: folder },
      open: async (models) => service(await openSqlite({ file }), models),
      drop: async () => rmSync(folder, { recursive: true, force: true }),
    };
  },
};

function postgres(url: string): CliBackend {
  return {
    name: "postgres",
    create() {
      const schema = testSchema("t");
      return {
        name: "postgres",
        env: { DATABASE_URL: url, DATABASE_SCHEMA: schema, SECRET_KEY },
        open: async (models) =>
          service(await openPostgres({ connectionString: url, schema }), models),
        async drop() {
          const storage = await openPostgres({
            connectionString: url,
            migrate: false,
            maxConnections: 1,
          });
          await storage.db.schema.dropSchema(schema).ifExists().cascade().execute();
          await storage.close();
        },
      };
    },
  };
}

function service(storage: Storage, models?: Readonly<Record<string, Model>>): Gatehouse {
  return createGatehouse({
    storage,
    passwordCost: TEST_PASSWORD_COST,
    ...(models === undefined ? {} : { models }),
  });
}

/** SQLite always; PostgreSQL when DATABASE_URL is set (CI sets it), each database its own schema. */
export const cliBackends: readonly CliBackend[] = [
  sqlite,
  ...(process.env["DATABASE_URL"] ? [postgres(process.env["DATABASE_URL"])] : []),
];
