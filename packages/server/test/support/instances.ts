/**
 * Real server processes for multi-instance tests and the HTTP benchmark: spawn N copies of
 * `packages/server/src/main.ts` on one database, wait until each answers `/readyz`, talk to them
 * over loopback HTTP (sign in, API keys), and stop them. No test framework is imported here, so
 * the benchmark (`bench/http.bench.ts`) uses the same module.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { closeSync, openSync, readFileSync } from "node:fs";
import { createServer } from "node:net";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { createGatehouse, openPostgres, openSqlite } from "@gatehouse/service";
import { testSchema } from "../../../cli/test/once-per-run.ts";

/** The repository root, where `node --conditions=@gatehouse/source --import tsx` resolves the loader. */
export const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "..", "..");
const MAIN = join(REPO_ROOT, "packages", "server", "src", "main.ts");

/**
 * What the root package.json's `start` script runs after `node` (its flags and the bundled server,
 * `packages/server/bundle/main.js`), so a built instance starts exactly as `npm start` does.
 */
function startScriptArgs(): string[] {
  const manifest = JSON.parse(readFileSync(join(REPO_ROOT, "package.json"), "utf8")) as {
    scripts: Record<string, string>;
  };
  const [command, ...args] = manifest.scripts["start"]!.split(" ");
  if (command !== "node") throw new Error(`npm start runs ${command}, not node`);
  return args.map((arg) => (arg.startsWith("-") ? arg : join(REPO_ROOT, arg)));
}

/** Configuration keys a test's own environment must not leak into a spawned server. */
const SERVER_KEYS = [
  "PORT",
  "HOST",
  "DATA_DIR",
  "DATABASE_URL",
  "DATABASE_SCHEMA",
  "DATABASE_CONNECT_TIMEOUT_MS",
  "DATABASE_STATEMENT_TIMEOUT_MS",
  "SMTP_URL",
  "MAIL_FROM",
  "PUBLIC_URL",
  "COOKIE_SECURE",
  "DEMO",
  "LOG_LEVEL",
  "SECRET_KEY",
  "GATEHOUSE_CONFIG",
];

export interface InstanceOptions {
  /**
   * The database and anything else to configure: `{ DATA_DIR }` for SQLite, or
   * {@link PostgresDatabase.env} for PostgreSQL. Added to `DEMO=false`, `LOG_LEVEL=warn`, `HOST`
   * and `PORT` (a free loopback port), which it may override.
   */
  readonly env: Readonly<Record<string, string>>;
  /** Run the process on these CPUs (`taskset -c`, e.g. `"1"`); unpinned by default. */
  readonly cpus?: string | undefined;
  /** Extra flags for node, e.g. `["--cpu-prof", "--cpu-prof-dir=/tmp/prof"]`. */
  readonly nodeArgs?: readonly string[];
  /** How long to wait for `/readyz` (default 60 s: the first start compiles TypeScript). */
  readonly readyTimeoutMs?: number;
  /**
   * Run the built server as `npm start` does (the root package.json's `start` script: the bundle
   * `packages/server/bundle/main.js`; run `npm run build` first) instead of the TypeScript sources
   * through tsx.
   */
  readonly built?: boolean;
  /**
   * Write the server's standard output (its log lines) to this file, as a deployment would,
   * rather than collecting it here; standard error is still collected.
   */
  readonly logFile?: string;
}

/** One running server process. */
export interface Instance {
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  readonly port: number;
  readonly pid: number;
  /** When the process was spawned (`performance.now()`). */
  readonly spawnedAt: number;
  /** What the process printed so far (stdout and stderr), for error messages. */
  output(): string;
  /** Resident memory from /proc/<pid>/status: now (`VmRSS`) and at peak (`VmHWM`), in KiB. */
  memoryKiB(): { rss: number; peak: number } | undefined;
  /** SIGTERM, then SIGKILL after 5 s; resolves when the process has exited. */
  stop(): Promise<void>;
}

export interface Instances {
  readonly instances: readonly Instance[];
  /** Stops every instance. */
  close(): Promise<void>;
}

/** A free TCP port on 127.0.0.1 (released before it is returned; a rare race is retried by the caller). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once("exit", () => resolve()));
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Spawns one server process and resolves once `/readyz` answers 200. Throws with the process's
 * output if it exits or does not get ready in time.
 * @example
 * const instance = await startInstance({ env: { DATA_DIR: folder } });
 * await fetch(`${instance.url}/healthz`);
 * await instance.stop();
 */
export async function startInstance(options: InstanceOptions): Promise<Instance> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await spawnInstance(options, await freePort());
    } catch (error) {
      // Another process may have taken the port between freePort() and listen().
      if (attempt >= 3 || !(error instanceof Error) || !error.message.includes("EADDRINUSE"))
        throw error;
    }
  }
}

async function spawnInstance(options: InstanceOptions, port: number): Promise<Instance> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (value !== undefined && !SERVER_KEYS.includes(key)) env[key] = value;
  }
  Object.assign(env, {
    DEMO: "false",
    LOG_LEVEL: "warn",
    HOST: "127.0.0.1",
    PORT: String(port),
    // Suites and benchmarks fire many requests as one caller.
    RATE_LIMIT: "10000000",
    RATE_LIMIT_HOST: "10000000",
    ...options.env,
  });
  const node = [
    process.execPath,
    ...(options.nodeArgs ?? []),
    ...(options.built === true
      ? startScriptArgs()
      : ["--conditions=@gatehouse/source", "--import", "tsx", MAIN]),
  ];
  const [command, ...args] =
    options.cpus === undefined ? node : ["taskset", "-c", options.cpus, ...node];
  const spawnedAt = performance.now();
  const logFd = options.logFile === undefined ? undefined : openSync(options.logFile, "a");
  const child = spawn(command!, args, {
    cwd: REPO_ROOT,
    env,
    stdio: ["ignore", logFd ?? "pipe", "pipe"],
  });
  if (logFd !== undefined) closeSync(logFd);
  let output = "";
  const collect = (chunk: Buffer) => {
    // Keep the tail only: a long benchmark must not grow this without bound.
    output = (output + chunk.toString("utf8")).slice(-20_000);
  };
  child.stdout?.on("data", collect);
  child.stderr?.on("data", collect);
  const pid = child.pid;
  if (pid === undefined) throw new Error(`could not spawn ${command}`);
  const url = `http://127.0.0.1:${port}`;
  const instance: Instance = {
    url,
    port,
    pid,
    spawnedAt,
    output: () => output,
    memoryKiB: () => memoryOf(pid),
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill("SIGTERM");
      const killer = setTimeout(() => child.kill("SIGKILL"), 5_000);
      await exited(child);
      clearTimeout(killer);
    },
  };
  const deadline = Date.now() + (options.readyTimeoutMs ?? 60_000);
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(
        `server on port ${port} exited (${child.exitCode ?? child.signalCode}) before it was ready:\n${output}`,
      );
    }
    try {
      const response = await fetch(`${url}/readyz`);
      await response.arrayBuffer();
      if (response.status === 200) return instance;
    } catch {
      // Not listening yet.
    }
    if (Date.now() > deadline) {
      await instance.stop();
      throw new Error(`server on port ${port} was not ready in time:\n${output}`);
    }
    await sleep(25);
  }
}

/**
 * Spawns `count` server processes on the same database (all at once) and waits until every one is
 * ready. Several instances need a shared database: PostgreSQL ({@link postgresDatabase}).
 * @example
 * const db = await postgresDatabase(process.env.DATABASE_URL!);
 * const { instances: [a, b], close } = await startInstances(2, { env: db.env });
 */
export async function startInstances(count: number, options: InstanceOptions): Promise<Instances> {
  const settled = await Promise.allSettled(
    Array.from({ length: count }, () => startInstance(options)),
  );
  const instances = settled.flatMap((result) =>
    result.status === "fulfilled" ? [result.value] : [],
  );
  const failure = settled.find((result) => result.status === "rejected");
  if (failure !== undefined) {
    await Promise.all(instances.map((instance) => instance.stop()));
    throw failure.reason;
  }
  return {
    instances,
    close: async () => {
      await Promise.all(instances.map((instance) => instance.stop()));
    },
  };
}

function memoryOf(pid: number): { rss: number; peak: number } | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const field = (name: string) =>
      Number(new RegExp(`^${name}:\\s+(\\d+) kB`, "m").exec(status)?.[1]);
    const rss = field("VmRSS");
    const peak = field("VmHWM");
    return Number.isFinite(rss) ? { rss, peak: Number.isFinite(peak) ? peak : rss } : undefined;
  } catch {
    return undefined;
  }
}

/** A fresh PostgreSQL schema for instances to share, and the environment that selects it. */
export interface PostgresDatabase {
  readonly url: string;
  readonly schema: string;
  /** `DATABASE_URL`, `DATABASE_SCHEMA` and a `SECRET_KEY` shared by every instance. */
  readonly env: Readonly<Record<string, string>>;
  /** Drops the schema and everything in it. */
  drop(): Promise<void>;
}

/**
 * Names a fresh schema on the PostgreSQL server at `url` (created and migrated by the first
 * instance, or by the caller's own `openPostgres({ connectionString: url, schema })`).
 * @example
 * const db = await postgresDatabase("postgres://postgres@127.0.0.1:5432/test");
 * try { … } finally { await db.drop(); }
 */
export async function postgresDatabase(url: string, prefix = "inst"): Promise<PostgresDatabase> {
  const schema = testSchema(prefix);
  return {
    url,
    schema,
    env: {
      DATABASE_URL: url,
      DATABASE_SCHEMA: schema,
      SECRET_KEY: randomBytes(32).toString("hex"),
    },
    async drop() {
      const admin = await openPostgres({
        connectionString: url,
        migrate: false,
        maxConnections: 1,
      });
      try {
        await admin.db.schema.dropSchema(schema).ifExists().cascade().execute();
      } finally {
        await admin.close();
      }
    },
  };
}

/** An HTTP answer: status, headers and the parsed JSON body (`undefined` when empty). */
export interface HttpAnswer {
  readonly status: number;
  readonly headers: Headers;
  readonly body: unknown;
}

/**
 * One JSON request to an instance.
 * @example
 * const { status, body } = await request(a.url, "POST", `/v1/workspaces/${ws}/check`, { headers: key, body: { permission, resource } });
 */
export async function request(
  url: string,
  method: string,
  path: string,
  options: { headers?: Readonly<Record<string, string>>; body?: unknown } = {},
): Promise<HttpAnswer> {
  const response = await fetch(`${url}${path}`, {
    method,
    headers: {
      ...(options.body === undefined ? {} : { "content-type": "application/json" }),
      ...options.headers,
    },
    ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }),
  });
  const text = await response.text();
  return {
    status: response.status,
    headers: response.headers,
    body: text === "" ? undefined : (JSON.parse(text) as unknown),
  };
}

/** Like {@link request}, but throws unless the status is `expected`; returns the body. */
export async function expectStatus(
  expected: number,
  url: string,
  method: string,
  path: string,
  options: { headers?: Readonly<Record<string, string>>; body?: unknown } = {},
): Promise<unknown> {
  const answer = await request(url, method, path, options);
  if (answer.status !== expected) {
    throw new Error(
      `${method} ${path} answered ${answer.status}, expected ${expected}: ${JSON.stringify(answer.body)}`,
    );
  }
  return answer.body;
}

/** Headers that authenticate as a signed-in person: the session cookie and the CSRF echo. */
export interface HttpSession {
  readonly userId: string;
  readonly headers: Readonly<Record<string, string>>;
}

/**
 * Signs in through `POST /v1/auth/login` on one instance; the session works on every instance of
 * the same database.
 */
export async function signIn(url: string, email: string, password: string): Promise<HttpSession> {
  const response = await fetch(`${url}/v1/auth/login`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ email, password }),
  });
  const text = await response.text();
  if (response.status !== 200)
    throw new Error(`sign-in of ${email} failed: ${response.status} ${text}`);
  const cookies = new Map<string, string>();
  for (const header of response.headers.getSetCookie()) {
    const [pair] = header.split(";");
    const at = pair?.indexOf("=") ?? -1;
    if (pair !== undefined && at > 0) cookies.set(pair.slice(0, at), pair.slice(at + 1));
  }
  const csrf = cookies.get("gatehouse_csrf");
  if (csrf === undefined) throw new Error("sign-in answered no CSRF cookie");
  const body = JSON.parse(text) as { user: { id: string } };
  return {
    userId: body.user.id,
    headers: {
      cookie: [...cookies].map(([name, value]) => `${name}=${value}`).join("; "),
      "x-csrf-token": csrf,
    },
  };
}

/**
 * Creates an API key as a signed-in person (`POST /v1/workspaces/:ws/api-keys`) and returns the
 * `Authorization` header that uses it.
 */
export async function createApiKey(
  url: string,
  session: HttpSession,
  workspaceId: string,
  key: { name: string; scopes: readonly string[]; resources?: readonly string[] },
): Promise<{ id: string; authorization: Readonly<Record<string, string>> }> {
  const body = (await expectStatus(201, url, "POST", `/v1/workspaces/${workspaceId}/api-keys`, {
    headers: session.headers,
    body: key,
  })) as { key: { id: string }; secret: string };
  return { id: body.key.id, authorization: { authorization: `Bearer ${body.secret}` } };
}

/**
 * Creates an account directly in the database `env` selects (`DATABASE_URL` and
 * `DATABASE_SCHEMA`, or `DATA_DIR`), as a host that confirmed the address would: public sign-up
 * over HTTP only mails a confirmation link, which a spawned server keeps to itself.
 * @example
 * await createAccount(database.env, { email: "ada@example.com", password, name: "Ada" });
 */
export async function createAccount(
  env: Readonly<Record<string, string>>,
  account: { email: string; password: string; name: string },
): Promise<void> {
  const url = env["DATABASE_URL"];
  const storage =
    url === undefined
      ? await openSqlite({ file: join(env["DATA_DIR"] ?? "./data", "gatehouse.db") })
      : await openPostgres({
          connectionString: url,
          maxConnections: 1,
          ...(env["DATABASE_SCHEMA"] === undefined ? {} : { schema: env["DATABASE_SCHEMA"] }),
        });
  const gatehouse = createGatehouse({ storage });
  try {
    await gatehouse.users.signUp(account);
  } finally {
    await gatehouse.close();
  }
}
