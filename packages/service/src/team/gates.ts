import type { Model, ResourceRef } from "@gatehouse/engine";
import type { WorkspaceReader } from "../service-core.ts";
import { typeOf } from "../support/validation.ts";

/** The permission opening a built-in workflow, from the model's gates. */
export function gate(model: Model, name: "teamView" | "auditView"): string {
  return model.definition.gates?.[name] ?? model.definition.delegation;
}

/**
 * Whether the caller may read a resource's scoped activity (the log's entries about it and below):
 * the model's audit gate held at the resource or above (the whole log's readers, and in a custom
 * model a role granted the gate below the root), or the model's `gates.activity` permission for the
 * resource's type allowed on it (MZPanel: `site.activity.view` on a site, for its customers and the
 * server's operators).
 */
export function mayReadActivityOf(reader: WorkspaceReader, resource: ResourceRef): boolean {
  if (reader.holds(gate(reader.model, "auditView"), resource)) return true;
  const permission = reader.model.definition.gates?.activity?.[typeOf(resource)];
  return permission !== undefined && reader.can(permission, resource);
}

/**
 * Whether the caller may change the workspace's plan: the host app or operator, or a person holding
 * the model's plan gate at the root; nobody else where the model names none (upgrades through support).
 */
export function mayChangePlan(reader: WorkspaceReader): boolean {
  if (reader.isSystem) return true;
  const permission = reader.model.definition.gates?.plan;
  return permission !== undefined && reader.holds(permission, reader.root);
}

/**
 * Whether the caller may set up the workspace's integrations (assistant tools, admin apps): the
 * host app, or a person — directly or by API key, never the assistant — holding the model's
 * settings gate at the root; the owner when the model names none.
 */
export function holdsSettingsGate(reader: WorkspaceReader): boolean {
  if (reader.isSystem) return true;
  const actor = reader.request.actor;
  if (actor.type === "assistant") return false;
  const permission = reader.model.definition.gates?.settings;
  if (permission !== undefined) return reader.holds(permission, reader.root);
  return actor.type === "user" && reader.engine.ownerGrant?.subject === `user:${actor.userId}`;
}
