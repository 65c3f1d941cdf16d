import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { asUser, systemActor } from "../src/actor.ts";
import type { Gatehouse } from "../src/gatehouse.ts";
import { backends, codeOf, openService, signUpPerson } from "./backends.ts";

/**
 * Membership through a team alone, sub-tree admins running the teams in their part, and the
 * personal workspace a model keeps to its owner (hosting-customer: "every user has a single
 * personal team, which cannot be shared with other users").
 */
describe.each(backends)("teams and personal workspaces on $name", (backend) => {
  let gatehouse: Gatehouse;
  const host = systemActor();

  beforeEach(async () => {
    ({ gatehouse } = await openService(backend, { personalPreset: "hosting-customer" }));
  });
  afterEach(async () => {
    await gatehouse.close();
  });

  const person = (name: string) => signUpPerson(gatehouse, name);

  /** A (shared, not personal) hosting-customer team: customers c1, c2 with a hosting each. */
  async function agency() {
    const olivia = await person("olivia");
    const ws = await gatehouse.workspaces.create(asUser(olivia.id), {
      name: "Agency",
      preset: "hosting-customer",
    });
    for (const customer of ["c1", "c2"]) {
      await gatehouse.resources.upsert(host, ws.id, {
        resource: `customer:${customer}`,
        parent: `workspace:${ws.id}`,
      });
      await gatehouse.resources.upsert(host, ws.id, {
        resource: `hosting:${customer}-web`,
        parent: `customer:${customer}`,
      });
    }
    const cadmin = await person("cadmin");
    await gatehouse.members.add(host, ws.id, {
      userId: cadmin.id,
      grants: [{ role: "customer_admin", scope: "customer:c1" }],
    });
    return { olivia, ws: ws.id, cadmin };
  }

  it("keeps a hosting-customer personal team to its owner, with a clear code", async () => {
    const { user, personalWorkspace } = await gatehouse.users.signUp({
      email: "pat@example.com",
      password: "correct horse battery staple",
      name: "Pat",
    });
    expect(personalWorkspace).toMatchObject({ preset: "hosting-customer", personal: true });
    const ws = personalWorkspace!.id;
    const friend = await person("friend");
    await gatehouse.resources.upsert(host, ws, {
      resource: "customer:own",
      parent: `workspace:${ws}`,
    });
    expect(
      await codeOf(
        gatehouse.invitations.create(asUser(user.id), ws, {
          email: "friend@example.com",
          role: "customer_admin",
          scopes: ["customer:own"],
        }),
      ),
    ).toBe("PERSONAL_WORKSPACE_NOT_SHAREABLE");
    expect(
      await codeOf(
        gatehouse.members.add(host, ws, {
          userId: friend.id,
          grants: [{ role: "customer_admin", scope: "customer:own" }],
        }),
      ),
    ).toBe("PERSONAL_WORKSPACE_NOT_SHAREABLE");
    // A team the same person creates is shareable.
    const team = await gatehouse.workspaces.create(asUser(user.id), {
      name: "Pat's agency",
      preset: "hosting-customer",
    });
    await gatehouse.resources.upsert(host, team.id, {
      resource: "customer:own",
      parent: `workspace:${team.id}`,
    });
    const { invitation } = await gatehouse.invitations.create(asUser(user.id), team.id, {
      email: "friend@example.com",
      role: "customer_admin",
      scopes: ["customer:own"],
    });
    expect(invitation.email).toBe("friend@example.com");
  });

  it("lets a user belong to a workspace through a team alone, listed once", async () => {
    const { olivia, ws } = await agency();
    const { group } = await gatehouse.members.createGroup(asUser(olivia.id), ws, { name: "Web" });
    await gatehouse.members.grant(asUser(olivia.id), ws, {
      subject: `group:${group.id}`,
      role: "hosting_web",
      scope: "hosting:c1-web",
    });
    const wendy = await person("wendy");
    expect(await codeOf(gatehouse.members.add(host, ws, { userId: wendy.id }))).toBe(
      "INVALID_INPUT",
    );
    await gatehouse.members.add(host, ws, { userId: wendy.id, groups: [group.id] });
    const members = await gatehouse.members.list(asUser(olivia.id), ws);
    const listed = members.filter((member) => member.userId === wendy.id);
    expect(listed).toEqual([expect.objectContaining({ grants: [], groups: [group.id] })]);
    expect(
      (
        await gatehouse.decisions.check(asUser(wendy.id), ws, {
          permission: "hosting.web.manage",
          resource: "hosting:c1-web",
        })
      ).allowed,
    ).toBe(true);
    // Only the host app adds directly; a member's consent path stays the invitation.
    const zed = await person("zed");
    expect(
      await codeOf(
        gatehouse.members.add(asUser(olivia.id), ws, { userId: zed.id, groups: [group.id] }),
      ),
    ).toBe("HOST_CREDENTIAL_REQUIRED");
    expect(
      await codeOf(gatehouse.members.add(host, ws, { userId: zed.id, groups: ["grp_nothing"] })),
    ).toBe("NOT_FOUND");
  });

  it("lets a Customer Admin run the teams in their customer, and no other", async () => {
    const { olivia, ws, cadmin } = await agency();
    const as = asUser(cadmin.id);
    const owner = asUser(olivia.id);
    const mine = (await gatehouse.members.createGroup(owner, ws, { name: "C1 web" })).group;
    const theirs = (await gatehouse.members.createGroup(owner, ws, { name: "C2 web" })).group;
    const empty = (await gatehouse.members.createGroup(owner, ws, { name: "Nothing yet" })).group;
    // The Customer Admin grants to a team inside their customer; not beside it.
    await gatehouse.members.grant(as, ws, {
      subject: `group:${mine.id}`,
      role: "hosting_web",
      scope: "hosting:c1-web",
    });
    expect(
      await codeOf(
        gatehouse.members.grant(as, ws, {
          subject: `group:${theirs.id}`,
          role: "hosting_web",
          scope: "hosting:c2-web",
        }),
      ),
    ).toBe("RESOURCE_NOT_FOUND");
    await gatehouse.members.grant(owner, ws, {
      subject: `group:${theirs.id}`,
      role: "hosting_web",
      scope: "hosting:c2-web",
    });
    const wendy = await person("wendy");
    await gatehouse.members.add(host, ws, {
      userId: wendy.id,
      grants: [{ role: "hosting_mail", scope: "hosting:c2-web" }],
    });
    await gatehouse.members.addToGroup(as, ws, mine.id, wendy.id);
    expect(await codeOf(gatehouse.members.addToGroup(as, ws, theirs.id, wendy.id))).toBe(
      "PERMISSION_DENIED",
    );
    expect(await codeOf(gatehouse.members.addToGroup(as, ws, empty.id, wendy.id))).toBe(
      "PERMISSION_DENIED",
    );
    // The card of their customer shows the team, Wendy through it, and nothing of c2.
    const card = await gatehouse.decisions.permissionsAt(as, ws, { resource: "customer:c1" });
    const subjects = card.items.map((item) => item.subject);
    expect(subjects).toContain(`group:${mine.id}`);
    expect(subjects).not.toContain(`group:${theirs.id}`);
    const wendyOnCard = card.items.find((item) => item.subject === `user:${wendy.id}`)!;
    expect(wendyOnCard.user).toEqual({ email: "wendy@example.com", name: "wendy" });
    expect(wendyOnCard.via).toEqual([
      expect.objectContaining({ throughGroup: `group:${mine.id}`, place: "below" }),
    ]);
    await gatehouse.members.removeFromGroup(as, ws, mine.id, wendy.id);
    expect(
      (await gatehouse.decisions.permissionsAt(as, ws, { resource: "customer:c1" })).items.some(
        (item) => item.subject === `user:${wendy.id}`,
      ),
    ).toBe(false);
    // The workspace-wide team stays with the workspace gate.
    expect(await codeOf(gatehouse.members.list(as, ws))).toBe("PERMISSION_DENIED");
  });
});
