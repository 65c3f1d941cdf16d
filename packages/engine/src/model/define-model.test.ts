import { describe, expect, it } from "vitest";
import { GatehouseError } from "../errors.ts";
import { defineModel, parseModel } from "./define-model.ts";

const base = {
  name: "tiny",
  types: { workspace: {}, site: { parents: ["workspace"] } },
  permissions: {
    "site.view": { on: "site" },
    "team.manage": { on: "workspace" },
    "billing.manage": { on: "workspace" },
  },
  ownerOnly: ["billing.manage"],
  roles: {
    owner: { owner: true, scopes: ["workspace"] },
    viewer: { scopes: ["site"], permissions: ["site.view"] },
  },
  delegation: "team.manage",
} as const;

describe("defineModel", () => {
  it("compiles a valid model into a frozen value with its names", () => {
    const model = defineModel(base);
    expect(model.rootType).toBe("workspace");
    expect(model.roles).toEqual(["owner", "viewer"]);
    expect(model.ownerRole).toBe("owner");
    expect(model.policy).toEqual({
      oneWorkspacePerEmail: false,
      selfServiceTransfer: true,
      joinRequests: false,
      personalWorkspace: false,
      personalShareable: true,
      workspaceRoles: false,
    });
    expect(Object.isFrozen(model.definition.roles.viewer.permissions)).toBe(true);
  });

  it("types permission and role names, so a typo fails to compile", () => {
    const typo = () =>
      defineModel({
        ...base,
        // @ts-expect-error "site.veiw" is not a permission of the model
        roles: { ...base.roles, viewer: { scopes: ["site"], permissions: ["site.veiw"] } },
      });
    expect(typo).toThrow(GatehouseError);
    const unknownType = () =>
      defineModel({
        ...base,
        // @ts-expect-error "server" is not a type of the model
        roles: { ...base.roles, viewer: { scopes: ["server"], permissions: ["site.view"] } },
      });
    expect(unknownType).toThrow(GatehouseError);
  });

  it("throws INVALID_MODEL listing every issue with its path", () => {
    let error: unknown;
    try {
      defineModel({
        ...base,
        roles: {
          owner: { owner: true, scopes: ["workspace"] },
          viewer: { scopes: ["site"], permissions: ["site.view", "billing.manage", "team.manage"] },
        },
      });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(GatehouseError);
    const { code, issues } = error as GatehouseError;
    expect(code).toBe("INVALID_MODEL");
    expect(issues).toEqual([
      {
        path: "roles.viewer.permissions[1]",
        message: '"billing.manage" is owner-only and cannot be part of role "viewer"',
      },
      {
        path: "roles.viewer.permissions[2]",
        message: '"team.manage" acts on workspace, which is not at or below scope "site"',
      },
    ]);
  });
});

describe("gates and the former owner's role", () => {
  it("reports unknown gate permissions and types, and a former-owner role not granted at the root", () => {
    let issues: readonly { path: string }[] = [];
    try {
      defineModel({
        ...base,
        gates: {
          // @ts-expect-error "site.create" is not a permission of the model
          teamView: "site.create",
          // @ts-expect-error "plan.change" is not a permission of the model
          plan: "plan.change",
          createResource: { workspace: "site.view" },
        },
        formerOwnerRole: "viewer",
      });
    } catch (error) {
      issues = (error as GatehouseError).issues;
    }
    expect(issues.map((issue) => issue.path)).toEqual([
      "gates.teamView",
      "gates.plan",
      "gates.createResource.workspace",
      "formerOwnerRole",
    ]);
  });
});

describe("the sign-in gate", () => {
  it("accepts a permission that acts on the type whose admin app the link opens", () => {
    const model = defineModel({ ...base, gates: { signIn: { site: "site.view" } } });
    expect(model.definition.gates?.signIn).toEqual({ site: "site.view" });
  });

  it("refuses a permission that does not act on that type, an unknown type and an unknown permission", () => {
    let issues: readonly { path: string; message: string }[] = [];
    try {
      defineModel({
        ...base,
        // @ts-expect-error "site.login" is not a permission of the model
        gates: { signIn: { workspace: "site.view", site: "site.login" } },
      });
    } catch (error) {
      issues = (error as GatehouseError).issues;
    }
    expect(issues).toEqual([
      {
        path: "gates.signIn.workspace",
        message: '"site.view" does not act on workspace resources',
      },
      { path: "gates.signIn.site", message: 'unknown permission "site.login"' },
    ]);
    const parsed = parseModel({ ...base, gates: { signIn: { server: "site.view" } } });
    expect(parsed.success ? [] : parsed.issues.map((issue) => issue.path)).toEqual([
      "gates.signIn.server",
    ]);
  });
});

describe("the activity gate", () => {
  it("accepts a permission that acts on the type, and refuses one that does not", () => {
    const model = defineModel({ ...base, gates: { activity: { site: "site.view" } } });
    expect(model.definition.gates?.activity).toEqual({ site: "site.view" });
    const parsed = parseModel({ ...base, gates: { activity: { workspace: "site.view" } } });
    expect(parsed.success ? [] : parsed.issues).toEqual([
      {
        path: "gates.activity.workspace",
        message: '"site.view" does not act on workspace resources',
      },
    ]);
  });
});

describe("the members' navigation", () => {
  it("takes workspace-only on a role, never on the owner role, and nothing else", () => {
    const model = defineModel({
      ...base,
      roles: { ...base.roles, viewer: { ...base.roles.viewer, navigation: "workspace-only" } },
    });
    expect(model.definition.roles.viewer.navigation).toBe("workspace-only");
    const parsed = parseModel({
      ...base,
      roles: {
        owner: { ...base.roles.owner, navigation: "workspace-only" },
        viewer: { ...base.roles.viewer, navigation: "none" },
      },
    });
    expect(parsed.success ? [] : parsed.issues).toEqual([
      { path: "roles.owner.navigation", message: "the owner keeps the full navigation" },
      { path: "roles.viewer.navigation", message: 'must be "full" or "workspace-only"' },
    ]);
  });
});
