import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  createAccount,
  createApiKey,
  expectStatus,
  type Instance,
  type PostgresDatabase,
  postgresDatabase,
  request,
  signIn,
  startInstance,
} from "./support/instances.ts";

const url = process.env["DATABASE_URL"];

/** Permission changes apply instantly: a change reaches every instance within 500 ms. */
const BOUND_MS = 500;
const TRIALS = 200;
const POLL_MS = 10;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/**
 * Three server processes on one PostgreSQL schema: A takes the writes; B follows it through
 * LISTEN/NOTIFY; C has notifications off (every notice lost) and follows by polling alone.
 */
describe.skipIf(url === undefined)("a revoke across server processes", () => {
  let database: PostgresDatabase;
  const running: Instance[] = [];
  let a: Instance;
  let b: Instance;
  let c: Instance;
  let ws: string;
  let owner: Awaited<ReturnType<typeof signIn>>;
  let carol: string;
  let key: Readonly<Record<string, string>>;

  beforeAll(async () => {
    database = await postgresDatabase(url!, "t_prop");
    a = await startInstance({ env: database.env });
    running.push(a);
    [b, c] = await Promise.all([
      startInstance({ env: database.env }),
      startInstance({ env: { ...database.env, CHANGE_NOTIFICATIONS: "off" } }),
    ]);
    running.push(b, c);
    const password = "correct horse battery staple";
    for (const name of ["olivia", "carol"])
      await createAccount(database.env, {
        email: `${name}@${database.schema}.test`,
        password,
        name,
      });
    owner = await signIn(a.url, `olivia@${database.schema}.test`, password);
    const carolSession = await signIn(a.url, `carol@${database.schema}.test`, password);
    carol = carolSession.userId;
    ({ id: ws } = (await expectStatus(201, a.url, "POST", "/v1/workspaces", {
      headers: owner.headers,
      body: { name: "Propagation", preset: "mzpanel" },
    })) as { id: string });
    for (const [type, id, parent] of [
      ["server", "s1", `workspace:${ws}`],
      ["site", "a", "server:s1"],
    ])
      await expectStatus(200, a.url, "PUT", `/v1/workspaces/${ws}/resources/${type}/${id}`, {
        headers: owner.headers,
        body: { parent },
      });
    // Carol is a member without a grant: each trial grants, then revokes, her role on site:a.
    // She joins by accepting an invitation: nobody is put into a workspace without consent.
    const { invitation } = (await expectStatus(
      201,
      a.url,
      "POST",
      `/v1/workspaces/${ws}/invitations`,
      {
        headers: owner.headers,
        body: { email: `carol@${database.schema}.test`, role: "customer", scopes: ["site:a"] },
      },
    )) as { invitation: { id: string } };
    const { link } = (await expectStatus(
      200,
      a.url,
      "POST",
      `/v1/workspaces/${ws}/invitations/${invitation.id}/link`,
      { headers: owner.headers },
    )) as { link: string };
    await expectStatus(200, a.url, "POST", "/v1/invitations/accept", {
      headers: carolSession.headers,
      body: { token: link.slice(link.indexOf("#") + 1) },
    });
    await expectStatus(200, a.url, "DELETE", `/v1/workspaces/${ws}/grants`, {
      headers: owner.headers,
      body: { subject: `user:${carol}`, scope: "site:a" },
    });
    ({ authorization: key } = await createApiKey(a.url, owner, ws, {
      name: "panel",
      scopes: ["*"],
    }));
  }, 180_000);

  afterAll(async () => {
    await Promise.all(running.map((instance) => instance.stop()));
    await database?.drop();
  });

  /** Carol's site.deploy on site:a, as instance `at` answers it; with the time it was asked. */
  async function deploys(at: Instance, atLeastRevision?: number) {
    const sentAt = performance.now();
    const answer = await request(at.url, "POST", `/v1/workspaces/${ws}/check`, {
      headers: key,
      body: {
        subject: `user:${carol}`,
        permission: "site.deploy",
        resource: "site:a",
        ...(atLeastRevision === undefined ? {} : { atLeastRevision }),
      },
    });
    if (answer.status !== 200) throw new Error(`check answered ${answer.status}`);
    return {
      sentAt,
      answeredAt: performance.now(),
      allowed: (answer.body as { allowed: boolean }).allowed,
    };
  }

  /** Polls `at` every 10 ms until it answers `allowed`; every answer seen on the way is kept. */
  async function pollUntil(at: Instance, allowed: boolean) {
    const seen: Awaited<ReturnType<typeof deploys>>[] = [];
    const started = performance.now();
    for (;;) {
      const answer = await deploys(at);
      seen.push(answer);
      if (answer.allowed === allowed) return seen;
      if (performance.now() - started > 10_000)
        throw new Error(`${at.url} never answered ${allowed}`);
      await sleep(Math.max(0, POLL_MS - (performance.now() - answer.sentAt)));
    }
  }

  it(`never shows an allow 500 ms after the commit, over ${TRIALS} trials, notified or not`, async () => {
    const delays = { notified: [] as number[], polling: [] as number[] };
    const late: string[] = [];
    for (let trial = 0; trial < TRIALS; trial++) {
      const granted = (await expectStatus(201, a.url, "POST", `/v1/workspaces/${ws}/grants`, {
        headers: owner.headers,
        body: { subject: `user:${carol}`, role: "customer", scope: "site:a" },
      })) as { revision: number };
      await Promise.all([pollUntil(b, true), pollUntil(c, true)]);

      const revokeSent = performance.now();
      const revoked = (await expectStatus(200, a.url, "DELETE", `/v1/workspaces/${ws}/grants`, {
        headers: owner.headers,
        body: { subject: `user:${carol}`, scope: "site:a" },
      })) as { revision: number };
      const committed = performance.now(); // the commit happened between revokeSent and now
      expect(revoked.revision).toBe(granted.revision + 1);
      // The instance that wrote answers from the new revision at once.
      expect((await deploys(a)).allowed).toBe(false);
      const [onB, onC] = await Promise.all([pollUntil(b, false), pollUntil(c, false)]);
      for (const [name, seen, into] of [
        ["B", onB, delays.notified],
        ["C", onC, delays.polling],
      ] as const) {
        const first = seen.at(-1)!;
        into.push(Math.max(0, first.answeredAt - committed));
        for (const answer of seen)
          if (answer.allowed && answer.sentAt > revokeSent + BOUND_MS)
            late.push(
              `${name} trial ${trial}: allowed ${Math.round(answer.sentAt - revokeSent)} ms after the revoke`,
            );
      }
      // A check no staler than a write's revision answers it at once, even on C (no notices).
      if (trial % 20 === 0) {
        const regranted = (await expectStatus(201, a.url, "POST", `/v1/workspaces/${ws}/grants`, {
          headers: owner.headers,
          body: { subject: `user:${carol}`, role: "customer", scope: "site:a" },
        })) as { revision: number };
        expect((await deploys(c, regranted.revision)).allowed).toBe(true);
        const again = (await expectStatus(200, a.url, "DELETE", `/v1/workspaces/${ws}/grants`, {
          headers: owner.headers,
          body: { subject: `user:${carol}`, scope: "site:a" },
        })) as { revision: number };
        expect((await deploys(c, again.revision)).allowed).toBe(false);
      }
    }
    const report = (name: string, values: number[]) => {
      const sorted = [...values].sort((x, y) => x - y);
      return `${name}: p50 ${percentile(sorted, 50).toFixed(1)} ms, p90 ${percentile(sorted, 90).toFixed(1)} ms, p99 ${percentile(sorted, 99).toFixed(1)} ms, max ${sorted.at(-1)!.toFixed(1)} ms`;
    };
    console.info(
      `propagation of a revoke over ${TRIALS} trials, polled every ${POLL_MS} ms:\n  ` +
        `${report("B (LISTEN/NOTIFY)", delays.notified)}\n  ${report("C (notifications off)", delays.polling)}`,
    );
    expect(late).toEqual([]);
    expect(delays.notified).toHaveLength(TRIALS);
    expect(delays.polling).toHaveLength(TRIALS);
  }, 600_000);
});
