import { describe, expect, it } from "vitest";
import { roleMatrix } from "../../test/role-matrix.ts";
import { createEngine } from "../engine/engine.ts";
import { hostingCustomer } from "./hosting-customer.ts";

// "Full Hosting Access Unrestricted access to all hosting features!"
const ALL_HOSTING_FEATURES = [
  "hosting.view",
  "hosting.web.manage",
  "hosting.databases.manage",
  "hosting.ftp.manage",
  "hosting.mail.accounts.manage",
  "hosting.mail.forwardings.manage",
  "hosting.stats.view",
] as const;

const matrix = roleMatrix(hostingCustomer, {
  workspace: "agency",
  tree: [
    ["customer:c1", "workspace:agency"],
    ["customer:c2", "workspace:agency"],
    ["hosting:c1-www", "customer:c1"],
    ["hosting:c1-shop", "customer:c1"],
    ["hosting:c2-www", "customer:c2"],
  ],
  actsOn: {
    "workspace.rename": ["workspace"],
    "workspace.close": ["workspace"],
    "customer.create": ["workspace"],
    // "You may only pass permissions … if you are in hold of the Admin role, either on customer or hosting level."
    "permissions.manage": ["customer", "hosting"],
    "customer.view": ["customer"],
    "customer.address.manage": ["customer"],
    "customer.subscriptions.manage": ["customer"],
    "customer.bills.view": ["customer"],
    "domain.view": ["customer"],
    "domain.register": ["customer"],
    "domain.dns.manage": ["customer"],
    "hosting.view": ["hosting"],
    "hosting.web.manage": ["hosting"],
    "hosting.databases.manage": ["hosting"],
    "hosting.ftp.manage": ["hosting"],
    "hosting.mail.accounts.manage": ["hosting"],
    "hosting.mail.forwardings.manage": ["hosting"],
    "hosting.stats.view": ["hosting"],
  },
  ownerOnly: ["workspace.rename", "workspace.close"],
  roles: {
    // "the permissions are always set on your Personal Team" — the team's own user holds everything.
    owner: { scopes: ["workspace"], permissions: "everything" },
    // "Full Customer Admin Manage the customer's address, his subscriptions, check his bills, and
    // manage his domains." + "A Customer Admin always has implicit access to all hostings".
    customer_admin: {
      scopes: ["customer"],
      permissions: [
        "permissions.manage",
        "customer.view",
        "customer.address.manage",
        "customer.subscriptions.manage",
        "customer.bills.view",
        "domain.view",
        "domain.register",
        "domain.dns.manage",
        ...ALL_HOSTING_FEATURES,
      ],
    },
    // "Manage Address, Subscriptions, and Bills … you won't be able to register a domain."
    customer_manager: {
      scopes: ["customer"],
      permissions: [
        "customer.view",
        "customer.address.manage",
        "customer.subscriptions.manage",
        "customer.bills.view",
      ],
    },
    // "You may register a new domain or manage the DNS resource records of an existing domain."
    customer_domain: {
      scopes: ["customer"],
      permissions: ["domain.view", "domain.register", "domain.dns.manage"],
    },
    hosting_admin: {
      scopes: ["hosting"],
      permissions: ["permissions.manage", ...ALL_HOSTING_FEATURES],
    },
    // "Manage everything that is related to your website, without having access to your mailaccounts."
    hosting_web: {
      scopes: ["hosting"],
      permissions: [
        "hosting.view",
        "hosting.web.manage",
        "hosting.databases.manage",
        "hosting.ftp.manage",
      ],
    },
    // "Only provides access to E-Mail management, but not to any web related features."
    hosting_mail: {
      scopes: ["hosting"],
      permissions: [
        "hosting.view",
        "hosting.mail.accounts.manage",
        "hosting.mail.forwardings.manage",
      ],
    },
    // "a read-only role that only gains access to the hosting's Traffic and Access Stats"
    hosting_stats: { scopes: ["hosting"], permissions: ["hosting.stats.view"] },
  },
});

describe("hosting-customer: role × scope × permission matrix", () => {
  for (const { name, mismatches } of matrix) it(name, () => expect(mismatches()).toEqual([]));
});

function agency() {
  return createEngine(hostingCustomer, {
    workspace: "agency",
    resources: [
      { resource: "customer:c1", parent: "workspace:agency" },
      { resource: "customer:c2", parent: "workspace:agency" },
      { resource: "hosting:c1-www", parent: "customer:c1" },
      { resource: "hosting:c1-shop", parent: "customer:c1" },
      { resource: "hosting:c2-www", parent: "customer:c2" },
    ],
  });
}

describe("hosting-customer", () => {
  it("gives a customer admin implicit access to all hostings of that customer", () => {
    const engine = agency();
    engine.addGrant({ subject: "user:ann", role: "customer_admin", scope: "customer:c1" });

    for (const hosting of ["hosting:c1-www", "hosting:c1-shop"] as const) {
      expect(engine.check("user:ann", "hosting.web.manage", hosting).allowed).toBe(true);
      expect(engine.check("user:ann", "hosting.mail.accounts.manage", hosting).allowed).toBe(true);
      expect(engine.check("user:ann", "hosting.stats.view", hosting).allowed).toBe(true);
    }
    expect(engine.check("user:ann", "hosting.view", "hosting:c2-www").allowed).toBe(false);
    expect(engine.listVisible("user:ann", "hosting", "hosting.view").items).toEqual([
      "hosting:c1-shop",
      "hosting:c1-www",
    ]);
    // A hosting added later is covered too: "There is no need to assign individual permissions for any hosting."
    engine.upsertResource("hosting:c1-new", "customer:c1");
    expect(engine.check("user:ann", "hosting.web.manage", "hosting:c1-new").allowed).toBe(true);
  });

  it("keeps explicit hosting roles away from the customer and its domains", () => {
    const engine = agency();
    engine.addGrant({ subject: "user:web", role: "hosting_web", scope: "hosting:c1-www" });

    expect(engine.check("user:web", "hosting.web.manage", "hosting:c1-www").allowed).toBe(true);
    expect(engine.check("user:web", "hosting.mail.accounts.manage", "hosting:c1-www").allowed).toBe(
      false,
    );
    expect(engine.check("user:web", "hosting.web.manage", "hosting:c1-shop").allowed).toBe(false);
    expect(engine.check("user:web", "customer.view", "customer:c1").allowed).toBe(false);
    expect(engine.check("user:web", "domain.dns.manage", "customer:c1").allowed).toBe(false);
  });

  it("refuses a second role on the same hosting: upgrade to Admin instead", () => {
    const engine = agency();
    engine.addGrant({ subject: "user:web", role: "hosting_web", scope: "hosting:c1-www" });

    expect(() =>
      engine.addGrant({ subject: "user:web", role: "hosting_mail", scope: "hosting:c1-www" }),
    ).toThrow(/roles cannot be combined/);
  });

  it("gives a team's grants to every user in the team, and ends them when the user leaves", () => {
    const engine = agency();
    engine.addGroupMember("group:web-agency", "user:wendy");
    engine.addGroupMember("group:web-agency", "user:will");
    engine.addGrant({ subject: "group:web-agency", role: "hosting_web", scope: "hosting:c1-www" });

    for (const user of ["user:wendy", "user:will"] as const) {
      const decision = engine.check(user, "hosting.web.manage", "hosting:c1-www");
      expect(decision.allowed && decision.via.subject).toBe("group:web-agency");
      expect(engine.check(user, "hosting.mail.accounts.manage", "hosting:c1-www").allowed).toBe(
        false,
      );
    }
    engine.removeGroupMember("group:web-agency", "user:will");
    expect(engine.check("user:will", "hosting.web.manage", "hosting:c1-www").allowed).toBe(false);
    expect(engine.check("user:wendy", "hosting.web.manage", "hosting:c1-www").allowed).toBe(true);
  });

  it("lets a team hold Customer Admin, so its members reach every hosting of the customer", () => {
    const engine = agency();
    engine.addGroupMember("group:coworkers", "user:cora");
    engine.addGrant({ subject: "group:coworkers", role: "customer_admin", scope: "customer:c2" });

    expect(engine.check("user:cora", "domain.register", "customer:c2").allowed).toBe(true);
    expect(engine.check("user:cora", "hosting.web.manage", "hosting:c2-www").allowed).toBe(true);
    expect(engine.canGrant("user:cora", "hosting_stats", "hosting:c2-www").allowed).toBe(true);
    expect(engine.check("user:cora", "customer.view", "customer:c1").allowed).toBe(false);
  });

  it("lets only admins at customer or hosting level pass permissions", () => {
    const engine = agency();
    engine.addGrant({ subject: "user:ann", role: "customer_admin", scope: "customer:c1" });
    engine.addGrant({ subject: "user:hal", role: "hosting_admin", scope: "hosting:c1-www" });
    engine.addGrant({ subject: "user:max", role: "customer_manager", scope: "customer:c1" });
    engine.addGrant({ subject: "user:dom", role: "customer_domain", scope: "customer:c1" });
    engine.addGrant({ subject: "user:web", role: "hosting_web", scope: "hosting:c1-www" });

    // Customer Admin: any role on the customer or its hostings — "pass the customer Admin role to another user/team".
    expect(engine.canGrant("user:ann", "customer_admin", "customer:c1").allowed).toBe(true);
    expect(engine.canGrant("user:ann", "customer_domain", "customer:c1").allowed).toBe(true);
    expect(engine.canGrant("user:ann", "hosting_mail", "hosting:c1-shop").allowed).toBe(true);
    expect(engine.canGrant("user:ann", "customer_manager", "customer:c2")).toEqual({
      allowed: false,
      reason: "no_people_management",
    });

    // Hosting Admin: hosting roles on that hosting only.
    expect(engine.canGrant("user:hal", "hosting_web", "hosting:c1-www").allowed).toBe(true);
    expect(engine.canGrant("user:hal", "hosting_admin", "hosting:c1-www").allowed).toBe(true);
    expect(engine.canGrant("user:hal", "hosting_web", "hosting:c1-shop").allowed).toBe(false);
    expect(engine.canGrant("user:hal", "customer_domain", "customer:c1").allowed).toBe(false);

    // Everyone else passes nothing.
    for (const user of ["user:max", "user:dom", "user:web"] as const) {
      expect(engine.canGrant(user, "hosting_stats", "hosting:c1-www")).toEqual({
        allowed: false,
        reason: "no_people_management",
      });
    }
  });

  it("gives every user a personal team", () => {
    expect(hostingCustomer.policy.personalWorkspace).toBe(true);
    expect(hostingCustomer.policy.personalShareable).toBe(false);
  });
});
