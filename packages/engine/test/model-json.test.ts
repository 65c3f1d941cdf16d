/**
 * Models loaded from JSON with `parseModel` / `loadModel`: every problem reported with its path,
 * several at once, and a valid JSON model deciding exactly as the same model via `defineModel`.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { createEngine, type Engine } from "../src/engine/engine.ts";
import type { ResourceRef, SubjectRef } from "../src/engine/types.ts";
import { ErrorCode, GatehouseError, type Issue } from "../src/errors.ts";
import { defineModel, loadModel, type Model, parseModel } from "../src/model/define-model.ts";
import { propertyRuns } from "./property-runs.ts";
import { GROUPS, NOW, type Scenario, scenarioArbitrary, USERS } from "./random-workspace.ts";

/** A valid model as a panel builder would ship it in a JSON file. */
const PANEL_JSON = `{
  "name": "panel",
  "label": "Panel",
  "types": {
    "workspace": { "label": "Workspace" },
    "server": { "parents": ["workspace"] },
    "site": { "parents": ["server"] }
  },
  "permissions": {
    "billing.manage": { "on": "workspace", "description": "Pay invoices" },
    "team.manage": { "on": "workspace" },
    "server.view": { "on": "server" },
    "server.restart": { "on": ["server"] },
    "site.view": { "on": "site" },
    "site.deploy": { "on": "site" }
  },
  "ownerOnly": ["billing.manage"],
  "delegation": "team.manage",
  "roles": {
    "owner": { "owner": true, "scopes": ["workspace"] },
    "admin": {
      "scopes": ["workspace"],
      "permissions": ["team.manage", "server.view", "server.restart", "site.view", "site.deploy"]
    },
    "operator": { "scopes": ["server"], "permissions": ["server.view", "server.restart", "site.view", "site.deploy"] },
    "customer": { "scopes": ["site"], "permissions": ["site.view", "site.deploy"] }
  },
  "plans": { "standard": { "maxMembers": 5 }, "unlimited": { "maxMembers": null } },
  "defaultPlan": "standard",
  "sections": { "team": { "label": "Team", "anyOf": ["team.manage"] } },
  "policy": { "personalWorkspace": true }
}`;

type Json = Record<string, unknown>;

/** A fresh, mutable copy of the valid panel model. */
function panel(): Json {
  return JSON.parse(PANEL_JSON) as Json;
}

/** Applies `edit` to a copy of the panel model (an object at `path`) and returns the issues. */
function issuesAfter(edit: (model: Json) => void): readonly Issue[] {
  const model = panel();
  edit(model);
  const result = parseModel(model);
  if (result.success) return [];
  return result.issues;
}

function at(model: Json, ...keys: string[]): Json {
  let current: Json = model;
  for (const key of keys) current = current[key] as Json;
  return current;
}

function pathsOf(issues: readonly Issue[]): string[] {
  return issues.map((issue) => issue.path);
}

describe("loading a model from JSON", () => {
  it("loads a valid JSON model", () => {
    const result = parseModel(JSON.parse(PANEL_JSON));
    expect(result.success).toBe(true);
    const model = loadModel(JSON.parse(PANEL_JSON));
    expect(model.rootType).toBe("workspace");
    expect(model.ownerRole).toBe("owner");
    expect(model.policy.personalWorkspace).toBe(true);
    expect(Object.isFrozen(model.definition.roles)).toBe(true);
  });

  it("keeps no link to the parsed input", () => {
    const input = panel();
    const model = loadModel(input);
    at(input, "roles", "customer")["permissions"] = ["site.view"];
    at(input, "types")["planet"] = { parents: ["workspace"] };
    expect(model.definition.roles["customer"]?.permissions).toEqual(["site.view", "site.deploy"]);
    expect(model.types).not.toContain("planet");
  });

  it("reports a non-owner role that contains an owner-only permission at its path", () => {
    const issues = issuesAfter((model) => {
      at(model, "roles", "admin")["permissions"] = ["team.manage", "billing.manage"];
    });
    expect(issues).toEqual([
      {
        path: "roles.admin.permissions[1]",
        message: '"billing.manage" is owner-only and cannot be part of role "admin"',
      },
    ]);
  });

  it("reports a role grantable at a scope its permissions do not act under", () => {
    const issues = issuesAfter((model) => {
      at(model, "roles", "customer")["scopes"] = ["site", "server"];
      at(model, "roles", "customer")["permissions"] = ["site.view", "server.restart"];
    });
    // server.restart acts on servers, which are above a site scope; site.view acts below a server.
    expect(issues).toEqual([
      {
        path: "roles.customer.permissions[1]",
        message: '"server.restart" acts on server, which is not at or below scope "site"',
      },
    ]);
  });

  it("reports references to unknown types, permissions and plans, each at its path", () => {
    const issues = issuesAfter((model) => {
      at(model, "types", "site")["parents"] = ["server", "rack"];
      at(model, "permissions")["site.backup"] = { on: ["site", "planet"] };
      at(model, "permissions")["server.reboot"] = { on: "machine" };
      at(model, "roles", "operator")["scopes"] = ["server", "cluster"];
      at(model, "roles", "customer")["permissions"] = ["site.view", "site.explode"];
      model["ownerOnly"] = ["billing.manage", "billing.refund"];
      model["delegation"] = "people.manage";
      at(model, "sections", "team")["anyOf"] = ["team.manage", "team.view"];
      model["defaultPlan"] = "premium";
    });
    expect(issues).toEqual(
      expect.arrayContaining([
        { path: "types.site.parents[1]", message: 'unknown resource type "rack"' },
        { path: "permissions.site.backup.on[1]", message: 'unknown resource type "planet"' },
        { path: "permissions.server.reboot.on", message: 'unknown resource type "machine"' },
        { path: "roles.operator.scopes[1]", message: 'unknown resource type "cluster"' },
        { path: "roles.customer.permissions[1]", message: 'unknown permission "site.explode"' },
        { path: "ownerOnly[1]", message: 'unknown permission "billing.refund"' },
        { path: "delegation", message: 'unknown permission "people.manage"' },
        { path: "sections.team.anyOf[1]", message: 'unknown permission "team.view"' },
        { path: "defaultPlan", message: 'unknown plan "premium"' },
      ]),
    );
    expect(issues).toHaveLength(9);
  });

  it("reports a parent type named like an Object.prototype member (toString, constructor) as unknown", () => {
    for (const name of ["toString", "constructor", "hasOwnProperty"]) {
      const issues = issuesAfter((model) => {
        at(model, "types", "site")["parents"] = [name];
      });
      expect(issues).toContainEqual({
        path: "types.site.parents[0]",
        message: `unknown resource type "${name}"`,
      });
    }
  });

  it("requires exactly one owner role; no field may name a role, so there is no unknown-role reference", () => {
    const none = issuesAfter((model) => {
      at(model, "roles", "owner")["owner"] = false;
    });
    expect(none).toContainEqual({
      path: "roles",
      message: "exactly one role must be the owner role (owner: true); found 0",
    });
    const two = issuesAfter((model) => {
      at(model, "roles")["chief"] = { owner: true, scopes: ["workspace"] };
    });
    expect(two).toContainEqual({
      path: "roles",
      message: "exactly one role must be the owner role (owner: true); found 2",
    });
    const owner = issuesAfter((model) => {
      at(model, "roles", "owner")["scopes"] = ["server"];
      at(model, "roles", "owner")["permissions"] = ["site.view"];
    });
    expect(pathsOf(owner)).toEqual(["roles.owner.scopes[0]", "roles.owner.permissions"]);
  });

  it("reports a cycle in the type tree on each type of the cycle", () => {
    const issues = issuesAfter((model) => {
      at(model, "types", "server")["parents"] = ["workspace", "site"];
    });
    expect(issues).toEqual([
      { path: "types.server.parents", message: 'cycle in the type tree through "server"' },
      { path: "types.site.parents", message: 'cycle in the type tree through "site"' },
    ]);
  });

  it("reports a cycle that leaves no root type", () => {
    const issues = issuesAfter((model) => {
      at(model, "types", "workspace")["parents"] = ["site"];
    });
    expect(pathsOf(issues)).toEqual(
      expect.arrayContaining(["types", "types.workspace.parents", "types.server.parents"]),
    );
    expect(issues).toContainEqual(
      expect.objectContaining({ path: "types", message: expect.stringContaining("found 0") }),
    );
  });

  it("reports two root types", () => {
    const issues = issuesAfter((model) => {
      at(model, "types")["tenant"] = {};
    });
    expect(issues).toEqual([
      {
        path: "types",
        message:
          "exactly one type must have no parents (the workspace root); found 2: workspace, tenant",
      },
    ]);
  });

  it("reports unknown fields at every level", () => {
    const issues = issuesAfter((model) => {
      model["colour"] = "blue";
      at(model, "types", "site")["icon"] = "globe";
      at(model, "permissions", "site.view")["scope"] = "site";
      at(model, "roles", "customer")["perms"] = [];
      at(model, "plans", "standard")["price"] = 10;
      at(model, "sections", "team")["hidden"] = false;
      at(model, "policy")["allowRobots"] = true;
    });
    expect(pathsOf(issues)).toEqual([
      "colour",
      "types.site.icon",
      "permissions.site.view.scope",
      "roles.customer.perms",
      "plans.standard.price",
      "sections.team.hidden",
      "policy.allowRobots",
    ]);
    for (const issue of issues) expect(issue.message).toMatch(/^unknown field; expected one of /);
  });

  it("reports plan limits that are not whole numbers of at least 1 or null", () => {
    const issues = issuesAfter((model) => {
      model["plans"] = {
        zero: { maxMembers: 0 },
        negative: { maxMembers: -3 },
        fraction: { maxMembers: 2.5 },
        text: { maxMembers: "10" },
        missing: {},
        fine: { maxMembers: 25 },
        unlimited: { maxMembers: null },
      };
      model["defaultPlan"] = "fine";
    });
    expect(pathsOf(issues)).toEqual([
      "plans.zero.maxMembers",
      "plans.negative.maxMembers",
      "plans.fraction.maxMembers",
      "plans.text.maxMembers",
      "plans.missing.maxMembers",
    ]);
    for (const issue of issues) {
      expect(issue.message).toBe("must be a whole number of at least 1, or null for no limit");
    }
  });

  it("reports every problem of one document together, and loadModel throws them all", () => {
    const broken = {
      name: "Broken Name",
      colour: "blue",
      types: { workspace: {}, site: { parents: ["server"] }, tenant: {} },
      permissions: {
        "site.view": { on: "site" },
        billing: { on: "workspace" },
        "billing.manage": { on: "workspace" },
      },
      ownerOnly: ["billing.manage"],
      delegation: "team.manage",
      roles: {
        owner: { owner: true, scopes: ["workspace"] },
        customer: { scopes: ["site"], permissions: ["site.view", "billing.manage"] },
      },
      plans: { standard: { maxMembers: 0 } },
      policy: { joinRequests: "yes" },
    };
    const result = parseModel(broken);
    expect(result.success).toBe(false);
    const issues = result.success ? [] : result.issues;
    expect(pathsOf(issues)).toEqual(
      expect.arrayContaining([
        "colour",
        "name",
        "types.site.parents[0]",
        "types",
        "permissions.billing",
        "delegation",
        "roles.customer.permissions[1]",
        "plans.standard.maxMembers",
        "policy.joinRequests",
      ]),
    );
    let thrown: unknown;
    try {
      loadModel(broken);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(GatehouseError);
    const error = thrown as GatehouseError;
    expect(error.code).toBe(ErrorCode.INVALID_MODEL);
    expect(error.issues).toEqual(issues);
    expect(error.message).toContain(`(and ${issues.length - 5} more)`);
  });

  it("reports input that is not an object, or fields of the wrong shape", () => {
    for (const input of [null, [], "model", 42]) {
      expect(parseModel(input)).toEqual({
        success: false,
        issues: [{ path: "", message: "must be an object" }],
      });
    }
    const issues = issuesAfter((model) => {
      model["types"] = [];
      model["roles"] = "owner";
    });
    expect(pathsOf(issues)).toEqual(expect.arrayContaining(["types", "roles"]));
  });
});

// ---------------------------------------------------------------- same decisions either way

function engineFor(model: Model, scenario: Scenario): Engine {
  const engine = createEngine(model, {
    workspace: scenario.workspace,
    clock: () => NOW,
    resources: scenario.resources,
  });
  for (const { group, user } of scenario.memberships) engine.addGroupMember(group, user);
  for (const grant of scenario.grants) {
    try {
      engine.addGrant(grant);
    } catch (error) {
      if (!(error instanceof GatehouseError)) throw error;
    }
  }
  for (const key of scenario.apiKeys) {
    try {
      engine.addApiKey(key);
    } catch (error) {
      if (!(error instanceof GatehouseError)) throw error;
    }
  }
  return engine;
}

function assertSameDecisions(left: Engine, right: Engine, scenario: Scenario): void {
  const subjects: SubjectRef[] = [
    ...USERS,
    ...GROUPS,
    ...scenario.apiKeys.map((key): SubjectRef => `apikey:${key.id}`),
  ];
  const resources: ResourceRef[] = [
    scenario.root,
    ...scenario.resources.map((edge) => edge.resource),
  ];
  expect([...right.grants()]).toEqual([...left.grants()]);
  for (const subject of subjects) {
    for (const resource of resources) {
      expect(right.permissionsOn(subject, resource)).toEqual(left.permissionsOn(subject, resource));
      for (const permission of left.model.permissions) {
        expect(right.check(subject, permission, resource)).toEqual(
          left.check(subject, permission, resource),
        );
      }
      for (const role of left.model.roles) {
        expect(right.canGrant(subject, role, resource)).toEqual(
          left.canGrant(subject, role, resource),
        );
      }
    }
    for (const type of left.model.types) {
      for (const permission of left.model.permissions) {
        expect(right.listVisible(subject, type, permission)).toEqual(
          left.listVisible(subject, type, permission),
        );
      }
    }
  }
}

describe("a JSON model decides as the same model via defineModel", () => {
  it("gives the same decisions for the panel model", () => {
    const typed = defineModel({
      name: "panel",
      label: "Panel",
      types: {
        workspace: { label: "Workspace" },
        server: { parents: ["workspace"] },
        site: { parents: ["server"] },
      },
      permissions: {
        "billing.manage": { on: "workspace", description: "Pay invoices" },
        "team.manage": { on: "workspace" },
        "server.view": { on: "server" },
        "server.restart": { on: ["server"] },
        "site.view": { on: "site" },
        "site.deploy": { on: "site" },
      },
      ownerOnly: ["billing.manage"],
      delegation: "team.manage",
      roles: {
        owner: { owner: true, scopes: ["workspace"] },
        admin: {
          scopes: ["workspace"],
          permissions: ["team.manage", "server.view", "server.restart", "site.view", "site.deploy"],
        },
        operator: {
          scopes: ["server"],
          permissions: ["server.view", "server.restart", "site.view", "site.deploy"],
        },
        customer: { scopes: ["site"], permissions: ["site.view", "site.deploy"] },
      },
      plans: { standard: { maxMembers: 5 }, unlimited: { maxMembers: null } },
      defaultPlan: "standard",
      sections: { team: { label: "Team", anyOf: ["team.manage"] } },
      policy: { personalWorkspace: true },
    });
    const fromJson = loadModel(JSON.parse(PANEL_JSON));
    expect(fromJson.definition).toEqual(typed.definition);
    const scenario: Scenario = {
      definition: typed.definition,
      model: typed,
      workspace: "acme",
      root: "workspace:acme",
      resources: [
        { resource: "server:a", parent: "workspace:acme" },
        { resource: "server:b", parent: "workspace:acme" },
        { resource: "site:a1", parent: "server:a" },
        { resource: "site:b1", parent: "server:b" },
      ],
      memberships: [{ group: "group:ops", user: "user:bob" }],
      grants: [
        { subject: "user:ann", role: "owner", scope: "workspace:acme" },
        { subject: "group:ops", role: "operator", scope: "server:a" },
        { subject: "user:cy", role: "customer", scope: "site:b1" },
        { subject: "user:dee", role: "admin", scope: "workspace:acme", expiresAt: NOW + 1 },
      ],
      apiKeys: [{ id: "k0", owner: "user:bob", scopes: ["site.*"], resources: ["server:a"] }],
      probe: { limits: [1], cursors: ["a"], seed: 0 },
    };
    assertSameDecisions(engineFor(typed, scenario), engineFor(fromJson, scenario), scenario);
  });

  it("gives the same decisions on random models after a round trip through JSON text", {
    timeout: 60_000,
  }, () => {
    fc.assert(
      fc.property(scenarioArbitrary, (scenario) => {
        const fromJson = loadModel(JSON.parse(JSON.stringify(scenario.definition)));
        expect(fromJson.definition).toEqual(scenario.model.definition);
        assertSameDecisions(
          engineFor(scenario.model, scenario),
          engineFor(fromJson, scenario),
          scenario,
        );
      }),
      { numRuns: propertyRuns(200) },
    );
  });
});
