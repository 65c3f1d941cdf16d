import { defineModel } from "../model/define-model.ts";

const SEED = "MSP Panel, “Roles and Permissions on MSP panel”";

/** End client: "view all the information of the clients they are assigned to". */
const CLIENT_INFORMATION = ["client.view", "department.view", "device.view"] as const;

/** MSP User: "manage only the clients assigned to them, under which they're able to create new departments". */
const CLIENT_MANAGEMENT = [
  ...CLIENT_INFORMATION,
  "client.manage",
  "department.create",
  "department.manage",
  "device.manage",
] as const;

/**
 * An MSP panel: clients with departments below them; a client is assigned in its
 * entirety, departments included; the owner changes only through support.
 */
export const msp = defineModel({
  name: "msp",
  label: "MSP Panel",
  source: SEED,
  types: {
    workspace: { label: "MSP account" },
    client: { label: "Client", parents: ["workspace"] },
    department: { label: "Department", parents: ["client"] },
  },
  permissions: {
    "account.close": {
      on: "workspace",
      description: "Close the MSP account (type-name-to-confirm)",
    },
    "settings.manage": { on: "workspace", description: "The panel's Settings section" },
    "users.manage": {
      on: "workspace",
      description: "Settings → Manage Users: create users, pick their role, assign clients to them",
    },
    "billing.view": { on: "workspace", description: "The Billing section" },
    "billing.manage": { on: "workspace", description: "Pay and change billing details" },
    "client.create": { on: "workspace", description: "Create a client" },
    "client.view": { on: "client", description: "See the client and all its information" },
    "client.manage": { on: "client", description: "Edit the client" },
    "client.delete": { on: "client", description: "Delete the client with its departments" },
    "department.create": { on: "client", description: "Create a department under the client" },
    "department.view": { on: "department", description: "See the department" },
    "department.manage": { on: "department", description: "Edit or delete the department" },
    "device.view": {
      on: ["client", "department"],
      description: "See the devices of a client or department",
    },
    "device.manage": { on: ["client", "department"], description: "Manage devices" },
  },
  ownerOnly: ["account.close"],
  delegation: "users.manage",
  roles: {
    owner: {
      owner: true,
      label: "Owner",
      scopes: ["workspace"],
      description:
        "The user the account was created under: all clients and all features; changed only through support",
      source:
        "Owner: The Owner role is the user under which your account was created. It has access to all your clients, and all the features within the MSP Panel. This role cannot be assigned to a new user. If you need to change the Owner of your account, please contact our Support Team.",
    },
    msp_admin: {
      label: "MSP Admin",
      scopes: ["workspace"],
      description: "Every feature, and every client whether assigned or not",
      source:
        "MSP Admin: An Admin role with access to all the features within the MSP Panel, and capabilities to view and manage all of your clients, regardless of the ones assigned to them.",
      permissions: [
        "settings.manage",
        "users.manage",
        "billing.view",
        "billing.manage",
        "client.create",
        ...CLIENT_MANAGEMENT,
        "client.delete",
      ],
    },
    msp_user: {
      label: "MSP User",
      scopes: ["client"],
      description:
        "Manage only the assigned clients and create departments under them; no Billing, no users, no new clients, no client assignment",
      source:
        "MSP User: A client-specific role allowed to manage only the clients assigned to them, under which they're able to create new departments as well. They are not allowed access to the Billing section, cannot create new users, nor can they create new clients or assign clients to users.",
      permissions: [...CLIENT_MANAGEMENT],
    },
    billing_only: {
      label: "Billing only",
      scopes: ["workspace"],
      description: "View the Billing section only",
      source:
        "Billing only: A limited access role. This role will only be able to view the Billing section of your MSP panel.",
      permissions: ["billing.view"],
    },
    end_client: {
      label: "End client",
      scopes: ["client"],
      description:
        "View all the information of the assigned clients; manage no devices, clients or departments",
      source:
        "End client: A limited access role. This role cannot manage devices or clients, nor are they able to create new departments; they can , however, view all the information of the clients they are assigned to.",
      permissions: [...CLIENT_INFORMATION],
      // The MSP's own customer sees the MSP's panel only: no switcher, no account pages.
      navigation: "workspace-only",
    },
  },
  sections: {
    clients: { label: "Clients", anyOf: ["client.view"] },
    departments: { label: "Departments", anyOf: ["department.view"] },
    devices: { label: "Devices", anyOf: ["device.view"] },
    billing: { label: "Billing", anyOf: ["billing.view"] },
    // "You can add new users at any moment in the Settings section of your Panel, under the Manage Users tab."
    users: { label: "Manage Users", anyOf: ["users.manage"], workflow: "team" },
    settings: { label: "Settings", anyOf: ["settings.manage", "users.manage"] },
  },
  gates: {
    settings: "settings.manage",
    createResource: { client: "client.create", department: "department.create" },
    deleteResource: { client: "client.delete" },
  },
  formerOwnerRole: "msp_admin",
  policy: {
    // "If you need to change the Owner of your account, please contact our Support Team."
    selfServiceTransfer: false,
    // Users are created by the account's admins under Manage Users; they get no account of their own.
    personalWorkspace: false,
    oneWorkspacePerEmail: false,
    joinRequests: false,
  },
});
