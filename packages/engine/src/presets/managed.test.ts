import { describe, expect, it } from "vitest";
import { roleMatrix } from "../../test/role-matrix.ts";
import { createEngine } from "../engine/engine.ts";
import { managed } from "./managed.ts";

// site_manager: "Deploy, manage environments, snapshots, domains, plugins/themes, and read
// observability — on the sites or projects they’re granted", plus the magic-link SSO into wp-admin.
const SITE_MANAGER = [
  "site.view",
  "domain.manage",
  "environment.create",
  "environment.view",
  "environment.manage",
  "deploy.run",
  "snapshot.manage",
  "plugins.manage",
  "observability.view",
  "sso.login",
] as const;

// observer: "View sites, environments, observability, security, and audit data. Cannot deploy,
// change config, or manage members."
const OBSERVER = [
  "project.view",
  "site.view",
  "environment.view",
  "observability.view",
  "security.view",
  "audit.view",
] as const;

// billing: "View and manage billing, invoices, payment methods, and the plan" — seeing the plan;
// changing it is "reserved entirely to the owner".
const BILLING = [
  "billing.view",
  "billing.manage",
  "billing.invoices.view",
  "billing.payment_methods.manage",
  "plan.view",
] as const;

// admin: "Manage members and invites, projects, sites and environments, deploys, domains, security
// and observability config" — and, as the owner is "Everything admin can, plus" the three owner-only
// actions, all the rest (billing, the audit log) too.
const ADMIN = [
  ...SITE_MANAGER,
  "members.manage",
  "audit.view",
  "project.create",
  "project.view",
  "project.manage",
  "site.create",
  "site.manage",
  "site.delete",
  "security.view",
  "security.manage",
  "observability.manage",
  ...BILLING,
] as const;

const matrix = roleMatrix(managed, {
  workspace: "team",
  tree: [
    ["project:p1", "workspace:team"],
    ["project:p2", "workspace:team"],
    ["site:p1-shop", "project:p1"],
    ["site:p1-blog", "project:p1"],
    ["site:p2-docs", "project:p2"],
    ["environment:p1-shop-production", "site:p1-shop"],
    ["environment:p1-shop-staging", "site:p1-shop"],
    ["environment:p1-blog-production", "site:p1-blog"],
    ["environment:p2-docs-production", "site:p2-docs"],
  ],
  actsOn: {
    "team.transfer": ["workspace"],
    "team.delete": ["workspace"],
    "plan.change": ["workspace"],
    "plan.view": ["workspace"],
    "billing.view": ["workspace"],
    "billing.manage": ["workspace"],
    "billing.invoices.view": ["workspace"],
    "billing.payment_methods.manage": ["workspace"],
    "members.manage": ["workspace"],
    "audit.view": ["workspace"],
    "project.create": ["workspace"],
    "project.view": ["project"],
    "project.manage": ["project"],
    "site.create": ["project"],
    "site.view": ["site"],
    "site.manage": ["site"],
    "site.delete": ["site"],
    "domain.manage": ["site"],
    "security.view": ["site"],
    "security.manage": ["site"],
    "environment.create": ["site"],
    "environment.view": ["environment"],
    "environment.manage": ["environment"],
    "deploy.run": ["environment"],
    "snapshot.manage": ["environment"],
    "plugins.manage": ["environment"],
    "observability.view": ["environment"],
    "observability.manage": ["environment"],
    "sso.login": ["environment"],
  },
  // "Ownership transfer is the only action reserved entirely to the owner, alongside deleting the
  // team and changing the plan."
  ownerOnly: ["team.transfer", "team.delete", "plan.change"],
  roles: {
    owner: { scopes: ["workspace"], permissions: "everything" },
    admin: { scopes: ["workspace"], permissions: ADMIN },
    site_manager: { scopes: ["project", "site"], permissions: SITE_MANAGER },
    observer: { scopes: ["workspace"], permissions: OBSERVER },
    billing: { scopes: ["workspace"], permissions: BILLING },
  },
});

describe("managed: role × scope × permission matrix", () => {
  for (const { name, mismatches } of matrix) it(name, () => expect(mismatches()).toEqual([]));
});

function team() {
  return createEngine(managed, {
    workspace: "team",
    resources: [
      { resource: "project:p1", parent: "workspace:team" },
      { resource: "project:p2", parent: "workspace:team" },
      { resource: "site:p1-shop", parent: "project:p1" },
      { resource: "site:p1-blog", parent: "project:p1" },
      { resource: "site:p2-docs", parent: "project:p2" },
      { resource: "environment:p1-shop-production", parent: "site:p1-shop" },
      { resource: "environment:p1-blog-production", parent: "site:p1-blog" },
      { resource: "environment:p2-docs-production", parent: "site:p2-docs" },
    ],
  });
}

describe("managed", () => {
  it("never lets an API key exceed its owner: the key shrinks when the owner is demoted and dies with them", () => {
    const engine = team();
    engine.addGrant({ subject: "user:ada", role: "admin", scope: "workspace:team" });
    engine.addApiKey({ id: "ci", owner: "user:ada", scopes: ["*"], resources: ["project:p1"] });

    // Owner's role ∩ the key's permission patterns ∩ its resource constraint.
    expect(engine.check("apikey:ci", "deploy.run", "environment:p1-shop-production").allowed).toBe(
      true,
    );
    expect(engine.check("apikey:ci", "deploy.run", "environment:p2-docs-production")).toEqual({
      allowed: false,
      reason: "key_resource",
    });
    expect(engine.check("apikey:ci", "members.manage", "workspace:team").allowed).toBe(false);

    // Demoted to observer: the same key can no longer deploy, but still reads.
    engine.removeGrant("user:ada", "workspace:team");
    engine.addGrant({ subject: "user:ada", role: "observer", scope: "workspace:team" });
    expect(engine.check("apikey:ci", "deploy.run", "environment:p1-shop-production")).toEqual({
      allowed: false,
      reason: "no_grant",
    });
    expect(
      engine.check("apikey:ci", "observability.view", "environment:p1-shop-production").allowed,
    ).toBe(true);
    expect([...engine.permissionsOn("apikey:ci", "site:p1-shop")].sort()).toEqual([
      "security.view",
      "site.view",
    ]);

    // Narrowed to one site: the key follows.
    engine.removeGrant("user:ada", "workspace:team");
    engine.addGrant({ subject: "user:ada", role: "site_manager", scope: "site:p1-blog" });
    expect(engine.check("apikey:ci", "deploy.run", "environment:p1-blog-production").allowed).toBe(
      true,
    );
    expect(engine.check("apikey:ci", "deploy.run", "environment:p1-shop-production").allowed).toBe(
      false,
    );

    // Removed from the team: the key holds nothing.
    engine.removeSubject("user:ada");
    expect(engine.check("apikey:ci", "site.view", "site:p1-blog").allowed).toBe(false);
  });

  it("keeps an API key within its own permission patterns, and never gives it the owner's reserved actions", () => {
    const engine = team();
    engine.addGrant({ subject: "user:owen", role: "owner", scope: "workspace:team" });
    engine.addApiKey({ id: "everything", owner: "user:owen", scopes: ["*"] });
    engine.addApiKey({ id: "metrics", owner: "user:owen", scopes: ["observability.*"] });

    expect(engine.check("user:owen", "plan.change", "workspace:team").allowed).toBe(true);
    expect(engine.check("apikey:everything", "plan.change", "workspace:team")).toEqual({
      allowed: false,
      reason: "key_scope",
    });
    expect(engine.check("apikey:everything", "team.transfer", "workspace:team").allowed).toBe(
      false,
    );
    expect(
      engine.check("apikey:metrics", "observability.view", "environment:p2-docs-production")
        .allowed,
    ).toBe(true);
    expect(engine.check("apikey:metrics", "deploy.run", "environment:p2-docs-production")).toEqual({
      allowed: false,
      reason: "key_scope",
    });
  });

  it("lets billing see the plan but leaves changing it to the owner", () => {
    const engine = team();
    engine.addGrant({ subject: "user:owen", role: "owner", scope: "workspace:team" });
    engine.addGrant({ subject: "user:fin", role: "billing", scope: "workspace:team" });

    expect(engine.check("user:fin", "plan.view", "workspace:team").allowed).toBe(true);
    expect(
      engine.check("user:fin", "billing.payment_methods.manage", "workspace:team").allowed,
    ).toBe(true);
    expect(engine.check("user:fin", "plan.change", "workspace:team").allowed).toBe(false);
    expect(engine.check("user:owen", "plan.change", "workspace:team").allowed).toBe(true);
    expect(engine.check("user:fin", "deploy.run", "environment:p1-shop-production").allowed).toBe(
      false,
    );
    expect(engine.check("user:fin", "site.manage", "site:p1-shop").allowed).toBe(false);
  });

  it("scopes a site manager to the projects or sites granted", () => {
    const engine = team();
    engine.addGrant({ subject: "user:sam", role: "site_manager", scope: "project:p1" });
    engine.addGrant({ subject: "user:sid", role: "site_manager", scope: "site:p2-docs" });

    expect(engine.listVisible("user:sam", "site", "site.view").items).toEqual([
      "site:p1-blog",
      "site:p1-shop",
    ]);
    expect(engine.listVisible("user:sid", "site", "site.view").items).toEqual(["site:p2-docs"]);
    expect(engine.check("user:sam", "members.manage", "workspace:team").allowed).toBe(false);
    expect(engine.check("user:sam", "billing.view", "workspace:team").allowed).toBe(false);
  });

  it("lets an admin invite and scope members, but not transfer ownership or delete the team", () => {
    const engine = team();
    engine.addGrant({ subject: "user:ada", role: "admin", scope: "workspace:team" });
    engine.addGrant({ subject: "user:sam", role: "site_manager", scope: "project:p1" });

    expect(engine.canGrant("user:ada", "site_manager", "project:p2").allowed).toBe(true);
    expect(engine.canGrant("user:ada", "observer", "workspace:team").allowed).toBe(true);
    expect(engine.canGrant("user:ada", "billing", "workspace:team").allowed).toBe(true);
    expect(engine.canGrant("user:ada", "owner", "workspace:team")).toEqual({
      allowed: false,
      reason: "owner_not_grantable",
    });
    expect(engine.check("user:ada", "team.transfer", "workspace:team").allowed).toBe(false);
    expect(engine.check("user:ada", "team.delete", "workspace:team").allowed).toBe(false);
    expect(engine.canGrant("user:sam", "site_manager", "site:p1-shop")).toEqual({
      allowed: false,
      reason: "no_people_management",
    });
  });

  it("lets the owner hand off ownership themselves", () => {
    expect(managed.policy.selfServiceTransfer).toBe(true);
  });
});
