import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { asUser, systemActor } from "../src/actor.ts";
import type { Gatehouse } from "../src/gatehouse.ts";
import type { ChangeEvent } from "../src/service-core.ts";
import { backends, codeOf, openService, signUpPerson } from "./backends.ts";

describe.each(backends)("grants, groups and gates on $name", (backend) => {
  let gatehouse: Gatehouse;
  let clock: { now: number };

  beforeEach(async () => {
    ({ gatehouse, clock } = await openService(backend));
  });
  afterEach(async () => {
    await gatehouse.close();
  });

  const person = (name: string) => signUpPerson(gatehouse, name);

  async function check(userId: string, workspaceId: string, permission: string, resource: string) {
    return (await gatehouse.decisions.check(asUser(userId), workspaceId, { permission, resource }))
      .allowed;
  }

  /** A hosting-customer workspace: two customers with a hosting each. */
  async function hosting() {
    const olivia = await person("olivia");
    const ws = await gatehouse.workspaces.create(asUser(olivia.id), {
      name: "Agency",
      preset: "hosting-customer",
    });
    const host = systemActor();
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
    return { olivia, ws };
  }

  it("gives a group's grants to its members, and takes them back on removal", async () => {
    const { olivia, ws } = await hosting();
    const owner = asUser(olivia.id);
    const webby = await person("webby");
    await gatehouse.members.add(systemActor(), ws.id, {
      userId: webby.id,
      grants: [{ role: "hosting_stats", scope: "hosting:c2-web" }],
    });
    const { group } = await gatehouse.members.createGroup(owner, ws.id, { name: "Web agency" });
    await gatehouse.members.grant(owner, ws.id, {
      subject: `group:${group.id}`,
      role: "hosting_web",
      scope: "hosting:c1-web",
    });
    expect(await check(webby.id, ws.id, "hosting.web.manage", "hosting:c1-web")).toBe(false);
    await gatehouse.members.addToGroup(owner, ws.id, group.id, webby.id);
    expect(await check(webby.id, ws.id, "hosting.web.manage", "hosting:c1-web")).toBe(true);
    expect(
      (await gatehouse.members.listGroups(owner, ws.id)).map((g) => [g.name, g.members]),
    ).toEqual([["Web agency", [webby.id]]]);
    await gatehouse.members.removeFromGroup(owner, ws.id, group.id, webby.id);
    expect(await check(webby.id, ws.id, "hosting.web.manage", "hosting:c1-web")).toBe(false);
  });

  it("lets only admins at customer or hosting level pass permissions, never beyond their scope", async () => {
    const { olivia, ws } = await hosting();
    const owner = asUser(olivia.id);
    const carla = await person("carla");
    const dom = await person("dom");
    const eve = await person("eve");
    await gatehouse.members.add(systemActor(), ws.id, {
      userId: carla.id,
      grants: [{ role: "customer_admin", scope: "customer:c1" }],
    });
    await gatehouse.members.add(systemActor(), ws.id, {
      userId: dom.id,
      grants: [{ role: "customer_domain", scope: "customer:c1" }],
    });
    // The customer admin passes a hosting role on her customer's hosting…
    await gatehouse.members.add(systemActor(), ws.id, {
      userId: eve.id,
      grants: [{ role: "hosting_mail", scope: "hosting:c1-web" }],
    });
    expect(await check(eve.id, ws.id, "hosting.mail.accounts.manage", "hosting:c1-web")).toBe(true);
    // …but not on another customer's — out of her reach, it answers as if it did not exist, like
    // a hosting that does not — and the domain role passes nothing.
    expect(
      await codeOf(
        gatehouse.members.grant(asUser(carla.id), ws.id, {
          subject: `user:${eve.id}`,
          role: "hosting_web",
          scope: "hosting:c2-web",
        }),
      ),
    ).toBe("RESOURCE_NOT_FOUND");
    const missing = await gatehouse.members
      .grant(asUser(carla.id), ws.id, {
        subject: `user:${eve.id}`,
        role: "hosting_web",
        scope: "hosting:nowhere",
      })
      .then(
        () => new Error("granted"),
        (error: unknown) => error as Error,
      );
    const outOfReach = await gatehouse.members
      .grant(asUser(carla.id), ws.id, {
        subject: `user:${eve.id}`,
        role: "hosting_web",
        scope: "hosting:c2-web",
      })
      .then(
        () => new Error("granted"),
        (error: unknown) => error as Error,
      );
    expect(outOfReach.message.replace("c2-web", "nowhere")).toBe(missing.message);
    expect(
      await codeOf(
        gatehouse.members.grant(asUser(dom.id), ws.id, {
          subject: `user:${eve.id}`,
          role: "hosting_web",
          scope: "hosting:c1-web",
        }),
      ),
    ).toBe("PERMISSION_DENIED");
    const denied = await gatehouse.activityLog.list(owner, ws.id, { result: "denied" });
    expect(denied.entries).toHaveLength(3);
  });

  it("refuses roles at the wrong scope, owner-only extras and a second role on one resource", async () => {
    const { olivia, ws } = await hosting();
    const owner = asUser(olivia.id);
    const ann = await person("ann");
    expect(
      await codeOf(
        gatehouse.members.add(systemActor(), ws.id, {
          userId: ann.id,
          grants: [{ role: "hosting_web", scope: "customer:c1" }],
        }),
      ),
    ).toBe("ROLE_NOT_GRANTABLE_AT_SCOPE");
    await gatehouse.members.add(systemActor(), ws.id, {
      userId: ann.id,
      grants: [{ role: "hosting_web", scope: "hosting:c1-web" }],
    });
    expect(
      await codeOf(
        gatehouse.members.grant(owner, ws.id, {
          subject: `user:${ann.id}`,
          role: "hosting_mail",
          scope: "hosting:c1-web",
        }),
      ),
    ).toBe("ROLE_CONFLICT");
    expect(
      await codeOf(
        gatehouse.members.grant(systemActor(), ws.id, {
          subject: `user:${ann.id}`,
          role: "hosting_stats",
          scope: "hosting:c2-web",
          extras: ["workspace.close"],
        }),
      ),
    ).toBe("OWNER_ONLY_PERMISSION");
    expect(
      (await gatehouse.members.list(owner, ws.id)).find((member) => member.userId === ann.id)
        ?.grants,
    ).toHaveLength(1);
  });

  it("adds grant-only extras on top of a role", async () => {
    const ada = await person("ada");
    const bill = await person("bill");
    const ws = await gatehouse.workspaces.create(asUser(ada.id), {
      name: "Acme",
      preset: "company",
    });
    const root = `workspace:${ws.id}`;
    await gatehouse.members.add(systemActor(), ws.id, {
      userId: bill.id,
      grants: [{ role: "billing", scope: root }],
    });
    expect(await check(bill.id, ws.id, "billing.cards_manage", root)).toBe(false);
    await gatehouse.members.setGrants(asUser(ada.id), ws.id, bill.id, [
      { role: "billing", scope: root, extras: ["billing.cards_manage"] },
    ]);
    expect(await check(bill.id, ws.id, "billing.cards_manage", root)).toBe(true);
    expect(await check(bill.id, ws.id, "vps.restart", root)).toBe(false);
  });

  it("ends an expiring grant on time, and refuses one already expired", async () => {
    const { olivia, ws } = await hosting();
    const temp = await person("temp");
    const expiresAt = clock.now + 60 * 60 * 1000;
    await gatehouse.members.add(systemActor(), ws.id, {
      userId: temp.id,
      grants: [{ role: "hosting_admin", scope: "hosting:c1-web", expiresAt }],
    });
    expect(await check(temp.id, ws.id, "hosting.web.manage", "hosting:c1-web")).toBe(true);
    clock.now = expiresAt;
    expect(await check(temp.id, ws.id, "hosting.web.manage", "hosting:c1-web")).toBe(false);
    expect(
      await codeOf(
        gatehouse.members.grant(asUser(olivia.id), ws.id, {
          subject: `user:${temp.id}`,
          role: "hosting_stats",
          scope: "hosting:c2-web",
          expiresAt: clock.now - 1,
        }),
      ),
    ).toBe("INVALID_INPUT");
  });

  it("lets members create resources only where the model's gates allow", async () => {
    const olivia = await person("olivia");
    const otto = await person("otto");
    const ws = await gatehouse.workspaces.create(asUser(olivia.id), {
      name: "Panel",
      preset: "mzpanel",
    });
    await gatehouse.resources.upsert(systemActor(), ws.id, {
      resource: "server:s1",
      parent: `workspace:${ws.id}`,
    });
    await gatehouse.resources.upsert(systemActor(), ws.id, {
      resource: "server:s2",
      parent: `workspace:${ws.id}`,
    });
    await gatehouse.members.add(systemActor(), ws.id, {
      userId: otto.id,
      grants: [{ role: "operator", scope: "server:s1" }],
    });
    const operator = asUser(otto.id);
    await gatehouse.resources.upsert(operator, ws.id, {
      resource: "site:new",
      parent: "server:s1",
    });
    expect(
      await codeOf(
        gatehouse.resources.upsert(operator, ws.id, {
          resource: "site:other",
          parent: "server:s2",
        }),
      ),
    ).toBe("RESOURCE_NOT_FOUND"); // server:s2 is outside the operator's reach
    // Adding servers is owner-only in MZPanel.
    expect(
      await codeOf(
        gatehouse.resources.upsert(operator, ws.id, {
          resource: "server:s3",
          parent: `workspace:${ws.id}`,
        }),
      ),
    ).toBe("PERMISSION_DENIED");
    await gatehouse.resources.upsert(asUser(olivia.id), ws.id, {
      resource: "server:s3",
      parent: `workspace:${ws.id}`,
    });
    const sites = await gatehouse.resources.list(operator, ws.id, {
      type: "site",
      permission: "site.view",
    });
    expect(sites.items).toEqual(["site:new"]);
  });

  it("answers a resource outside the caller's reach exactly like a missing one", async () => {
    const olivia = await person("olivia");
    const cara = await person("cara");
    const ws = await gatehouse.workspaces.create(asUser(olivia.id), {
      name: "Panel",
      preset: "mzpanel",
    });
    await gatehouse.resources.upsert(systemActor(), ws.id, {
      resource: "server:s1",
      parent: `workspace:${ws.id}`,
    });
    await gatehouse.resources.upsert(systemActor(), ws.id, {
      resource: "site:mine",
      parent: "server:s1",
    });
    await gatehouse.resources.upsert(systemActor(), ws.id, {
      resource: "site:sibling",
      parent: "server:s1",
    });
    await gatehouse.members.add(systemActor(), ws.id, {
      userId: cara.id,
      grants: [{ role: "customer", scope: "site:mine" }],
    });
    const customer = asUser(cara.id);
    expect(await codeOf(gatehouse.resources.delete(customer, ws.id, "site:sibling"))).toBe(
      "RESOURCE_NOT_FOUND",
    );
    expect(await codeOf(gatehouse.resources.delete(customer, ws.id, "site:nowhere"))).toBe(
      "RESOURCE_NOT_FOUND",
    );
    expect(
      await codeOf(
        gatehouse.resources.upsert(customer, ws.id, { resource: "site:new", parent: "server:s1" }),
      ),
    ).toBe("RESOURCE_NOT_FOUND");
    expect(await codeOf(gatehouse.resources.delete(customer, ws.id, "site:mine"))).toBe(
      "PERMISSION_DENIED",
    );
    // Re-registering a resource where it already is still needs the right to register it there.
    expect(
      await codeOf(
        gatehouse.resources.upsert(customer, ws.id, {
          resource: "site:sibling",
          parent: "server:s1",
        }),
      ),
    ).toBe("RESOURCE_NOT_FOUND");
    const stranger = await person("stranger");
    expect(
      await codeOf(
        gatehouse.resources.upsert(asUser(stranger.id), ws.id, {
          resource: "site:mine",
          parent: "server:s1",
        }),
      ),
    ).toBe("WORKSPACE_NOT_FOUND");
    expect(
      await codeOf(
        gatehouse.resources.upsert(asUser(olivia.id), ws.id, {
          resource: "site:x",
          parent: "server:none",
        }),
      ),
    ).toBe("RESOURCE_NOT_FOUND");
  });

  it("answers bad grants as bad input before delegation, for the owner too", async () => {
    const olivia = await person("olivia");
    const otto = await person("otto");
    const ws = await gatehouse.workspaces.create(asUser(olivia.id), {
      name: "Panel",
      preset: "mzpanel",
    });
    await gatehouse.resources.upsert(systemActor(), ws.id, {
      resource: "server:s1",
      parent: `workspace:${ws.id}`,
    });
    const add = (grant: Record<string, unknown>) =>
      gatehouse.members.add(systemActor(), ws.id, { userId: otto.id, grants: [grant] });
    expect(await codeOf(add({ role: "customer", scope: "server:s1" }))).toBe(
      "ROLE_NOT_GRANTABLE_AT_SCOPE",
    );
    expect(
      await codeOf(add({ role: "admin", scope: `workspace:${ws.id}`, extras: ["billing.manage"] })),
    ).toBe("OWNER_ONLY_PERMISSION");
    expect(await codeOf(add({ role: "owner", scope: `workspace:${ws.id}` }))).toBe(
      "OWNER_ROLE_NOT_GRANTED",
    );
    expect(await codeOf(add({ role: "operator", scope: "server:none" }))).toBe(
      "RESOURCE_NOT_FOUND",
    );
  });

  it("refuses the owner role with a message naming this preset's way to hand it over", async () => {
    for (const preset of ["mzpanel", "company", "msp", "hosting-customer", "managed"]) {
      const owner = await person(`owner-${preset}`);
      const ws = await gatehouse.workspaces.create(asUser(owner.id), { name: preset, preset });
      const model = gatehouse.models[preset]!;
      const error = await gatehouse.members
        .grant(asUser(owner.id), ws.id, {
          subject: `user:${owner.id}`,
          role: model.ownerRole,
          scope: `workspace:${ws.id}`,
        })
        .catch((caught: unknown) => caught as { code: string; message: string });
      expect(error).toMatchObject({ code: "OWNER_ROLE_NOT_GRANTED" });
      expect((error as { message: string }).message).toContain(
        model.policy.selfServiceTransfer ? "Transfer ownership" : "host's support",
      );
    }
  });

  it("emits one change event per committed change, with the new revision", async () => {
    const { olivia, ws } = await hosting();
    const events: ChangeEvent[] = [];
    const stop = gatehouse.onChange((event) => events.push(event));
    const renamed = await gatehouse.workspaces.rename(asUser(olivia.id), ws.id, "Agency GmbH");
    await gatehouse.resources.upsert(systemActor(), ws.id, {
      resource: "customer:c3",
      parent: `workspace:${ws.id}`,
    });
    await codeOf(gatehouse.workspaces.rename(asUser(olivia.id), ws.id, ""));
    stop();
    expect(
      events.map((event) => [event.workspaceId, event.revision, event.ops.map((op) => op.op)]),
    ).toEqual([
      [ws.id, renamed.revision, []],
      [ws.id, renamed.revision + 1, ["resource.upsert"]],
    ]);
  });

  it("keeps workspace settings and shows them only to those who may see the team", async () => {
    const ada = await person("ada");
    const tech = await person("tech");
    const ws = await gatehouse.workspaces.create(asUser(ada.id), {
      name: "Acme",
      preset: "company",
    });
    await gatehouse.members.add(systemActor(), ws.id, {
      userId: tech.id,
      grants: [{ role: "technical", scope: `workspace:${ws.id}` }],
    });
    await gatehouse.workspaces.updateSettings(systemActor(), ws.id, {
      joinKey: " DE123456789 ",
      require2fa: true,
      oneWorkspacePerEmail: false,
    });
    expect((await gatehouse.workspaces.get(asUser(ada.id), ws.id)).settings).toEqual({
      joinKey: "DE123456789",
      require2fa: true,
      oneWorkspacePerEmail: false,
    });
    expect((await gatehouse.workspaces.get(asUser(tech.id), ws.id)).settings).toBeUndefined();
    expect(
      await codeOf(
        gatehouse.workspaces.updateSettings(asUser(tech.id), ws.id, { require2fa: false }),
      ),
    ).toBe("PERMISSION_DENIED");
    expect(
      await codeOf(
        gatehouse.workspaces.updateSettings(asUser(ada.id), ws.id, { plan: "pci" } as never),
      ),
    ).toBe("INVALID_INPUT");
  });
});

describe("passwords", () => {
  it("hashes with scrypt at OWASP's parameters by default and verifies only the right password", async () => {
    const { hashPassword, verifyPassword } = await import("../src/support/passwords.ts");
    const hash = await hashPassword("correct horse battery staple");
    expect(hash.split("$").slice(0, 4)).toEqual(["scrypt", String(2 ** 17), "8", "1"]);
    expect(await verifyPassword("correct horse battery staple", hash)).toBe(true);
    expect(await verifyPassword("correct horse battery stapler", hash)).toBe(false);
  });
});
