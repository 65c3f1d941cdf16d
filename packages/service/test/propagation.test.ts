import type { ChangeOp } from "@gatehouse/engine";
import { sql } from "kysely";
import { afterEach, describe, expect, it } from "vitest";
import { asUser, systemActor } from "../src/actor.ts";
import type { Gatehouse } from "../src/gatehouse.ts";
import type { ChangeEvent } from "../src/service-core.ts";
import {
  type Backend,
  backends,
  codeOf,
  openPeerServices,
  postgresBackend,
  signUpPerson,
} from "./backends.ts";

/** Permission changes apply instantly: a change reaches every instance within 500 ms. */
const BOUND_MS = 500;

/** Polls `probe` every 5 ms until it answers true; answers the milliseconds it took. */
async function until(probe: () => Promise<boolean>, limitMs = 5_000): Promise<number> {
  const started = performance.now();
  for (;;) {
    if (await probe()) return performance.now() - started;
    if (performance.now() - started > limitMs) throw new Error(`not within ${limitMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

describe.each(backends)("propagation between instances on $name", (backend: Backend) => {
  let close: (() => Promise<void>) | undefined;
  afterEach(async () => {
    await close?.();
    close = undefined;
  });

  /** Two instances; on the first, an mzpanel workspace where Carol is the customer of site a. */
  async function twoInstances(follow: Parameters<typeof openPeerServices>[4] = []) {
    const clock = { now: Date.UTC(2026, 11, 1) };
    const peers = await openPeerServices(backend, 2, clock, {}, follow);
    close = peers.close;
    const [a, b] = peers.instances as [Gatehouse, Gatehouse];
    const olivia = await signUpPerson(a, "olivia");
    const carol = await signUpPerson(a, "carol");
    const ws = await a.workspaces.create(asUser(olivia.id), { name: "Acme", preset: "mzpanel" });
    await a.resources.upsert(systemActor(), ws.id, {
      resource: "server:s1",
      parent: `workspace:${ws.id}`,
    });
    await a.resources.upsert(systemActor(), ws.id, { resource: "site:a", parent: "server:s1" });
    await a.members.add(systemActor(), ws.id, {
      userId: carol.id,
      grants: [{ role: "customer", scope: "site:a" }],
    });
    const deploys = async (instance: Gatehouse, options = {}) =>
      (
        await instance.decisions.check(
          systemActor(),
          ws.id,
          { permission: "site.deploy", resource: "site:a", subject: `user:${carol.id}` },
          options,
        )
      ).allowed;
    return { a, b, ws, olivia, carol, deploys };
  }

  it("a revoke through one instance is seen by the other within the bound, caught up by revision", async () => {
    const { a, b, ws, olivia, carol, deploys } = await twoInstances();
    expect(await deploys(b)).toBe(true); // b now holds the workspace
    const seen: ChangeEvent[] = [];
    b.onChange((event) => seen.push(event));
    const { revision } = await a.members.revoke(asUser(olivia.id), ws.id, {
      subject: `user:${carol.id}`,
      scope: "site:a",
    });
    const took = await until(async () => !(await deploys(b)));
    expect(took).toBeLessThan(BOUND_MS);
    // b replayed the stored change instead of reloading the workspace.
    const ops: ChangeOp[] = [{ op: "grant.remove", subject: `user:${carol.id}`, scope: "site:a" }];
    expect(seen).toEqual([{ workspaceId: ws.id, revision, ops }]);
  });

  it("without notifications, no instance is ever more than the bound behind", async () => {
    const { a, b, ws, olivia, carol, deploys } = await twoInstances([
      undefined,
      { notifications: false },
    ]);
    expect(b.sync.notifications).toBe(false);
    for (let trial = 0; trial < 5; trial++) {
      expect(await deploys(b)).toBe(true);
      await a.members.revoke(asUser(olivia.id), ws.id, {
        subject: `user:${carol.id}`,
        scope: "site:a",
      });
      expect(await until(async () => !(await deploys(b)))).toBeLessThan(BOUND_MS);
      await a.members.grant(asUser(olivia.id), ws.id, {
        subject: `user:${carol.id}`,
        role: "customer",
        scope: "site:a",
      });
      expect(await until(() => deploys(b))).toBeLessThan(BOUND_MS);
    }
  });

  it("atLeastRevision reads through a stale cache; a revision not reached is bad input", async () => {
    // b polls rarely and trusts its cache long: only atLeastRevision makes it look.
    const { a, b, ws, olivia, carol, deploys } = await twoInstances([
      undefined,
      { notifications: false, pollIntervalMs: 60_000, maxStalenessMs: 120_000 },
    ]);
    expect(await deploys(b)).toBe(true);
    const { revision } = await a.members.revoke(asUser(olivia.id), ws.id, {
      subject: `user:${carol.id}`,
      scope: "site:a",
    });
    expect(await deploys(b)).toBe(true); // stale, as configured
    expect(await deploys(b, { atLeastRevision: revision })).toBe(false);
    expect(await deploys(b)).toBe(false); // and the cache caught up
    expect(await codeOf(deploys(b, { atLeastRevision: revision + 1 }))).toBe("INVALID_INPUT");
    expect(await codeOf(deploys(b, { atLeastRevision: -1 }))).toBe("INVALID_INPUT");
  });

  it("an API key revoked or removed with its owner stops authenticating on the other instance", async () => {
    const { a, b, ws, olivia, carol } = await twoInstances();
    const { key, secret } = await a.apiKeys.create(asUser(carol.id), ws.id, {
      name: "deploy",
      scopes: ["site.*"],
    });
    const { context } = await b.apiKeys.authenticate(secret);
    await b.decisions.check(context, ws.id, { permission: "site.deploy", resource: "site:a" });
    expect((await b.apiKeys.authenticate(secret)).keyId).toBe(key.id);
    await a.apiKeys.revoke(asUser(carol.id), ws.id, key.id);
    const refused = async () =>
      (await codeOf(b.apiKeys.authenticate(secret))) === "INVALID_CREDENTIALS";
    expect(await until(refused)).toBeLessThan(BOUND_MS);

    const second = await a.apiKeys.create(asUser(carol.id), ws.id, {
      name: "again",
      scopes: ["*"],
    });
    const again = await b.apiKeys.authenticate(second.secret);
    await b.decisions.check(again.context, ws.id, {
      permission: "site.deploy",
      resource: "site:a",
    });
    await a.members.remove(asUser(olivia.id), ws.id, carol.id);
    const gone = async () =>
      (await codeOf(b.apiKeys.authenticate(second.secret))) === "INVALID_CREDENTIALS";
    expect(await until(gone)).toBeLessThan(BOUND_MS);
  });

  it("catches up over many revisions in order, and forgets a workspace closed elsewhere", async () => {
    const { a, b, ws, olivia, deploys } = await twoInstances();
    expect(await deploys(b)).toBe(true);
    const revisions: number[] = [];
    b.onChange((event) => revisions.push(event.revision));
    let last = 0;
    for (let index = 0; index < 20; index++) {
      ({ revision: last } = await a.resources.upsert(systemActor(), ws.id, {
        resource: `site:n${index}`,
        parent: "server:s1",
      }));
    }
    await until(async () => revisions.at(-1) === last);
    expect(revisions).toEqual([...revisions].sort((x, y) => x - y));
    expect(new Set(revisions).size).toBe(revisions.length);
    const page = await b.resources.list(systemActor(), ws.id, {
      type: "site",
      permission: "site.view",
    });
    expect(page.items).toContain("site:n19");

    await a.workspaces.close(asUser(olivia.id), ws.id, { confirmName: "Acme" });
    const closed = async () => (await codeOf(deploys(b))) === "WORKSPACE_NOT_FOUND";
    expect(await until(closed)).toBeLessThan(BOUND_MS);
  });
});

describe.runIf(postgresBackend !== undefined)("the PostgreSQL notification listener", () => {
  it("reconnects after its connection is killed, and catches up on what it missed", async () => {
    const clock = { now: Date.UTC(2026, 11, 1) };
    // b polls rarely: what it learns quickly comes from notifications, or the catch-up on reconnect.
    const peers = await openPeerServices(postgresBackend!, 2, clock, {}, [
      undefined,
      { pollIntervalMs: 30_000, maxStalenessMs: 60_000 },
    ]);
    try {
      const [a, b] = peers.instances as [Gatehouse, Gatehouse];
      expect(b.sync.listening).toBe(true);
      const olivia = await signUpPerson(a, "olivia");
      const ws = await a.workspaces.create(asUser(olivia.id), { name: "Acme", preset: "mzpanel" });
      const root = `workspace:${ws.id}`;
      const sites = async () =>
        (
          await b.resources.list(systemActor(), ws.id, {
            type: "server",
            permission: "server.view",
          })
        ).items;
      expect(await sites()).toEqual([]);
      await a.resources.upsert(systemActor(), ws.id, { resource: "server:s1", parent: root });
      await until(async () => (await sites()).length === 1);

      // Kill the listening connections of this schema's channel (a's and b's).
      const { rows: killed } = await sql<{ pid: number }>`
        select pid, pg_terminate_backend(pid) from pg_stat_activity
        where query ilike ${"listen %"} and query like ${"%"} || current_schema() || ${"%"}
          and pid <> pg_backend_pid()`.execute(a.storage.db);
      expect(killed.length).toBeGreaterThan(0);
      await until(async () => !b.sync.listening);
      await a.resources.upsert(systemActor(), ws.id, { resource: "server:s2", parent: root });
      await until(async () => b.sync.listening);
      await until(async () => (await sites()).length === 2);
    } finally {
      await peers.close();
    }
  });
});
