import { describe, expect, it } from "vitest";
import { applyOps } from "../changes/change-op.ts";
import { createEngine } from "../engine/engine.ts";
import { GatehouseError } from "../errors.ts";
import { presets } from "../presets/index.ts";
import { defineModel } from "./define-model.ts";
import { extendModel, workspaceRoleIssues } from "./workspace-roles.ts";

const model = defineModel({
  name: "studio",
  types: { workspace: {}, site: { parents: ["workspace"] } },
  permissions: {
    "site.view": { on: "site" },
    "site.deploy": { on: "site" },
    "team.manage": { on: "workspace" },
    "billing.manage": { on: "workspace" },
  },
  ownerOnly: ["billing.manage"],
  roles: {
    owner: { owner: true, scopes: ["workspace"] },
    admin: { scopes: ["workspace"], permissions: ["team.manage", "site.view", "site.deploy"] },
    viewer: { scopes: ["workspace", "site"], permissions: ["site.view"] },
  },
  delegation: "team.manage",
  policy: { workspaceRoles: true },
});

const deployer = { label: "Deployer", scopes: ["site"], permissions: ["site.view", "site.deploy"] };

describe("workspace roles", () => {
  it("extends the model: the role is granted, checked and explained like a built-in one", () => {
    const effective = extendModel(model, { deployer });
    expect(effective.roles).toEqual(["owner", "admin", "viewer", "deployer"]);
    expect(effective.definition.roles["deployer"]?.label).toBe("Deployer");
    const engine = createEngine(effective, {
      workspace: "w1",
      clock: () => 0,
      resources: [{ resource: "site:shop", parent: "workspace:w1" }],
      grants: [
        { subject: "user:olivia", scope: "workspace:w1", role: "owner" },
        { subject: "user:dana", scope: "site:shop", role: "deployer" },
      ],
    });
    expect(engine.check("user:dana", "site.deploy", "site:shop").allowed).toBe(true);
    expect(engine.check("user:dana", "team.manage", "workspace:w1").allowed).toBe(false);
    const explained = engine.explain("user:dana", "site.deploy", "site:shop");
    expect(JSON.stringify(explained)).toContain("deployer");
    // Not at the root: the role's scopes are the site only.
    expect(() =>
      engine.addGrant({ subject: "user:eve", scope: "workspace:w1", role: "deployer" }),
    ).toThrow(GatehouseError);
  });

  it("answers the model itself when the workspace has no roles", () => {
    expect(extendModel(model, {})).toBe(model);
  });

  it("refuses owner-only permissions, unknown ones, names of the model and permissions outside the scopes", () => {
    const issues = workspaceRoleIssues(model, {
      payer: { scopes: ["workspace"], permissions: ["billing.manage"] },
      typo: { scopes: ["site"], permissions: ["site.edit"] },
      admin: { scopes: ["workspace"], permissions: ["site.view"] },
      narrow: { scopes: ["site"], permissions: ["team.manage"] },
      nowhere: { scopes: ["server"], permissions: ["site.view"] },
    });
    const text = issues.map((issue) => `${issue.path}: ${issue.message}`).join("\n");
    expect(text).toContain('roles.admin: "admin" is a role of model "studio"');
    // Name rule first: the rest is checked once the names are free.
    const rest = workspaceRoleIssues(model, {
      payer: { scopes: ["workspace"], permissions: ["billing.manage"] },
      typo: { scopes: ["site"], permissions: ["site.edit"] },
      narrow: { scopes: ["site"], permissions: ["team.manage"] },
      nowhere: { scopes: ["server"], permissions: ["site.view"] },
    });
    const restText = rest.map((issue) => `${issue.path}: ${issue.message}`).join("\n");
    expect(restText).toContain('roles.payer.permissions[0]: "billing.manage" is owner-only');
    expect(restText).toContain('roles.typo.permissions[0]: unknown permission "site.edit"');
    expect(restText).toContain("roles.narrow.permissions[0]");
    expect(restText).toContain('roles.nowhere.scopes[0]: unknown resource type "server"');
    const sneaky = workspaceRoleIssues(model, {
      sneaky: { scopes: ["workspace"], permissions: [], owner: true } as never,
    });
    expect(sneaky[0]?.path).toBe("roles.sneaky.owner");
    expect(() => extendModel(model, { typo: { scopes: ["site"], permissions: ["x.y"] } })).toThrow(
      /invalid workspace roles/,
    );
  });

  it("is off by default and in all five presets", () => {
    for (const preset of Object.values(presets)) {
      expect(preset.policy.workspaceRoles).toBe(false);
      const issues = workspaceRoleIssues(preset, {
        extra: { scopes: [preset.rootType], permissions: [] },
      });
      expect(issues[0]?.message).toContain("does not let a workspace define roles");
    }
  });

  it("a change of roles does not apply to an engine: its holder reloads", () => {
    const engine = createEngine(model, { workspace: "w1", clock: () => 0 });
    expect(() => applyOps(engine, [{ op: "roles.change" }])).toThrow(/roles changed/);
  });
});
