import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { asUser, systemActor } from "../src/actor.ts";
import type { Gatehouse } from "../src/gatehouse.ts";
import {
  backends,
  codeOf,
  openPeerServices,
  openService,
  postgresBackend,
  signUpPerson,
} from "./backends.ts";

const MINUTE_MS = 60_000;

/** A hosting-customer workspace of Olivia's: customer c1 with hostings c1-web and c1-shop. */
async function agency(gatehouse: Gatehouse) {
  const olivia = await signUpPerson(gatehouse, "olivia");
  const ws = await gatehouse.workspaces.create(asUser(olivia.id), {
    name: "Agency",
    preset: "hosting-customer",
  });
  const host = systemActor();
  for (const [resource, parent] of [
    ["customer:c1", `workspace:${ws.id}`],
    ["hosting:c1-web", "customer:c1"],
    ["hosting:c1-shop", "customer:c1"],
  ] as const) {
    await gatehouse.resources.upsert(host, ws.id, { resource, parent });
  }
  const carla = await signUpPerson(gatehouse, "carla");
  await gatehouse.members.add(host, ws.id, {
    userId: carla.id,
    grants: [{ role: "customer_admin", scope: "customer:c1" }],
  });
  // The host's support person, provisioned by the host, no member of the workspace.
  const { user: sam } = await gatehouse.hostUsers.put(host, "support-7", {
    email: "sam@host.example",
    name: "Sam from Support",
  });
  return { ws, olivia, carla, sam, host };
}

describe.each(backends)("support access on $name", (backend) => {
  let gatehouse: Gatehouse;
  let clock: { now: number };

  beforeEach(async () => {
    ({ gatehouse, clock } = await openService(backend));
  });
  afterEach(async () => {
    await gatehouse.close();
  });

  async function allowed(userId: string, ws: string, permission: string, resource: string) {
    try {
      return (await gatehouse.decisions.check(asUser(userId), ws, { permission, resource }))
        .allowed;
    } catch (error) {
      return (error as { code?: string }).code ?? "error";
    }
  }

  it("the host asks, the owner approves narrower, support acts, the customer sees it, and it ends on time", async () => {
    const { ws, olivia, carla, sam, host } = await agency(gatehouse);
    const { request } = await gatehouse.accessRequests.createSupport(host, ws.id, {
      userId: sam.id,
      role: "customer_admin",
      scope: "customer:c1",
      reason: "Ticket 4711: the shop's checkout fails",
      durationMinutes: 120,
    });
    expect(request).toMatchObject({
      userId: sam.id,
      email: "sam@host.example",
      status: "pending",
      requestedBy: "system:host-app",
    });
    // Asking gives nothing: Sam is nobody here yet.
    expect(await allowed(sam.id, ws.id, "hosting.mail.accounts.manage", "hosting:c1-shop")).toBe(
      "WORKSPACE_NOT_FOUND",
    );
    // The customer's administrators see it and are the ones notified.
    expect(
      (await gatehouse.accessRequests.list(asUser(olivia.id), ws.id)).map((item) => item.id),
    ).toEqual([request.id]);
    expect(
      (await gatehouse.accessRequests.approversOf(host, ws.id, request.id)).map(
        (approver) => approver.email,
      ),
    ).toEqual(["carla@example.com", "olivia@example.com"]);

    clock.now += 1000;
    const approvedAt = clock.now;
    const approved = await gatehouse.accessRequests.approve(asUser(olivia.id), ws.id, request.id, {
      role: "hosting_admin",
      scope: "hosting:c1-shop",
      durationMinutes: 60,
    });
    expect(approved.request).toMatchObject({
      status: "approved",
      granted: {
        role: "hosting_admin",
        scope: "hosting:c1-shop",
        expiresAt: approvedAt + 60 * MINUTE_MS,
      },
    });
    // Sam may act on the shop, only there.
    expect(await allowed(sam.id, ws.id, "hosting.mail.accounts.manage", "hosting:c1-shop")).toBe(
      true,
    );
    expect(await allowed(sam.id, ws.id, "hosting.mail.accounts.manage", "hosting:c1-web")).toBe(
      false,
    );
    // The explanation names the support grant: who asked, who approved, until when.
    const explanation = await gatehouse.decisions.explain(asUser(sam.id), ws.id, {
      permission: "hosting.mail.accounts.manage",
      resource: "hosting:c1-shop",
    });
    expect(explanation.considered.find((entry) => entry.accessRequest)?.accessRequest).toEqual({
      requestId: request.id,
      requestedBy: "system:host-app",
      approvedBy: `user:${olivia.id}`,
      approver: { email: "olivia@example.com", name: "olivia" },
      approvedAt,
      reason: "Ticket 4711: the shop's checkout fails",
      support: true,
    });
    expect(explanation.summary).toContain("support access asked by system:host-app");
    expect(explanation.summary).toContain(`approved by user:${olivia.id} until`);
    expect(explanation.summary).toContain(new Date(approvedAt + 60 * MINUTE_MS).toISOString());
    // The Permissions card shows the support grant to Carla too.
    const card = await gatehouse.decisions.permissionsAt(asUser(carla.id), ws.id, {
      resource: "hosting:c1-shop",
    });
    expect(
      card.items
        .find((item) => item.subject === `user:${sam.id}`)
        ?.via.map((path) => path.accessRequest?.support),
    ).toEqual([true]);

    // Sam's attempts are the workspace's: the customer sees them in their own activity log.
    expect(
      await codeOf(
        gatehouse.resources.upsert(asUser(sam.id), ws.id, {
          resource: "mailbox:info",
          parent: "hosting:c1-shop",
        }),
      ),
    ).toBe("PERMISSION_DENIED");
    const log = await gatehouse.activityLog.list(asUser(olivia.id), ws.id, {
      actor: sam.id,
    });
    expect(log.entries.map((entry) => [entry.action, entry.target, entry.result])).toEqual([
      ["resource.create", "mailbox:info", "denied"],
    ]);
    const support = await gatehouse.activityLog.list(asUser(olivia.id), ws.id, {
      action: "support_access.*",
    });
    expect(support.entries.map((entry) => [entry.action, entry.target, entry.result])).toEqual([
      ["support_access.approve", "customer:c1", "success"],
      ["support_access.request", "customer:c1", "success"],
    ]);

    // A support person takes no seat, and is a member only until the grant ends.
    clock.now = approvedAt + 60 * MINUTE_MS - 1;
    expect(await allowed(sam.id, ws.id, "hosting.mail.accounts.manage", "hosting:c1-shop")).toBe(
      true,
    );
    // A guest for a while: no API key (it would outlive the session), never the owner.
    expect(
      await codeOf(
        gatehouse.apiKeys.create(asUser(sam.id), ws.id, {
          name: "support",
          scopes: ["hosting.mail.*"],
        }),
      ),
    ).toBe("PERMISSION_DENIED");
    expect(
      await codeOf(gatehouse.workspaces.transferOwnership(asUser(olivia.id), ws.id, sam.id)),
    ).toBe("MEMBER_NOT_FOUND");
    const team = await gatehouse.members.list(asUser(olivia.id), ws.id);
    expect(team.find((member) => member.userId === sam.id)?.supportUntil).toBe(
      approvedAt + 60 * MINUTE_MS,
    );
    expect(team.find((member) => member.userId === carla.id)).not.toHaveProperty("supportUntil");
    clock.now = approvedAt + 60 * MINUTE_MS;
    expect(await allowed(sam.id, ws.id, "hosting.mail.accounts.manage", "hosting:c1-shop")).toBe(
      "WORKSPACE_NOT_FOUND",
    );
    // The team no longer lists him.
    expect(
      (await gatehouse.members.list(asUser(olivia.id), ws.id)).map((member) => member.userId),
    ).not.toContain(sam.id);
    expect(
      await codeOf(gatehouse.accessRequests.revoke(asUser(olivia.id), ws.id, request.id)),
    ).toBe("ACCESS_REQUEST_DECIDED");
  });

  it("the customer revokes: the grant and the membership end now", async () => {
    const { ws, olivia, carla, sam, host } = await agency(gatehouse);
    const { request } = await gatehouse.accessRequests.createSupport(host, ws.id, {
      userId: sam.id,
      role: "hosting_admin",
      scope: "hosting:c1-web",
      reason: "Ticket 12",
      durationMinutes: 600,
    });
    await gatehouse.accessRequests.approve(asUser(carla.id), ws.id, request.id);
    expect(await allowed(sam.id, ws.id, "hosting.mail.accounts.manage", "hosting:c1-web")).toBe(
      true,
    );
    expect(
      (await gatehouse.members.list(asUser(olivia.id), ws.id)).map((member) => member.userId),
    ).toContain(sam.id);
    // A member who may not give that role there does not see it, as for an unknown request.
    const bob = await signUpPerson(gatehouse, "bob");
    await gatehouse.members.add(host, ws.id, {
      userId: bob.id,
      grants: [{ role: "customer_domain", scope: "customer:c1" }],
    });
    expect(await codeOf(gatehouse.accessRequests.revoke(asUser(bob.id), ws.id, request.id))).toBe(
      "ACCESS_REQUEST_NOT_FOUND",
    );
    clock.now += 5 * MINUTE_MS;
    const revoked = await gatehouse.accessRequests.revoke(asUser(olivia.id), ws.id, request.id);
    expect(revoked.request).toMatchObject({
      status: "revoked",
      granted: { expiresAt: clock.now },
    });
    expect(await allowed(sam.id, ws.id, "hosting.mail.accounts.manage", "hosting:c1-web")).toBe(
      "WORKSPACE_NOT_FOUND",
    );
    expect(
      (await gatehouse.members.list(asUser(olivia.id), ws.id)).map((member) => member.userId),
    ).not.toContain(sam.id);
    expect(
      await codeOf(gatehouse.accessRequests.revoke(asUser(olivia.id), ws.id, request.id)),
    ).toBe("ACCESS_REQUEST_DECIDED");
    const log = await gatehouse.activityLog.list(asUser(olivia.id), ws.id, {
      action: "support_access.revoke",
    });
    expect(log.entries.map((entry) => [entry.actor.id, entry.result])).toEqual([
      [olivia.id, "success"],
    ]);
    // Asked again later, it may be approved again.
    const again = await gatehouse.accessRequests.createSupport(host, ws.id, {
      userId: sam.id,
      role: "hosting_admin",
      scope: "hosting:c1-web",
      reason: "Ticket 12, again",
      durationMinutes: 30,
    });
    await gatehouse.accessRequests.approve(asUser(olivia.id), ws.id, again.request.id);
    expect(await allowed(sam.id, ws.id, "hosting.mail.accounts.manage", "hosting:c1-web")).toBe(
      true,
    );
  });

  it("only the host asks for support access; unknown users are refused", async () => {
    const { ws, olivia, carla, sam, host } = await agency(gatehouse);
    const input = {
      userId: sam.id,
      role: "hosting_admin",
      scope: "hosting:c1-web",
      reason: "Ticket 1",
      durationMinutes: 30,
    };
    for (const caller of [asUser(olivia.id), asUser(carla.id), asUser(sam.id)]) {
      expect(await codeOf(gatehouse.accessRequests.createSupport(caller, ws.id, input))).toBe(
        "WORKSPACE_NOT_FOUND",
      );
    }
    expect(
      await codeOf(
        gatehouse.accessRequests.createSupport(host, ws.id, { ...input, userId: "nobody" }),
      ),
    ).toBe("USER_NOT_FOUND");
    expect(await gatehouse.accessRequests.list(asUser(olivia.id), ws.id)).toEqual([]);
  });
});

describe.runIf(postgresBackend !== undefined)("support access races on PostgreSQL", () => {
  it("lets one of two approvers win, and an approval never lands after the request lapsed", async () => {
    const clock = { now: Date.UTC(2026, 10, 23, 12, 0, 0) };
    const peers = await openPeerServices(postgresBackend!, 2, clock);
    try {
      const [one, two] = peers.instances as [Gatehouse, Gatehouse];
      const { ws, olivia, carla, sam, host } = await agency(one);
      for (let round = 0; round < 4; round++) {
        const { request } = await one.accessRequests.createSupport(host, ws.id, {
          userId: sam.id,
          role: "hosting_admin",
          scope: "hosting:c1-web",
          reason: `round ${round}`,
          durationMinutes: 10,
        });
        const results = await Promise.allSettled([
          one.accessRequests.approve(asUser(olivia.id), ws.id, request.id, { durationMinutes: 5 }),
          two.accessRequests.approve(asUser(carla.id), ws.id, request.id),
          ...(round % 2 === 1
            ? [two.accessRequests.revoke(asUser(olivia.id), ws.id, request.id)]
            : []),
        ]);
        const approvals = results.slice(0, 2);
        expect(approvals.filter((result) => result.status === "fulfilled")).toHaveLength(1);
        for (const result of approvals) {
          if (result.status === "rejected")
            expect((result.reason as { code: string }).code).toBe("ACCESS_REQUEST_DECIDED");
        }
        const stored = (await two.accessRequests.list(asUser(olivia.id), ws.id))[0]!;
        const grants = (await two.members.list(asUser(olivia.id), ws.id)).find(
          (member) => member.userId === sam.id,
        )?.grants;
        if (stored.status === "approved") {
          expect(grants).toEqual([
            expect.objectContaining({
              role: "hosting_admin",
              expiresAt: stored.granted!.expiresAt,
            }),
          ]);
        } else {
          expect(stored.status).toBe("revoked");
          expect(grants).toBeUndefined();
        }
        // Past the end, before the next round: the membership ended too.
        clock.now += 60 * MINUTE_MS;
        if (stored.status === "approved")
          await two.accessRequests
            .revoke(asUser(olivia.id), ws.id, request.id)
            .catch(() => undefined);
      }
      // Approve vs lapse: a request approved at its last moment, on two instances at once.
      const { request } = await one.accessRequests.createSupport(host, ws.id, {
        userId: sam.id,
        role: "hosting_admin",
        scope: "hosting:c1-web",
        reason: "late",
        durationMinutes: 10,
      });
      clock.now = request.expiresAt;
      const late = await Promise.allSettled([
        one.accessRequests.approve(asUser(olivia.id), ws.id, request.id),
        two.accessRequests.approve(asUser(carla.id), ws.id, request.id),
      ]);
      expect(late.map((result) => result.status)).toEqual(["rejected", "rejected"]);
      expect(
        (await two.members.list(asUser(olivia.id), ws.id)).map((member) => member.userId),
      ).not.toContain(sam.id);
    } finally {
      await peers.close();
    }
  });
});
