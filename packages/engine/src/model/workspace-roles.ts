import { ErrorCode, GatehouseError, type Issue } from "../errors.ts";
import { summarizeIssues } from "../issues.ts";
import { compileModel, type Model } from "./define-model.ts";
import type { ModelDefinition } from "./model-definition.ts";
import { NAME_PATTERN } from "./model-schema.ts";
import { validateModel } from "./validate-model.ts";

const NAME = new RegExp(NAME_PATTERN);
const ROLE_KEYS = ["label", "description", "scopes", "permissions"];

/**
 * A role a workspace defines for itself, where its model's `policy.workspaceRoles` allows: the
 * model's permissions (never owner-only ones) at the resource types it may be granted at.
 */
export interface WorkspaceRoleDefinition {
  readonly label?: string;
  readonly description?: string;
  /** Resource types this role can be granted at. */
  readonly scopes: readonly string[];
  /** The role's permissions, from the model; never owner-only ones. */
  readonly permissions: readonly string[];
}

/**
 * What is wrong with a workspace's roles under `model`: the policy is off, a name is taken by the
 * model's roles, a field is unknown, or the role breaks a rule of the model's own roles (unknown
 * permission or type, an owner-only permission, a permission outside its scopes). Empty when fine.
 * @example
 * workspaceRoleIssues(model, { "site-auditor": { scopes: ["site"], permissions: ["site.view"] } }) // []
 */
export function workspaceRoleIssues(
  model: Model,
  roles: Readonly<Record<string, WorkspaceRoleDefinition>>,
): Issue[] {
  const names = Object.keys(roles);
  if (names.length === 0) return [];
  if (!model.policy.workspaceRoles)
    return [
      { path: "roles", message: `model "${model.name}" does not let a workspace define roles` },
    ];
  const issues: Issue[] = [];
  for (const name of names) {
    const path = `roles.${name}`;
    const role: unknown = roles[name];
    if (!NAME.test(name))
      issues.push({ path, message: "role names are lowercase (letters, digits, - and _)" });
    else if (Object.hasOwn(model.definition.roles, name))
      issues.push({ path, message: `"${name}" is a role of model "${model.name}"` });
    if (typeof role !== "object" || role === null || Array.isArray(role)) {
      issues.push({ path, message: "must be an object" });
      continue;
    }
    for (const key of Object.keys(role))
      if (!ROLE_KEYS.includes(key))
        issues.push({
          path: `${path}.${key}`,
          message: `unknown field; expected one of ${ROLE_KEYS.join(", ")}`,
        });
    if (!Array.isArray((role as { permissions?: unknown }).permissions))
      issues.push({ path: `${path}.permissions`, message: "must be an array of strings" });
  }
  if (issues.length > 0) return issues;
  // Every other rule is a rule of the model's own roles: check them as one definition.
  return validateModel(merged(model.definition, roles)).filter((issue) =>
    issue.path.startsWith("roles."),
  );
}

/**
 * The model a workspace decides with: `model` plus the workspace's own roles, compiled like any
 * model (so checks stay as fast). Roles are appended after the model's, in the order given.
 * Throws `INVALID_MODEL` with the issues of `workspaceRoleIssues`.
 * @example
 * const effective = extendModel(model, { "site-auditor": { scopes: ["site"], permissions: ["site.view"] } });
 * effective.roles // [...model.roles, "site-auditor"]
 */
export function extendModel(
  model: Model,
  roles: Readonly<Record<string, WorkspaceRoleDefinition>>,
): Model {
  if (Object.keys(roles).length === 0) return model;
  const issues = workspaceRoleIssues(model, roles);
  if (issues.length > 0) {
    const summary = summarizeIssues(issues, { rootLabel: "(roles)" });
    throw new GatehouseError(ErrorCode.INVALID_MODEL, `invalid workspace roles: ${summary}`, {
      issues,
    });
  }
  return compileModel(merged(model.definition, roles));
}

function merged(
  definition: ModelDefinition,
  roles: Readonly<Record<string, WorkspaceRoleDefinition>>,
): ModelDefinition {
  const added = Object.fromEntries(
    Object.entries(roles).map(([name, role]) => [
      name,
      {
        ...(role.label === undefined ? {} : { label: role.label }),
        ...(role.description === undefined ? {} : { description: role.description }),
        scopes: role.scopes,
        permissions: role.permissions,
      },
    ]),
  );
  return { ...definition, roles: { ...definition.roles, ...added } };
}
