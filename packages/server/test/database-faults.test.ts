/**
 * Database faults against a PostgreSQL cluster this test owns (never the shared one): backends
 * killed with pg_terminate_backend, then the whole cluster crashed and kept down for ~10 s. The
 * server processes must stay up, answer 503 DATABASE_UNAVAILABLE with Retry-After meanwhile, serve
 * again by themselves within 5 s of the database, re-establish the change listener, and keep every
 * write they acknowledged.
 */
import { randomBytes } from "node:crypto";
import { openPostgres } from "@gatehouse/service";
import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  createAccount,
  createApiKey,
  expectStatus,
  type HttpSession,
  type Instance,
  request,
  signIn,
  startInstance,
} from "./support/instances.ts";
import { type OwnCluster, postgresBinaries, startOwnCluster } from "./support/own-cluster.ts";

const bin = postgresBinaries();
if (bin === undefined)
  console.warn("database-faults: skipped, no PostgreSQL binaries under /usr/lib/postgresql/*/bin");

/** The promise under test: serving again this soon after the database is back. */
const RECOVERY_BOUND_MS = 5_000;
const OUTAGE_MS = 10_000;
/** DATABASE_CONNECT_TIMEOUT_MS given to the servers: no answer may take much longer. */
const CONNECT_TIMEOUT_MS = 2_000;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Whether a process is still alive (signal 0 only checks). */
function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

interface Answer {
  readonly at: number;
  readonly ms: number;
  readonly status: number;
  readonly code: string | undefined;
  readonly retryAfter: string | null;
}

describe.skipIf(bin === undefined)("database faults on PostgreSQL", () => {
  let cluster: OwnCluster;
  /** Takes the traffic; polls only once a minute, so it learns of B's writes by notification. */
  let a: Instance;
  /** Writes that A must hear of. */
  let b: Instance;
  let session: HttpSession;
  let workspaceId: string;
  let checkKey: Readonly<Record<string, string>>;

  beforeAll(async () => {
    cluster = await startOwnCluster(bin!);
    const shared = {
      DATABASE_URL: cluster.url,
      SECRET_KEY: randomBytes(32).toString("hex"),
      DATABASE_CONNECT_TIMEOUT_MS: String(CONNECT_TIMEOUT_MS),
      DATABASE_STATEMENT_TIMEOUT_MS: "5000",
    };
    // A first: it migrates the fresh database; B then finds it migrated.
    a = await startInstance({
      env: { ...shared, SYNC_POLL_MS: "60000", SYNC_MAX_STALENESS_MS: "120000" },
    });
    b = await startInstance({ env: shared });
    const email = "ada@faults.example.com";
    const password = "correct horse battery staple";
    await createAccount(shared, { email, password, name: "Ada" });
    session = await signIn(a.url, email, password);
    const workspace = (await expectStatus(201, a.url, "POST", "/v1/workspaces", {
      headers: session.headers,
      body: { name: "Faults", preset: "mzpanel" },
    })) as { id: string };
    workspaceId = workspace.id;
    checkKey = (
      await createApiKey(a.url, session, workspaceId, { name: "panel", scopes: ["server.view"] })
    ).authorization;
  }, 180_000);

  afterAll(async () => {
    await a?.stop();
    await b?.stop();
    await cluster?.destroy();
  }, 60_000);

  /** Both server processes are still running; otherwise fails with what they printed. */
  function expectAlive(): void {
    expect(isAlive(a.pid), `A exited:\n${a.output()}`).toBe(true);
    expect(isAlive(b.pid), `B exited:\n${b.output()}`).toBe(true);
  }

  /** Registers `server:<id>` on an instance; answers the status and the problem's code. */
  async function putServer(at: Instance, id: string): Promise<Answer> {
    const started = performance.now();
    const answer = await request(
      at.url,
      "PUT",
      `/v1/workspaces/${workspaceId}/resources/server/${id}`,
      {
        headers: session.headers,
        body: { parent: `workspace:${workspaceId}` },
      },
    );
    return {
      at: started,
      ms: performance.now() - started,
      status: answer.status,
      code: (answer.body as { code?: string } | undefined)?.code,
      retryAfter: answer.headers.get("retry-after"),
    };
  }

  /** Retries until the write is acknowledged (200), within `boundMs`. */
  async function putServerEventually(at: Instance, id: string, boundMs: number): Promise<void> {
    const deadline = performance.now() + boundMs;
    for (;;) {
      const answer = await putServer(at, id);
      if (answer.status === 200) return;
      if (performance.now() > deadline)
        throw new Error(`PUT server:${id} still answers ${answer.status} ${answer.code}`);
      await sleep(100);
    }
  }

  /** Ms until A answers that `server:<id>` may be viewed (it has caught up with that write). */
  async function untilASees(id: string, boundMs: number): Promise<number> {
    const started = performance.now();
    for (;;) {
      const answer = await request(a.url, "POST", `/v1/workspaces/${workspaceId}/check`, {
        headers: checkKey,
        body: { permission: "server.view", resource: `server:${id}` },
      });
      if (answer.status === 200 && (answer.body as { allowed?: boolean }).allowed === true)
        return performance.now() - started;
      if (performance.now() - started > boundMs)
        throw new Error(
          `A never saw server:${id}: ${answer.status} ${JSON.stringify(answer.body)}`,
        );
      await sleep(50);
    }
  }

  /** Ms until A's /readyz says ready with the change listener connected. */
  async function untilReadyAndListening(at: Instance, boundMs: number): Promise<number> {
    const started = performance.now();
    for (;;) {
      const answer = await request(at.url, "GET", "/readyz").catch(() => undefined);
      const body = answer?.body as { sync?: { listening?: boolean } } | undefined;
      if (answer?.status === 200 && body?.sync?.listening === true)
        return performance.now() - started;
      if (performance.now() - started > boundMs)
        throw new Error(`${at.url}/readyz: ${answer?.status} ${JSON.stringify(answer?.body)}`);
      await sleep(50);
    }
  }

  /** Terminates every client backend but its own, from a separate connection; returns how many. */
  async function terminateBackends(): Promise<number> {
    const admin = await openPostgres({
      connectionString: cluster.url,
      migrate: false,
      maxConnections: 1,
    });
    try {
      const { rows } = await sql<{ terminated: boolean }>`
        select pg_terminate_backend(pid) as terminated from pg_stat_activity
        where backend_type = 'client backend' and pid <> pg_backend_pid()`.execute(admin.db);
      return rows.filter((row) => row.terminated).length;
    } finally {
      await admin.close();
    }
  }

  it("keeps serving through killed backends and a 10 s outage, and loses no acknowledged write", async () => {
    const acknowledged: string[] = [];
    const answers: Answer[] = [];
    const transportErrors: string[] = [];
    let running = true;
    // Three writers on A, each registering new resources one after another.
    const worker = async (name: string) => {
      for (let n = 0; running; n++) {
        const id = `${name}-${n}`;
        try {
          const answer = await putServer(a, id);
          answers.push(answer);
          if (answer.status === 200) acknowledged.push(id);
        } catch (error) {
          transportErrors.push(`${id}: ${(error as Error).message}`);
        }
        await sleep(20);
      }
    };
    const workers = ["w1", "w2", "w3"].map((name) => worker(name));
    await sleep(1_500);

    // 1. Kill idle and active backends (pools and both listeners), three times over.
    let terminated = 0;
    for (let round = 0; round < 3; round++) {
      terminated += await terminateBackends();
      await sleep(200);
    }
    expect(terminated).toBeGreaterThanOrEqual(2);
    // B's change must reach A: by notification once A's listener is back, or by its catch-up poll.
    await putServerEventually(b, "after-kill", RECOVERY_BOUND_MS);
    const seenAfterKillMs = await untilASees("after-kill", RECOVERY_BOUND_MS);
    const listeningAfterKillMs = await untilReadyAndListening(a, RECOVERY_BOUND_MS);
    expectAlive();

    // 2. Crash the cluster and keep it down for ~10 s.
    const acknowledgedBeforeOutage = acknowledged.length;
    await cluster.stop("immediate");
    const downAt = performance.now();
    const readiness: number[] = [];
    const probes: Answer[] = [];
    while (performance.now() - downAt < OUTAGE_MS) {
      readiness.push((await request(a.url, "GET", "/readyz")).status);
      readiness.push((await request(b.url, "GET", "/readyz")).status);
      expect((await request(a.url, "GET", "/healthz")).status).toBe(200);
      probes.push(await putServer(b, `probe-${probes.length}`));
      await sleep(500);
    }
    expectAlive();
    expect(new Set(readiness)).toEqual(new Set([503]));
    for (const probe of probes) {
      expect(probe).toMatchObject({ status: 503, code: "DATABASE_UNAVAILABLE" });
      expect(Number(probe.retryAfter)).toBeGreaterThanOrEqual(1);
    }
    const duringOutage = answers.filter((answer) => answer.at > downAt);
    expect(duringOutage.length).toBeGreaterThan(0);
    expect(duringOutage.every((answer) => answer.status === 503)).toBe(true);

    // 3. Restart it: A and B serve again by themselves, and A's listener is back.
    await cluster.start();
    const upAt = performance.now();
    const [bWriteMs, aListeningMs] = await Promise.all([
      putServerEventually(b, "after-restart", RECOVERY_BOUND_MS).then(
        () => performance.now() - upAt,
      ),
      untilReadyAndListening(a, RECOVERY_BOUND_MS).then(() => performance.now() - upAt),
    ]);
    const aWrites = async () => {
      for (;;) {
        const first = answers.find((answer) => answer.at > upAt && answer.status === 200);
        if (first !== undefined) return first.at + first.ms - upAt;
        if (performance.now() - upAt > RECOVERY_BOUND_MS) return Number.POSITIVE_INFINITY;
        await sleep(20);
      }
    };
    const aWriteMs = await aWrites();
    // A polls once a minute: seeing B's write this soon means a notification carried it.
    const seenAfterRestartMs = await untilASees("after-restart", RECOVERY_BOUND_MS);
    running = false;
    await Promise.all(workers);

    const metrics = await fetch(`${a.url}/metrics`).then((response) => response.text());
    expect(metrics).toMatch(/^gatehouse_sync_listening 1$/m);

    // 4. Every acknowledged write is in the database.
    const check = await openPostgres({
      connectionString: cluster.url,
      migrate: false,
      maxConnections: 1,
    });
    let stored: Set<string>;
    try {
      const rows = await check.db
        .selectFrom("resources")
        .select("resource")
        .where("workspace_id", "=", workspaceId)
        .execute();
      stored = new Set(rows.map((row) => row.resource));
    } finally {
      await check.close();
    }
    const missing = acknowledged.filter((id) => !stored.has(`server:${id}`));

    const failures = answers.filter((answer) => answer.status !== 200);
    const refused = (from: number, to: number) =>
      failures.filter((answer) => answer.at >= from && answer.at < to).length;
    const slowest = Math.max(...answers.map((answer) => answer.ms), ...probes.map((p) => p.ms));
    console.log(
      [
        `database-faults: ${terminated} backends terminated; B's write seen on A after ${Math.round(seenAfterKillMs)} ms, A listening again after ${Math.round(listeningAfterKillMs)} ms`,
        `  outage ${OUTAGE_MS} ms: ${duringOutage.length} writes on A answered 503 (slowest answer overall ${Math.round(slowest)} ms)`,
        `  after restart: B acknowledged a write after ${Math.round(bWriteMs)} ms, A after ${Math.round(aWriteMs)} ms, A ready and listening after ${Math.round(aListeningMs)} ms, A saw B's write ${Math.round(seenAfterRestartMs)} ms later`,
        `  ${acknowledged.length} writes acknowledged (${acknowledgedBeforeOutage} before the outage), ${failures.length} refused (${refused(0, downAt)} around the kills, ${refused(downAt, upAt)} in the outage, ${refused(upAt, Number.POSITIVE_INFINITY)} after the restart), ${missing.length} missing`,
      ].join("\n"),
    );
    expect(transportErrors).toEqual([]);
    expect(missing).toEqual([]);
    // Every refusal is the stable 503, never a 500 or a hang.
    for (const failure of failures) {
      expect(failure).toMatchObject({ status: 503, code: "DATABASE_UNAVAILABLE" });
      expect(failure.retryAfter).not.toBeNull();
    }
    expect(slowest).toBeLessThan(CONNECT_TIMEOUT_MS + 3_000);
    expect(bWriteMs).toBeLessThanOrEqual(RECOVERY_BOUND_MS);
    expect(aWriteMs).toBeLessThanOrEqual(RECOVERY_BOUND_MS);
    expect(aListeningMs).toBeLessThanOrEqual(RECOVERY_BOUND_MS);
    expect(acknowledged.length).toBeGreaterThan(acknowledgedBeforeOutage);
    expectAlive();
  }, 180_000);
});
