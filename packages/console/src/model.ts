import type { ModelDefinition, WorkspaceModel } from "./api.ts";

/** Reading a workspace's model: the tree of types, labels, and what opens the console's pages. */

export function rootTypeOf(model: ModelDefinition): string {
  return (
    Object.entries(model.types).find(([, type]) => (type.parents ?? []).length === 0)?.[0] ??
    "workspace"
  );
}

/** The resource types in tree order (breadth first from the root), the root excluded. */
export function typesInOrder(model: ModelDefinition): string[] {
  const root = rootTypeOf(model);
  const order: string[] = [];
  const queue = [root];
  while (queue.length > 0) {
    const parent = queue.shift()!;
    for (const [name, type] of Object.entries(model.types)) {
      if ((type.parents ?? []).includes(parent) && !order.includes(name)) {
        order.push(name);
        queue.push(name);
      }
    }
  }
  return order;
}

export function typeLabel(model: ModelDefinition, type: string): string {
  return model.types[type]?.label ?? type;
}

export function roleLabel(model: ModelDefinition, role: string): string {
  return model.roles[role]?.label ?? role;
}

function actsOn(model: ModelDefinition, permission: string): readonly string[] {
  const on = model.permissions[permission]?.on;
  return on === undefined ? [] : typeof on === "string" ? [on] : on;
}

/** The permission that shows a resource of `type` in a list: its `.view` one, else its first. */
export function viewPermissionOf(model: ModelDefinition, type: string): string | undefined {
  const names = Object.keys(model.permissions).filter((name) => actsOn(model, name).includes(type));
  return names.find((name) => name.endsWith(".view")) ?? names[0];
}

/** The types right under the workspace (servers, customers, clients, projects). */
export function firstLevelTypes(model: ModelDefinition): string[] {
  const root = rootTypeOf(model);
  return Object.entries(model.types)
    .filter(([, type]) => (type.parents ?? []).includes(root))
    .map(([name]) => name);
}

/** `site:shop.example` → `{ type: "site", id: "shop.example" }`. */
export function splitResource(resource: string): { type: string; id: string } {
  const colon = resource.indexOf(":");
  return { type: resource.slice(0, colon), id: resource.slice(colon + 1) };
}

export function resourcePath(workspaceId: string, resource: string): string {
  const { type, id } = splitResource(resource);
  return `/w/${encodeURIComponent(workspaceId)}/resources/${encodeURIComponent(type)}/${encodeURIComponent(id)}`;
}

/** A scope for people: "Whole workspace", or "Site shop.example". */
export function scopeLabel(model: ModelDefinition, scope: string): string {
  const { type, id } = splitResource(scope);
  if (type === rootTypeOf(model)) return `Whole ${typeLabel(model, type).toLowerCase()}`;
  return `${typeLabel(model, type)} ${id}`;
}

/** The roles people can be given (the owner role is only ever transferred). */
export function grantableRoles(model: ModelDefinition): string[] {
  return Object.entries(model.roles)
    .filter(([, role]) => role.owner !== true)
    .map(([name]) => name);
}

/**
 * The workspace's model as `GET …/model` answers it, with the roles the workspace defined merged
 * into the preset's (docs/workspace-roles.md): every role picker and label then knows them.
 */
export function withWorkspaceRoles(answer: WorkspaceModel): ModelDefinition {
  if (answer.roles.length === 0) return answer.model;
  const roles = { ...answer.model.roles };
  for (const { name, ...role } of answer.roles) roles[name] = role;
  return { ...answer.model, roles };
}
