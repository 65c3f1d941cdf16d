import { defineModel } from "../model/define-model.ts";

const SEED = "MZPanel, “Team & roles”";

const SITE_OPERATIONS = [
  "site.view",
  "site.settings.manage",
  "site.content.manage",
  "site.files.manage",
  "site.database.manage",
  "site.deploy",
  "site.backups.manage",
  "site.activity.view",
] as const;

const SERVER_OPERATIONS = [
  "server.view",
  "server.services.manage",
  "server.php.manage",
  "server.os.manage",
  "server.security.manage",
  "server.restart",
  "server.activity.view",
  "site.create",
  "site.delete",
  ...SITE_OPERATIONS,
] as const;

/**
 * MZPanel: one workspace owns servers and sites; a member is a role × scope — the whole
 * account, one server, or one site.
 */
export const mzpanel = defineModel({
  name: "mzpanel",
  label: "MZPanel",
  source: SEED,
  types: {
    workspace: { label: "Workspace" },
    server: { label: "Server", parents: ["workspace"] },
    site: { label: "Site", parents: ["server"] },
  },
  permissions: {
    "workspace.rename": { on: "workspace", description: "Change the workspace name" },
    "workspace.transfer": { on: "workspace", description: "Hand the whole account to a successor" },
    "workspace.close": {
      on: "workspace",
      description: "Close the workspace (type-name-to-confirm)",
    },
    "workspace.plan.change": { on: "workspace", description: "Change the tier" },
    "billing.view": { on: "workspace", description: "See invoices and payment details" },
    "billing.manage": { on: "workspace", description: "Pay, change cards, manage invoices" },
    "integrations.manage": {
      on: "workspace",
      description: "DNS tokens, AI keys, backup-destination secrets (write-only)",
    },
    "server.create": { on: "workspace", description: "Add a server to the workspace" },
    "server.delete": { on: "server", description: "Remove a server from the workspace" },
    "team.view": { on: "workspace", description: "See the Team page" },
    "team.manage": { on: "workspace", description: "Invite, change and remove members" },
    "activity.view": { on: "workspace", description: "Read the whole workspace activity log" },
    "server.view": { on: "server", description: "See the server in the fleet list" },
    "server.services.manage": { on: "server", description: "Manage services" },
    "server.php.manage": { on: "server", description: "Manage PHP versions" },
    "server.os.manage": { on: "server", description: "OS updates and packages" },
    "server.security.manage": { on: "server", description: "Firewall and security settings" },
    "server.restart": { on: "server", description: "Restart the server" },
    "server.activity.view": { on: "server", description: "Read the server's activity" },
    "site.create": { on: "server", description: "Create sites on the server" },
    "site.delete": { on: "site", description: "Delete the site" },
    "site.view": { on: "site", description: "Open the per-site view" },
    "site.settings.manage": { on: "site", description: "Domain, SSL and site settings" },
    "site.content.manage": { on: "site", description: "Content operations" },
    "site.files.manage": { on: "site", description: "Files" },
    "site.database.manage": { on: "site", description: "The site's databases" },
    "site.deploy": { on: "site", description: "Deploy" },
    "site.backups.manage": { on: "site", description: "Back up and restore the site" },
    "site.activity.view": { on: "site", description: "Read the site's activity" },
  },
  ownerOnly: [
    "workspace.rename",
    "workspace.transfer",
    "workspace.close",
    "workspace.plan.change",
    "billing.view",
    "billing.manage",
    "integrations.manage",
    "server.create",
    "server.delete",
  ],
  delegation: "team.manage",
  roles: {
    owner: {
      owner: true,
      label: "Owner",
      scopes: ["workspace"],
      description: "Everything, including billing and team management",
      source:
        "Owner — Everything, including billing and team management — All — The account holder (one person, reserved)",
    },
    admin: {
      label: "Admin",
      scopes: ["workspace"],
      description: "Full control except billing and closing the workspace; can view Team",
      source:
        "Admin — Full control except billing and closing the workspace; can view Team — All — Right hand / co-runner",
      permissions: ["team.view", "activity.view", ...SERVER_OPERATIONS],
    },
    operator: {
      label: "Operator",
      scopes: ["server"],
      description: "Manage one or more whole servers (sites, DB, PHP, services, OS, security, …)",
      source:
        "Operator — Manage one or more whole servers (sites, DB, PHP, services, OS, security, …) — Server — Hired sysadmin / devops",
      permissions: [...SERVER_OPERATIONS],
    },
    customer: {
      label: "Customer",
      scopes: ["site"],
      description: "Manage only the site(s) handed to them — no server access, no sibling sites",
      source:
        "Customer — Manage only the site(s) handed to them — no server access, no sibling sites — Site — End customer / freelancer (share-host)",
      permissions: [...SITE_OPERATIONS],
      // An end customer works in the hosting company's panel: no switcher, no account pages.
      navigation: "workspace-only",
    },
  },
  sections: {
    servers: { label: "Servers", anyOf: ["server.view"] },
    sites: { label: "Sites", anyOf: ["site.view"] },
    team: { label: "Team", anyOf: ["team.view", "team.manage"], workflow: "team" },
    activity: {
      label: "Activity log",
      anyOf: ["activity.view", "server.activity.view", "site.activity.view"],
      workflow: "activity",
    },
    billing: { label: "Billing", anyOf: ["billing.view"] },
    integrations: {
      label: "Integrations",
      anyOf: ["integrations.manage"],
      workflow: "integrations",
    },
    settings: {
      label: "Workspace settings",
      anyOf: ["workspace.rename", "workspace.close"],
      workflow: "settings",
    },
  },
  gates: {
    teamView: "team.view",
    auditView: "activity.view",
    settings: "workspace.rename",
    plan: "workspace.plan.change",
    createResource: { server: "server.create", site: "site.create" },
    deleteResource: { server: "server.delete", site: "site.delete" },
    // A site's own admin (e.g. wp-admin) is where its content is run: whoever may manage the
    // content signs in there without a shared password.
    signIn: { site: "site.content.manage" },
    // "Read the server's activity" / "Read the site's activity": operators and customers read the
    // activity of what they run; `activity.view` (Owner, Admin) reads the whole log.
    activity: { server: "server.activity.view", site: "site.activity.view" },
  },
  // "to let a colleague co-run it, invite them as Admin instead"
  formerOwnerRole: "admin",
  policy: {
    // "Every account is a workspace … A solo user is a workspace with exactly one member (you, the owner)."
    personalWorkspace: true,
    selfServiceTransfer: true,
    oneWorkspacePerEmail: false,
    joinRequests: false,
  },
});
