import { describe, expect, it } from "vitest";
import { roleMatrix, thrownCode } from "../../test/role-matrix.ts";
import { createEngine } from "../engine/engine.ts";
import { ErrorCode } from "../errors.ts";
import { company } from "./company.ts";

// Technical: "Servers, VPS, domains, DNS, support tickets".
const TECHNICAL = [
  "server.view",
  "server.manage",
  "vps.view",
  "vps.manage",
  "vps.restart",
  "domain.view",
  "domain.manage",
  "dns.view",
  "dns.manage",
  "ticket.view",
  "ticket.manage",
] as const;

// Billing: "Invoices, payments, contracts, quotes"; "the billing role doesn't include add/remove card by default".
const BILLING = [
  "billing.invoices.view",
  "billing.payments.view",
  "billing.payments.manage",
  "billing.contracts.view",
  "billing.contracts.manage",
  "billing.quotes.view",
  "billing.quotes.manage",
] as const;

// QSA: "they only check compliance documents and the audit trail".
const AUDITOR = ["compliance.view", "audit.view"] as const;

const WORKSPACE = ["workspace"] as const;

const matrix = roleMatrix(company, {
  workspace: "acme",
  tree: [],
  actsOn: {
    "company.view": WORKSPACE,
    "company.manage": WORKSPACE,
    "company.close": WORKSPACE,
    "plan.view": WORKSPACE,
    "team.view": WORKSPACE,
    "team.manage": WORKSPACE,
    "server.view": WORKSPACE,
    "server.manage": WORKSPACE,
    "vps.view": WORKSPACE,
    "vps.manage": WORKSPACE,
    "vps.restart": WORKSPACE,
    "domain.view": WORKSPACE,
    "domain.manage": WORKSPACE,
    "dns.view": WORKSPACE,
    "dns.manage": WORKSPACE,
    "ticket.view": WORKSPACE,
    "ticket.manage": WORKSPACE,
    "billing.invoices.view": WORKSPACE,
    "billing.payments.view": WORKSPACE,
    "billing.payments.manage": WORKSPACE,
    "billing.contracts.view": WORKSPACE,
    "billing.contracts.manage": WORKSPACE,
    "billing.quotes.view": WORKSPACE,
    "billing.quotes.manage": WORKSPACE,
    "billing.cards_manage": WORKSPACE,
    "compliance.view": WORKSPACE,
    "compliance.manage": WORKSPACE,
    "audit.view": WORKSPACE,
  },
  ownerOnly: ["company.close"],
  roles: {
    // "Manager (Owner) | Everything. Godlike powers."
    owner: { scopes: WORKSPACE, permissions: "everything" },
    // "Manager | Everything (except owner-only things)." — "(including inviting new managers)".
    manager: {
      scopes: WORKSPACE,
      permissions: [
        "company.view",
        "company.manage",
        "plan.view",
        "team.view",
        "team.manage",
        ...TECHNICAL,
        ...BILLING,
        "billing.cards_manage",
        "compliance.view",
        "compliance.manage",
        "audit.view",
      ],
    },
    technical: { scopes: WORKSPACE, permissions: TECHNICAL },
    billing: { scopes: WORKSPACE, permissions: BILLING },
    // "Read Only | Everything visible, nothing changeable" — but Team is seen "Only [by] managers".
    read_only: {
      scopes: WORKSPACE,
      permissions: [
        "company.view",
        "plan.view",
        "server.view",
        "vps.view",
        "domain.view",
        "dns.view",
        "ticket.view",
        "billing.invoices.view",
        "billing.payments.view",
        "billing.contracts.view",
        "billing.quotes.view",
        "compliance.view",
        "audit.view",
      ],
    },
    auditor: { scopes: WORKSPACE, permissions: AUDITOR },
  },
});

describe("company: role × scope × permission matrix", () => {
  for (const { name, mismatches } of matrix) it(name, () => expect(mismatches()).toEqual([]));
});

function acme() {
  const engine = createEngine(company, { workspace: "acme" });
  engine.addGrant({ subject: "user:zaphod", role: "owner", scope: "workspace:acme" });
  engine.addGrant({ subject: "user:trillian", role: "manager", scope: "workspace:acme" });
  engine.addGrant({ subject: "user:ford", role: "technical", scope: "workspace:acme" });
  engine.addGrant({ subject: "user:arthur", role: "billing", scope: "workspace:acme" });
  engine.addGrant({ subject: "user:marvin", role: "read_only", scope: "workspace:acme" });
  engine.addGrant({ subject: "user:qsa", role: "auditor", scope: "workspace:acme" });
  return engine;
}

describe("company", () => {
  it("denies a billing member a VPS restart", () => {
    const engine = acme();

    expect(engine.check("user:arthur", "vps.restart", "workspace:acme")).toEqual({
      allowed: false,
      reason: "no_grant",
    });
    expect(engine.check("user:arthur", "vps.view", "workspace:acme").allowed).toBe(false);
    expect(engine.check("user:arthur", "billing.invoices.view", "workspace:acme").allowed).toBe(
      true,
    );
    expect(engine.check("user:ford", "vps.restart", "workspace:acme").allowed).toBe(true);
  });

  it("shows a QSA / auditor only compliance and the audit log", () => {
    const engine = acme();

    expect([...engine.permissionsOn("user:qsa", "workspace:acme")].sort()).toEqual([
      "audit.view",
      "compliance.view",
    ]);
    expect(engine.check("user:qsa", "billing.invoices.view", "workspace:acme").allowed).toBe(false);
    expect(engine.check("user:qsa", "server.view", "workspace:acme").allowed).toBe(false);
    expect(engine.check("user:qsa", "team.view", "workspace:acme").allowed).toBe(false);
  });

  it("lets read-only members see everything but the Team page, and change nothing", () => {
    const engine = acme();
    const held = engine.permissionsOn("user:marvin", "workspace:acme");

    expect(held.filter((permission) => !permission.endsWith(".view"))).toEqual([]);
    expect(held).toContain("server.view");
    expect(held).toContain("billing.invoices.view");
    expect(held).toContain("audit.view");
    expect(held).not.toContain("team.view");
  });

  it("shows Team management only to the owner and managers", () => {
    const engine = acme();
    const seesTeam = [
      "user:zaphod",
      "user:trillian",
      "user:ford",
      "user:arthur",
      "user:marvin",
      "user:qsa",
    ].filter(
      (user) => engine.check(user as `user:${string}`, "team.view", "workspace:acme").allowed,
    );

    expect(seesTeam).toEqual(["user:zaphod", "user:trillian"]);
  });

  it("lets a manager invite new managers, and nobody else invite anyone", () => {
    const engine = acme();

    expect(engine.canGrant("user:trillian", "manager", "workspace:acme").allowed).toBe(true);
    expect(engine.canGrant("user:trillian", "auditor", "workspace:acme").allowed).toBe(true);
    expect(engine.canGrant("user:zaphod", "manager", "workspace:acme").allowed).toBe(true);
    for (const user of ["user:ford", "user:arthur", "user:marvin", "user:qsa"] as const) {
      expect(engine.canGrant(user, "read_only", "workspace:acme")).toEqual({
        allowed: false,
        reason: "no_people_management",
      });
    }
    expect(engine.canGrant("user:trillian", "owner", "workspace:acme")).toEqual({
      allowed: false,
      reason: "owner_not_grantable",
    });
  });

  it("allows billing.cards_manage as an extra on a billing member and rejects owner-only extras", () => {
    const engine = createEngine(company, { workspace: "acme" });
    engine.addGrant({ subject: "user:trillian", role: "manager", scope: "workspace:acme" });

    expect(
      engine.canGrant("user:trillian", "billing", "workspace:acme", ["billing.cards_manage"])
        .allowed,
    ).toBe(true);
    engine.addGrant({
      subject: "user:arthur",
      role: "billing",
      scope: "workspace:acme",
      extras: ["billing.cards_manage"],
    });
    expect(engine.check("user:arthur", "billing.cards_manage", "workspace:acme").allowed).toBe(
      true,
    );
    expect(engine.check("user:arthur", "vps.restart", "workspace:acme").allowed).toBe(false);

    expect(
      engine.canGrant("user:trillian", "billing", "workspace:acme", ["company.close"]),
    ).toEqual({
      allowed: false,
      reason: "owner_only_permission",
    });
    const ownerOnlyExtra = () =>
      engine.addGrant({
        subject: "user:eddie",
        role: "billing",
        scope: "workspace:acme",
        extras: ["company.close"],
      });
    expect(thrownCode(ownerOnlyExtra)).toBe(ErrorCode.OWNER_ONLY_PERMISSION);
    expect(engine.check("user:eddie", "billing.invoices.view", "workspace:acme").allowed).toBe(
      false,
    );
  });

  it("pauses a member by switching them to Read Only", () => {
    const engine = acme();
    engine.removeGrant("user:ford", "workspace:acme");
    engine.addGrant({ subject: "user:ford", role: "read_only", scope: "workspace:acme" });

    expect(engine.check("user:ford", "vps.restart", "workspace:acme").allowed).toBe(false);
    expect(engine.check("user:ford", "vps.view", "workspace:acme").allowed).toBe(true);
  });

  it("limits members per plan: Standard 5, Premium 10, Enterprise 15, PCI-DSS / ISO 27001 25", () => {
    const limits = Object.fromEntries(
      Object.values(company.definition.plans ?? {}).map((plan) => [plan.label, plan.maxMembers]),
    );

    expect(limits).toEqual({ Standard: 5, Premium: 10, Enterprise: 15, "PCI-DSS / ISO 27001": 25 });
    expect(company.definition.defaultPlan).toBe("standard");
  });

  it("allows one company per email, join requests, and ownership transfer only through support", () => {
    expect(company.policy).toMatchObject({
      oneWorkspacePerEmail: true,
      joinRequests: true,
      selfServiceTransfer: false,
    });
  });
});
