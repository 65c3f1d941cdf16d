import { defineModel } from "../model/define-model.ts";

const SEED = "Company hosting hub, “Team Management”";

/** Technical: "Servers, VPS, domains, DNS, support tickets". */
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

/** Billing: "Invoices, payments, contracts, quotes" — without adding or removing cards. */
const BILLING = [
  "billing.invoices.view",
  "billing.payments.view",
  "billing.payments.manage",
  "billing.contracts.view",
  "billing.contracts.manage",
  "billing.quotes.view",
  "billing.quotes.manage",
] as const;

/** QSA / Auditor: "Compliance and audit log only". */
const COMPLIANCE = ["compliance.view", "audit.view"] as const;

/**
 * Read Only: "Everything visible, nothing changeable" — every view permission except the Team page,
 * which "Only managers (owner and admin) can see".
 */
const EVERYTHING_VISIBLE = [
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
  ...COMPLIANCE,
] as const;

/**
 * A company hosting hub: company-wide roles with no narrower scopes, member limits per
 * plan, join requests, one active company per email, and grant-only extra permissions.
 */
export const company = defineModel({
  name: "company",
  label: "Company hosting hub",
  source: SEED,
  types: {
    workspace: { label: "Company" },
  },
  permissions: {
    "company.view": { on: "workspace", description: "See the company profile (name, tax number)" },
    "company.manage": { on: "workspace", description: "Edit the company profile" },
    "company.close": {
      on: "workspace",
      description: "Close the company account (type-name-to-confirm)",
    },
    "plan.view": {
      on: "workspace",
      description: "See the plan and its member limit (upgrades go through support)",
    },
    "team.view": { on: "workspace", description: "See Settings → Team" },
    "team.manage": {
      on: "workspace",
      description: "Invite, change roles, remove members, approve join requests",
    },
    "server.view": { on: "workspace", description: "See servers" },
    "server.manage": { on: "workspace", description: "Manage servers" },
    "vps.view": { on: "workspace", description: "See VPS" },
    "vps.manage": { on: "workspace", description: "Manage VPS" },
    "vps.restart": { on: "workspace", description: "Restart a VPS" },
    "domain.view": { on: "workspace", description: "See domains" },
    "domain.manage": { on: "workspace", description: "Register, renew and transfer domains" },
    "dns.view": { on: "workspace", description: "See DNS zones" },
    "dns.manage": { on: "workspace", description: "Edit DNS records" },
    "ticket.view": { on: "workspace", description: "Read support tickets" },
    "ticket.manage": { on: "workspace", description: "Open and answer support tickets" },
    "billing.invoices.view": { on: "workspace", description: "Read invoices" },
    "billing.payments.view": { on: "workspace", description: "See payments" },
    "billing.payments.manage": { on: "workspace", description: "Pay invoices" },
    "billing.contracts.view": { on: "workspace", description: "Read contracts" },
    "billing.contracts.manage": { on: "workspace", description: "Sign and cancel contracts" },
    "billing.quotes.view": { on: "workspace", description: "Read quotes" },
    "billing.quotes.manage": { on: "workspace", description: "Request and accept quotes" },
    "billing.cards_manage": {
      on: "workspace",
      description: "Add or remove payment cards (PCI-DSS sensitive)",
    },
    "compliance.view": { on: "workspace", description: "Read compliance documents" },
    "compliance.manage": { on: "workspace", description: "Upload and update compliance documents" },
    "audit.view": { on: "workspace", description: "Read the audit log" },
  },
  ownerOnly: ["company.close"],
  delegation: "team.manage",
  roles: {
    owner: {
      owner: true,
      label: "Manager (Owner)",
      scopes: ["workspace"],
      description: "Everything. Godlike powers.",
      source:
        "Manager (Owner) | Everything. Godlike powers. | The company founder / first registered user",
    },
    manager: {
      label: "Manager",
      scopes: ["workspace"],
      description: "Everything (except owner-only things), including inviting new managers",
      source:
        "Manager | Everything (except owner-only things). | Trusted teammates … assign the Manager role — they can do everything (including inviting new managers).",
      permissions: [
        "company.view",
        "company.manage",
        "plan.view",
        "team.view",
        "team.manage",
        ...TECHNICAL,
        ...BILLING,
        "billing.cards_manage",
        ...COMPLIANCE,
        "compliance.manage",
      ],
    },
    technical: {
      label: "Technical",
      scopes: ["workspace"],
      description: "Servers, VPS, domains, DNS, support tickets",
      source: "Technical | Servers, VPS, domains, DNS, support tickets | Sysadmins, DevOps",
      permissions: [...TECHNICAL],
    },
    billing: {
      label: "Billing",
      scopes: ["workspace"],
      description:
        "Invoices, payments, contracts, quotes; adding or removing cards (billing.cards_manage) only as an extra",
      source:
        "Billing | Invoices, payments, contracts, quotes | Accountants, finance team … the billing role doesn't include add/remove card by default (PCI-DSS sensitivity).",
      permissions: [...BILLING],
    },
    read_only: {
      label: "Read Only",
      scopes: ["workspace"],
      description:
        "Everything visible, nothing changeable (the Team page stays with managers); also how a member is paused",
      source: "Read Only | Everything visible, nothing changeable | Managers, auditors",
      permissions: [...EVERYTHING_VISIBLE],
    },
    auditor: {
      label: "QSA / Auditor",
      scopes: ["workspace"],
      description: "Compliance and audit log only",
      source:
        "QSA / Auditor | Compliance and audit log only | External audit firms, PCI-DSS QSAs … they only check compliance documents and the audit trail.",
      permissions: [...COMPLIANCE],
    },
  },
  plans: {
    standard: { label: "Standard", maxMembers: 5 },
    premium: { label: "Premium", maxMembers: 10 },
    enterprise: { label: "Enterprise", maxMembers: 15 },
    pci: { label: "PCI-DSS / ISO 27001", maxMembers: 25 },
  },
  defaultPlan: "standard",
  sections: {
    servers: { label: "Servers", anyOf: ["server.view"] },
    vps: { label: "VPS", anyOf: ["vps.view"] },
    domains: { label: "Domains", anyOf: ["domain.view"] },
    dns: { label: "DNS", anyOf: ["dns.view"] },
    tickets: { label: "Support tickets", anyOf: ["ticket.view"] },
    billing: {
      label: "Billing",
      anyOf: [
        "billing.invoices.view",
        "billing.payments.view",
        "billing.contracts.view",
        "billing.quotes.view",
      ],
    },
    compliance: { label: "Compliance", anyOf: ["compliance.view"] },
    audit: { label: "Audit log", anyOf: ["audit.view"], workflow: "activity" },
    // "Team Management lives at Settings → Team. Only managers (owner and admin) can see it"
    team: { label: "Team", anyOf: ["team.view", "team.manage"], workflow: "team" },
    settings: { label: "Company settings", anyOf: ["company.view"] },
  },
  gates: { teamView: "team.view", auditView: "audit.view", settings: "company.manage" },
  // "If you need a second manager for teamwork, assign the Manager role"
  formerOwnerRole: "manager",
  policy: {
    // "The same email address can't be an active member in multiple companies at the same time."
    oneWorkspacePerEmail: true,
    // "If you need to transfer, contact support — it's a manual process."
    selfServiceTransfer: false,
    // "Users who register with a company email but haven't received an invite can send a Join Request"
    joinRequests: true,
    // Registering does not found a company: a new user joins one by invite or join request.
    personalWorkspace: false,
  },
});
