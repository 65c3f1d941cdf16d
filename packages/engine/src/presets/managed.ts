import { defineModel } from "../model/define-model.ts";

const SEED = "managed.dev, “Teams & roles”";

/** site_manager: "Deploy, manage environments, snapshots, domains, plugins/themes, and read observability". */
const SITE_OPERATIONS = [
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

/** observer: "View sites, environments, observability, security, and audit data". */
const READ_ONLY = [
  "project.view",
  "site.view",
  "environment.view",
  "observability.view",
  "security.view",
  "audit.view",
] as const;

/** billing: "View and manage billing, invoices, payment methods, and the plan" — changing the plan stays the owner's. */
const FINANCE = [
  "billing.view",
  "billing.manage",
  "billing.invoices.view",
  "billing.payment_methods.manage",
  "plan.view",
] as const;

/**
 * managed.dev: a team owns projects, projects hold sites, sites have environments; roles
 * say what a member can do, projects (or single sites) say where.
 */
export const managed = defineModel({
  name: "managed",
  label: "managed.dev",
  source: SEED,
  types: {
    workspace: { label: "Team" },
    project: { label: "Project", parents: ["workspace"] },
    site: { label: "Site", parents: ["project"] },
    environment: { label: "Environment", parents: ["site"] },
  },
  permissions: {
    "team.transfer": { on: "workspace", description: "Promote another member to owner" },
    "team.delete": { on: "workspace", description: "Delete the team (type-name-to-confirm)" },
    "plan.change": { on: "workspace", description: "Change the plan" },
    "plan.view": { on: "workspace", description: "See the plan" },
    "billing.view": { on: "workspace", description: "See the billing relationship" },
    "billing.manage": { on: "workspace", description: "Manage billing details" },
    "billing.invoices.view": { on: "workspace", description: "Read and download invoices" },
    "billing.payment_methods.manage": {
      on: "workspace",
      description: "Add and remove payment methods",
    },
    "members.manage": {
      on: "workspace",
      description: "Team → Members: invite, change roles and scopes, remove",
    },
    "audit.view": { on: "workspace", description: "Read the team's audit log" },
    "project.create": { on: "workspace", description: "Create a project" },
    "project.view": { on: "project", description: "See the project" },
    "project.manage": { on: "project", description: "Rename, configure or delete the project" },
    "site.create": { on: "project", description: "Create a site in the project" },
    "site.view": { on: "site", description: "See the site" },
    "site.manage": { on: "site", description: "Change the site's configuration" },
    "site.delete": { on: "site", description: "Delete the site" },
    "domain.manage": { on: "site", description: "Add, verify and remove the site's domains" },
    "security.view": { on: "site", description: "See the site's security settings and findings" },
    "security.manage": { on: "site", description: "Change the site's security configuration" },
    "environment.create": { on: "site", description: "Create an environment of the site" },
    "environment.view": { on: "environment", description: "See the environment" },
    "environment.manage": {
      on: "environment",
      description: "Configure, clone or delete the environment",
    },
    "deploy.run": { on: "environment", description: "Deploy to the environment" },
    "snapshot.manage": { on: "environment", description: "Take and restore snapshots" },
    "plugins.manage": {
      on: "environment",
      description: "Install, update and remove plugins and themes",
    },
    "observability.view": { on: "environment", description: "Read logs, metrics and traces" },
    "observability.manage": {
      on: "environment",
      description: "Configure logging, metrics and alerts",
    },
    "sso.login": {
      on: "environment",
      description: "Magic-link SSO into wp-admin, without sharing passwords",
    },
  },
  ownerOnly: ["team.transfer", "team.delete", "plan.change"],
  delegation: "members.manage",
  roles: {
    owner: {
      owner: true,
      label: "owner",
      scopes: ["workspace"],
      description:
        "Everything admin can, plus transfer ownership, delete the team, and change the plan",
      source:
        "owner — The team’s responsible party. There is exactly one at a time. — Everything admin can, plus transfer ownership, delete the team, and change the plan.",
    },
    admin: {
      label: "admin",
      scopes: ["workspace"],
      // The owner is "everything admin can, plus" the three owner-only actions, and those three are
      // "the only action[s] reserved entirely to the owner": so admin also holds billing and the audit log.
      description:
        "Members and invites, projects, sites and environments, deploys, domains, security and observability config (and, since the owner is admin plus three actions, billing); cannot transfer ownership, delete the team or change the plan",
      source:
        "admin — Day-to-day team and infrastructure management. — Manage members and invites, projects, sites and environments, deploys, domains, security and observability config. Cannot transfer ownership or delete the team.",
      permissions: [
        "members.manage",
        "audit.view",
        ...FINANCE,
        "project.create",
        "project.view",
        "project.manage",
        "site.create",
        "site.manage",
        "site.delete",
        "security.view",
        "security.manage",
        ...SITE_OPERATIONS,
        "observability.manage",
      ],
    },
    site_manager: {
      label: "site_manager",
      scopes: ["project", "site"],
      description:
        "Deploy, manage environments, snapshots, domains, plugins/themes, and read observability on the granted projects or sites; no member or billing management",
      source:
        "site_manager — Operators who run sites but don’t manage the team. — Deploy, manage environments, snapshots, domains, plugins/themes, and read observability — on the sites or projects they’re granted. No member or billing management.",
      permissions: [...SITE_OPERATIONS],
    },
    observer: {
      label: "observer",
      scopes: ["workspace"],
      // Read-only: no wp-admin SSO, which would let the seat change the site from inside WordPress.
      description:
        "A read-only seat: view sites, environments, observability, security, and audit data",
      source:
        "observer — A read-only seat. — View sites, environments, observability, security, and audit data. Cannot deploy, change config, or manage members.",
      permissions: [...READ_ONLY],
    },
    billing: {
      label: "billing",
      scopes: ["workspace"],
      // "Manage … the plan" is read as seeing it: "change the plan" is reserved to the owner.
      description:
        "View and manage billing, invoices and payment methods; view the plan (changing it is owner-only); no site config or deploys",
      source:
        "billing — Finance and procurement. — View and manage billing, invoices, payment methods, and the plan. No access to site config or deploys.",
      permissions: [...FINANCE],
    },
  },
  sections: {
    projects: { label: "Projects", anyOf: ["project.view"] },
    sites: { label: "Sites", anyOf: ["site.view"] },
    environments: { label: "Environments", anyOf: ["environment.view"] },
    observability: { label: "Observability", anyOf: ["observability.view"] },
    security: { label: "Security", anyOf: ["security.view"] },
    audit: { label: "Audit log", anyOf: ["audit.view"], workflow: "activity" },
    members: { label: "Team → Members", anyOf: ["members.manage"], workflow: "team" },
    billing: { label: "Billing", anyOf: ["billing.view"] },
    settings: {
      label: "Team settings",
      anyOf: ["team.transfer", "team.delete", "plan.change"],
      workflow: "settings",
    },
  },
  gates: {
    auditView: "audit.view",
    // "Everything admin can, plus … change the plan": the owner's, through the owner-only permission.
    plan: "plan.change",
    createResource: {
      project: "project.create",
      site: "site.create",
      environment: "environment.create",
    },
    deleteResource: { site: "site.delete" },
    // "log in with magic-link SSO into wp-admin without sharing passwords": each environment is a
    // WordPress install with its own wp-admin.
    signIn: { environment: "sso.login" },
  },
  // "the current owner promotes another member — typically an existing admin — to owner"
  formerOwnerRole: "admin",
  policy: {
    // "To hand it off, the current owner promotes another member — typically an existing admin — to owner."
    selfServiceTransfer: true,
    // "If you sign up solo, you already have a team of one — you’re its owner."
    personalWorkspace: true,
    oneWorkspacePerEmail: false,
    joinRequests: false,
  },
});
