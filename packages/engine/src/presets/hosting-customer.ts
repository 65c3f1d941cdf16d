import { defineModel } from "../model/define-model.ts";

const SEED = "Hosting panel, “Permissions”";

/** What the Web role may do: "everything that is related to your website". */
const WEB_FEATURES = [
  "hosting.web.manage",
  "hosting.databases.manage",
  "hosting.ftp.manage",
] as const;

/** What the Mail role may do: "Mailaccounts, E-Mail Forwardings". */
const MAIL_FEATURES = ["hosting.mail.accounts.manage", "hosting.mail.forwardings.manage"] as const;

/** "Full Hosting Access — Unrestricted access to all hosting features!" */
const HOSTING_FEATURES = [
  "hosting.view",
  ...WEB_FEATURES,
  ...MAIL_FEATURES,
  "hosting.stats.view",
] as const;

/** Customer Manager: "Manage Address, Subscriptions, and Bills". */
const ACCOUNT_FEATURES = [
  "customer.view",
  "customer.address.manage",
  "customer.subscriptions.manage",
  "customer.bills.view",
] as const;

/** Customer Domain: "Domain Registration & DNS-Management". */
const DOMAIN_FEATURES = ["domain.view", "domain.register", "domain.dns.manage"] as const;

/**
 * A hosting panel's team permissions: customers with hostings below them, roles at
 * customer or hosting level, teams of users as grantees, and a personal team for every user.
 */
export const hostingCustomer = defineModel({
  name: "hosting-customer",
  label: "Hosting panel (customers and hostings)",
  source: SEED,
  types: {
    workspace: { label: "Team" },
    customer: { label: "Customer", parents: ["workspace"] },
    hosting: { label: "Hosting", parents: ["customer"] },
  },
  permissions: {
    "workspace.rename": { on: "workspace", description: "Rename the team" },
    "workspace.close": { on: "workspace", description: "Close the team (type-name-to-confirm)" },
    "customer.create": { on: "workspace", description: "Create a customer in this team" },
    "permissions.manage": {
      on: ["customer", "hosting"],
      description:
        "Pass roles on a customer or hosting to other users and teams (the Permissions menu)",
    },
    "customer.view": { on: "customer", description: "Open the customer overview" },
    "customer.address.manage": { on: "customer", description: "Manage the customer's address" },
    "customer.subscriptions.manage": {
      on: "customer",
      description: "Create or cancel a subscription",
    },
    "customer.bills.view": { on: "customer", description: "Check the customer's bills" },
    "domain.view": { on: "customer", description: "See the customer's domains" },
    "domain.register": { on: "customer", description: "Register a new domain" },
    "domain.dns.manage": {
      on: "customer",
      description: "Manage the DNS resource records of an existing domain",
    },
    "hosting.view": { on: "hosting", description: "Open the hosting overview" },
    "hosting.web.manage": { on: "hosting", description: "Webspace, vhosts, SSL and PHP settings" },
    "hosting.databases.manage": { on: "hosting", description: "The hosting's databases" },
    "hosting.ftp.manage": { on: "hosting", description: "FTP and SSH accounts" },
    "hosting.mail.accounts.manage": { on: "hosting", description: "Mail accounts" },
    "hosting.mail.forwardings.manage": { on: "hosting", description: "E-mail forwardings" },
    "hosting.stats.view": { on: "hosting", description: "Traffic and access statistics" },
  },
  ownerOnly: ["workspace.rename", "workspace.close"],
  delegation: "permissions.manage",
  roles: {
    owner: {
      owner: true,
      label: "Owner (personal team)",
      scopes: ["workspace"],
      description:
        "The user whose personal team this is; customers created here start with the team as Customer Admin",
      source:
        "If you don't have Team Features enabled in your User Profile, the permissions are always set on your Personal Team (every user has a single personal team, which cannot be shared with other users).",
    },
    customer_admin: {
      label: "Customer Admin",
      scopes: ["customer"],
      description:
        "Full Customer Admin: manage the customer's address, his subscriptions, check his bills, and manage his domains; implicit access to all of the customer's hostings; may pass permissions",
      source:
        "Full Customer Admin Manage the customer's address, his subscriptions, check his bills, and manage his domains. … A Customer Admin always has implicit access to all hostings of the respective customer.",
      permissions: [
        "permissions.manage",
        ...ACCOUNT_FEATURES,
        ...DOMAIN_FEATURES,
        ...HOSTING_FEATURES,
      ],
    },
    customer_manager: {
      label: "Customer Manager",
      scopes: ["customer"],
      description:
        "Manage address, subscriptions and bills: create or cancel a subscription, but not register a domain",
      source:
        "Manage Address, Subscriptions, and Bills You may create or cancel a subscription, but you won't be able to register a domain.",
      permissions: [...ACCOUNT_FEATURES],
    },
    customer_domain: {
      label: "Customer Domain",
      scopes: ["customer"],
      description: "Domain registration and DNS management",
      source:
        "Domain Registration & DNS-Management You may register a new domain or manage the DNS resource records of an existing domain.",
      permissions: [...DOMAIN_FEATURES],
    },
    hosting_admin: {
      label: "Hosting Admin",
      scopes: ["hosting"],
      description:
        "Full hosting access: unrestricted access to all hosting features; may pass permissions",
      source: "Full Hosting Access Unrestricted access to all hosting features!",
      permissions: ["permissions.manage", ...HOSTING_FEATURES],
    },
    hosting_web: {
      label: "Hosting Web",
      scopes: ["hosting"],
      description: "Everything related to the website, without access to the mail accounts",
      source:
        "Manage Web related stuff Manage everything that is related to your website, without having access to your mailaccounts. You may pass this role to your web agency.",
      permissions: ["hosting.view", ...WEB_FEATURES],
    },
    hosting_mail: {
      label: "Hosting Mail",
      scopes: ["hosting"],
      description: "Mail accounts and e-mail forwardings only, no web related features",
      source:
        "Manage Mailaccounts, E-Mail Forwardings Only provides access to E-Mail management, but not to any web related features.",
      permissions: ["hosting.view", ...MAIL_FEATURES],
    },
    hosting_stats: {
      label: "Hosting Stats",
      scopes: ["hosting"],
      // "only": the stats role does not even open the hosting overview, just its statistics.
      description: "Read-only: the hosting's traffic and access statistics only",
      source:
        "View Statistics only This is a read-only role that only gains access to the hosting's Traffic and Access Stats",
      permissions: ["hosting.stats.view"],
    },
  },
  sections: {
    customers: { label: "Customers", anyOf: ["customer.view"] },
    domains: { label: "Domains", anyOf: ["domain.view"] },
    hostings: { label: "Hostings", anyOf: ["hosting.view", "hosting.stats.view"] },
    web: { label: "Web", anyOf: ["hosting.web.manage"] },
    mail: {
      label: "E-Mail",
      anyOf: ["hosting.mail.accounts.manage", "hosting.mail.forwardings.manage"],
    },
    stats: { label: "Statistics", anyOf: ["hosting.stats.view"] },
    // "look for the Permissions menu item in the Team dropdown menu" — only for those who may pass permissions.
    permissions: { label: "Permissions", anyOf: ["permissions.manage"], workflow: "people" },
    settings: {
      label: "Team settings",
      anyOf: ["workspace.rename", "workspace.close"],
      workflow: "settings",
    },
  },
  gates: {
    settings: "workspace.rename",
    createResource: { customer: "customer.create" },
    // The website's own admin app belongs to the web side: Web and Admin roles, not Mail or Stats.
    signIn: { hosting: "hosting.web.manage" },
  },
  policy: {
    // "every user has a single personal team, which cannot be shared with other users"
    personalWorkspace: true,
    personalShareable: false,
    selfServiceTransfer: true,
    oneWorkspacePerEmail: false,
    joinRequests: false,
  },
});
