import { isGatehouseError } from "@gatehouse/engine";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { asUser, systemActor } from "../src/actor.ts";
import type { Gatehouse } from "../src/gatehouse.ts";
import { DAY_MS } from "../src/support/time.ts";
import {
  backends,
  codeOf,
  openPeerServices,
  openService,
  PASSWORD,
  postgresBackend,
  signUpPerson,
} from "./backends.ts";

const HOUR_MS = 60 * 60 * 1000;

describe.each(backends)("join requests on $name", (backend) => {
  let gatehouse: Gatehouse;
  let clock: { now: number };

  beforeEach(async () => {
    ({ gatehouse, clock } = await openService(backend));
  });
  afterEach(async () => {
    await gatehouse.close();
  });

  const person = (name: string) => signUpPerson(gatehouse, name);

  /** A `company` workspace whose join key is its tax number. */
  async function company(ownerName = "ada", taxNumber = "DE123456789", plan = "standard") {
    const owner = await person(ownerName);
    const as = asUser(owner.id);
    const ws = await gatehouse.workspaces.create(as, {
      name: `${ownerName} GmbH`,
      preset: "company",
      plan,
    });
    await gatehouse.workspaces.updateSettings(as, ws.id, { joinKey: taxNumber });
    return { owner, ws, root: `workspace:${ws.id}`, as };
  }

  it("lets a user ask to join by key with a note; a manager approves with a role", async () => {
    const { owner, ws, root, as } = await company();
    const bob = await person("bob");
    const { request, revision } = await gatehouse.joinRequests.create(asUser(bob.id), {
      joinKey: " DE123456789 ",
      note: "New in finance, started Monday",
    });
    expect(request).toMatchObject({
      workspaceId: ws.id,
      userId: bob.id,
      email: "bob@example.com",
      note: "New in finance, started Monday",
      status: "pending",
      createdAt: clock.now,
      decidedBy: null,
    });
    expect(revision).toBeGreaterThan(ws.revision);
    // Asking grants nothing.
    expect(
      await gatehouse.decisions.check(as, ws.id, {
        subject: `user:${bob.id}`,
        permission: "billing.invoices.view",
        resource: root,
      }),
    ).toMatchObject({ allowed: false });
    const pending = await gatehouse.joinRequests.list(as, ws.id, { status: "pending" });
    expect(pending.map((item) => [item.email, item.note])).toEqual([
      ["bob@example.com", "New in finance, started Monday"],
    ]);

    clock.now += 1000;
    const approved = await gatehouse.joinRequests.approve(as, ws.id, request.id, {
      role: "billing",
    });
    expect(approved.request).toMatchObject({
      status: "approved",
      decidedAt: clock.now,
      decidedBy: `user:${owner.id}`,
    });
    expect(
      await gatehouse.decisions.check(asUser(bob.id), ws.id, {
        permission: "billing.invoices.view",
        resource: root,
      }),
    ).toMatchObject({ allowed: true });
    const members = await gatehouse.members.list(as, ws.id);
    expect(members.map((member) => [member.name, member.grants.map((g) => g.role)])).toEqual([
      ["ada", ["owner"]],
      ["bob", ["billing"]],
    ]);
    const log = await gatehouse.storage.db
      .selectFrom("audit_log")
      .selectAll()
      .where("workspace_id", "=", ws.id)
      .orderBy("seq")
      .execute();
    expect(log.slice(-2).map((entry) => [entry.action, entry.actor_id])).toEqual([
      ["join_request.create", bob.id],
      ["join_request.approve", owner.id],
    ]);
  });

  it("rejects; the user may then send a new request", async () => {
    const { ws, as } = await company();
    const bob = await person("bob");
    const first = await gatehouse.joinRequests.create(asUser(bob.id), { joinKey: "DE123456789" });
    expect(first.request.note).toBe("");
    expect(
      await codeOf(gatehouse.joinRequests.create(asUser(bob.id), { joinKey: "DE123456789" })),
    ).toBe("CONFLICT");
    const rejected = await gatehouse.joinRequests.reject(as, ws.id, first.request.id);
    expect(rejected.request.status).toBe("rejected");
    expect(
      await gatehouse.decisions.check(as, ws.id, {
        subject: `user:${bob.id}`,
        permission: "company.view",
        resource: `workspace:${ws.id}`,
      }),
    ).toMatchObject({ allowed: false });
    clock.now += 1000;
    const second = await gatehouse.joinRequests.create(asUser(bob.id), {
      joinKey: "DE123456789",
      note: "Please, I really work here",
    });
    expect(second.request.status).toBe("pending");
    expect(
      (await gatehouse.joinRequests.list(as, ws.id)).map((item) => [item.id, item.status]),
    ).toEqual([
      [second.request.id, "pending"],
      [first.request.id, "rejected"],
    ]);
    expect(
      (await gatehouse.joinRequests.list(as, ws.id, { status: "rejected" })).map((r) => r.id),
    ).toEqual([first.request.id]);
  });

  it("allows 3 requests per user in 24 hours across workspaces, then again after 24 hours", async () => {
    const keys = ["DE000000001", "DE000000002", "DE000000003", "DE000000004"];
    for (const [index, key] of keys.entries()) await company(`owner${index}`, key);
    const bob = await person("bob");
    const start = clock.now;
    for (const key of keys.slice(0, 3)) {
      await gatehouse.joinRequests.create(asUser(bob.id), { joinKey: key });
      clock.now += HOUR_MS;
    }
    let limited: unknown;
    try {
      await gatehouse.joinRequests.create(asUser(bob.id), { joinKey: keys[3]! });
    } catch (error) {
      limited = error;
    }
    expect(isGatehouseError(limited, "JOIN_REQUEST_RATE_LIMITED")).toBe(true);
    expect((limited as { details: { retryAfterMs: number } }).details.retryAfterMs).toBe(
      start + DAY_MS - clock.now,
    );
    clock.now = start + DAY_MS - 1;
    expect(await codeOf(gatehouse.joinRequests.create(asUser(bob.id), { joinKey: keys[3]! }))).toBe(
      "JOIN_REQUEST_RATE_LIMITED",
    );
    clock.now = start + DAY_MS;
    const allowed = await gatehouse.joinRequests.create(asUser(bob.id), { joinKey: keys[3]! });
    expect(allowed.request.status).toBe("pending");
  });

  it("counts rejected requests too: reject-and-retry stays within 3 per 24 hours", async () => {
    const { ws, as } = await company();
    const bob = await person("bob");
    for (let round = 0; round < 3; round++) {
      const { request } = await gatehouse.joinRequests.create(asUser(bob.id), {
        joinKey: "DE123456789",
      });
      await gatehouse.joinRequests.reject(as, ws.id, request.id);
      clock.now += 1000;
    }
    expect(
      await codeOf(gatehouse.joinRequests.create(asUser(bob.id), { joinKey: "DE123456789" })),
    ).toBe("JOIN_REQUEST_RATE_LIMITED");
  });

  it("throttles wrong join keys per user and per client address, for 15 minutes (#14 finding 6)", async () => {
    await company();
    const guess = (userId: string, ip: string, joinKey: string) =>
      codeOf(gatehouse.joinRequests.create(asUser(userId, { ip }), { joinKey }));
    // Four people behind one address guess five keys each: the address is held at 20.
    const guessers = [];
    for (const name of ["g1", "g2", "g3", "g4", "g5"]) guessers.push(await person(name));
    for (const [index, guesser] of guessers.slice(0, 4).entries())
      for (let attempt = 0; attempt < 5; attempt += 1)
        expect(await guess(guesser.id, "203.0.113.7", `NL${index}${attempt}`)).toBe(
          "WORKSPACE_NOT_FOUND",
        );
    const fifth = guessers[4]!;
    expect(await guess(fifth.id, "203.0.113.7", "DE123456789")).toBe("RATE_LIMITED");
    // From elsewhere the fifth person is fine; the first is held back wherever they are.
    expect(await guess(guessers[0]!.id, "198.51.100.1", "DE123456789")).toBe("RATE_LIMITED");
    const { request } = await gatehouse.joinRequests.create(
      asUser(fifth.id, { ip: "198.51.100.1" }),
      { joinKey: "DE123456789" },
    );
    expect(request.status).toBe("pending");
    // Once the window has passed, guesses count afresh.
    clock.now += 15 * 60 * 1000;
    const first = await gatehouse.joinRequests.create(
      asUser(guessers[0]!.id, { ip: "203.0.113.7" }),
      { joinKey: "DE123456789" },
    );
    expect(first.request.status).toBe("pending");
  });

  it("answers WORKSPACE_NOT_FOUND for an unknown key and where the model takes none", async () => {
    await company();
    const bob = await person("bob");
    expect(await codeOf(gatehouse.joinRequests.create(asUser(bob.id), { joinKey: "DE999" }))).toBe(
      "WORKSPACE_NOT_FOUND",
    );
    const olivia = await person("olivia");
    const panel = await gatehouse.workspaces.create(asUser(olivia.id), {
      name: "Acme hosting",
      preset: "mzpanel",
    });
    await gatehouse.workspaces.updateSettings(asUser(olivia.id), panel.id, {
      joinKey: "ACME-PANEL",
    });
    expect(
      await codeOf(gatehouse.joinRequests.create(asUser(bob.id), { joinKey: "ACME-PANEL" })),
    ).toBe("WORKSPACE_NOT_FOUND");
    expect(await codeOf(gatehouse.joinRequests.create(asUser(bob.id), { joinKey: "" }))).toBe(
      "INVALID_INPUT",
    );
    expect(
      await codeOf(
        gatehouse.joinRequests.create(asUser(bob.id), {
          joinKey: "DE123456789",
          note: "x".repeat(1001),
        }),
      ),
    ).toBe("INVALID_INPUT");
    expect(
      await codeOf(gatehouse.joinRequests.create(systemActor(), { joinKey: "DE123456789" })),
    ).toBe("PERMISSION_DENIED");
    const note = "y".repeat(1000);
    const { request } = await gatehouse.joinRequests.create(asUser(bob.id), {
      joinKey: "DE123456789",
      note,
    });
    expect(request.note).toBe(note);
  });

  it("refuses a request from a member (ALREADY_MEMBER)", async () => {
    const { owner } = await company();
    expect(
      await codeOf(gatehouse.joinRequests.create(asUser(owner.id), { joinKey: "DE123456789" })),
    ).toBe("ALREADY_MEMBER");
  });

  it("answers JOIN_REQUEST_NOT_FOUND and JOIN_REQUEST_DECIDED", async () => {
    const acme = await company("ada", "DE000000001");
    const globex = await company("gina", "DE000000002");
    const bob = await person("bob");
    const carol = await person("carol");
    const forAcme = await gatehouse.joinRequests.create(asUser(bob.id), {
      joinKey: "DE000000001",
    });
    const forGlobex = await gatehouse.joinRequests.create(asUser(carol.id), {
      joinKey: "DE000000002",
    });
    expect(
      await codeOf(
        gatehouse.joinRequests.approve(acme.as, acme.ws.id, "jrq_nothing", { role: "billing" }),
      ),
    ).toBe("JOIN_REQUEST_NOT_FOUND");
    // Another workspace's request is not found here, whoever asks.
    expect(
      await codeOf(
        gatehouse.joinRequests.approve(acme.as, acme.ws.id, forGlobex.request.id, {
          role: "billing",
        }),
      ),
    ).toBe("JOIN_REQUEST_NOT_FOUND");
    expect(
      await codeOf(gatehouse.joinRequests.reject(acme.as, acme.ws.id, forGlobex.request.id)),
    ).toBe("JOIN_REQUEST_NOT_FOUND");
    await gatehouse.joinRequests.reject(acme.as, acme.ws.id, forAcme.request.id);
    expect(
      await codeOf(
        gatehouse.joinRequests.approve(acme.as, acme.ws.id, forAcme.request.id, {
          role: "billing",
        }),
      ),
    ).toBe("JOIN_REQUEST_DECIDED");
    expect(
      await codeOf(gatehouse.joinRequests.reject(acme.as, acme.ws.id, forAcme.request.id)),
    ).toBe("JOIN_REQUEST_DECIDED");
    await gatehouse.joinRequests.approve(globex.as, globex.ws.id, forGlobex.request.id, {
      role: "technical",
    });
    expect(
      await codeOf(gatehouse.joinRequests.reject(globex.as, globex.ws.id, forGlobex.request.id)),
    ).toBe("JOIN_REQUEST_DECIDED");
  });

  it("approves within the member limit (pending invitations included) and one workspace per email", async () => {
    const acme = await company("ada", "DE000000001");
    const globex = await company("gina", "DE000000002");
    const bob = await person("bob");
    const carol = await person("carol");
    const bobsRequest = await gatehouse.joinRequests.create(asUser(bob.id), {
      joinKey: "DE000000001",
    });
    const carolsRequest = await gatehouse.joinRequests.create(asUser(carol.id), {
      joinKey: "DE000000001",
    });
    await gatehouse.joinRequests.create(asUser(bob.id), { joinKey: "DE000000002" });
    for (const name of ["i1", "i2", "i3"]) {
      await gatehouse.invitations.create(acme.as, acme.ws.id, {
        email: `${name}@example.com`,
        role: "billing",
      });
    }
    // Owner + 3 pending invitations + Bob = 5: Bob fits, Carol does not.
    await gatehouse.joinRequests.approve(acme.as, acme.ws.id, bobsRequest.request.id, {
      role: "billing",
    });
    expect(
      await codeOf(
        gatehouse.joinRequests.approve(acme.as, acme.ws.id, carolsRequest.request.id, {
          role: "billing",
        }),
      ),
    ).toBe("MEMBER_LIMIT_REACHED");
    expect(
      (await gatehouse.joinRequests.list(acme.as, acme.ws.id, { status: "pending" })).map(
        (r) => r.userId,
      ),
    ).toEqual([carol.id]);
    const [bobAtGlobex] = await gatehouse.joinRequests.list(globex.as, globex.ws.id);
    expect(
      await codeOf(
        gatehouse.joinRequests.approve(globex.as, globex.ws.id, bobAtGlobex!.id, {
          role: "billing",
        }),
      ),
    ).toBe("ONE_WORKSPACE_PER_EMAIL");
  });

  it("revokes the user's pending invitation on approval, so it does not hold a second seat", async () => {
    const { ws, as } = await company();
    const bob = await person("bob");
    for (const name of ["i1", "i2", "i3"]) {
      await gatehouse.invitations.create(as, ws.id, {
        email: `${name}@example.com`,
        role: "billing",
      });
    }
    const invited = await gatehouse.invitations.create(as, ws.id, {
      email: "bob@example.com",
      role: "billing",
    });
    const { request } = await gatehouse.joinRequests.create(asUser(bob.id), {
      joinKey: "DE123456789",
    });
    // Owner + 4 pending invitations fill the plan; Bob's own invitation makes room for him.
    await gatehouse.joinRequests.approve(as, ws.id, request.id, { role: "technical" });
    expect(
      await codeOf(gatehouse.invitations.accept({ token: invited.token, userId: bob.id })),
    ).toBe("INVITATION_REVOKED");
    const forBob = await gatehouse.invitations.list(as, ws.id, { status: "revoked" });
    expect(forBob.map((invitation) => invitation.email)).toEqual(["bob@example.com"]);
  });

  it("lets only people managers decide, and only the team gate list", async () => {
    const { ws, root, as } = await company();
    const tess = await person("tess");
    const mia = await person("mia");
    const mallory = await person("mallory");
    await gatehouse.members.add(systemActor(), ws.id, {
      userId: tess.id,
      grants: [{ role: "technical", scope: root }],
    });
    await gatehouse.members.add(systemActor(), ws.id, {
      userId: mia.id,
      grants: [{ role: "manager", scope: root }],
    });
    const bob = await person("bob");
    const { request } = await gatehouse.joinRequests.create(asUser(bob.id), {
      joinKey: "DE123456789",
    });
    expect(await codeOf(gatehouse.joinRequests.list(asUser(tess.id), ws.id))).toBe(
      "PERMISSION_DENIED",
    );
    expect(await codeOf(gatehouse.joinRequests.list(asUser(mallory.id), ws.id))).toBe(
      "WORKSPACE_NOT_FOUND",
    );
    expect(
      await codeOf(
        gatehouse.joinRequests.approve(asUser(tess.id), ws.id, request.id, { role: "technical" }),
      ),
    ).toBe("PERMISSION_DENIED");
    expect(await codeOf(gatehouse.joinRequests.reject(asUser(tess.id), ws.id, request.id))).toBe(
      "PERMISSION_DENIED",
    );
    expect(
      await codeOf(
        gatehouse.joinRequests.approve(asUser(mallory.id), ws.id, request.id, { role: "billing" }),
      ),
    ).toBe("WORKSPACE_NOT_FOUND");
    expect(
      await codeOf(gatehouse.joinRequests.approve(as, ws.id, request.id, { role: "owner" })),
    ).toBe("OWNER_ROLE_NOT_GRANTED");
    expect(
      await codeOf(gatehouse.joinRequests.approve(as, ws.id, request.id, { role: "nope" })),
    ).toBe("UNKNOWN_ROLE");
    // A manager may decide ("they can do everything, including inviting new managers").
    expect((await gatehouse.joinRequests.list(asUser(mia.id), ws.id)).map((r) => r.id)).toEqual([
      request.id,
    ]);
    await gatehouse.joinRequests.approve(asUser(mia.id), ws.id, request.id, { role: "read_only" });
    expect(
      await gatehouse.decisions.check(asUser(bob.id), ws.id, {
        permission: "company.view",
        resource: root,
      }),
    ).toMatchObject({ allowed: true });
  });
});

describe.skipIf(postgresBackend === undefined)("join request races on PostgreSQL", () => {
  const INSTANCES = 5;
  let instances: Gatehouse[] = [];
  let closePeers = async () => {};
  const clock = { now: Date.UTC(2026, 10, 23, 12, 0, 0) };

  beforeEach(async () => {
    ({ instances, close: closePeers } = await openPeerServices(postgresBackend!, INSTANCES, clock));
  });
  afterEach(async () => {
    await closePeers();
    instances = [];
  });

  it("accepts exactly 3 of 10 parallel requests by one user to 10 workspaces", async () => {
    const gatehouse = instances[0]!;
    const keys: string[] = [];
    for (let index = 0; index < 10; index++) {
      const { user } = await gatehouse.users.signUp({
        email: `owner${index}@example.com`,
        password: PASSWORD,
      });
      const ws = await gatehouse.workspaces.create(asUser(user.id), {
        name: `Company ${index}`,
        preset: "company",
      });
      const key = `DE00000000${index}`;
      await gatehouse.workspaces.updateSettings(asUser(user.id), ws.id, { joinKey: key });
      keys.push(key);
    }
    const { user: bob } = await gatehouse.users.signUp({
      email: "bob@example.com",
      password: PASSWORD,
    });
    const results = await Promise.allSettled(
      keys.map((joinKey, index) =>
        instances[index % INSTANCES]!.joinRequests.create(asUser(bob.id), { joinKey }),
      ),
    );
    const codes = results.map((result) =>
      result.status === "fulfilled"
        ? "ok"
        : isGatehouseError(result.reason)
          ? result.reason.code
          : String(result.reason),
    );
    expect(codes.filter((code) => code === "ok")).toHaveLength(3);
    expect(codes.filter((code) => code === "JOIN_REQUEST_RATE_LIMITED")).toHaveLength(7);
    const stored = await gatehouse.storage.db
      .selectFrom("join_requests")
      .selectAll()
      .where("user_id", "=", bob.id)
      .execute();
    expect(stored).toHaveLength(3);
  });
});
