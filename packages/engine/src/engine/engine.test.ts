import { describe, expect, it } from "vitest";
import { GatehouseError } from "../errors.ts";
import { defineModel } from "../model/define-model.ts";
import { createEngine } from "./engine.ts";

const model = defineModel({
  name: "panel",
  types: {
    workspace: {},
    server: { parents: ["workspace"] },
    site: { parents: ["server"] },
  },
  permissions: {
    "billing.manage": { on: "workspace" },
    "team.manage": { on: "workspace" },
    "report.read": { on: "workspace" },
    "server.view": { on: "server" },
    "server.restart": { on: "server" },
    "site.view": { on: "site" },
    "site.deploy": { on: "site" },
    "site.delete": { on: "site" },
  },
  ownerOnly: ["billing.manage"],
  delegation: "team.manage",
  roles: {
    owner: { owner: true, scopes: ["workspace"] },
    admin: {
      scopes: ["workspace"],
      permissions: [
        "team.manage",
        "report.read",
        "server.view",
        "server.restart",
        "site.view",
        "site.deploy",
        "site.delete",
      ],
    },
    operator: {
      scopes: ["server"],
      permissions: ["server.view", "server.restart", "site.view", "site.deploy"],
    },
    customer: { scopes: ["site"], permissions: ["site.view", "site.deploy"] },
    viewer: { scopes: ["server", "site"], permissions: ["site.view"] },
  },
});

function fixture(now = { value: 1_000 }) {
  const engine = createEngine(model, {
    workspace: "acme",
    clock: () => now.value,
    resources: [
      { resource: "site:a1", parent: "server:a" },
      { resource: "server:a", parent: "workspace:acme" },
      { resource: "site:a2", parent: "server:a" },
      { resource: "server:b", parent: "workspace:acme" },
      { resource: "site:b1", parent: "server:b" },
    ],
    grants: [
      { subject: "user:olivia", role: "owner", scope: "workspace:acme" },
      { subject: "user:adam", role: "admin", scope: "workspace:acme" },
      { subject: "user:otto", role: "operator", scope: "server:a" },
      { subject: "user:cara", role: "customer", scope: "site:a1" },
    ],
  });
  return { engine, now };
}

function codeOf(action: () => unknown): string | undefined {
  try {
    action();
  } catch (error) {
    if (error instanceof GatehouseError) return error.code;
    throw error;
  }
  return undefined;
}

describe("check", () => {
  it("allows through a grant on an ancestor and names that grant", () => {
    const { engine } = fixture();
    const decision = engine.check("user:otto", "site.deploy", "site:a2");
    expect(decision).toMatchObject({
      allowed: true,
      via: { subject: "user:otto", role: "operator", scope: "server:a" },
    });
  });

  it("denies a customer on a sibling site and on the server (no upward leakage)", () => {
    const { engine } = fixture();
    expect(engine.check("user:cara", "site.deploy", "site:a1").allowed).toBe(true);
    expect(engine.check("user:cara", "site.view", "site:a2")).toEqual({
      allowed: false,
      reason: "no_grant",
    });
    expect(engine.check("user:cara", "server.view", "server:a")).toEqual({
      allowed: false,
      reason: "no_grant",
    });
  });

  it("confines an operator to its server", () => {
    const { engine } = fixture();
    expect(engine.check("user:otto", "server.restart", "server:a").allowed).toBe(true);
    expect(engine.check("user:otto", "server.restart", "server:b").allowed).toBe(false);
    expect(engine.check("user:otto", "site.view", "site:b1").allowed).toBe(false);
  });

  it("gives the owner every permission, owner-only ones included", () => {
    const { engine } = fixture();
    expect(engine.check("user:olivia", "billing.manage", "workspace:acme").allowed).toBe(true);
    expect(engine.check("user:adam", "billing.manage", "workspace:acme").allowed).toBe(false);
  });

  it("answers not_found for unknown resources and not_applicable for a permission on another type", () => {
    const { engine } = fixture();
    expect(engine.check("user:olivia", "site.view", "site:nope")).toEqual({
      allowed: false,
      reason: "not_found",
    });
    expect(engine.check("user:olivia", "site.view", "server:a")).toEqual({
      allowed: false,
      reason: "not_applicable",
    });
    expect(engine.check("user:nobody", "site.view", "site:a1")).toEqual({
      allowed: false,
      reason: "no_grant",
    });
  });

  it("throws for a permission the model does not define", () => {
    const { engine } = fixture();
    // @ts-expect-error the permission name is typed
    expect(codeOf(() => engine.check("user:adam", "site.explode", "site:a1"))).toBe(
      "UNKNOWN_PERMISSION",
    );
  });

  it("stops honouring a grant once it has expired", () => {
    const { engine, now } = fixture();
    engine.addGrant({ subject: "user:tess", role: "customer", scope: "site:b1", expiresAt: 2_000 });
    expect(engine.check("user:tess", "site.deploy", "site:b1").allowed).toBe(true);
    now.value = 2_000;
    expect(engine.check("user:tess", "site.deploy", "site:b1").allowed).toBe(false);
    expect(engine.permissionsOn("user:tess", "site:b1")).toEqual([]);
    expect(engine.listVisible("user:tess", "site", "site.view").items).toEqual([]);
  });

  it("gives group members the group's grants", () => {
    const { engine } = fixture();
    engine.addGrant({ subject: "group:agency", role: "viewer", scope: "server:b" });
    expect(engine.check("user:gil", "site.view", "site:b1").allowed).toBe(false);
    engine.addGroupMember("group:agency", "user:gil");
    expect(engine.check("user:gil", "site.view", "site:b1")).toMatchObject({
      allowed: true,
      via: { subject: "group:agency" },
    });
    engine.removeGroupMember("group:agency", "user:gil");
    expect(engine.check("user:gil", "site.view", "site:b1").allowed).toBe(false);
  });

  it("adds extras on top of the role", () => {
    const { engine } = fixture();
    engine.addGrant({
      subject: "user:vic",
      role: "viewer",
      scope: "site:b1",
      extras: ["site.delete"],
    });
    expect(engine.check("user:vic", "site.delete", "site:b1").allowed).toBe(true);
    expect(engine.check("user:vic", "site.deploy", "site:b1").allowed).toBe(false);
  });
});

describe("grants", () => {
  it("refuses a second role for the same subject on the same resource (R6)", () => {
    const { engine } = fixture();
    const revision = engine.revision;
    expect(
      codeOf(() => engine.addGrant({ subject: "user:cara", role: "viewer", scope: "site:a1" })),
    ).toBe("ROLE_CONFLICT");
    expect(engine.revision).toBe(revision);
    expect(engine.grantsOf("user:cara")).toHaveLength(1);
  });

  it("refuses a role at a scope type it is not granted at", () => {
    const { engine } = fixture();
    expect(
      codeOf(() => engine.addGrant({ subject: "user:x", role: "operator", scope: "site:a1" })),
    ).toBe("ROLE_NOT_GRANTABLE_AT_SCOPE");
    expect(
      codeOf(() =>
        engine.addGrant({ subject: "user:x", role: "customer", scope: "workspace:acme" }),
      ),
    ).toBe("ROLE_NOT_GRANTABLE_AT_SCOPE");
  });

  it("refuses owner-only extras and extras that do not act under the scope, applying nothing", () => {
    const { engine } = fixture();
    expect(
      codeOf(() =>
        engine.addGrant({
          subject: "user:x",
          role: "admin",
          scope: "workspace:acme",
          extras: ["billing.manage"],
        }),
      ),
    ).toBe("OWNER_ONLY_PERMISSION");
    expect(
      codeOf(() =>
        engine.addGrant({
          subject: "user:x",
          role: "customer",
          scope: "site:a1",
          extras: ["server.restart"],
        }),
      ),
    ).toBe("PERMISSION_NOT_APPLICABLE_AT_SCOPE");
    expect(engine.grantsOf("user:x")).toEqual([]);
  });

  it("keeps the owner role to one user at the root", () => {
    const { engine } = fixture();
    expect(
      codeOf(() =>
        engine.addGrant({ subject: "user:adam", role: "owner", scope: "workspace:acme" }),
      ),
    ).toBe("OWNER_EXISTS");
    expect(
      codeOf(() => engine.addGrant({ subject: "group:g", role: "owner", scope: "workspace:acme" })),
    ).toBe("INVALID_INPUT");
    engine.removeGrant("user:olivia", "workspace:acme");
    expect(engine.ownerGrant).toBeUndefined();
    engine.removeGrant("user:adam", "workspace:acme");
    engine.addGrant({ subject: "user:adam", role: "owner", scope: "workspace:acme" });
    expect(engine.ownerGrant?.subject).toBe("user:adam");
  });

  it("rejects unknown roles, scopes and malformed subjects", () => {
    const { engine } = fixture();
    // @ts-expect-error the role name is typed
    const unknownRole = () => engine.addGrant({ subject: "user:x", role: "god", scope: "site:a1" });
    expect(codeOf(unknownRole)).toBe("UNKNOWN_ROLE");
    expect(
      codeOf(() => engine.addGrant({ subject: "user:x", role: "customer", scope: "site:zz" })),
    ).toBe("RESOURCE_NOT_FOUND");
    // @ts-expect-error subjects are user: or group:
    const robot = () => engine.addGrant({ subject: "robot:x", role: "customer", scope: "site:a1" });
    expect(codeOf(robot)).toBe("INVALID_INPUT");
    expect(codeOf(() => engine.removeGrant("user:x", "site:a1"))).toBe("GRANT_NOT_FOUND");
  });

  it("ends all access at once when a subject is removed", () => {
    const { engine } = fixture();
    engine.addApiKey({ id: "k1", owner: "user:otto", scopes: ["*"] });
    engine.removeSubject("user:otto");
    expect(engine.check("user:otto", "site.view", "site:a1").allowed).toBe(false);
    expect(engine.check("apikey:k1", "site.view", "site:a1").allowed).toBe(false);
    expect(engine.apiKey("k1")).toBeUndefined();
  });
});

describe("API keys", () => {
  it("hold the owner's current permissions ∩ scopes ∩ resources (R20)", () => {
    const { engine } = fixture();
    engine.addApiKey({ id: "ci", owner: "user:adam", scopes: ["site.*"], resources: ["server:a"] });
    expect(engine.check("apikey:ci", "site.deploy", "site:a2").allowed).toBe(true);
    expect(engine.check("apikey:ci", "site.deploy", "site:b1")).toEqual({
      allowed: false,
      reason: "key_resource",
    });
    expect(engine.check("apikey:ci", "server.restart", "server:a")).toEqual({
      allowed: false,
      reason: "key_scope",
    });
    expect(engine.listVisible("apikey:ci", "site", "site.view").items).toEqual([
      "site:a1",
      "site:a2",
    ]);
    expect(engine.permissionsOn("apikey:ci", "site:a1")).toEqual([
      "site.view",
      "site.deploy",
      "site.delete",
    ]);
  });

  it("shrink when the owner is demoted", () => {
    const { engine } = fixture();
    engine.addApiKey({ id: "ci", owner: "user:adam", scopes: ["*"] });
    expect(engine.check("apikey:ci", "site.delete", "site:b1").allowed).toBe(true);
    engine.removeGrant("user:adam", "workspace:acme");
    engine.addGrant({ subject: "user:adam", role: "customer", scope: "site:b1" });
    expect(engine.check("apikey:ci", "site.delete", "site:b1").allowed).toBe(false);
    expect(engine.check("apikey:ci", "site.deploy", "site:b1").allowed).toBe(true);
    expect(engine.check("apikey:ci", "site.deploy", "site:a1").allowed).toBe(false);
  });

  it("never carry owner-only permissions, even for the owner", () => {
    const { engine } = fixture();
    const key = engine.addApiKey({ id: "all", owner: "user:olivia", scopes: ["*"] });
    expect(key.permissions).not.toContain("billing.manage");
    expect(engine.check("apikey:all", "billing.manage", "workspace:acme")).toEqual({
      allowed: false,
      reason: "key_scope",
    });
    expect(
      codeOf(() => engine.addApiKey({ id: "k", owner: "user:olivia", scopes: ["billing.manage"] })),
    ).toBe("OWNER_ONLY_PERMISSION");
    expect(
      codeOf(() => engine.addApiKey({ id: "k", owner: "user:olivia", scopes: ["nothing.*"] })),
    ).toBe("UNKNOWN_PERMISSION");
    expect(engine.apiKey("k")).toBeUndefined();
  });

  it("stop working when expired", () => {
    const { engine, now } = fixture();
    engine.addApiKey({ id: "tmp", owner: "user:otto", scopes: ["site.view"], expiresAt: 1_500 });
    expect(engine.check("apikey:tmp", "site.view", "site:a1").allowed).toBe(true);
    now.value = 1_500;
    expect(engine.check("apikey:tmp", "site.view", "site:a1")).toEqual({
      allowed: false,
      reason: "key_expired",
    });
  });

  it("whose resources were deleted hold nothing, rather than the whole workspace", () => {
    const { engine } = fixture();
    engine.addApiKey({
      id: "k",
      owner: "user:adam",
      scopes: ["site.view"],
      resources: ["site:b1"],
    });
    engine.deleteResource("server:b");
    expect(engine.check("apikey:k", "site.view", "site:a1").allowed).toBe(false);
    expect(engine.listVisible("apikey:k", "site", "site.view").items).toEqual([]);
  });

  it("may name resources that do not exist yet, reaching nothing until they do", () => {
    const { engine } = fixture();
    engine.addApiKey({
      id: "k",
      owner: "user:adam",
      scopes: ["site.view"],
      resources: ["site:new"],
    });
    expect(engine.listVisible("apikey:k", "site", "site.view").items).toEqual([]);
    engine.upsertResource("site:new", "server:b");
    expect(engine.listVisible("apikey:k", "site", "site.view").items).toEqual(["site:new"]);
    expect(() =>
      engine.addApiKey({
        id: "k2",
        owner: "user:adam",
        scopes: ["site.view"],
        // @ts-expect-error resource names are typed by the model's types
        resources: ["nope"],
      }),
    ).toThrow(/not a resource of this model/);
  });

  it("keep their resource constraint by name when a resource is deleted and created again", () => {
    const { engine } = fixture();
    engine.addApiKey({
      id: "k",
      owner: "user:adam",
      scopes: ["site.view"],
      resources: ["site:b1"],
    });
    engine.deleteResource("site:b1");
    engine.upsertResource("site:b1", "server:a");
    expect(engine.check("apikey:k", "site.view", "site:b1").allowed).toBe(true);
    expect(engine.check("apikey:k", "site.view", "site:a1").allowed).toBe(false);
    expect(engine.listVisible("apikey:k", "site", "site.view").items).toEqual(["site:b1"]);
  });
});

describe("listVisible", () => {
  it("lists only what the subject may see, sorted by name", () => {
    const { engine } = fixture();
    expect(engine.listVisible("user:cara", "site", "site.view").items).toEqual(["site:a1"]);
    expect(engine.listVisible("user:otto", "site", "site.view").items).toEqual([
      "site:a1",
      "site:a2",
    ]);
    expect(engine.listVisible("user:otto", "server", "server.view").items).toEqual(["server:a"]);
    expect(engine.listVisible("user:cara", "server", "server.view").items).toEqual([]);
    expect(engine.listVisible("user:adam", "site", "site.view").items).toEqual([
      "site:a1",
      "site:a2",
      "site:b1",
    ]);
  });

  it("pages with a cursor, for scoped and workspace-wide subjects alike", () => {
    const { engine } = fixture();
    for (const subject of ["user:adam", "user:otto"] as const) {
      const all = engine.listVisible(subject, "site", "site.view").items;
      const seen: string[] = [];
      let after: `site:${string}` | undefined;
      do {
        const page = engine.listVisible(subject, "site", "site.view", { limit: 1, after });
        seen.push(...page.items);
        after = page.next as `site:${string}` | undefined;
      } while (after !== undefined);
      expect(seen).toEqual(all);
    }
  });

  it("follows moves and deletions", () => {
    const { engine } = fixture();
    engine.moveResource("site:b1", "server:a");
    expect(engine.listVisible("user:otto", "site", "site.view").items).toEqual([
      "site:a1",
      "site:a2",
      "site:b1",
    ]);
    engine.deleteResource("site:a2");
    expect(engine.listVisible("user:otto", "site", "site.view").items).toEqual([
      "site:a1",
      "site:b1",
    ]);
    expect(engine.listVisible("user:adam", "site", "site.view").items).toEqual([
      "site:a1",
      "site:b1",
    ]);
  });

  it("rejects unknown types and bad limits", () => {
    const { engine } = fixture();
    // @ts-expect-error the type name is typed
    expect(codeOf(() => engine.listVisible("user:adam", "planet", "site.view"))).toBe(
      "UNKNOWN_RESOURCE_TYPE",
    );
    expect(codeOf(() => engine.listVisible("user:adam", "site", "site.view", { limit: -1 }))).toBe(
      "INVALID_INPUT",
    );
  });
});

describe("permissionsOn", () => {
  it("returns exactly the permissions check allows there", () => {
    const { engine } = fixture();
    expect(engine.permissionsOn("user:otto", "server:a")).toEqual([
      "server.view",
      "server.restart",
    ]);
    expect(engine.permissionsOn("user:otto", "site:a1")).toEqual(["site.view", "site.deploy"]);
    expect(engine.permissionsOn("user:otto", "server:b")).toEqual([]);
    expect(engine.permissionsOn("user:olivia", "workspace:acme")).toEqual([
      "billing.manage",
      "team.manage",
      "report.read",
    ]);
  });
});

describe("canGrant", () => {
  it("lets people managers grant what they hold (R8)", () => {
    const { engine } = fixture();
    expect(engine.canGrant("user:adam", "operator", "server:b")).toMatchObject({
      allowed: true,
      via: { role: "admin" },
    });
    expect(engine.canGrant("user:adam", "admin", "workspace:acme").allowed).toBe(true);
  });

  it("refuses granters without people management and grants beyond the granter", () => {
    const { engine } = fixture();
    expect(engine.canGrant("user:otto", "customer", "site:a1")).toEqual({
      allowed: false,
      reason: "no_people_management",
    });
    engine.addGrant({ subject: "user:tina", role: "viewer", scope: "server:a", extras: [] });
    expect(engine.canGrant("user:tina", "viewer", "site:a1")).toMatchObject({
      reason: "no_people_management",
    });
  });

  it("names the permissions a grant would add beyond the granter", () => {
    const narrow = defineModel({
      ...model.definition,
      name: "narrow",
      roles: {
        ...model.definition.roles,
        helpdesk: { scopes: ["workspace"], permissions: ["team.manage", "site.view"] },
      },
    });
    const engine = createEngine(narrow, {
      workspace: "w",
      grants: [{ subject: "user:h", role: "helpdesk", scope: "workspace:w" }],
    });
    expect(engine.canGrant("user:h", "viewer", "workspace:w")).toMatchObject({
      reason: "role_not_grantable_at_scope",
    });
    engine.upsertResource("server:s", "workspace:w");
    expect(engine.canGrant("user:h", "viewer", "server:s").allowed).toBe(true);
    expect(engine.canGrant("user:h", "operator", "server:s")).toEqual({
      allowed: false,
      reason: "exceeds_granter",
      missing: ["server.view", "server.restart", "site.deploy"],
    });
  });

  it("never grants the owner role or owner-only extras", () => {
    const { engine } = fixture();
    expect(engine.canGrant("user:olivia", "owner", "workspace:acme")).toMatchObject({
      reason: "owner_not_grantable",
    });
    expect(
      engine.canGrant("user:olivia", "admin", "workspace:acme", ["billing.manage"]),
    ).toMatchObject({ reason: "owner_only_permission" });
  });
});

describe("explain", () => {
  it("lists every grant with its outcome and suggests the least role at the narrowest scope", () => {
    const { engine } = fixture();
    engine.addGrant({ subject: "user:otto", role: "viewer", scope: "site:b1" });
    const explanation = engine.explain("user:otto", "site.deploy", "site:b1");
    expect(explanation.decision).toEqual({ allowed: false, reason: "no_grant" });
    const outcomes = explanation.considered.map((entry) => [entry.grant.scope, entry.outcome]);
    expect(outcomes).toEqual(
      expect.arrayContaining([
        ["server:a", "not_on_path"],
        ["site:b1", "lacks_permission"],
      ]),
    );
    expect(explanation.suggestion).toEqual({ role: "customer", scope: "site:b1" });
    expect(explanation.summary).toContain('role "customer" on site:b1');
  });

  it("says when only the owner can ever hold a permission", () => {
    const { engine } = fixture();
    const explanation = engine.explain("user:adam", "billing.manage", "workspace:acme");
    expect(explanation.ownerOnly).toBe(true);
    expect(explanation.summary).toContain("only the owner");
  });

  it("names the allowing grant and the group it came through", () => {
    const { engine } = fixture();
    engine.addGrant({ subject: "group:ops", role: "operator", scope: "server:b" });
    engine.addGroupMember("group:ops", "user:gus");
    const explanation = engine.explain("user:gus", "site.deploy", "site:b1");
    expect(explanation.considered).toEqual([
      {
        grant: expect.objectContaining({ scope: "server:b" }),
        throughGroup: "group:ops",
        outcome: "allows",
      },
    ]);
    expect(explanation.summary).toContain("through group:ops");
  });

  it("reports the key's own outcome for API keys", () => {
    const { engine } = fixture();
    engine.addApiKey({ id: "k", owner: "user:otto", scopes: ["site.view"] });
    expect(engine.explain("apikey:k", "site.deploy", "site:a1").key).toEqual({
      id: "k",
      outcome: "lacks_scope",
    });
  });
});

describe("resources and revisions", () => {
  it("increases the revision with every change and not for no-ops", () => {
    const { engine } = fixture();
    expect(engine.revision).toBe(0);
    engine.upsertResource("server:c", "workspace:acme");
    engine.upsertResource("server:c", "workspace:acme");
    expect(engine.revision).toBe(1);
    engine.addGrant({ subject: "user:z", role: "operator", scope: "server:c" });
    engine.removeGrant("user:z", "server:c");
    engine.deleteResource("server:c");
    expect(engine.revision).toBe(4);
  });

  it("rejects parents of the wrong type and moves under a descendant", () => {
    const { engine } = fixture();
    expect(codeOf(() => engine.upsertResource("site:x", "workspace:acme"))).toBe("INVALID_PARENT");
    expect(codeOf(() => engine.upsertResource("server:x", "site:a1"))).toBe("INVALID_PARENT");
    // @ts-expect-error resource names are typed by the model's types
    expect(codeOf(() => engine.upsertResource("planet:x", "workspace:acme"))).toBe(
      "UNKNOWN_RESOURCE_TYPE",
    );
    expect(codeOf(() => engine.deleteResource("workspace:acme"))).toBe("INVALID_INPUT");
    expect(engine.hasResource("site:x")).toBe(false);
  });

  it("deletes a subtree with the grants on it and reports both", () => {
    const { engine } = fixture();
    const removed = engine.deleteResource("server:a");
    expect(removed.resources.sort()).toEqual(["server:a", "site:a1", "site:a2"]);
    expect(removed.grants.map((grant) => grant.subject).sort()).toEqual(["user:cara", "user:otto"]);
    expect(engine.hasResource("site:a1")).toBe(false);
    expect(engine.check("user:cara", "site.view", "site:a1")).toMatchObject({
      reason: "not_found",
    });
  });

  it("loads resources in any order and rejects a missing parent", () => {
    expect(
      codeOf(() =>
        createEngine(model, {
          workspace: "w",
          resources: [{ resource: "site:s", parent: "server:missing" }],
        }),
      ),
    ).toBe("INVALID_PARENT");
  });
});

describe("validation without applying", () => {
  it("validates grants, resources and keys with the errors of the real change, changing nothing", () => {
    const { engine } = fixture();
    const revision = engine.revision;
    expect(() =>
      engine.validateGrant({ subject: "user:x", role: "operator", scope: "server:a" }),
    ).not.toThrow();
    expect(
      codeOf(() => engine.validateGrant({ subject: "user:x", role: "operator", scope: "site:a1" })),
    ).toBe("ROLE_NOT_GRANTABLE_AT_SCOPE");
    expect(codeOf(() => engine.validateResource("site:new", "workspace:acme"))).toBe(
      "INVALID_PARENT",
    );
    expect(codeOf(() => engine.validateResource("server:a", "server:a"))).toBe("INVALID_PARENT");
    expect(() => engine.validateResource("site:a1", "server:b")).not.toThrow();
    expect(
      codeOf(() =>
        engine.validateApiKey({ id: "k", owner: "user:adam", scopes: ["billing.manage"] }),
      ),
    ).toBe("OWNER_ONLY_PERMISSION");
    expect(engine.revision).toBe(revision);
    expect(engine.grantsOf("user:x")).toEqual([]);
    expect(engine.parentOf("site:a1")).toBe("server:a");
  });
});

describe("holds", () => {
  it("answers whether a grant at the resource or above carries a permission, whatever type it acts on", () => {
    const { engine } = fixture();
    expect(engine.check("user:adam", "team.manage", "server:a")).toMatchObject({
      reason: "not_applicable",
    });
    expect(engine.holds("user:adam", "team.manage", "server:a")).toMatchObject({
      allowed: true,
      via: { role: "admin" },
    });
    expect(engine.holds("user:otto", "site.deploy", "server:a").allowed).toBe(true);
    expect(engine.holds("user:otto", "site.deploy", "workspace:acme").allowed).toBe(false);
    expect(engine.holds("user:cara", "team.manage", "site:a1").allowed).toBe(false);
  });
});

describe("tree reads", () => {
  it("lists a subtree parents first, and all resources of a type with paging", () => {
    const { engine } = fixture();
    expect(engine.subtreeOf("server:a")).toEqual(["server:a", "site:a1", "site:a2"]);
    expect(engine.subtreeOf("site:none")).toEqual([]);
    expect(engine.resourcesOfType("site", { limit: 2 })).toEqual({
      items: ["site:a1", "site:a2"],
      next: "site:a2",
    });
    expect(engine.resourcesOfType("site", { after: "site:a2" })).toEqual({
      items: ["site:b1"],
      next: undefined,
    });
  });
});

describe("listVisible over many resources", () => {
  it("pages the same whether it gathers the covered resources or scans the sorted list", () => {
    const resources: {
      resource: `server:${string}` | `site:${string}`;
      parent: `workspace:${string}` | `server:${string}`;
    }[] = [];
    for (let server = 0; server < 6; server++) {
      resources.push({ resource: `server:s${server}`, parent: "workspace:big" });
      for (let site = 0; site < 40; site++)
        resources.push({ resource: `site:${site}-on-${server}`, parent: `server:s${server}` });
    }
    const grants = [
      { subject: "user:otto", role: "operator", scope: "server:s1" },
      { subject: "user:otto", role: "operator", scope: "server:s4" },
      { subject: "user:otto", role: "customer", scope: "site:7-on-2" },
    ] as const;
    const gathering = createEngine(model, { workspace: "big", resources, grants });
    const scanning = createEngine(model, { workspace: "big", resources, grants, gatherLimit: 1 });
    const all = gathering.listVisible("user:otto", "site", "site.view").items;
    expect(all).toHaveLength(81);
    for (const limit of [1, 7, 50, 100]) {
      const pages: string[] = [];
      let after: `site:${string}` | undefined;
      do {
        const page = scanning.listVisible("user:otto", "site", "site.view", { limit, after });
        expect(page).toEqual(
          gathering.listVisible("user:otto", "site", "site.view", { limit, after }),
        );
        pages.push(...page.items);
        after = page.next as `site:${string}` | undefined;
      } while (after !== undefined);
      expect(pages).toEqual(all);
    }
  });
});

describe("reaches", () => {
  it("is true at and below the subject's grants and at the root, false above, for siblings and strangers", () => {
    const { engine } = fixture();
    expect(engine.reaches("user:cara", "site:a1")).toBe(true);
    expect(engine.reaches("user:cara", "server:a")).toBe(false);
    expect(engine.reaches("user:otto", "site:a2")).toBe(true);
    expect(engine.reaches("user:cara", "workspace:acme")).toBe(true);
    expect(engine.reaches("user:cara", "site:a2")).toBe(false);
    expect(engine.reaches("user:cara", "server:b")).toBe(false);
    expect(engine.reaches("user:nobody", "site:a1")).toBe(false);
    engine.addApiKey({
      id: "k",
      owner: "user:adam",
      scopes: ["site.view"],
      resources: ["site:b1"],
    });
    expect(engine.reaches("apikey:k", "site:b1")).toBe(true);
    expect(engine.reaches("apikey:k", "server:b")).toBe(false);
    expect(engine.reaches("apikey:k", "site:a1")).toBe(false);
  });
});
