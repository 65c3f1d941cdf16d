import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { asUser, systemActor } from "../src/actor.ts";
import type { Gatehouse } from "../src/gatehouse.ts";
import { backends, codeOf, openService, signUpPerson } from "./backends.ts";

/**
 * A sub-tree admin's people (#15): the pending invitations in their part, invitations and join
 * approvals into teams (membership through a team on the way in), and removing the members whose
 * access lies only in their part.
 */
describe.each(backends)("a sub-tree admin's people on $name", (backend) => {
  let gatehouse: Gatehouse;
  let clock: { now: number };
  const host = systemActor();

  beforeEach(async () => {
    ({ gatehouse, clock } = await openService(backend));
  });
  afterEach(async () => {
    await gatehouse.close();
  });

  const person = (name: string) => signUpPerson(gatehouse, name);

  /**
   * A hosting-customer team: customers c1 and c2 with a hosting each, a Customer Admin of c1, and
   * teams holding a grant in c1, in c2, and nothing.
   */
  async function agency() {
    const olivia = await person("olivia");
    const owner = asUser(olivia.id);
    const ws = (
      await gatehouse.workspaces.create(owner, { name: "Agency", preset: "hosting-customer" })
    ).id;
    for (const customer of ["c1", "c2"]) {
      await gatehouse.resources.upsert(host, ws, {
        resource: `customer:${customer}`,
        parent: `workspace:${ws}`,
      });
      await gatehouse.resources.upsert(host, ws, {
        resource: `hosting:${customer}-web`,
        parent: `customer:${customer}`,
      });
    }
    const cadmin = await person("cadmin");
    await gatehouse.members.add(host, ws, {
      userId: cadmin.id,
      grants: [{ role: "customer_admin", scope: "customer:c1" }],
    });
    const team = async (name: string, scope?: string) => {
      const { group } = await gatehouse.members.createGroup(owner, ws, { name });
      if (scope !== undefined)
        await gatehouse.members.grant(owner, ws, {
          subject: `group:${group.id}`,
          role: "hosting_web",
          scope,
        });
      return group.id;
    };
    const mine = await team("C1 web", "hosting:c1-web");
    const theirs = await team("C2 web", "hosting:c2-web");
    const empty = await team("Nothing yet");
    return { owner, ws, as: asUser(cadmin.id), mine, theirs, empty };
  }

  it("shows a Customer Admin the pending invitations in their customer, and lets them withdraw them", async () => {
    const { owner, ws, as } = await agency();
    const inC1 = (
      await gatehouse.invitations.create(as, ws, {
        email: "web@example.com",
        role: "hosting_web",
        scopes: ["hosting:c1-web"],
      })
    ).invitation;
    clock.now += 1000;
    const byOwnerInC1 = (
      await gatehouse.invitations.create(owner, ws, {
        email: "mail@example.com",
        role: "hosting_mail",
        scopes: ["hosting:c1-web"],
      })
    ).invitation;
    clock.now += 1000;
    const inC2 = (
      await gatehouse.invitations.create(owner, ws, {
        email: "other@example.com",
        role: "hosting_web",
        scopes: ["hosting:c2-web"],
      })
    ).invitation;
    clock.now += 1000;
    const both = (
      await gatehouse.invitations.create(owner, ws, {
        email: "both@example.com",
        role: "hosting_web",
        scopes: ["hosting:c1-web", "hosting:c2-web"],
      })
    ).invitation;
    const ids = async (query: { resource?: string } = {}) =>
      (await gatehouse.invitations.list(as, ws, { status: "pending", ...query })).map(
        (invitation) => invitation.id,
      );
    // Their part, whoever sent it; nothing that also gives access beside it.
    expect(await ids()).toEqual([byOwnerInC1.id, inC1.id]);
    expect(await ids({ resource: "hosting:c1-web" })).toEqual([byOwnerInC1.id, inC1.id]);
    expect(await codeOf(ids({ resource: "customer:c2" }))).toBe("RESOURCE_NOT_FOUND");
    expect(await codeOf(ids({ resource: "customer:nothing" }))).toBe("RESOURCE_NOT_FOUND");
    // The owner sees all, and the card's filter keeps those touching the resource.
    const all = await gatehouse.invitations.list(owner, ws, { status: "pending" });
    expect(all.map((invitation) => invitation.id)).toEqual([
      both.id,
      inC2.id,
      byOwnerInC1.id,
      inC1.id,
    ]);
    const atC2 = await gatehouse.invitations.list(owner, ws, { resource: "customer:c2" });
    expect(atC2.map((invitation) => invitation.id)).toEqual([both.id, inC2.id]);
    // Paging through the part reads on until a page is full.
    const first = await gatehouse.invitations.listPage(as, ws, { limit: 1 });
    expect(first.invitations.map((invitation) => invitation.id)).toEqual([byOwnerInC1.id]);
    const second = await gatehouse.invitations.listPage(as, ws, {
      limit: 1,
      after: first.next ?? "",
    });
    expect(second.invitations.map((invitation) => invitation.id)).toEqual([inC1.id]);
    // Withdrawing theirs; not one giving access beside their part.
    await gatehouse.invitations.revoke(as, ws, byOwnerInC1.id);
    expect(await ids()).toEqual([inC1.id]);
    expect(await codeOf(gatehouse.invitations.revoke(as, ws, both.id))).toBe("PERMISSION_DENIED");
    // A member administering nothing still meets the team gate.
    const plain = await person("plain");
    await gatehouse.members.add(host, ws, {
      userId: plain.id,
      grants: [{ role: "hosting_web", scope: "hosting:c1-web" }],
    });
    expect(await codeOf(gatehouse.invitations.list(asUser(plain.id), ws))).toBe(
      "PERMISSION_DENIED",
    );
  });

  it("invites into a team the inviter manages; accepting joins it in the same transaction", async () => {
    const { owner, ws, as, mine, theirs, empty } = await agency();
    expect(
      await codeOf(
        gatehouse.invitations.create(as, ws, { email: "x@example.com", groups: [theirs] }),
      ),
    ).toBe("PERMISSION_DENIED");
    expect(
      await codeOf(
        gatehouse.invitations.create(as, ws, { email: "x@example.com", groups: [empty] }),
      ),
    ).toBe("PERMISSION_DENIED");
    expect(
      await codeOf(
        gatehouse.invitations.create(as, ws, { email: "x@example.com", groups: ["grp_nothing"] }),
      ),
    ).toBe("NOT_FOUND");
    expect(
      await codeOf(
        gatehouse.invitations.create(as, ws, {
          email: "x@example.com",
          groups: [mine],
          scopes: ["hosting:c1-web"],
        }),
      ),
    ).toBe("INVALID_INPUT");
    const { invitation, token } = await gatehouse.invitations.create(as, ws, {
      email: "wendy@example.com",
      groups: [mine],
    });
    expect(invitation).toMatchObject({
      role: null,
      scopes: [],
      groups: [{ id: mine, name: "C1 web" }],
    });
    expect(await gatehouse.invitations.preview(token)).toMatchObject({
      role: null,
      teams: ["C1 web"],
    });
    // In the Customer Admin's part through the team: listed, at the team's resource too.
    expect(
      (await gatehouse.invitations.list(as, ws, { resource: "hosting:c1-web" })).map(
        (item) => item.id,
      ),
    ).toEqual([invitation.id]);
    const { user } = await gatehouse.invitations.accept({
      token,
      newAccount: { password: "correct horse battery staple" },
    });
    const wendy = (await gatehouse.members.list(owner, ws)).find(
      (member) => member.userId === user.id,
    );
    expect(wendy).toMatchObject({ grants: [], groups: [mine] });
    expect(
      (
        await gatehouse.decisions.check(asUser(user.id), ws, {
          permission: "hosting.web.manage",
          resource: "hosting:c1-web",
        })
      ).allowed,
    ).toBe(true);
    const accepted = await gatehouse.activityLog.list(owner, ws, { action: "invitation.accept" });
    expect(accepted.entries[0]?.details).toMatchObject({ groups: [mine], user: user.id });

    // A role and a team at once, by the owner into the team holding nothing.
    const both = await gatehouse.invitations.create(owner, ws, {
      email: "bob@example.com",
      role: "hosting_mail",
      scopes: ["hosting:c2-web"],
      groups: [empty],
    });
    const bob = await gatehouse.invitations.accept({
      token: both.token,
      newAccount: { password: "correct horse battery staple" },
    });
    const bobListed = (await gatehouse.members.list(owner, ws)).find(
      (member) => member.userId === bob.user.id,
    );
    expect(bobListed?.groups).toEqual([empty]);
    expect(bobListed?.grants.map((grant) => [grant.role, grant.scope])).toEqual([
      ["hosting_mail", "hosting:c2-web"],
    ]);
  });

  it("removes a member whose access lies only in the sub-tree admin's teams, and no one else", async () => {
    const { owner, ws, as, mine, theirs, empty } = await agency();
    const [only, beside, direct, idle] = await Promise.all(
      ["only", "beside", "direct", "idle"].map(person),
    );
    await gatehouse.members.add(host, ws, { userId: only!.id, groups: [mine] });
    await gatehouse.members.add(host, ws, { userId: beside!.id, groups: [mine, theirs] });
    await gatehouse.members.add(host, ws, {
      userId: direct!.id,
      grants: [{ role: "hosting_mail", scope: "hosting:c2-web" }],
      groups: [mine],
    });
    await gatehouse.members.add(host, ws, { userId: idle!.id, groups: [empty] });
    expect(await codeOf(gatehouse.members.remove(as, ws, beside!.id))).toBe("PERMISSION_DENIED");
    expect(await codeOf(gatehouse.members.remove(as, ws, direct!.id))).toBe("PERMISSION_DENIED");
    expect(await codeOf(gatehouse.members.remove(as, ws, idle!.id))).toBe("PERMISSION_DENIED");
    expect(await codeOf(gatehouse.members.remove(as, ws, "usr_nobody"))).toBe("MEMBER_NOT_FOUND");
    await gatehouse.members.remove(as, ws, only!.id);
    const members = (await gatehouse.members.list(owner, ws)).map((member) => member.userId);
    expect(members).not.toContain(only!.id);
    expect(members).toEqual(expect.arrayContaining([beside!.id, direct!.id, idle!.id]));
    const removed = await gatehouse.activityLog.list(owner, ws, { action: "member.remove" });
    expect(removed.entries.find((entry) => entry.result === "success")?.details).toMatchObject({
      grants: [],
      groups: [mine],
    });
    // The workspace's people managers still remove anyone but the owner.
    await gatehouse.members.remove(owner, ws, beside!.id);
  });
});

describe.each(backends)("approving a join request into a team on $name", (backend) => {
  it("puts the person into the team; a team the approver does not manage is refused", async () => {
    const { gatehouse } = await openService(backend);
    try {
      const ada = await signUpPerson(gatehouse, "ada");
      const as = asUser(ada.id);
      const ws = (
        await gatehouse.workspaces.create(as, {
          name: "Ada GmbH",
          preset: "company",
          plan: "standard",
        })
      ).id;
      await gatehouse.workspaces.updateSettings(as, ws, { joinKey: "DE123456789" });
      const { group } = await gatehouse.members.createGroup(as, ws, { name: "Billing" });
      await gatehouse.members.grant(as, ws, {
        subject: `group:${group.id}`,
        role: "billing",
        scope: `workspace:${ws}`,
      });
      const bob = await signUpPerson(gatehouse, "bob");
      const { request } = await gatehouse.joinRequests.create(asUser(bob.id), {
        joinKey: "DE123456789",
      });
      expect(
        await codeOf(gatehouse.joinRequests.approve(as, ws, request.id, { groups: ["grp_x"] })),
      ).toBe("NOT_FOUND");
      expect(
        await codeOf(
          gatehouse.joinRequests.approve(as, ws, request.id, {
            scope: `workspace:${ws}`,
            groups: [group.id],
          }),
        ),
      ).toBe("INVALID_INPUT");
      await gatehouse.joinRequests.approve(as, ws, request.id, { groups: [group.id] });
      const listed = (await gatehouse.members.list(as, ws)).find(
        (member) => member.userId === bob.id,
      );
      expect(listed).toMatchObject({ grants: [], groups: [group.id] });
      expect(
        (
          await gatehouse.decisions.check(asUser(bob.id), ws, {
            permission: "billing.invoices.view",
            resource: `workspace:${ws}`,
          })
        ).allowed,
      ).toBe(true);
      const approved = await gatehouse.activityLog.list(as, ws, {
        action: "join_request.approve",
      });
      expect(approved.entries[0]?.details).toMatchObject({ groups: [group.id], role: null });
    } finally {
      await gatehouse.close();
    }
  });
});
