import type { Model } from "@gatehouse/engine";
import { table } from "./output.ts";

function list<T extends string>(value: T | readonly T[]): readonly T[] {
  return typeof value === "string" ? [value] : value;
}

/** The type tree from the root, one line per type (a type with two parents shows under both). */
function typeTree(model: Model): string[] {
  const types = model.definition.types;
  const childrenOf = (parent: string) =>
    model.types.filter((type) => (types[type]?.parents ?? []).includes(parent));
  const lines: string[] = [];
  const walk = (type: string, prefix: string, last: boolean, depth: number) => {
    const label = types[type]?.label;
    const name = `${type}${label === undefined ? "" : ` (${label})`}`;
    lines.push(depth === 0 ? `  ${name}  [root]` : `  ${prefix}${last ? "└─ " : "├─ "}${name}`);
    const children = childrenOf(type);
    children.forEach((child, index) => {
      const next = depth === 0 ? "" : `${prefix}${last ? "   " : "│  "}`;
      walk(child, next, index === children.length - 1, depth + 1);
    });
  };
  walk(model.rootType, "", true, 0);
  return lines;
}

/** Every role with its scopes and what it holds. */
function roleTable(model: Model): string[] {
  const rows = [["role", "granted at", "permissions", "description"]];
  for (const role of model.roles) {
    const definition = model.definition.roles[role]!;
    const count =
      definition.owner === true
        ? `all ${model.permissions.length} (owner)`
        : String(definition.permissions?.length ?? 0);
    rows.push([role, definition.scopes.join(", "), count, definition.description ?? ""]);
  }
  return table(rows).map((line) => `  ${line}`);
}

/** The role × permission matrix: ✓ where the role holds the permission. */
function matrix(model: Model): string[] {
  const ownerOnly = new Set<string>(model.definition.ownerOnly ?? []);
  const holds = (role: string, permission: string) => {
    const definition = model.definition.roles[role]!;
    return definition.owner === true || (definition.permissions ?? []).includes(permission);
  };
  const rows = [["permission", "acts on", ...model.roles]];
  for (const permission of model.permissions) {
    rows.push([
      `${permission}${ownerOnly.has(permission) ? " *" : ""}`,
      list(model.definition.permissions[permission]!.on).join(", "),
      ...model.roles.map((role) => (holds(role, permission) ? "✓" : "·")),
    ]);
  }
  return table(rows).map((line) => `  ${line}`);
}

/** `gatehouse model show`: the model as text a person can read. */
export function modelLines(model: Model): string[] {
  const definition = model.definition;
  const lines = [
    `Model ${model.name}${definition.label === undefined ? "" : ` — ${definition.label}`}`,
  ];
  if (definition.source !== undefined) lines.push(`Source: ${definition.source}`);
  lines.push("", "Resource types", ...typeTree(model));
  lines.push("", "Roles × scopes", ...roleTable(model));
  lines.push("", "Role × permission (✓ held, · not held, * owner-only)", ...matrix(model));
  lines.push("");
  lines.push(
    `Delegation: ${definition.delegation} lets a member grant at a scope (never more than they hold)`,
  );
  if (definition.formerOwnerRole !== undefined)
    lines.push(
      `After an ownership transfer the former owner becomes: ${definition.formerOwnerRole}`,
    );
  const plans = Object.entries(definition.plans ?? {});
  lines.push(
    plans.length === 0
      ? "Plans: none (no member limit)"
      : `Plans: ${plans
          .map(([name, plan]) => `${name} (${plan.maxMembers ?? "unlimited"} members)`)
          .join(
            ", ",
          )}${definition.defaultPlan === undefined ? "" : `; default ${definition.defaultPlan}`}`,
  );
  const policy = Object.entries(model.policy).map(([name, on]) => `${name} ${on ? "on" : "off"}`);
  lines.push(`Policy: ${policy.join(", ")}`);
  const sections = Object.entries(definition.sections ?? {});
  if (sections.length > 0) {
    lines.push("Sections:");
    for (const [name, section] of sections)
      lines.push(`  ${name} (${section.label}): any of ${section.anyOf.join(", ")}`);
  }
  return lines;
}
