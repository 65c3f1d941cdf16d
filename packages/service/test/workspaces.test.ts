import { isGatehouseError } from "@gatehouse/engine";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { asUser, systemActor } from "../src/actor.ts";
import type { Gatehouse } from "../src/gatehouse.ts";
import { backends, codeOf, openService, PASSWORD, signUpPerson } from "./backends.ts";

describe.each(backends)("workspaces and members on $name", (backend) => {
  let gatehouse: Gatehouse;

  beforeEach(async () => {
    ({ gatehouse } = await openService(backend));
  });
  afterEach(async () => {
    await gatehouse.close();
  });

  const person = (name: string) => signUpPerson(gatehouse, name);

  /** An mzpanel workspace owned by Olivia with one server and two sites. */
  async function panel() {
    const olivia = await person("olivia");
    const ws = await gatehouse.workspaces.create(asUser(olivia.id), {
      name: "Acme hosting",
      preset: "mzpanel",
    });
    const host = systemActor();
    await gatehouse.resources.upsert(host, ws.id, {
      resource: "server:s1",
      parent: `workspace:${ws.id}`,
    });
    await gatehouse.resources.upsert(host, ws.id, { resource: "site:a", parent: "server:s1" });
    await gatehouse.resources.upsert(host, ws.id, { resource: "site:b", parent: "server:s1" });
    return { olivia, ws };
  }

  it("signs a user up with a personal workspace they own, as the personal preset asks", async () => {
    const { user, personalWorkspace } = await gatehouse.users.signUp({
      email: " Ada@Example.com ",
      password: PASSWORD,
    });
    expect(user.email).toBe("ada@example.com");
    expect(personalWorkspace).toMatchObject({ preset: "mzpanel", personal: true });
    const list = await gatehouse.workspaces.listForUser(user.id);
    expect(list.map((ws) => ws.id)).toEqual([personalWorkspace!.id]);
    expect(
      await gatehouse.decisions.check(asUser(user.id), personalWorkspace!.id, {
        permission: "billing.manage",
        resource: `workspace:${personalWorkspace!.id}`,
      }),
    ).toMatchObject({ allowed: true });
  });

  it("refuses a taken email, a weak password and a malformed email", async () => {
    await person("ada");
    expect(
      await codeOf(gatehouse.users.signUp({ email: "ADA@example.com", password: PASSWORD })),
    ).toBe("EMAIL_TAKEN");
    expect(
      await codeOf(gatehouse.users.signUp({ email: "bob@example.com", password: "short" })),
    ).toBe("WEAK_PASSWORD");
    expect(
      await codeOf(gatehouse.users.signUp({ email: "not-an-email", password: PASSWORD })),
    ).toBe("INVALID_INPUT");
  });

  it("authenticates with the right password only", async () => {
    const ada = await person("ada");
    expect(
      (await gatehouse.users.authenticate({ email: "ada@example.com", password: PASSWORD })).id,
    ).toBe(ada.id);
    expect(
      await codeOf(
        gatehouse.users.authenticate({ email: "ada@example.com", password: "wrong password!" }),
      ),
    ).toBe("INVALID_CREDENTIALS");
    expect(
      await codeOf(
        gatehouse.users.authenticate({ email: "nobody@example.com", password: PASSWORD }),
      ),
    ).toBe("INVALID_CREDENTIALS");
  });

  it("creates a workspace with a preset and plan; unknown presets and plans are refused", async () => {
    const ada = await person("ada");
    const ws = await gatehouse.workspaces.create(asUser(ada.id), {
      name: "Acme",
      preset: "company",
      plan: "premium",
    });
    expect(ws).toMatchObject({ preset: "company", plan: "premium", revision: 1 });
    const bob = await person("bob");
    expect(
      await codeOf(gatehouse.workspaces.create(asUser(bob.id), { name: "X", preset: "nope" })),
    ).toBe("UNKNOWN_PRESET");
    expect(
      await codeOf(
        gatehouse.workspaces.create(asUser(bob.id), { name: "X", preset: "company", plan: "gold" }),
      ),
    ).toBe("UNKNOWN_PLAN");
  });

  it("renames only for the owner, bumping the revision, and denies others as non-members", async () => {
    const { olivia, ws } = await panel();
    const mallory = await person("mallory");
    const renamed = await gatehouse.workspaces.rename(asUser(olivia.id), ws.id, "Acme Cloud");
    expect(renamed.workspace.name).toBe("Acme Cloud");
    expect(renamed.revision).toBeGreaterThan(ws.revision);
    expect(await codeOf(gatehouse.workspaces.rename(asUser(mallory.id), ws.id, "Pwned"))).toBe(
      "WORKSPACE_NOT_FOUND",
    );
    expect((await gatehouse.workspaces.get(asUser(olivia.id), ws.id)).name).toBe("Acme Cloud");
  });

  it("updates name, settings and plan in one write, or changes nothing when a part is refused", async () => {
    const owen = await person("owen");
    const company = await gatehouse.workspaces.create(asUser(owen.id), {
      name: "Co",
      preset: "company",
    });
    const manager = await person("mona");
    await gatehouse.members.add(systemActor(), company.id, {
      userId: manager.id,
      grants: [{ role: "manager", scope: `workspace:${company.id}` }],
    });
    const before = await gatehouse.workspaces.get(asUser(owen.id), company.id);
    // A manager holds the settings gate but may not change the plan: neither part applies.
    expect(
      await codeOf(
        gatehouse.workspaces.update(asUser(manager.id), company.id, {
          name: "Co GmbH",
          plan: "pci",
        }),
      ),
    ).toBe("PERMISSION_DENIED");
    expect(await gatehouse.workspaces.get(asUser(owen.id), company.id)).toEqual(before);
    // The company model has no plan permission: not even the owner changes the plan (#14).
    expect(
      await codeOf(gatehouse.workspaces.update(asUser(owen.id), company.id, { plan: "pci" })),
    ).toBe("PERMISSION_DENIED");
    const { workspace, revision } = await gatehouse.workspaces.update(systemActor(), company.id, {
      name: "Co GmbH",
      settings: { require2fa: true },
      plan: "pci",
    });
    expect(revision).toBe(before.revision + 1);
    expect(workspace).toMatchObject({
      name: "Co GmbH",
      plan: "pci",
      settings: { require2fa: true },
    });
    const log = await gatehouse.activityLog.list(asUser(owen.id), company.id, {});
    expect(log.entries.slice(0, 3).map((entry) => entry.action)).toEqual([
      "workspace.rename",
      "workspace.settings",
      "workspace.plan",
    ]);
  });

  it("replaces a member's grants, and the next decision sees the change at once", async () => {
    const { olivia, ws } = await panel();
    const otto = await person("otto");
    const owner = asUser(olivia.id);
    await gatehouse.members.add(systemActor(), ws.id, {
      userId: otto.id,
      grants: [{ role: "customer", scope: "site:a" }],
    });
    const deploy = { permission: "site.deploy", resource: "site:b" };
    expect(await gatehouse.decisions.check(asUser(otto.id), ws.id, deploy)).toMatchObject({
      allowed: false,
    });
    await gatehouse.members.setGrants(owner, ws.id, otto.id, [
      { role: "operator", scope: "server:s1" },
    ]);
    expect(await gatehouse.decisions.check(asUser(otto.id), ws.id, deploy)).toMatchObject({
      allowed: true,
    });
    const members = await gatehouse.members.list(owner, ws.id);
    expect(
      members.map((member) => [
        member.name,
        member.isOwner,
        member.grants.map((grant) => grant.role),
      ]),
    ).toEqual([
      ["olivia", true, ["owner"]],
      ["otto", false, ["operator"]],
    ]);
  });

  it("keeps exactly one owner: the owner cannot be removed, demoted or leave", async () => {
    const { olivia, ws } = await panel();
    const adam = await person("adam");
    const owner = asUser(olivia.id);
    await gatehouse.members.add(systemActor(), ws.id, {
      userId: adam.id,
      grants: [{ role: "admin", scope: `workspace:${ws.id}` }],
    });
    expect(await codeOf(gatehouse.members.remove(asUser(adam.id), ws.id, olivia.id))).toBe(
      "LAST_OWNER",
    );
    expect(
      await codeOf(
        gatehouse.members.setGrants(owner, ws.id, olivia.id, [
          { role: "admin", scope: `workspace:${ws.id}` },
        ]),
      ),
    ).toBe("LAST_OWNER");
    expect(await codeOf(gatehouse.members.leave(owner, ws.id))).toBe("LAST_OWNER");
    expect(
      await codeOf(
        gatehouse.members.revoke(owner, ws.id, {
          subject: `user:${olivia.id}`,
          scope: `workspace:${ws.id}`,
        }),
      ),
    ).toBe("LAST_OWNER");
  });

  it("transfers ownership: the old owner becomes admin", async () => {
    const { olivia, ws } = await panel();
    const adam = await person("adam");
    const owner = asUser(olivia.id);
    await gatehouse.members.add(systemActor(), ws.id, {
      userId: adam.id,
      grants: [{ role: "admin", scope: `workspace:${ws.id}` }],
    });
    await gatehouse.workspaces.transferOwnership(owner, ws.id, adam.id);
    const members = await gatehouse.members.list(asUser(adam.id), ws.id);
    expect(
      members.map((member) => [
        member.name,
        member.isOwner,
        member.grants.map((grant) => grant.role),
      ]),
    ).toEqual([
      ["adam", true, ["owner"]],
      ["olivia", false, ["admin"]],
    ]);
    expect(await codeOf(gatehouse.workspaces.transferOwnership(owner, ws.id, olivia.id))).toBe(
      "PERMISSION_DENIED",
    );
  });

  it("refuses self-service transfer where the preset says support-only, but lets the operator do it", async () => {
    const ada = await person("ada");
    const bob = await person("bob");
    const ws = await gatehouse.workspaces.create(asUser(ada.id), {
      name: "Acme",
      preset: "company",
    });
    await gatehouse.members.add(systemActor(), ws.id, {
      userId: bob.id,
      grants: [{ role: "manager", scope: `workspace:${ws.id}` }],
    });
    expect(
      await codeOf(gatehouse.workspaces.transferOwnership(asUser(ada.id), ws.id, bob.id)),
    ).toBe("TRANSFER_NOT_SELF_SERVICE");
    await gatehouse.workspaces.transferOwnership(systemActor("operator"), ws.id, bob.id);
    const members = await gatehouse.members.list(asUser(bob.id), ws.id);
    expect(members.find((member) => member.isOwner)?.userId).toBe(bob.id);
  });

  it("removes a member: access ends at once, the activity log keeps their trail", async () => {
    const { olivia, ws } = await panel();
    const otto = await person("otto");
    const owner = asUser(olivia.id);
    await gatehouse.members.add(systemActor(), ws.id, {
      userId: otto.id,
      grants: [{ role: "operator", scope: "server:s1" }],
    });
    await gatehouse.members.remove(owner, ws.id, otto.id);
    expect(
      await codeOf(
        gatehouse.decisions.check(asUser(otto.id), ws.id, {
          permission: "site.deploy",
          resource: "site:a",
        }),
      ),
    ).toBe("WORKSPACE_NOT_FOUND");
  });

  it("enforces the member limit of the plan and one workspace per email", async () => {
    const ada = await person("ada");
    const ws = await gatehouse.workspaces.create(asUser(ada.id), {
      name: "Acme",
      preset: "company",
      plan: "standard",
    });
    const root = `workspace:${ws.id}`;
    for (const name of ["b1", "b2", "b3", "b4"]) {
      const user = await person(name);
      await gatehouse.members.add(systemActor(), ws.id, {
        userId: user.id,
        grants: [{ role: "billing", scope: root }],
      });
    }
    const sixth = await person("b5");
    expect(
      await codeOf(
        gatehouse.members.add(systemActor(), ws.id, {
          userId: sixth.id,
          grants: [{ role: "billing", scope: root }],
        }),
      ),
    ).toBe("MEMBER_LIMIT_REACHED");
    const other = await gatehouse.workspaces.create(asUser(sixth.id), {
      name: "Other",
      preset: "company",
    });
    const ada2 = await person("ada2");
    await gatehouse.members.add(systemActor(), other.id, {
      userId: ada2.id,
      grants: [{ role: "billing", scope: `workspace:${other.id}` }],
    });
    const b1 = (await gatehouse.users.findByEmail("b1@example.com"))!;
    expect(
      await codeOf(
        gatehouse.members.add(systemActor(), other.id, {
          userId: b1.id,
          grants: [{ role: "billing", scope: `workspace:${other.id}` }],
        }),
      ),
    ).toBe("ONE_WORKSPACE_PER_EMAIL");
  });

  it("closes a workspace only with its exact name, keeping a final record", async () => {
    const { olivia, ws } = await panel();
    const owner = asUser(olivia.id);
    expect(
      await codeOf(gatehouse.workspaces.close(owner, ws.id, { confirmName: "acme hosting" })),
    ).toBe("CONFIRMATION_MISMATCH");
    await gatehouse.workspaces.close(owner, ws.id, { confirmName: "Acme hosting" });
    expect(await codeOf(gatehouse.workspaces.get(owner, ws.id))).toBe("WORKSPACE_NOT_FOUND");
    const log = await gatehouse.storage.db.selectFrom("instance_log").selectAll().execute();
    expect(log.map((entry) => [entry.action, entry.workspace_id])).toEqual([
      ["workspace.closed", ws.id],
    ]);
    expect(
      await gatehouse.storage.db
        .selectFrom("resources")
        .selectAll()
        .where("workspace_id", "=", ws.id)
        .execute(),
    ).toEqual([]);
  });

  it("releases a pending invitation's seat when the invited person is added directly", async () => {
    const ada = await person("ada");
    const ws = await gatehouse.workspaces.create(asUser(ada.id), {
      name: "Acme",
      preset: "company",
      plan: "standard",
    });
    const root = `workspace:${ws.id}`;
    await gatehouse.invitations.create(asUser(ada.id), ws.id, {
      email: "bob@example.com",
      role: "billing",
    });
    const bob = await person("bob");
    await gatehouse.members.add(systemActor(), ws.id, {
      userId: bob.id,
      grants: [{ role: "billing", scope: root }],
    });
    const pending = await gatehouse.invitations.list(asUser(ada.id), ws.id, { status: "pending" });
    expect(pending).toEqual([]);
  });

  it("writes a refused look at the team to the activity log", async () => {
    const { olivia, ws } = await panel();
    const cara = await person("cara");
    await gatehouse.members.add(systemActor(), ws.id, {
      userId: cara.id,
      grants: [{ role: "customer", scope: "site:a" }],
    });
    expect(await codeOf(gatehouse.members.list(asUser(cara.id), ws.id))).toBe("PERMISSION_DENIED");
    const { entries } = await gatehouse.activityLog.list(asUser(olivia.id), ws.id, {
      result: "denied",
    });
    expect(entries.map((entry) => [entry.action, entry.actor.id])).toEqual([
      ["team.view", cara.id],
    ]);
  });

  it("answers CONFLICT, not a driver error, when two workspaces race for one join key", async () => {
    const owners = await Promise.all(["k1", "k2", "k3", "k4"].map((name) => person(name)));
    const spaces = await Promise.all(
      owners.map((owner) =>
        gatehouse.workspaces.create(asUser(owner.id), { name: "Co", preset: "company" }),
      ),
    );
    const results = await Promise.allSettled(
      spaces.map((ws, index) =>
        gatehouse.workspaces.updateSettings(asUser(owners[index]!.id), ws.id, {
          joinKey: "DE123456789",
        }),
      ),
    );
    expect(results.filter((result) => result.status === "fulfilled")).toHaveLength(1);
    for (const result of results) {
      if (result.status === "rejected")
        expect(isGatehouseError(result.reason, "CONFLICT")).toBe(true);
    }
  });

  it("removes members whose only grants were on a deleted resource", async () => {
    const { olivia, ws } = await panel();
    const cara = await person("cara");
    const otto = await person("otto");
    const owner = asUser(olivia.id);
    await gatehouse.members.add(systemActor(), ws.id, {
      userId: cara.id,
      grants: [{ role: "customer", scope: "site:a" }],
    });
    await gatehouse.members.add(systemActor(), ws.id, {
      userId: otto.id,
      grants: [{ role: "customer", scope: "site:a" }],
    });
    await gatehouse.members.grant(owner, ws.id, {
      subject: `user:${otto.id}`,
      role: "customer",
      scope: "site:b",
    });
    await gatehouse.resources.delete(systemActor(), ws.id, "site:a");
    const members = await gatehouse.members.list(owner, ws.id);
    expect(members.map((member) => member.name).sort()).toEqual(["olivia", "otto"]);
    expect(await codeOf(gatehouse.workspaces.get(asUser(cara.id), ws.id))).toBe(
      "WORKSPACE_NOT_FOUND",
    );
  });
});
