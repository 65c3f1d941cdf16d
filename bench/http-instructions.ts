/**
 * Instructions per HTTP check, counted by valgrind's callgrind: the bundled server (as `npm start`
 * runs it) and the Fastify route with the same schemas (bench/lib/fastify-server.ts), each under
 * callgrind, both asked the same fresh questions at 10,000 sites. Unlike CPU time, the count barely
 * moves with what else the machine runs, so a change to the request path can be compared on a busy
 * machine: run it before and after. It counts the main thread only — V8's background compiler
 * and garbage-collector threads run when they are scheduled, and their counts differ run to run —
 * and user space only (the kernel's socket writes, the same for both, are not in it); so it
 * complements the server CPU time of `npm run bench:http`, it does not replace it.
 *
 * `npm run bench:instructions` (`-- --requests=N`, default 8,000 after 6,000 to warm up; needs
 * Debian's `valgrind`; ~1–2 min, both servers at once). It reuses the HTTP benchmark's seeded
 * workspace in bench/.cache, so `npm run bench:http` must have run once.
 */
import { execFileSync, spawn } from "node:child_process";
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openSqlite } from "@gatehouse/service";
import autocannon from "autocannon";
import { freePort, REPO_ROOT } from "../packages/server/test/support/instances.ts";
import { loadAverage } from "./lib/env.ts";
import { CHECK_PERMISSIONS, generateQueries, generateScenario } from "./lib/scenario.ts";
import { managerKey, type SeededWorkspace, seedingService } from "./lib/seed.ts";

const SITES = 10_000;
const SEED = 0x6a7e_5eed;
const CACHE = join(REPO_ROOT, "bench", ".cache");

const requestsArg = process.argv.find((arg) => arg.startsWith("--requests="));
const REQUESTS =
  requestsArg === undefined ? 8_000 : Number(requestsArg.slice("--requests=".length));
if (!Number.isInteger(REQUESTS) || REQUESTS < 100)
  throw new Error("--requests is a whole number ≥ 100");
const WARM_UP = Math.max(2_000, Math.round(REQUESTS * 0.75));

const out = (line: string): void => {
  process.stdout.write(`${line}\n`);
};

/** The HTTP benchmark's seeded 10k workspace (bench/.cache/http-10k-*). */
function seededFolder(): string {
  const found = existsSync(CACHE)
    ? readdirSync(CACHE).find((name) => name.startsWith("http-10k-"))
    : undefined;
  if (found === undefined)
    throw new Error(
      "no seeded workspace in bench/.cache: run `npm run bench:http -- --quick` once",
    );
  return join(CACHE, found);
}

interface Contender {
  readonly name: string;
  readonly args: readonly string[];
  readonly env: Readonly<Record<string, string>>;
  readonly path: string;
  readonly probe: string;
  /** What the probe answers once the server listens. */
  readonly ready: number;
  readonly headers: Readonly<Record<string, string>>;
}

/** callgrind_control finds a process by the user and host names in both environments (HOST is also the server's listening address). */
const callgrindNames = { USER: "root", LOGNAME: "root", HOST: "127.0.0.1" };
const controlEnv = { ...process.env, ...callgrindNames };

function load(
  url: string,
  contender: Contender,
  bodies: readonly string[],
  amount: number,
): Promise<number> {
  let next = 0;
  return new Promise((resolve, reject) => {
    autocannon(
      {
        url: `${url}${contender.path}`,
        method: "POST",
        connections: 4,
        pipelining: 4,
        amount,
        headers: { ...contender.headers, "content-type": "application/json" },
        requests: [
          {
            setupRequest: (request) => ({ ...request, body: bodies[next++ % bodies.length]! }),
          },
        ],
      },
      (error, result) => {
        if (error) reject(error);
        else if (result.non2xx > 0 || result.errors > 0)
          reject(new Error(`${contender.name}: ${result.non2xx} non-2xx, ${result.errors} errors`));
        else resolve(result.requests.total);
      },
    );
  });
}

/** Runs one contender under callgrind; answers its main thread's instructions per request. */
async function count(contender: Contender, bodies: readonly string[]): Promise<number> {
  const folder = mkdtempSync(join(tmpdir(), "gatehouse-instructions-"));
  const port = await freePort();
  const child = spawn(
    "valgrind",
    [
      "--tool=callgrind",
      "--instr-atstart=no",
      "--separate-threads=yes",
      "--smc-check=all-non-file",
      `--callgrind-out-file=${join(folder, "callgrind.out")}`,
      process.execPath,
      ...contender.args,
    ],
    {
      cwd: REPO_ROOT,
      env: { ...process.env, ...contender.env, PORT: String(port), ...callgrindNames },
      stdio: ["ignore", "ignore", "pipe"],
    },
  );
  let output = "";
  child.stderr.on("data", (chunk: Buffer) => {
    output = (output + chunk.toString("utf8")).slice(-4_000);
  });
  const pid = String(child.pid);
  const url = `http://127.0.0.1:${port}`;
  try {
    for (const deadline = Date.now() + 300_000; ; ) {
      if (child.exitCode !== null) throw new Error(`${contender.name} exited:\n${output}`);
      try {
        if ((await fetch(`${url}${contender.probe}`)).status === contender.ready) break;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) throw new Error(`${contender.name} did not get ready`);
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
    // Uninstrumented, V8 warms up as it would anywhere; then instrumented, a short warm-up again
    // (turning instrumentation on drops valgrind's translations), counters zeroed, the measured run.
    await load(url, contender, bodies, WARM_UP);
    execFileSync("callgrind_control", ["--instr=on", pid], { env: controlEnv, stdio: "ignore" });
    await load(url, contender, bodies, 500);
    execFileSync("callgrind_control", ["--zero", pid], { env: controlEnv, stdio: "ignore" });
    const answered = await load(url, contender, bodies, REQUESTS);
    execFileSync("callgrind_control", ["--dump", pid], { env: controlEnv, stdio: "ignore" });
    // With --separate-threads, the dump writes a file per thread; thread 1 is the main thread.
    const main = readdirSync(folder).find((name) => /^callgrind\.out\.\d+-01$/.test(name));
    const total =
      main === undefined
        ? undefined
        : /^totals: (\d+)$/m.exec(readFileSync(join(folder, main), "utf8"));
    if (total === undefined || total === null)
      throw new Error(`${contender.name}: no counts in ${readdirSync(folder).join(", ")}`);
    return Number(total[1]) / answered;
  } finally {
    child.kill("SIGKILL");
    rmSync(folder, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  try {
    execFileSync("valgrind", ["--version"], { stdio: "ignore" });
  } catch {
    throw new Error("valgrind is not installed: `apt-get install valgrind` (Debian's package)");
  }
  const seeded = seededFolder();
  const saved = JSON.parse(readFileSync(join(seeded, "bench.json"), "utf8")) as SeededWorkspace;
  const data = mkdtempSync(join(tmpdir(), "gatehouse-instructions-data-"));
  try {
    cpSync(join(seeded, "db"), data, { recursive: true });
    const seeder = seedingService(await openSqlite({ file: join(data, "gatehouse.db") }));
    const key = await managerKey(seeder, saved);
    await seeder.close();
    const scenario = generateScenario(SITES, SEED);
    const queries = generateQueries(scenario, 1 << 14, SEED + 1);
    const bodies: string[] = [];
    for (let i = 0; i < queries.length; i++)
      bodies.push(
        JSON.stringify({
          subject: scenario.members[queries.member[i]!]!.subject,
          permission: CHECK_PERMISSIONS[queries.permission[i]!]!,
          resource: scenario.sites[queries.site[i]!]!,
        }),
      );
    const gatehouse: Contender = {
      name: "Gatehouse POST …/decision",
      args: [join(REPO_ROOT, "packages", "server", "bundle", "main.js")],
      env: {
        DEMO: "false",
        HOST: "127.0.0.1",
        DATA_DIR: data,
        SECRET_KEY: "00".repeat(32),
        LOG_LEVEL: "info",
        RATE_LIMIT: "10000000",
        RATE_LIMIT_HOST: "10000000",
      },
      path: `/v1/workspaces/${saved.workspaceId}/decision`,
      probe: "/readyz",
      ready: 200,
      headers: key.authorization,
    };
    const fastify: Contender = {
      name: "Fastify route, same schemas",
      args: ["--conditions=@gatehouse/source", "--import", "tsx", "bench/lib/fastify-server.ts"],
      env: {},
      path: "/v1/workspaces/ws/decision",
      // It has no other route: a 404 says it listens.
      probe: "/",
      ready: 404,
      headers: {},
    };
    if (!existsSync(gatehouse.args[0]!))
      throw new Error(
        "no bundled server: run `npm run build` (or `node scripts/bundle-server.mjs`)",
      );
    out(
      `Instructions per HTTP check (callgrind, main thread, user space), ${SITES.toLocaleString("en")} sites, ${REQUESTS.toLocaleString("en")} requests after ${WARM_UP.toLocaleString("en")} to warm up; load average ${loadAverage().toFixed(2)}`,
    );
    // Both at once: the counts do not depend on sharing the cores.
    // Settled both before anything is thrown: each stops its own valgrind when it ends.
    const settled = await Promise.allSettled([count(gatehouse, bodies), count(fastify, bodies)]);
    for (const result of settled) if (result.status === "rejected") throw result.reason;
    const [ours, theirs] = settled.map(
      (result) => (result as PromiseFulfilledResult<number>).value,
    ) as [number, number];
    out(`  ${gatehouse.name.padEnd(28)} ${(ours / 1000).toFixed(1)}k instructions per request`);
    out(`  ${fastify.name.padEnd(28)} ${(theirs / 1000).toFixed(1)}k instructions per request`);
    out(
      `  ratio ${(ours / theirs).toFixed(2)}× (load average at the end ${loadAverage().toFixed(2)})`,
    );
  } finally {
    rmSync(data, { recursive: true, force: true });
  }
}

await main();
