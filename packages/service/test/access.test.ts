import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { asUser, systemActor } from "../src/actor.ts";
import type { Gatehouse } from "../src/gatehouse.ts";
import { DAY_MS } from "../src/support/time.ts";
import { backends, codeOf, openService, PASSWORD, signUpPerson } from "./backends.ts";

describe.each(backends)("the console's reads on $name", (backend) => {
  let gatehouse: Gatehouse;
  let clock: { now: number };

  beforeEach(async () => {
    ({ gatehouse, clock } = await openService(backend));
  });
  afterEach(async () => {
    await gatehouse.close();
  });

  const person = (name: string) => signUpPerson(gatehouse, name);

  /** Olivia's MZPanel workspace: server s1 with sites a and b, server s2 with site c; Otto operates s1, Cara is customer of a. */
  async function panel() {
    const olivia = await person("olivia");
    const ws = await gatehouse.workspaces.create(asUser(olivia.id), {
      name: "Acme hosting",
      preset: "mzpanel",
    });
    const host = systemActor();
    const root = `workspace:${ws.id}`;
    for (const [resource, parent] of [
      ["server:s1", root],
      ["server:s2", root],
      ["site:a", "server:s1"],
      ["site:b", "server:s1"],
      ["site:c", "server:s2"],
    ] as const) {
      await gatehouse.resources.upsert(host, ws.id, { resource, parent });
    }
    const otto = await person("otto");
    await gatehouse.members.add(systemActor(), ws.id, {
      userId: otto.id,
      grants: [{ role: "operator", scope: "server:s1" }],
    });
    const cara = await person("cara");
    await gatehouse.members.add(systemActor(), ws.id, {
      userId: cara.id,
      grants: [{ role: "customer", scope: "site:a" }],
    });
    return { olivia, otto, cara, ws: ws.id };
  }

  describe("a member's own access", () => {
    it("gives the owner every workflow and every section", async () => {
      const { olivia, ws } = await panel();
      const access = await gatehouse.access.mine(asUser(olivia.id), ws);
      expect(access.isOwner).toBe(true);
      expect(access.workflows).toEqual({
        viewTeam: true,
        managePeople: true,
        viewActivity: true,
        changeSettings: true,
        ownerOnly: true,
        transferOwnership: true,
        // MZPanel's plan is changed with workspace.plan.change, which the owner holds.
        changePlan: true,
        administerBelow: true,
      });
      expect(access.sections).toEqual([
        "servers",
        "sites",
        "team",
        "activity",
        "billing",
        "integrations",
        "settings",
      ]);
      expect(access.viewAs).toBeNull();
    });

    it("gives an operator their servers and sites, and no team, log or settings", async () => {
      const { otto, ws } = await panel();
      const access = await gatehouse.access.mine(asUser(otto.id), ws);
      expect(access.isOwner).toBe(false);
      expect(access.grants.map((grant) => [grant.role, grant.scope])).toEqual([
        ["operator", "server:s1"],
      ]);
      expect(access.workflows).toEqual({
        viewTeam: false,
        managePeople: false,
        viewActivity: false,
        changeSettings: false,
        ownerOnly: false,
        transferOwnership: false,
        changePlan: false,
        administerBelow: false,
      });
      // The server activity permission opens the activity section of the panel, not the workspace log.
      expect(access.sections).toEqual(["servers", "sites", "activity"]);
    });

    it("gives a site customer only the sites section", async () => {
      const { cara, ws } = await panel();
      const access = await gatehouse.access.mine(asUser(cara.id), ws);
      expect(access.sections).toEqual(["sites", "activity"]);
      expect(access.workflows.viewTeam).toBe(false);
    });

    it("lets an admin see the team but not manage people or settings", async () => {
      const { ws } = await panel();
      const ada = await person("ada");
      await gatehouse.members.add(systemActor(), ws, {
        userId: ada.id,
        grants: [{ role: "admin", scope: `workspace:${ws}` }],
      });
      const { workflows } = await gatehouse.access.mine(asUser(ada.id), ws);
      expect(workflows).toMatchObject({
        viewTeam: true,
        managePeople: false,
        viewActivity: true,
        changeSettings: false,
        ownerOnly: false,
      });
    });

    it("keeps a site customer to the workspace's own navigation, as the model says (issue 16)", async () => {
      const { olivia, otto, cara, ws } = await panel();
      const navigation = async (id: string) =>
        (await gatehouse.access.mine(asUser(id), ws)).navigation;
      expect(await navigation(cara.id)).toBe("workspace-only");
      expect(await navigation(otto.id)).toBe("full");
      expect(await navigation(olivia.id)).toBe("full");
      // A role with the full navigation, here through a group, gives it back.
      const { group } = await gatehouse.members.createGroup(asUser(olivia.id), ws, { name: "Ops" });
      await gatehouse.members.grant(asUser(olivia.id), ws, {
        subject: `group:${group.id}`,
        role: "operator",
        scope: "server:s2",
      });
      await gatehouse.members.addToGroup(asUser(olivia.id), ws, group.id, cara.id);
      expect(await navigation(cara.id)).toBe("full");
    });

    it("answers outsiders as if the workspace did not exist", async () => {
      const { ws } = await panel();
      const eve = await person("eve");
      expect(await codeOf(gatehouse.access.mine(asUser(eve.id), ws))).toBe("WORKSPACE_NOT_FOUND");
    });
  });

  describe("the role × permission matrix", () => {
    it("lists every role with its scopes and permissions, the owner holding them all", async () => {
      const { cara, ws } = await panel();
      const matrix = await gatehouse.access.roleMatrix(asUser(cara.id), ws);
      expect(matrix.roles.map((role) => role.name)).toEqual([
        "owner",
        "admin",
        "operator",
        "customer",
      ]);
      const owner = matrix.roles.find((role) => role.name === "owner")!;
      expect(owner.permissions).toHaveLength(matrix.permissions.length);
      const customer = matrix.roles.find((role) => role.name === "customer")!;
      expect(customer.scopes).toEqual(["site"]);
      expect(customer.permissions).toContain("site.deploy");
      expect(customer.permissions).not.toContain("server.view");
      expect(matrix.permissions.find((p) => p.name === "billing.view")).toMatchObject({
        on: ["workspace"],
        ownerOnly: true,
      });
    });
  });

  describe("view as", () => {
    it("decides exactly as the member: the customer's sites only", async () => {
      const { olivia, cara, ws } = await panel();
      const asCara = await gatehouse.access.viewAs(asUser(olivia.id), ws, cara.id);
      const sites = await gatehouse.resources.list(asCara, ws, {
        type: "site",
        permission: "site.view",
      });
      expect(sites.items).toEqual(["site:a"]);
      const servers = await gatehouse.resources.list(asCara, ws, {
        type: "server",
        permission: "server.view",
      });
      expect(servers.items).toEqual([]);
      expect(await codeOf(gatehouse.members.list(asCara, ws))).toBe("PERMISSION_DENIED");
      const access = await gatehouse.access.mine(asCara, ws);
      expect(access).toMatchObject({ userId: cara.id, isOwner: false });
      expect(access.viewAs).toEqual({ viewerId: olivia.id });
    });

    it("never shows the owner's own powers, even when previewing the owner's view of a member", async () => {
      const { olivia, otto, ws } = await panel();
      const asOtto = await gatehouse.access.viewAs(asUser(olivia.id), ws, otto.id);
      expect(await codeOf(gatehouse.activityLog.list(asOtto, ws, {}))).toBe("PERMISSION_DENIED");
      expect(await codeOf(gatehouse.credentials.list(asOtto, ws))).toBe("PERMISSION_DENIED");
      expect((await gatehouse.apiKeys.list(asOtto, ws)).length).toBe(0);
    });

    it("is read-only: every write is refused and nothing changes", async () => {
      const { olivia, otto, cara, ws } = await panel();
      const asOtto = await gatehouse.access.viewAs(asUser(olivia.id), ws, otto.id);
      const before = (await gatehouse.workspaces.get(asUser(olivia.id), ws)).revision;
      expect(await codeOf(gatehouse.workspaces.rename(asOtto, ws, "Mine now"))).toBe(
        "PERMISSION_DENIED",
      );
      expect(await codeOf(gatehouse.members.remove(asOtto, ws, cara.id))).toBe("PERMISSION_DENIED");
      expect(
        await codeOf(gatehouse.apiKeys.create(asOtto, ws, { name: "k", scopes: ["site.view"] })),
      ).toBe("PERMISSION_DENIED");
      expect((await gatehouse.workspaces.get(asUser(olivia.id), ws)).revision).toBe(before);
    });

    it("works only in its own workspace", async () => {
      const { olivia, otto, ws } = await panel();
      const other = await gatehouse.workspaces.create(asUser(otto.id), {
        name: "Otto's own",
        preset: "mzpanel",
      });
      const asOtto = await gatehouse.access.viewAs(asUser(olivia.id), ws, otto.id);
      expect(await codeOf(gatehouse.workspaces.get(asOtto, other.id))).toBe("WORKSPACE_NOT_FOUND");
      expect(await codeOf(gatehouse.access.mine(asOtto, other.id))).toBe("WORKSPACE_NOT_FOUND");
    });

    it("is for the owner only, and of members only; a refused attempt is logged", async () => {
      const { olivia, otto, cara, ws } = await panel();
      const ada = await person("ada");
      await gatehouse.members.add(systemActor(), ws, {
        userId: ada.id,
        grants: [{ role: "admin", scope: `workspace:${ws}` }],
      });
      expect(await codeOf(gatehouse.access.viewAs(asUser(ada.id), ws, cara.id))).toBe(
        "PERMISSION_DENIED",
      );
      expect(await codeOf(gatehouse.access.viewAs(asUser(otto.id), ws, cara.id))).toBe(
        "PERMISSION_DENIED",
      );
      const eve = await person("eve");
      expect(await codeOf(gatehouse.access.viewAs(asUser(olivia.id), ws, eve.id))).toBe(
        "MEMBER_NOT_FOUND",
      );
      const { entries } = await gatehouse.activityLog.list(asUser(olivia.id), ws, {
        action: "view_as",
        result: "denied",
      });
      expect(entries.map((entry) => entry.actor.id).sort()).toEqual([ada.id, otto.id].sort());
    });
  });

  describe("plan and seats", () => {
    it("counts members and pending invitations against the plan's limit", async () => {
      const ada = await person("ada");
      const company = await gatehouse.workspaces.create(asUser(ada.id), {
        name: "Ada GmbH",
        preset: "company",
        plan: "standard",
      });
      await gatehouse.invitations.create(asUser(ada.id), company.id, {
        email: "bob@example.com",
        role: "billing",
      });
      const answer = await gatehouse.workspaces.seats(asUser(ada.id), company.id);
      expect(answer.plan).toBe("standard");
      expect(answer.plans.map((plan) => [plan.name, plan.maxMembers])).toEqual([
        ["standard", 5],
        ["premium", 10],
        ["enterprise", 15],
        ["pci", 25],
      ]);
      expect(answer.seats).toEqual({ members: 1, pending: 1, limit: 5, remaining: 3 });
      // An expired invitation gives its seat back.
      clock.now += 8 * DAY_MS;
      expect((await gatehouse.workspaces.seats(asUser(ada.id), company.id)).seats).toEqual({
        members: 1,
        pending: 0,
        limit: 5,
        remaining: 4,
      });
    });

    it("is part of the team view: members without it are refused", async () => {
      const { cara, ws, olivia } = await panel();
      expect((await gatehouse.workspaces.seats(asUser(olivia.id), ws)).seats.limit).toBeNull();
      expect(await codeOf(gatehouse.workspaces.seats(asUser(cara.id), ws))).toBe(
        "PERMISSION_DENIED",
      );
    });
  });

  describe("invitation links", () => {
    it("previews an invitation for the holder of its link", async () => {
      const { olivia, ws } = await panel();
      const { token } = await gatehouse.invitations.create(asUser(olivia.id), ws, {
        email: "nina@example.com",
        role: "customer",
        scopes: ["site:b"],
      });
      expect(await gatehouse.invitations.preview(token)).toMatchObject({
        workspaceName: "Acme hosting",
        email: "nina@example.com",
        role: "customer",
        roleLabel: "Customer",
        scopes: ["site:b"],
        hasAccount: false,
      });
      expect(await codeOf(gatehouse.invitations.preview("not-a-token"))).toBe(
        "INVITATION_NOT_FOUND",
      );
    });

    it("copies a second link; copying again replaces it, the mailed link keeps working", async () => {
      const { olivia, ws } = await panel();
      const created = await gatehouse.invitations.create(asUser(olivia.id), ws, {
        email: "nina@example.com",
        role: "customer",
        scopes: ["site:b"],
      });
      const first = await gatehouse.invitations.link(asUser(olivia.id), ws, created.invitation.id);
      const second = await gatehouse.invitations.link(asUser(olivia.id), ws, created.invitation.id);
      expect(second.token).not.toBe(first.token);
      expect(await codeOf(gatehouse.invitations.preview(first.token))).toBe("INVITATION_NOT_FOUND");
      expect((await gatehouse.invitations.preview(created.token)).email).toBe("nina@example.com");
      const accepted = await gatehouse.invitations.accept({
        token: second.token,
        newAccount: { password: PASSWORD },
      });
      expect(accepted.workspaceId).toBe(ws);
      // Single use, whichever link was used.
      expect(await codeOf(gatehouse.invitations.preview(created.token))).toBe(
        "INVITATION_ALREADY_USED",
      );
    });

    it("is for those who may withdraw the invitation, and only while it is pending", async () => {
      const { olivia, otto, ws } = await panel();
      const created = await gatehouse.invitations.create(asUser(olivia.id), ws, {
        email: "nina@example.com",
        role: "customer",
        scopes: ["site:c"],
      });
      expect(
        await codeOf(gatehouse.invitations.link(asUser(otto.id), ws, created.invitation.id)),
      ).toBe("PERMISSION_DENIED");
      await gatehouse.invitations.revoke(asUser(olivia.id), ws, created.invitation.id);
      expect(
        await codeOf(gatehouse.invitations.link(asUser(olivia.id), ws, created.invitation.id)),
      ).toBe("INVITATION_REVOKED");
      expect(await codeOf(gatehouse.invitations.preview(created.token))).toBe("INVITATION_REVOKED");
    });
  });
});
