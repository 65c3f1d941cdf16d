import type { Issue } from "../errors.ts";
import { Issues } from "../issues.ts";
import { SECTION_WORKFLOWS } from "./model-definition.ts";
import {
  MAX_RESOURCE_TYPES,
  modelSchema,
  NAME_PATTERN,
  PERMISSION_NAME_PATTERN,
} from "./model-schema.ts";

const NAME = new RegExp(NAME_PATTERN);
const PERMISSION_NAME = new RegExp(PERMISSION_NAME_PATTERN);

// Field names come from the model's JSON Schema: one definition of the shape.
const fields = modelSchema.properties;
const MODEL_KEYS = Object.keys(fields);
const TYPE_KEYS = Object.keys(fields.types.additionalProperties.properties);
const PERMISSION_KEYS = Object.keys(fields.permissions.additionalProperties.properties);
const ROLE_KEYS = Object.keys(fields.roles.additionalProperties.properties);
const PLAN_KEYS = Object.keys(fields.plans.additionalProperties.properties);
const SECTION_KEYS = Object.keys(fields.sections.additionalProperties.properties);
const GATE_KEYS = Object.keys(fields.gates.properties);
const POLICY_KEYS = Object.keys(fields.policy.properties);

type Json = Record<string, unknown>;

function isRecord(value: unknown): value is Json {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** The shared collector, with the checks of a model's JSON shape. */
class ModelIssues extends Issues {
  record(value: unknown, path: string): Json | undefined {
    if (isRecord(value)) return value;
    this.add(path, "must be an object");
    return undefined;
  }
  onlyKeys(value: Json, allowed: readonly string[], path: string): void {
    for (const key of Object.keys(value)) {
      if (!allowed.includes(key))
        this.add(join(path, key), `unknown field; expected one of ${allowed.join(", ")}`);
    }
  }
  optionalString(value: Json, key: string, path: string): void {
    if (value[key] !== undefined && typeof value[key] !== "string")
      this.add(join(path, key), "must be a string");
  }
  stringArray(value: unknown, path: string, { nonEmpty = false } = {}): string[] {
    if (!Array.isArray(value)) {
      this.add(path, "must be an array of strings");
      return [];
    }
    if (nonEmpty && value.length === 0) this.add(path, "must not be empty");
    const out: string[] = [];
    const seen = new Set<string>();
    value.forEach((item, index) => {
      if (typeof item !== "string") this.add(`${path}[${index}]`, "must be a string");
      else if (seen.has(item)) this.add(`${path}[${index}]`, `duplicate "${item}"`);
      else {
        seen.add(item);
        out.push(item);
      }
    });
    return out;
  }
}

function join(path: string, key: string): string {
  return path === "" ? key : `${path}.${key}`;
}

/** Type names reachable below `type` (its descendant types), not including itself unless on a cycle. */
export function descendantTypes(
  parentsOf: ReadonlyMap<string, readonly string[]>,
  type: string,
): Set<string> {
  const childrenOf = new Map<string, string[]>();
  for (const [child, parents] of parentsOf) {
    for (const parent of parents) {
      const list = childrenOf.get(parent) ?? [];
      list.push(child);
      childrenOf.set(parent, list);
    }
  }
  const seen = new Set<string>();
  const stack = [...(childrenOf.get(type) ?? [])];
  while (stack.length > 0) {
    const next = stack.pop()!;
    if (seen.has(next)) continue;
    seen.add(next);
    stack.push(...(childrenOf.get(next) ?? []));
  }
  return seen;
}

/**
 * Checks a model definition (from TypeScript or parsed JSON) and reports every problem with its path.
 * An empty list means the definition is valid.
 * @example
 * validateModel(JSON.parse(text)) // [{ path: "roles.operator.scopes[0]", message: "unknown resource type \"srv\"" }]
 */
export function validateModel(input: unknown): Issue[] {
  const issues = new ModelIssues();
  const model = issues.record(input, "");
  if (model === undefined) return [...issues.list];
  issues.onlyKeys(model, MODEL_KEYS, "");

  if (typeof model["name"] !== "string" || !NAME.test(model["name"])) {
    issues.add("name", "must be a lowercase name (letters, digits, - and _)");
  }
  issues.optionalString(model, "label", "");
  issues.optionalString(model, "source", "");

  // Resource types and the tree they form.
  const parentsOf = new Map<string, string[]>();
  const types = issues.record(model["types"], "types");
  if (types !== undefined) {
    const names = Object.keys(types);
    if (names.length === 0) issues.add("types", "must define at least the workspace root type");
    if (names.length > MAX_RESOURCE_TYPES)
      issues.add("types", `at most ${MAX_RESOURCE_TYPES} resource types`);
    for (const name of names) {
      if (!NAME.test(name))
        issues.add(`types.${name}`, "type names are lowercase (letters, digits, - and _)");
    }
    for (const [name, raw] of Object.entries(types)) {
      const path = `types.${name}`;
      const type = issues.record(raw, path);
      if (type === undefined) continue;
      issues.onlyKeys(type, TYPE_KEYS, path);
      issues.optionalString(type, "label", path);
      const parents =
        type["parents"] === undefined ? [] : issues.stringArray(type["parents"], `${path}.parents`);
      parents.forEach((parent, index) => {
        if (!Object.hasOwn(types, parent))
          issues.add(`${path}.parents[${index}]`, `unknown resource type "${parent}"`);
      });
      parentsOf.set(
        name,
        parents.filter((parent) => Object.hasOwn(types, parent)),
      );
    }
    const roots = [...parentsOf]
      .filter(([, parents]) => parents.length === 0)
      .map(([name]) => name);
    if (names.length > 0 && roots.length !== 1) {
      issues.add(
        "types",
        `exactly one type must have no parents (the workspace root); found ${roots.length}: ${roots.join(", ") || "none"}`,
      );
    }
    for (const name of parentsOf.keys()) {
      if (descendantTypes(parentsOf, name).has(name))
        issues.add(`types.${name}.parents`, `cycle in the type tree through "${name}"`);
    }
  }
  const isType = (name: string) => parentsOf.has(name);
  const appliesUnder = (on: readonly string[], scope: string) => {
    const below = descendantTypes(parentsOf, scope);
    return on.some((type) => type === scope || below.has(type));
  };

  // Permissions.
  const permissionTypes = new Map<string, string[]>();
  const permissions = issues.record(model["permissions"], "permissions");
  if (permissions !== undefined) {
    for (const [name, raw] of Object.entries(permissions)) {
      const path = `permissions.${name}`;
      if (!PERMISSION_NAME.test(name))
        issues.add(path, "permission names read area.action (lowercase, dot-separated)");
      const permission = issues.record(raw, path);
      if (permission === undefined) continue;
      issues.onlyKeys(permission, PERMISSION_KEYS, path);
      issues.optionalString(permission, "description", path);
      const rawOn = permission["on"];
      const on =
        typeof rawOn === "string"
          ? [rawOn]
          : issues.stringArray(rawOn, `${path}.on`, { nonEmpty: true });
      on.forEach((type, index) => {
        const at = typeof rawOn === "string" ? `${path}.on` : `${path}.on[${index}]`;
        if (!isType(type)) issues.add(at, `unknown resource type "${type}"`);
      });
      permissionTypes.set(name, on.filter(isType));
    }
  }
  const isPermission = (name: string) => permissionTypes.has(name);

  const ownerOnly = new Set<string>();
  if (model["ownerOnly"] !== undefined) {
    issues.stringArray(model["ownerOnly"], "ownerOnly").forEach((name, index) => {
      if (!isPermission(name)) issues.add(`ownerOnly[${index}]`, `unknown permission "${name}"`);
      ownerOnly.add(name);
    });
  }

  if (typeof model["delegation"] !== "string")
    issues.add("delegation", "must name the permission that lets a member manage people");
  else if (!isPermission(model["delegation"]))
    issues.add("delegation", `unknown permission "${model["delegation"]}"`);

  // Roles.
  const roles = issues.record(model["roles"], "roles");
  if (roles !== undefined) {
    const owners: string[] = [];
    for (const [name, raw] of Object.entries(roles)) {
      const path = `roles.${name}`;
      if (!NAME.test(name)) issues.add(path, "role names are lowercase (letters, digits, - and _)");
      const role = issues.record(raw, path);
      if (role === undefined) continue;
      issues.onlyKeys(role, ROLE_KEYS, path);
      for (const key of ["label", "description", "source"]) issues.optionalString(role, key, path);
      if (role["owner"] !== undefined && typeof role["owner"] !== "boolean")
        issues.add(`${path}.owner`, "must be true or false");
      const isOwner = role["owner"] === true;
      if (isOwner) owners.push(name);
      const navigation = role["navigation"];
      if (navigation !== undefined && navigation !== "full" && navigation !== "workspace-only")
        issues.add(`${path}.navigation`, 'must be "full" or "workspace-only"');
      else if (isOwner && navigation === "workspace-only")
        issues.add(`${path}.navigation`, "the owner keeps the full navigation");
      const scopes = issues.stringArray(role["scopes"], `${path}.scopes`, { nonEmpty: true });
      scopes.forEach((scope, index) => {
        if (!isType(scope))
          issues.add(`${path}.scopes[${index}]`, `unknown resource type "${scope}"`);
        else if (isOwner && parentsOf.get(scope)!.length > 0)
          issues.add(
            `${path}.scopes[${index}]`,
            "the owner role is granted at the workspace root only",
          );
      });
      if (isOwner) {
        if (role["permissions"] !== undefined)
          issues.add(
            `${path}.permissions`,
            "the owner role holds every permission; do not list them",
          );
        continue;
      }
      const listed =
        role["permissions"] === undefined
          ? []
          : issues.stringArray(role["permissions"], `${path}.permissions`);
      for (const [index, permission] of listed.entries()) {
        const at = `${path}.permissions[${index}]`;
        if (!isPermission(permission)) {
          issues.add(at, `unknown permission "${permission}"`);
          continue;
        }
        if (ownerOnly.has(permission)) {
          issues.add(at, `"${permission}" is owner-only and cannot be part of role "${name}"`);
          continue;
        }
        for (const scope of scopes.filter(isType)) {
          if (!appliesUnder(permissionTypes.get(permission)!, scope)) {
            issues.add(
              at,
              `"${permission}" acts on ${permissionTypes.get(permission)!.join("/")}, which is not at or below scope "${scope}"`,
            );
          }
        }
      }
    }
    if (owners.length !== 1)
      issues.add(
        "roles",
        `exactly one role must be the owner role (owner: true); found ${owners.length}`,
      );
  }

  // Plans.
  let planNames: string[] = [];
  if (model["plans"] !== undefined) {
    const plans = issues.record(model["plans"], "plans");
    if (plans !== undefined) {
      planNames = Object.keys(plans);
      for (const [name, raw] of Object.entries(plans)) {
        const path = `plans.${name}`;
        const plan = issues.record(raw, path);
        if (plan === undefined) continue;
        issues.onlyKeys(plan, PLAN_KEYS, path);
        issues.optionalString(plan, "label", path);
        const max = plan["maxMembers"];
        if (max !== null && !(Number.isInteger(max) && (max as number) >= 1)) {
          issues.add(
            `${path}.maxMembers`,
            "must be a whole number of at least 1, or null for no limit",
          );
        }
      }
    }
  }
  if (model["defaultPlan"] !== undefined && !planNames.includes(model["defaultPlan"] as string)) {
    issues.add("defaultPlan", `unknown plan "${String(model["defaultPlan"])}"`);
  }

  // Navigation sections.
  if (model["sections"] !== undefined) {
    const sections = issues.record(model["sections"], "sections");
    for (const [name, raw] of Object.entries(sections ?? {})) {
      const path = `sections.${name}`;
      const section = issues.record(raw, path);
      if (section === undefined) continue;
      issues.onlyKeys(section, SECTION_KEYS, path);
      if (typeof section["label"] !== "string") issues.add(`${path}.label`, "must be a string");
      issues
        .stringArray(section["anyOf"], `${path}.anyOf`, { nonEmpty: true })
        .forEach((permission, index) => {
          if (!isPermission(permission))
            issues.add(`${path}.anyOf[${index}]`, `unknown permission "${permission}"`);
        });
      const workflow = section["workflow"];
      if (workflow !== undefined && !(SECTION_WORKFLOWS as readonly unknown[]).includes(workflow))
        issues.add(`${path}.workflow`, `must be one of ${SECTION_WORKFLOWS.join(", ")}`);
    }
  }

  // Workflow gates.
  if (model["gates"] !== undefined) {
    const gates = issues.record(model["gates"], "gates");
    if (gates !== undefined) {
      issues.onlyKeys(gates, GATE_KEYS, "gates");
      for (const key of ["teamView", "auditView", "settings", "plan"]) {
        const permission = gates[key];
        if (
          permission !== undefined &&
          (typeof permission !== "string" || !isPermission(permission))
        ) {
          issues.add(`gates.${key}`, `unknown permission "${String(permission)}"`);
        }
      }
      for (const key of ["createResource", "deleteResource", "signIn", "activity"]) {
        if (gates[key] === undefined) continue;
        const byType = issues.record(gates[key], `gates.${key}`);
        for (const [type, permission] of Object.entries(byType ?? {})) {
          const path = `gates.${key}.${type}`;
          if (!isType(type)) issues.add(path, `unknown resource type "${type}"`);
          else if (key === "createResource" && parentsOf.get(type)!.length === 0)
            issues.add(path, "the workspace root is not created by members");
          if (typeof permission !== "string" || !isPermission(permission))
            issues.add(path, `unknown permission "${String(permission)}"`);
          // A sign-in link and a resource's activity are decided with check() on the resource: the
          // permission must act there.
          else if (
            (key === "signIn" || key === "activity") &&
            isType(type) &&
            !permissionTypes.get(permission)!.includes(type)
          )
            issues.add(path, `"${permission}" does not act on ${type} resources`);
        }
      }
    }
  }

  if (model["formerOwnerRole"] !== undefined) {
    const name = model["formerOwnerRole"];
    const role =
      typeof name === "string" && roles !== undefined && Object.hasOwn(roles, name)
        ? roles[name]
        : undefined;
    const root = [...parentsOf].find(([, parents]) => parents.length === 0)?.[0];
    if (!isRecord(role)) issues.add("formerOwnerRole", `unknown role "${String(name)}"`);
    else if (role["owner"] === true) issues.add("formerOwnerRole", "must not be the owner role");
    else if (!Array.isArray(role["scopes"]) || !role["scopes"].includes(root)) {
      issues.add("formerOwnerRole", "must be a role granted at the workspace root");
    }
  }

  // Policy switches.
  if (model["policy"] !== undefined) {
    const policy = issues.record(model["policy"], "policy");
    if (policy !== undefined) {
      issues.onlyKeys(policy, POLICY_KEYS, "policy");
      for (const key of POLICY_KEYS) {
        if (policy[key] !== undefined && typeof policy[key] !== "boolean")
          issues.add(`policy.${key}`, "must be true or false");
      }
    }
  }
  return [...issues.list];
}
