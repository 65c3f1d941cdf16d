import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { asUser, systemActor } from "../src/actor.ts";
import type { Gatehouse } from "../src/gatehouse.ts";
import { DAY_MS } from "../src/support/time.ts";
import {
  ACCESS_REQUEST_PENDING_MS,
  ACCESS_REQUESTS_PER_MEMBER_PER_DAY,
} from "../src/team/access-requests.ts";
import {
  backends,
  codeOf,
  openPeerServices,
  openService,
  postgresBackend,
  signUpPerson,
} from "./backends.ts";

const MINUTE_MS = 60_000;

describe.each(backends)("access requests on $name", (backend) => {
  let gatehouse: Gatehouse;
  let clock: { now: number };

  beforeEach(async () => {
    ({ gatehouse, clock } = await openService(backend));
  });
  afterEach(async () => {
    await gatehouse.close();
  });

  const person = (name: string) => signUpPerson(gatehouse, name);

  /**
   * A hosting-customer workspace: customers c1 (hostings c1-web, c1-shop) and c2 (c2-web). Carla
   * administers c1, Dave c2, Hank the c1-shop hosting; Bob manages c1's domains and asks for more.
   */
  async function hosting() {
    const olivia = await person("olivia");
    const ws = await gatehouse.workspaces.create(asUser(olivia.id), {
      name: "Agency",
      preset: "hosting-customer",
    });
    const host = systemActor();
    const root = `workspace:${ws.id}`;
    for (const [resource, parent] of [
      ["customer:c1", root],
      ["customer:c2", root],
      ["hosting:c1-web", "customer:c1"],
      ["hosting:c1-shop", "customer:c1"],
      ["hosting:c2-web", "customer:c2"],
    ] as const) {
      await gatehouse.resources.upsert(host, ws.id, { resource, parent });
    }
    const people: Record<string, string> = {};
    for (const [name, role, scope] of [
      ["carla", "customer_admin", "customer:c1"],
      ["dave", "customer_admin", "customer:c2"],
      ["hank", "hosting_admin", "hosting:c1-shop"],
      ["bob", "customer_domain", "customer:c1"],
    ] as const) {
      const user = await person(name);
      await gatehouse.members.add(host, ws.id, { userId: user.id, grants: [{ role, scope }] });
      people[name] = user.id;
    }
    const as = (name: string) => asUser(name === "olivia" ? olivia.id : people[name]!);
    return { ws, as, id: (name: string) => (name === "olivia" ? olivia.id : people[name]!) };
  }

  async function allowed(
    userId: string,
    workspaceId: string,
    permission: string,
    resource: string,
  ): Promise<boolean> {
    const decision = await gatehouse.decisions.check(asUser(userId), workspaceId, {
      permission,
      resource,
    });
    return decision.allowed;
  }

  it("grants what was asked once approved, for the time asked, and names the request and approver", async () => {
    const { ws, as, id } = await hosting();
    const { request } = await gatehouse.accessRequests.create(as("bob"), ws.id, {
      role: "hosting_admin",
      scope: "hosting:c1-web",
      reason: "  The shop's mail is down  ",
      durationMinutes: 120,
    });
    expect(request).toMatchObject({
      userId: id("bob"),
      email: "bob@example.com",
      role: "hosting_admin",
      scope: "hosting:c1-web",
      reason: "The shop's mail is down",
      durationMinutes: 120,
      status: "pending",
      createdAt: clock.now,
      expiresAt: clock.now + ACCESS_REQUEST_PENDING_MS,
      granted: null,
    });
    // Asking gives nothing.
    expect(await allowed(id("bob"), ws.id, "hosting.mail.accounts.manage", "hosting:c1-web")).toBe(
      false,
    );
    // Those who may give the role there see it; the others do not, and it is not found for them.
    for (const [name, sees] of [
      ["olivia", true],
      ["carla", true],
      ["bob", true],
      ["dave", false],
      ["hank", false],
    ] as const) {
      const listed = await gatehouse.accessRequests.list(as(name), ws.id, { status: "pending" });
      expect([name, listed.map((item) => item.id)]).toEqual([name, sees ? [request.id] : []]);
    }
    expect(await codeOf(gatehouse.accessRequests.approve(as("dave"), ws.id, request.id))).toBe(
      "ACCESS_REQUEST_NOT_FOUND",
    );
    expect(
      (await gatehouse.accessRequests.approversOf(as("bob"), ws.id, request.id)).map(
        (approver) => approver.email,
      ),
    ).toEqual(["carla@example.com", "olivia@example.com"]);
    // Nobody approves their own request.
    expect(await codeOf(gatehouse.accessRequests.approve(as("bob"), ws.id, request.id))).toBe(
      "PERMISSION_DENIED",
    );

    clock.now += 1000;
    const approvedAt = clock.now;
    const approved = await gatehouse.accessRequests.approve(as("carla"), ws.id, request.id);
    expect(approved.request).toMatchObject({
      status: "approved",
      decidedBy: `user:${id("carla")}`,
      decidedAt: approvedAt,
      granted: {
        role: "hosting_admin",
        scope: "hosting:c1-web",
        expiresAt: approvedAt + 120 * MINUTE_MS,
      },
    });
    expect(await allowed(id("bob"), ws.id, "hosting.mail.accounts.manage", "hosting:c1-web")).toBe(
      true,
    );
    const explanation = await gatehouse.decisions.explain(as("bob"), ws.id, {
      permission: "hosting.mail.accounts.manage",
      resource: "hosting:c1-web",
    });
    expect(explanation.considered.find((entry) => entry.accessRequest)?.accessRequest).toEqual({
      requestId: request.id,
      requestedBy: `user:${id("bob")}`,
      approvedBy: `user:${id("carla")}`,
      approver: { email: "carla@example.com", name: "carla" },
      approvedAt,
      reason: "The shop's mail is down",
      support: false,
    });
    expect(explanation.summary).toContain(`access request ${request.id}`);
    // The hosting's Permissions card says so too, for those who manage people there.
    const card = await gatehouse.decisions.permissionsAt(as("carla"), ws.id, {
      resource: "hosting:c1-web",
    });
    const bobs = card.items.find((item) => item.subject === `user:${id("bob")}`);
    expect(
      bobs?.via.map((path) => [path.grant.role, path.place, path.accessRequest?.requestId]),
    ).toEqual([["hosting_admin", "here", request.id]]);
    expect(
      card.items
        .find((item) => item.subject === `user:${id("carla")}`)
        ?.via.map((path) => path.accessRequest),
    ).toEqual([undefined]);
    expect(explanation.summary).toContain(`approved by user:${id("carla")}`);
    // Decided once: a second approval is refused.
    expect(await codeOf(gatehouse.accessRequests.approve(as("olivia"), ws.id, request.id))).toBe(
      "ACCESS_REQUEST_DECIDED",
    );

    // The grant ends on its own, by the clock.
    clock.now = approvedAt + 120 * MINUTE_MS - 1;
    expect(await allowed(id("bob"), ws.id, "hosting.mail.accounts.manage", "hosting:c1-web")).toBe(
      true,
    );
    clock.now = approvedAt + 120 * MINUTE_MS;
    expect(await allowed(id("bob"), ws.id, "hosting.mail.accounts.manage", "hosting:c1-web")).toBe(
      false,
    );

    const log = await gatehouse.activityLog.list(as("olivia"), ws.id, {
      action: "access_request.*",
    });
    expect(log.entries.map((entry) => [entry.action, entry.target, entry.result])).toEqual([
      ["access_request.approve", "hosting:c1-web", "success"],
      ["access_request.approve", "hosting:c1-web", "denied"],
      ["access_request.create", "hosting:c1-web", "success"],
    ]);
    // Once ended, the same may be asked and given again.
    const again = await gatehouse.accessRequests.create(as("bob"), ws.id, {
      role: "hosting_admin",
      scope: "hosting:c1-web",
      reason: "Still down",
      durationMinutes: 30,
    });
    await gatehouse.accessRequests.approve(as("olivia"), ws.id, again.request.id);
    expect(await allowed(id("bob"), ws.id, "hosting.mail.accounts.manage", "hosting:c1-web")).toBe(
      true,
    );
  });

  it("lets an approver only narrow the role, the scope and the time", async () => {
    // MZPanel: an admin of the whole workspace asks to operate a server; the owner gives less.
    const olivia = await person("olivia");
    const ann = await person("ann");
    const ws = await gatehouse.workspaces.create(asUser(olivia.id), {
      name: "Panel",
      preset: "mzpanel",
    });
    for (const [resource, parent] of [
      ["server:s1", `workspace:${ws.id}`],
      ["server:s2", `workspace:${ws.id}`],
      ["site:shop", "server:s1"],
      ["site:blog", "server:s2"],
    ] as const) {
      await gatehouse.resources.upsert(systemActor(), ws.id, { resource, parent });
    }
    await gatehouse.members.add(systemActor(), ws.id, {
      userId: ann.id,
      grants: [{ role: "admin", scope: `workspace:${ws.id}` }],
    });
    const { request } = await gatehouse.accessRequests.create(asUser(ann.id), ws.id, {
      role: "operator",
      scope: "server:s1",
      reason: "Kernel update",
      durationMinutes: 240,
    });
    const approve = (input: { role?: string; scope?: string; durationMinutes?: number }) =>
      codeOf(gatehouse.accessRequests.approve(asUser(olivia.id), ws.id, request.id, input));
    // Wider or elsewhere: refused.
    expect(await approve({ durationMinutes: 241 })).toBe("INVALID_INPUT");
    expect(await approve({ role: "admin" })).toBe("INVALID_INPUT");
    expect(await approve({ role: "owner" })).toBe("INVALID_INPUT");
    expect(await approve({ scope: "server:s2" })).toBe("INVALID_INPUT");
    expect(await approve({ role: "customer", scope: "site:blog" })).toBe("INVALID_INPUT");
    expect(await approve({ scope: `workspace:${ws.id}` })).toBe("INVALID_INPUT");
    // A role that cannot be given at that scope is bad input too.
    expect(await approve({ role: "customer" })).toBe("ROLE_NOT_GRANTABLE_AT_SCOPE");
    // Narrower in all three: the customer role on one site for an hour.
    const { request: approved } = await gatehouse.accessRequests.approve(
      asUser(olivia.id),
      ws.id,
      request.id,
      { role: "customer", scope: "site:shop", durationMinutes: 60 },
    );
    expect(approved.granted).toEqual({
      role: "customer",
      scope: "site:shop",
      expiresAt: clock.now + 60 * MINUTE_MS,
    });
    const annGrants = (await gatehouse.members.list(asUser(olivia.id), ws.id)).find(
      (member) => member.userId === ann.id,
    )?.grants;
    expect(annGrants?.map((grant) => [grant.role, grant.scope, grant.expiresAt])).toEqual([
      ["admin", `workspace:${ws.id}`, undefined],
      ["customer", "site:shop", clock.now + 60 * MINUTE_MS],
    ]);
  });

  it("lets a hosting's own admin decide requests there, and only narrow them", async () => {
    const { ws, as, id } = await hosting();
    // A narrower role that is no subset is refused: mail is not within web.
    const web = await gatehouse.accessRequests.create(as("bob"), ws.id, {
      role: "hosting_web",
      scope: "hosting:c1-shop",
      reason: "Theme update",
      durationMinutes: 60,
    });
    expect(
      await codeOf(
        gatehouse.accessRequests.approve(as("hank"), ws.id, web.request.id, {
          role: "hosting_mail",
        }),
      ),
    ).toBe("INVALID_INPUT");
    // The hosting's own admin decides it, not the other customer's.
    expect((await gatehouse.accessRequests.list(as("hank"), ws.id)).map((item) => item.id)).toEqual(
      [web.request.id],
    );
    await gatehouse.accessRequests.approve(as("hank"), ws.id, web.request.id);
    expect(await allowed(id("bob"), ws.id, "hosting.web.manage", "hosting:c1-shop")).toBe(true);
  });

  it("needs the right to give what is approved, and refuses out-of-reach or held scopes", async () => {
    const { ws, as } = await hosting();
    // Dave cannot see customer c1: asking there answers as if it did not exist.
    expect(
      await codeOf(
        gatehouse.accessRequests.create(as("dave"), ws.id, {
          role: "customer_admin",
          scope: "customer:c1",
          reason: "x",
          durationMinutes: 5,
        }),
      ),
    ).toBe("RESOURCE_NOT_FOUND");
    expect(
      await codeOf(
        gatehouse.accessRequests.create(as("bob"), ws.id, {
          role: "customer_admin",
          scope: "customer:nope",
          reason: "x",
          durationMinutes: 5,
        }),
      ),
    ).toBe("RESOURCE_NOT_FOUND");
    // Bob already holds customer_domain on customer c1: asking for it again would change nothing.
    expect(
      await codeOf(
        gatehouse.accessRequests.create(as("bob"), ws.id, {
          role: "customer_domain",
          scope: "customer:c1",
          reason: "x",
          durationMinutes: 5,
        }),
      ),
    ).toBe("ROLE_NOT_ABOVE_STANDING");
    // Hank may give hosting roles on c1-shop only; a request he cannot decide is not his to see.
    const mail = await gatehouse.accessRequests.create(as("bob"), ws.id, {
      role: "hosting_mail",
      scope: "hosting:c1-web",
      reason: "Mailbox for the intern",
      durationMinutes: 60,
    });
    expect(await codeOf(gatehouse.accessRequests.reject(as("hank"), ws.id, mail.request.id))).toBe(
      "ACCESS_REQUEST_NOT_FOUND",
    );
    // Input is checked before anything is stored.
    for (const input of [
      { role: "hosting_mail", scope: "hosting:c1-web", reason: "   ", durationMinutes: 5 },
      { role: "hosting_mail", scope: "hosting:c1-web", reason: "x", durationMinutes: 0 },
      { role: "hosting_mail", scope: "hosting:c1-web", reason: "x", durationMinutes: 1.5 },
      { role: "hosting_mail", scope: "hosting:c1-web", reason: "x", durationMinutes: 31 * 24 * 60 },
    ]) {
      expect(await codeOf(gatehouse.accessRequests.create(as("bob"), ws.id, input))).toBe(
        "INVALID_INPUT",
      );
    }
    expect(
      await codeOf(
        gatehouse.accessRequests.create(systemActor(), ws.id, {
          role: "hosting_mail",
          scope: "hosting:c1-web",
          reason: "x",
          durationMinutes: 5,
        }),
      ),
    ).toBe("INVALID_INPUT");
  });

  it("takes one pending request per role and scope, within per-member and per-workspace limits", async () => {
    const { ws, as } = await hosting();
    const ask = (name: string, scope: string, role = "hosting_stats") =>
      gatehouse.accessRequests.create(as(name), ws.id, {
        role,
        scope,
        reason: "stats",
        durationMinutes: 10,
      });
    const first = await ask("bob", "hosting:c1-web");
    expect(await codeOf(ask("bob", "hosting:c1-web"))).toBe("CONFLICT");
    // Another role at the same place is another request.
    await ask("bob", "hosting:c1-web", "hosting_mail");
    // Withdrawn, it may be asked again; only the requester withdraws, only approvers reject.
    expect(
      await codeOf(gatehouse.accessRequests.withdraw(as("carla"), ws.id, first.request.id)),
    ).toBe("PERMISSION_DENIED");
    expect(await codeOf(gatehouse.accessRequests.reject(as("bob"), ws.id, first.request.id))).toBe(
      "PERMISSION_DENIED",
    );
    const withdrawn = await gatehouse.accessRequests.withdraw(as("bob"), ws.id, first.request.id);
    expect(withdrawn.request.status).toBe("withdrawn");
    const second = await ask("bob", "hosting:c1-web");
    const rejected = await gatehouse.accessRequests.reject(as("carla"), ws.id, second.request.id, {
      reason: "Ask Hank for the numbers",
    });
    expect(rejected.request).toMatchObject({
      status: "rejected",
      rejectionReason: "Ask Hank for the numbers",
    });
    // Three sent so far; the rest of the day's ten, then the limit.
    for (let index = 3; index < ACCESS_REQUESTS_PER_MEMBER_PER_DAY; index++) {
      clock.now += 1000;
      await ask(
        "bob",
        index % 2 === 0 ? "hosting:c1-shop" : "hosting:c1-web",
        ["hosting_admin", "hosting_web", "hosting_mail", "hosting_stats"][index % 4],
      ).then(async ({ request }) =>
        gatehouse.accessRequests.withdraw(as("bob"), ws.id, request.id),
      );
    }
    const error = await ask("bob", "hosting:c1-shop", "hosting_stats").catch((caught) => caught);
    expect(error.code).toBe("ACCESS_REQUEST_RATE_LIMITED");
    expect(error.details.retryAfterMs).toBe(DAY_MS - (clock.now - first.request.createdAt));
    // Others in the workspace are not held back by Bob's limit.
    await ask("carla", "hosting:c1-web", "hosting_stats");
    clock.now = first.request.createdAt + DAY_MS + 1;
    await ask("bob", "hosting:c1-shop", "hosting_stats");
  });

  it("lets an undecided request lapse after seven days", async () => {
    const { ws, as } = await hosting();
    const { request } = await gatehouse.accessRequests.create(as("bob"), ws.id, {
      role: "hosting_web",
      scope: "hosting:c1-web",
      reason: "Deploy",
      durationMinutes: 60,
    });
    const other = await gatehouse.accessRequests.create(as("bob"), ws.id, {
      role: "hosting_mail",
      scope: "hosting:c1-shop",
      reason: "Mailboxes",
      durationMinutes: 60,
    });
    // The last moment before the lapse still approves; at the lapse nothing does.
    clock.now += ACCESS_REQUEST_PENDING_MS - 1;
    await gatehouse.accessRequests.approve(as("carla"), ws.id, other.request.id);
    clock.now += 1;
    expect(await codeOf(gatehouse.accessRequests.approve(as("carla"), ws.id, request.id))).toBe(
      "ACCESS_REQUEST_DECIDED",
    );
    expect(
      (await gatehouse.accessRequests.list(as("carla"), ws.id, { status: "expired" })).map(
        (item) => [item.id, item.status],
      ),
    ).toEqual([[request.id, "expired"]]);
    expect(await gatehouse.accessRequests.list(as("carla"), ws.id, { status: "pending" })).toEqual(
      [],
    );
    // A lapsed request does not block asking again.
    await gatehouse.accessRequests.create(as("bob"), ws.id, {
      role: "hosting_web",
      scope: "hosting:c1-web",
      reason: "Deploy, again",
      durationMinutes: 60,
    });
  });
});

describe.runIf(postgresBackend !== undefined)("access request races on PostgreSQL", () => {
  it("lets exactly one of two approvers (on two instances) win, and approval lose to withdrawal", async () => {
    const clock = { now: Date.UTC(2026, 10, 23, 12, 0, 0) };
    const peers = await openPeerServices(postgresBackend!, 2, clock);
    try {
      const [one, two] = peers.instances as [Gatehouse, Gatehouse];
      const olivia = await signUpPerson(one, "olivia");
      const carla = await signUpPerson(one, "carla");
      const bob = await signUpPerson(one, "bob");
      const ws = await one.workspaces.create(asUser(olivia.id), {
        name: "Agency",
        preset: "hosting-customer",
      });
      await one.resources.upsert(systemActor(), ws.id, {
        resource: "customer:c1",
        parent: `workspace:${ws.id}`,
      });
      await one.resources.upsert(systemActor(), ws.id, {
        resource: "hosting:c1-web",
        parent: "customer:c1",
      });
      for (const [user, role] of [
        [carla.id, "customer_admin"],
        [bob.id, "customer_domain"],
      ] as const) {
        await one.members.add(systemActor(), ws.id, {
          userId: user,
          grants: [{ role, scope: "customer:c1" }],
        });
      }
      for (let round = 0; round < 5; round++) {
        const { request } = await one.accessRequests.create(asUser(bob.id), ws.id, {
          role: "hosting_web",
          scope: "hosting:c1-web",
          reason: `round ${round}`,
          durationMinutes: 10 + round,
        });
        const results = await Promise.allSettled([
          one.accessRequests.approve(asUser(olivia.id), ws.id, request.id, {
            durationMinutes: 5,
          }),
          two.accessRequests.approve(asUser(carla.id), ws.id, request.id),
          ...(round % 2 === 0
            ? [two.accessRequests.withdraw(asUser(bob.id), ws.id, request.id)]
            : []),
        ]);
        const won = results.filter((result) => result.status === "fulfilled");
        expect(won).toHaveLength(1);
        for (const result of results) {
          if (result.status === "rejected")
            expect((result.reason as { code: string }).code).toBe("ACCESS_REQUEST_DECIDED");
        }
        const grants = (await two.members.list(asUser(olivia.id), ws.id))
          .find((member) => member.userId === bob.id)!
          .grants.filter((grant) => grant.scope === "hosting:c1-web");
        const stored = (await two.accessRequests.list(asUser(bob.id), ws.id, { mine: true }))[0]!;
        if (stored.status === "approved") {
          expect(grants).toEqual([
            expect.objectContaining({ role: "hosting_web", expiresAt: stored.granted!.expiresAt }),
          ]);
        } else {
          expect(stored.status).toBe("withdrawn");
          expect(grants).toEqual([]);
        }
        // The grant ends before the next round asks again.
        clock.now += 60 * MINUTE_MS;
      }
    } finally {
      await peers.close();
    }
  });
});
