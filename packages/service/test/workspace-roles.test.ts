import { loadModel, type Model } from "@gatehouse/engine";
import { presets } from "@gatehouse/engine/presets";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { asUser, systemActor } from "../src/actor.ts";
import { createGatehouse, type Gatehouse } from "../src/gatehouse.ts";
import {
  backends,
  codeOf,
  openPeerServices,
  openService,
  signUpPerson,
  TEST_PASSWORD_COST,
} from "./backends.ts";
import { deployer, studio } from "./studio-model.ts";

describe.each(backends)("workspace roles on $name", (backend) => {
  let gatehouse: Gatehouse;

  beforeEach(async () => {
    ({ gatehouse } = await openService(backend, { models: { ...presets, studio } }));
  });
  afterEach(async () => {
    await gatehouse.close();
  });

  async function studioWorkspace() {
    const olivia = await signUpPerson(gatehouse, "olivia");
    const as = asUser(olivia.id);
    const ws = await gatehouse.workspaces.create(as, { name: "Studio", preset: "studio" });
    const host = systemActor();
    await gatehouse.resources.upsert(host, ws.id, {
      resource: "site:shop",
      parent: `workspace:${ws.id}`,
    });
    const dana = await signUpPerson(gatehouse, "dana");
    return { olivia, as, ws, host, dana };
  }

  it("defines a role the owner then grants; checks and explanations name it", async () => {
    const { as, ws, host, dana } = await studioWorkspace();
    const before = (await gatehouse.workspaces.get(as, ws.id)).revision;
    const { role, revision } = await gatehouse.workspaceRoles.define(as, ws.id, deployer);
    expect(role).toEqual(deployer);
    expect(revision).toBe(before + 1);
    await gatehouse.members.add(host, ws.id, {
      userId: dana.id,
      grants: [{ role: "deployer", scope: "site:shop" }],
    });
    const asDana = asUser(dana.id);
    const deploy = { permission: "site.deploy", resource: "site:shop" };
    expect((await gatehouse.decisions.check(asDana, ws.id, deploy)).allowed).toBe(true);
    expect(
      (await gatehouse.decisions.check(asDana, ws.id, { ...deploy, permission: "site.delete" }))
        .allowed,
    ).toBe(false);
    const explanation = await gatehouse.decisions.explain(asDana, ws.id, deploy);
    expect(JSON.stringify(explanation)).toContain('"role":"deployer"');

    const matrix = await gatehouse.access.roleMatrix(as, ws.id);
    expect(matrix.workspaceRoles).toEqual({ allowed: true, mayDefine: true });
    expect(matrix.roles.find((row) => row.name === "deployer")).toMatchObject({
      label: "Deployer",
      workspace: true,
      scopes: ["site"],
      permissions: ["site.view", "site.deploy"],
    });
    expect(matrix.roles.find((row) => row.name === "admin")?.workspace).toBe(false);
    // Dana sees the matrix too, but may not define roles.
    expect((await gatehouse.access.roleMatrix(asDana, ws.id)).workspaceRoles.mayDefine).toBe(false);

    const log = await gatehouse.activityLog.list(as, ws.id, {});
    expect(log.entries.map((entry) => entry.action)).toContain("role.define");
  });

  it("is in the assistant's team tools: a member asks, and the assistant gives it", async () => {
    const { as, ws, host, dana } = await studioWorkspace();
    await gatehouse.workspaceRoles.define(as, ws.id, deployer);
    await gatehouse.members.add(host, ws.id, {
      userId: dana.id,
      grants: [{ role: "viewer", scope: "site:shop" }],
    });
    const tools = await gatehouse.assistant.tools(as, ws.id);
    const change = tools.find((tool) => tool.name === "gatehouse_change_member_role");
    expect(JSON.stringify(change?.inputSchema)).toContain("deployer");
    const outcome = await gatehouse.assistant.call(as, ws.id, {
      tool: "gatehouse_change_member_role",
      arguments: { userId: dana.id, role: "deployer", scope: "site:shop" },
    });
    expect(outcome.status).toBe("completed");
    const deploy = { permission: "site.deploy", resource: "site:shop" };
    expect((await gatehouse.decisions.check(asUser(dana.id), ws.id, deploy)).allowed).toBe(true);
  });

  it("changes a role: every engine reloads, and what its grants give follows", async () => {
    const { as, ws, host, dana } = await studioWorkspace();
    await gatehouse.workspaceRoles.define(as, ws.id, deployer);
    await gatehouse.members.add(host, ws.id, {
      userId: dana.id,
      grants: [{ role: "deployer", scope: "site:shop" }],
    });
    const asDana = asUser(dana.id);
    const deploy = { permission: "site.deploy", resource: "site:shop" };
    expect((await gatehouse.decisions.check(asDana, ws.id, deploy)).allowed).toBe(true);
    const { role, revision } = await gatehouse.workspaceRoles.update(as, ws.id, "deployer", {
      label: "Site viewer",
      permissions: ["site.view"],
    });
    expect(role.label).toBe("Site viewer");
    const after = await gatehouse.decisions.check(asDana, ws.id, deploy, {
      atLeastRevision: revision,
    });
    expect(after.allowed).toBe(false);
    // Narrowing the scopes away from a type still granted is refused.
    expect(
      await codeOf(
        gatehouse.workspaceRoles.update(as, ws.id, "deployer", { scopes: ["workspace"] }),
      ),
    ).toBe("ROLE_IN_USE");
  });

  it("refuses owner-only permissions, unknown ones, taken names and permissions the definer lacks", async () => {
    const { as, ws, dana, host } = await studioWorkspace();
    const define = (input: Partial<typeof deployer>, who = as) =>
      codeOf(gatehouse.workspaceRoles.define(who, ws.id, { ...deployer, ...input }));
    expect(
      await define({ name: "payer", scopes: ["workspace"], permissions: ["billing.manage"] }),
    ).toBe("INVALID_INPUT");
    expect(await define({ permissions: ["site.edit"] })).toBe("INVALID_INPUT");
    expect(await define({ name: "admin" })).toBe("INVALID_INPUT");
    expect(await define({ name: "Not A Name" })).toBe("INVALID_INPUT");
    expect(await define({ scopes: ["server"] })).toBe("INVALID_INPUT");
    await gatehouse.workspaceRoles.define(as, ws.id, deployer);
    expect(await define({})).toBe("CONFLICT");

    // An admin holds the settings gate, but not site.delete: a role never gives more.
    await gatehouse.members.add(host, ws.id, {
      userId: dana.id,
      grants: [{ role: "admin", scope: `workspace:${ws.id}` }],
    });
    const asDana = asUser(dana.id);
    expect(
      await define({ name: "wrecker", permissions: ["site.view", "site.delete"] }, asDana),
    ).toBe("PERMISSION_DENIED");
    const { role } = await gatehouse.workspaceRoles.define(asDana, ws.id, {
      ...deployer,
      name: "shipper",
    });
    expect(role.name).toBe("shipper");
    // Nor may an admin add it later.
    expect(
      await codeOf(
        gatehouse.workspaceRoles.update(asDana, ws.id, "shipper", {
          permissions: ["site.view", "site.delete"],
        }),
      ),
    ).toBe("PERMISSION_DENIED");
    const denied = await gatehouse.activityLog.list(as, ws.id, {});
    expect(
      denied.entries.some((entry) => entry.action === "role.define" && entry.result === "denied"),
    ).toBe(true);

    // A viewer holds no settings gate.
    const eve = await signUpPerson(gatehouse, "eve");
    await gatehouse.members.add(host, ws.id, {
      userId: eve.id,
      grants: [{ role: "viewer", scope: `workspace:${ws.id}` }],
    });
    expect(await define({ name: "other" }, asUser(eve.id))).toBe("PERMISSION_DENIED");
    // An outsider learns nothing.
    const mallory = await signUpPerson(gatehouse, "mallory");
    expect(await define({ name: "other" }, asUser(mallory.id))).toBe("WORKSPACE_NOT_FOUND");
  });

  it("deletes a role only once no grant or pending invitation gives it", async () => {
    const { as, ws, host, dana } = await studioWorkspace();
    await gatehouse.workspaceRoles.define(as, ws.id, deployer);
    await gatehouse.members.add(host, ws.id, {
      userId: dana.id,
      grants: [{ role: "deployer", scope: "site:shop" }],
    });
    const { invitation, token } = await gatehouse.invitations.create(as, ws.id, {
      email: "finn@example.com",
      role: "deployer",
      scopes: ["site:shop"],
    });
    // The invitation page names the workspace's role by its label.
    expect((await gatehouse.invitations.preview(token)).roleLabel).toBe("Deployer");
    expect(await codeOf(gatehouse.workspaceRoles.remove(as, ws.id, "deployer"))).toBe(
      "ROLE_IN_USE",
    );
    await gatehouse.members.revoke(as, ws.id, { subject: `user:${dana.id}`, scope: "site:shop" });
    expect(await codeOf(gatehouse.workspaceRoles.remove(as, ws.id, "deployer"))).toBe(
      "ROLE_IN_USE",
    );
    await gatehouse.invitations.revoke(as, ws.id, invitation.id);
    await gatehouse.workspaceRoles.remove(as, ws.id, "deployer");
    const matrix = await gatehouse.access.roleMatrix(as, ws.id);
    expect(matrix.roles.map((row) => row.name)).toEqual(["owner", "admin", "viewer"]);
    expect(await codeOf(gatehouse.workspaceRoles.remove(as, ws.id, "deployer"))).toBe(
      "ROLE_NOT_FOUND",
    );
    // The role is gone from the engine too: granting it now fails.
    expect(
      await codeOf(
        gatehouse.members.grant(as, ws.id, {
          subject: `user:${dana.id}`,
          role: "deployer",
          scope: "site:shop",
        }),
      ),
    ).toBe("UNKNOWN_ROLE");
  });

  it("is refused in all five presets: roles there are fixed", async () => {
    const olivia = await signUpPerson(gatehouse, "olivia");
    const as = asUser(olivia.id);
    for (const preset of Object.keys(presets)) {
      if (preset === "mzpanel") continue; // Olivia's personal workspace is already one.
      const ws = await gatehouse.workspaces.create(as, { name: preset, preset });
      const root = presets[preset as keyof typeof presets]!.rootType;
      expect(
        await codeOf(
          gatehouse.workspaceRoles.define(as, ws.id, {
            ...deployer,
            scopes: [root],
            permissions: [],
          }),
        ),
      ).toBe("WORKSPACE_ROLES_DISABLED");
      const matrix = await gatehouse.access.roleMatrix(as, ws.id);
      expect(matrix.workspaceRoles).toEqual({ allowed: false, mayDefine: false });
    }
  });
});

describe.each(backends)("workspace roles across a model change on $name", (backend) => {
  it("reports a role the new model no longer allows, and drops it with its grants", async () => {
    const [storage, earlier] = (await backend.openPeers(2)) as [
      Gatehouse["storage"],
      Gatehouse["storage"],
    ];
    const serve = (on: Gatehouse["storage"], model: Model) =>
      createGatehouse({
        storage: on,
        models: { ...presets, studio: model },
        passwordCost: TEST_PASSWORD_COST,
        personalPreset: null,
      });
    const first = serve(earlier, studio);
    const fixed = loadModel({ ...studio.definition, policy: { workspaceRoles: false } });
    const second = serve(storage, fixed);
    try {
      await first.modelChanges.accept();
      const olivia = await signUpPerson(first, "olivia");
      const as = asUser(olivia.id);
      const ws = await first.workspaces.create(as, { name: "Studio", preset: "studio" });
      await first.resources.upsert(systemActor(), ws.id, {
        resource: "site:shop",
        parent: `workspace:${ws.id}`,
      });
      await first.workspaceRoles.define(as, ws.id, deployer);
      const dana = await signUpPerson(first, "dana");
      await first.members.add(systemActor(), ws.id, {
        userId: dana.id,
        grants: [{ role: "deployer", scope: "site:shop" }],
      });

      const [report] = (await second.modelChanges.check()).filter((r) => r.model === "studio");
      expect(report!.status).toBe("incompatible");
      expect(report!.conflicts.map((conflict) => conflict.target)).toEqual([
        { kind: "role", role: "deployer" },
        { kind: "grant", subject: `user:${dana.id}`, scope: "site:shop" },
      ]);
      expect(report!.lostAccess).toEqual([
        expect.objectContaining({ role: "deployer", permissions: ["site.deploy", "site.view"] }),
      ]);

      // The operator's way through, on the instance serving the old model.
      const { dropped } = await first.modelChanges.apply(systemActor("cli"), fixed, {
        dropConflicts: true,
      });
      expect(dropped).toBe(2);
      const matrix = await first.access.roleMatrix(as, ws.id);
      expect(matrix.roles.some((row) => row.workspace)).toBe(false);
    } finally {
      // The first storage drops the database on close: it closes last.
      await first.close();
      await second.close();
    }
  });
});

describe.each(backends)("workspace roles across instances on $name", (backend) => {
  it("a role change reaches every instance, and a snapshot of the old roles is never restored", async () => {
    const clock = { now: Date.UTC(2026, 11, 1) };
    const peers = await openPeerServices(backend, 3, clock, {
      models: { ...presets, studio },
      personalPreset: null,
      engineSnapshots: { minGrants: 1, refreshAfter: 50 },
    });
    try {
      const [a, b, c] = peers.instances as [Gatehouse, Gatehouse, Gatehouse];
      const olivia = await signUpPerson(a, "olivia");
      const dana = await signUpPerson(a, "dana");
      const as = asUser(olivia.id);
      const ws = await a.workspaces.create(as, { name: "Studio", preset: "studio" });
      await a.resources.upsert(systemActor(), ws.id, {
        resource: "site:shop",
        parent: `workspace:${ws.id}`,
      });
      await a.workspaceRoles.define(as, ws.id, deployer);
      await a.members.add(systemActor(), ws.id, {
        userId: dana.id,
        grants: [{ role: "deployer", scope: "site:shop" }],
      });
      const deploys = async (instance: Gatehouse, options = {}) =>
        (
          await instance.decisions.check(
            systemActor(),
            ws.id,
            { permission: "site.deploy", resource: "site:shop", subject: `user:${dana.id}` },
            options,
          )
        ).allowed;
      expect(await deploys(a)).toBe(true);
      expect(await deploys(b)).toBe(true); // b holds the workspace, with the role
      // a's load wrote a snapshot of the engine with the role as it was.
      for (;;) {
        const row = await a.storage.db
          .selectFrom("engine_snapshots")
          .select("revision")
          .where("workspace_id", "=", ws.id)
          .executeTakeFirst();
        if (row !== undefined) break;
        await new Promise((resolve) => setTimeout(resolve, 10));
      }

      const { revision } = await a.workspaceRoles.update(as, ws.id, "deployer", {
        permissions: ["site.view"],
      });
      expect(await deploys(a)).toBe(false);
      // b follows the change (a roles.change op: it reloads with the new model).
      expect(await deploys(b, { atLeastRevision: revision })).toBe(false);
      // c has never loaded the workspace: the stored snapshot is of the old model, and ignored.
      expect(await deploys(c)).toBe(false);
      const viewer = await c.decisions.check(systemActor(), ws.id, {
        permission: "site.view",
        resource: "site:shop",
        subject: `user:${dana.id}`,
      });
      expect(viewer.allowed).toBe(true);
    } finally {
      await peers.close();
    }
  });
});
