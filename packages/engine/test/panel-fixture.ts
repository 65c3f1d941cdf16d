/**
 * The small panel model (workspace → server → site) and workspace shared by the engine's unit
 * tests beside its source files.
 */

import { createEngine } from "../src/engine/engine.ts";
import { GatehouseError } from "../src/errors.ts";
import { defineModel } from "../src/model/define-model.ts";

export const model = defineModel({
  name: "panel",
  types: {
    workspace: {},
    server: { parents: ["workspace"] },
    site: { parents: ["server"] },
  },
  permissions: {
    "billing.manage": { on: "workspace" },
    "team.manage": { on: "workspace" },
    "report.read": { on: "workspace" },
    "server.view": { on: "server" },
    "server.restart": { on: "server" },
    "site.view": { on: "site" },
    "site.deploy": { on: "site" },
    "site.delete": { on: "site" },
  },
  ownerOnly: ["billing.manage"],
  delegation: "team.manage",
  roles: {
    owner: { owner: true, scopes: ["workspace"] },
    admin: {
      scopes: ["workspace"],
      permissions: [
        "team.manage",
        "report.read",
        "server.view",
        "server.restart",
        "site.view",
        "site.deploy",
        "site.delete",
      ],
    },
    operator: {
      scopes: ["server"],
      permissions: ["server.view", "server.restart", "site.view", "site.deploy"],
    },
    customer: { scopes: ["site"], permissions: ["site.view", "site.deploy"] },
    viewer: { scopes: ["server", "site"], permissions: ["site.view"] },
  },
});

export function fixture(now = { value: 1_000 }) {
  const engine = createEngine(model, {
    workspace: "acme",
    clock: () => now.value,
    resources: [
      { resource: "site:a1", parent: "server:a" },
      { resource: "server:a", parent: "workspace:acme" },
      { resource: "site:a2", parent: "server:a" },
      { resource: "server:b", parent: "workspace:acme" },
      { resource: "site:b1", parent: "server:b" },
    ],
    grants: [
      { subject: "user:olivia", role: "owner", scope: "workspace:acme" },
      { subject: "user:adam", role: "admin", scope: "workspace:acme" },
      { subject: "user:otto", role: "operator", scope: "server:a" },
      { subject: "user:cara", role: "customer", scope: "site:a1" },
    ],
  });
  return { engine, now };
}

export function codeOf(action: () => unknown): string | undefined {
  try {
    action();
  } catch (error) {
    if (error instanceof GatehouseError) return error.code;
    throw error;
  }
  return undefined;
}
