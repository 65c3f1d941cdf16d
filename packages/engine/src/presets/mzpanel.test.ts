import { describe, expect, it } from "vitest";
import { roleMatrix } from "../../test/role-matrix.ts";
import { createEngine } from "../engine/engine.ts";
import { mzpanel } from "./mzpanel.ts";

// MZPanel's documentation: "Account-level concerns — billing, adding/removing servers, and integration credentials
// (DNS tokens, AI keys, backup-destination secrets) — are never shared; only the owner touches them."
// plus the "Owner-only Workspace settings": rename, transfer ownership, close workspace.
const OWNER_ONLY = [
  "workspace.rename",
  "workspace.transfer",
  "workspace.close",
  "workspace.plan.change",
  "billing.view",
  "billing.manage",
  "integrations.manage",
  "server.create",
  "server.delete",
] as const;

// Customer: "They can run content and site operations on their own domain only". Deleting the site
// itself is the operator's (a server-level decision), not a site operation.
const CUSTOMER = [
  "site.view",
  "site.settings.manage",
  "site.content.manage",
  "site.files.manage",
  "site.database.manage",
  "site.deploy",
  "site.backups.manage",
  "site.activity.view",
] as const;

// Operator: "Manage one or more whole servers (sites, DB, PHP, services, OS, security, …)" — but
// "adding/removing servers" stays with the owner.
const OPERATOR = [
  "server.view",
  "server.services.manage",
  "server.php.manage",
  "server.os.manage",
  "server.security.manage",
  "server.restart",
  "server.activity.view",
  "site.create",
  "site.delete",
  ...CUSTOMER,
] as const;

// Admin: "Full control except billing and closing the workspace; can view Team" — view, not manage.
const ADMIN = ["team.view", "activity.view", ...OPERATOR] as const;

const matrix = roleMatrix(mzpanel, {
  workspace: "acme",
  tree: [
    ["server:s1", "workspace:acme"],
    ["server:s2", "workspace:acme"],
    ["site:s1-shop", "server:s1"],
    ["site:s1-blog", "server:s1"],
    ["site:s2-shop", "server:s2"],
    ["site:s2-blog", "server:s2"],
  ],
  actsOn: {
    "workspace.rename": ["workspace"],
    "workspace.transfer": ["workspace"],
    "workspace.close": ["workspace"],
    "workspace.plan.change": ["workspace"],
    "billing.view": ["workspace"],
    "billing.manage": ["workspace"],
    "integrations.manage": ["workspace"],
    "server.create": ["workspace"],
    "server.delete": ["server"],
    "team.view": ["workspace"],
    "team.manage": ["workspace"],
    "activity.view": ["workspace"],
    "server.view": ["server"],
    "server.services.manage": ["server"],
    "server.php.manage": ["server"],
    "server.os.manage": ["server"],
    "server.security.manage": ["server"],
    "server.restart": ["server"],
    "server.activity.view": ["server"],
    "site.create": ["server"],
    "site.delete": ["site"],
    "site.view": ["site"],
    "site.settings.manage": ["site"],
    "site.content.manage": ["site"],
    "site.files.manage": ["site"],
    "site.database.manage": ["site"],
    "site.deploy": ["site"],
    "site.backups.manage": ["site"],
    "site.activity.view": ["site"],
  },
  ownerOnly: OWNER_ONLY,
  roles: {
    // "Owner — Everything, including billing and team management — All"
    owner: { scopes: ["workspace"], permissions: "everything" },
    admin: { scopes: ["workspace"], permissions: ADMIN },
    // "Operator — … — Server"
    operator: { scopes: ["server"], permissions: OPERATOR },
    // "Customer — Manage only the site(s) handed to them — no server access, no sibling sites — Site"
    customer: { scopes: ["site"], permissions: CUSTOMER },
  },
});

describe("mzpanel: role × scope × permission matrix", () => {
  for (const { name, mismatches } of matrix) it(name, () => expect(mismatches()).toEqual([]));
});

function fleet() {
  return createEngine(mzpanel, {
    workspace: "acme",
    resources: [
      { resource: "server:s1", parent: "workspace:acme" },
      { resource: "server:s2", parent: "workspace:acme" },
      { resource: "site:s1-shop", parent: "server:s1" },
      { resource: "site:s1-blog", parent: "server:s1" },
      { resource: "site:s2-shop", parent: "server:s2" },
    ],
  });
}

describe("mzpanel", () => {
  it("denies a customer on a sibling site and on the server", () => {
    const engine = fleet();
    engine.addGrant({ subject: "user:carol", role: "customer", scope: "site:s1-shop" });

    expect(engine.check("user:carol", "site.files.manage", "site:s1-shop").allowed).toBe(true);
    expect(engine.check("user:carol", "site.view", "site:s1-blog")).toEqual({
      allowed: false,
      reason: "no_grant",
    });
    expect(engine.check("user:carol", "server.view", "server:s1")).toEqual({
      allowed: false,
      reason: "no_grant",
    });
    expect(engine.check("user:carol", "server.restart", "server:s1").allowed).toBe(false);
    expect(engine.listVisible("user:carol", "site", "site.view").items).toEqual(["site:s1-shop"]);
    expect(engine.listVisible("user:carol", "server", "server.view").items).toEqual([]);
  });

  it("confines an operator to its server and the sites on it", () => {
    const engine = fleet();
    engine.addGrant({ subject: "user:olga", role: "operator", scope: "server:s1" });

    expect(engine.check("user:olga", "server.restart", "server:s1").allowed).toBe(true);
    expect(engine.check("user:olga", "site.deploy", "site:s1-blog").allowed).toBe(true);
    expect(engine.check("user:olga", "server.restart", "server:s2").allowed).toBe(false);
    expect(engine.check("user:olga", "site.deploy", "site:s2-shop").allowed).toBe(false);
    expect(engine.check("user:olga", "server.create", "workspace:acme").allowed).toBe(false);
    expect(engine.check("user:olga", "server.delete", "server:s1").allowed).toBe(false);
    expect(engine.listVisible("user:olga", "server", "server.view").items).toEqual(["server:s1"]);
    expect(engine.listVisible("user:olga", "site", "site.view").items).toEqual([
      "site:s1-blog",
      "site:s1-shop",
    ]);
  });

  it("lets an admin view the Team page but not invite, bill or close", () => {
    const engine = fleet();
    engine.addGrant({ subject: "user:ada", role: "admin", scope: "workspace:acme" });

    expect(engine.check("user:ada", "team.view", "workspace:acme").allowed).toBe(true);
    expect(engine.check("user:ada", "team.manage", "workspace:acme").allowed).toBe(false);
    expect(engine.check("user:ada", "billing.view", "workspace:acme").allowed).toBe(false);
    expect(engine.check("user:ada", "workspace.close", "workspace:acme").allowed).toBe(false);
    expect(engine.canGrant("user:ada", "operator", "server:s1")).toEqual({
      allowed: false,
      reason: "no_people_management",
    });
  });

  it("lets only the owner hand out roles", () => {
    const engine = fleet();
    engine.addGrant({ subject: "user:owen", role: "owner", scope: "workspace:acme" });
    engine.addGrant({ subject: "user:olga", role: "operator", scope: "server:s1" });

    expect(engine.canGrant("user:owen", "customer", "site:s2-shop").allowed).toBe(true);
    expect(engine.canGrant("user:olga", "customer", "site:s1-shop").allowed).toBe(false);
  });
});
