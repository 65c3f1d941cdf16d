/**
 * Sign-in under a sign-up flood: the login latency of a valid user (one server process, SQLite,
 * OWASP scrypt cost) alone, then while 50 sign-ups are confirmed at once (each hashes the password
 * chosen at confirmation), with the server's peak memory. The sign-up links are made beforehand
 * in the same database; the confirmations come from distinct loopback addresses (127.0.0.x), as a
 * distributed flood would, so the per-address sign-up limit does not cut them short: what is
 * measured is the bounded hashing queue. Metrics `signin.*` are merged into
 * bench/results/latest.json (latest-quick.json with `--quick`). See docs/benchmarks.md.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { request as httpRequest } from "node:http";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { createGatehouse, openSqlite } from "@gatehouse/service";
import { startInstance } from "../packages/server/test/support/instances.ts";
import { Laps, loadAverage, machine } from "./lib/env.ts";

const HERE = dirname(fileURLToPath(import.meta.url));
const quick = process.argv.includes("--quick");
const SIGN_UPS = 50;
/** Each login hashes (~0.3–0.9 s of CPU): `--quick` takes few (their p99 is their maximum). */
const BASELINE_LOGINS = quick ? 3 : 20;
/**
 * `--quick` stops the server after this many logins during the flood instead of waiting for every
 * accepted sign-up's hash (about 25 s of scrypt through one slot on two cores); 10 of them took
 * ~17 s of CPU at load 11, most of it the flood's own hashing meanwhile.
 */
const FLOOD_LOGINS = quick ? 4 : Number.POSITIVE_INFINITY;
const PASSWORD = "correct horse battery staple";

interface Answer {
  readonly status: number;
  readonly ms: number;
}

/** One JSON POST to the server from `localAddress` (a loopback address of its own). */
function post(
  url: string,
  path: string,
  body: unknown,
  localAddress = "127.0.0.1",
): Promise<Answer> {
  const target = new URL(path, url);
  const payload = JSON.stringify(body);
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        host: target.hostname,
        port: target.port,
        path: target.pathname,
        method: "POST",
        localAddress,
        agent: false,
        headers: {
          "content-type": "application/json",
          "content-length": Buffer.byteLength(payload),
        },
      },
      (res) => {
        res.resume();
        res.on("end", () =>
          resolve({ status: res.statusCode ?? 0, ms: performance.now() - started }),
        );
      },
    );
    req.on("error", reject);
    req.end(payload);
  });
}

function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? 0;
}

async function login(url: string): Promise<number> {
  const answer = await post(url, "/v1/auth/login", {
    email: "ada@example.com",
    password: PASSWORD,
  });
  if (answer.status !== 200) throw new Error(`login answered ${answer.status}`);
  return answer.ms;
}

async function main(): Promise<void> {
  process.stdout.write(
    `\nSign-in under a sign-up flood: ${SIGN_UPS} sign-ups at once, OWASP scrypt (load average ${loadAverage()})\n`,
  );
  // Wall and CPU (this process and the server) per part: what --quick's budget goes to.
  const laps = new Laps({ family: true });
  const folder = mkdtempSync(join(tmpdir(), "gatehouse-signin-bench-"));
  const metrics: Record<string, number> = {};
  try {
    const links = new Map<string, string>();
    const seeder = createGatehouse({
      storage: await openSqlite({ file: join(folder, "gatehouse.db") }),
      signInMail: {
        sendMagicLink: async () => undefined,
        sendAccountExists: async () => undefined,
        sendSignUpLink: async (to, link) => void links.set(to, link.token),
        sendEmailChangeLink: async () => undefined,
        sendEmailInUse: async () => undefined,
        sendEmailChanged: async () => undefined,
      },
      signUpLimits: { perIp: SIGN_UPS, total: SIGN_UPS },
    });
    await seeder.users.signUp({ email: "ada@example.com", password: PASSWORD, name: "Ada" });
    // The sign-up links the flood confirms: asking for one hashes nothing, confirming does.
    for (let n = 0; n < SIGN_UPS; n++)
      await seeder.signUps.request({ email: `flood${n}@example.com` });
    await seeder.mailSettled();
    await seeder.close();
    laps.lap("seeding");
    const instance = await startInstance({ env: { DATA_DIR: folder } });
    laps.lap("server started");
    try {
      await login(instance.url);
      const alone: number[] = [];
      for (let n = 0; n < BASELINE_LOGINS; n++) alone.push(await login(instance.url));
      laps.lap("logins alone");
      const before = instance.memoryKiB();
      let flooding = true;
      const flood = Promise.all(
        Array.from({ length: SIGN_UPS }, (_, n) =>
          post(
            instance.url,
            "/v1/auth/magic-link/consume",
            { token: links.get(`flood${n}@example.com`), password: PASSWORD },
            `127.0.0.${n + 2}`,
            // Status 0: still queued when --quick stopped the server.
          ).catch((): Answer => ({ status: 0, ms: Number.NaN })),
        ),
      ).finally(() => {
        flooding = false;
      });
      const during: number[] = [];
      while ((flooding && during.length < FLOOD_LOGINS) || during.length < BASELINE_LOGINS)
        during.push(await login(instance.url));
      const after = instance.memoryKiB();
      // Killed: a graceful stop would wait for the queued hashes.
      if (flooding) {
        process.kill(instance.pid, "SIGKILL");
        await instance.stop();
      }
      const signUps = await flood;
      laps.lap("logins during the flood");
      const statuses: Record<number, number> = {};
      for (const answer of signUps) statuses[answer.status] = (statuses[answer.status] ?? 0) + 1;
      const row = (what: string, values: number[]) =>
        process.stdout.write(
          `   ${what.padEnd(34)} ${String(values.length).padStart(3)} logins  p50 ${percentile(values, 50).toFixed(0).padStart(5)} ms  p99 ${percentile(values, 99).toFixed(0).padStart(5)} ms  max ${Math.max(
            ...values,
          )
            .toFixed(0)
            .padStart(5)} ms\n`,
        );
      row("valid login, alone", alone);
      row(`valid login, ${SIGN_UPS} sign-ups confirmed`, during);
      process.stdout.write(
        `   sign-ups answered: ${Object.entries(statuses)
          .map(([status, count]) => `${count}× ${status}`)
          .join(
            ", ",
          )}; slowest ${Math.max(...signUps.filter((a) => a.status !== 0).map((a) => a.ms)).toFixed(0)} ms${statuses[0] === undefined ? "" : ` (status 0: still queued when the server was stopped after ${FLOOD_LOGINS} logins, --quick)`}\n`,
      );
      process.stdout.write(
        `   server memory: RSS ${Math.round((before?.rss ?? 0) / 1024)} MiB before, ${Math.round((after?.rss ?? 0) / 1024)} MiB after, peak ${Math.round((after?.peak ?? 0) / 1024)} MiB (load average ${loadAverage()})\n`,
      );
      Object.assign(metrics, {
        "signin.login_alone_p50_ms": percentile(alone, 50),
        "signin.login_alone_p99_ms": percentile(alone, 99),
        "signin.login_during_signup_flood_p50_ms": percentile(during, 50),
        "signin.login_during_signup_flood_p99_ms": percentile(during, 99),
        "signin.signup_flood_accepted": statuses[200] ?? 0,
        "signin.signup_flood_busy": statuses[503] ?? 0,
        "signin.signup_flood_still_queued": statuses[0] ?? 0,
        "signin.server_peak_rss_mib": Math.round((after?.peak ?? 0) / 1024),
        "signin.load_average_1m": loadAverage(),
      });
    } finally {
      await instance.stop();
      laps.lap("server stopped");
    }
  } finally {
    rmSync(folder, { recursive: true, force: true });
  }
  process.stdout.write(
    `   time by part (wall, CPU of this process and the server): ${laps.summary()}\n`,
  );
  const file = join(HERE, "results", quick ? "latest-quick.json" : "latest.json");
  let report: Record<string, unknown> = {};
  if (existsSync(file)) report = JSON.parse(readFileSync(file, "utf8")) as Record<string, unknown>;
  const kept = Object.fromEntries(
    Object.entries((report["metrics"] as Record<string, number> | undefined) ?? {}).filter(
      ([name]) => !name.startsWith("signin."),
    ),
  );
  report["metrics"] = { ...kept, ...metrics };
  if (report["machine"] === undefined) report["machine"] = machine();
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
}

await main();
