import { defineModel } from "@gatehouse/engine";

/** A small hosting model whose policy lets a workspace define roles of its own. */
export const studio = defineModel({
  name: "studio",
  types: { workspace: {}, site: { parents: ["workspace"] } },
  permissions: {
    "site.view": { on: "site" },
    "site.deploy": { on: "site" },
    "site.delete": { on: "site" },
    "team.manage": { on: "workspace" },
    "settings.manage": { on: "workspace" },
    "billing.manage": { on: "workspace" },
  },
  ownerOnly: ["billing.manage"],
  roles: {
    owner: { owner: true, scopes: ["workspace"] },
    admin: {
      scopes: ["workspace"],
      permissions: ["team.manage", "settings.manage", "site.view", "site.deploy"],
    },
    viewer: { scopes: ["workspace", "site"], permissions: ["site.view"] },
  },
  delegation: "team.manage",
  gates: { settings: "settings.manage" },
  policy: { workspaceRoles: true },
});

/** A role a studio workspace defines: ships sites, nothing else. */
export const deployer = {
  name: "deployer",
  label: "Deployer",
  description: "Ships sites, nothing else",
  scopes: ["site"],
  permissions: ["site.view", "site.deploy"],
};
