import {
  GatehouseError,
  type WorkspaceRoleDefinition,
  workspaceRoleIssues,
} from "@gatehouse/engine";
import type { Kysely } from "kysely";
import type { RequestContext } from "../actor.ts";
import { actorLabel } from "../audit/actor-label.ts";
import type { AuditRecord } from "../audit/chain.ts";
import type { Database } from "../database/schema.ts";
import type { ServiceCore, WorkspaceWriter } from "../service-core.ts";
import { ErrorCode } from "../support/error-codes.ts";
import { isText, typeOf } from "../support/validation.ts";
import { holdsSettingsGate } from "./gates.ts";

/** A role the workspace defined for itself (docs/workspace-roles.md). */
export interface WorkspaceRole extends WorkspaceRoleDefinition {
  readonly name: string;
  readonly label: string;
  readonly description: string;
}

/** A new workspace role: a name free in the model, the types it is granted at, its permissions. */
export interface WorkspaceRoleInput {
  readonly name: string;
  readonly label?: string;
  readonly description?: string;
  readonly scopes: readonly string[];
  readonly permissions: readonly string[];
}

/** What an update may change; the name stays (grants refer to it). */
export type WorkspaceRoleChanges = Partial<Omit<WorkspaceRoleInput, "name">>;

const DESCRIPTION_MAX_LENGTH = 500;
const CHANGE_KEYS = ["label", "description", "scopes", "permissions"];

/** A workspace's own roles, in the order they were defined. */
export async function readWorkspaceRoles(
  db: Kysely<Database>,
  workspaceId: string,
): Promise<WorkspaceRole[]> {
  const rows = await db
    .selectFrom("workspace_roles")
    .select(["name", "label", "description", "scopes", "permissions"])
    .where("workspace_id", "=", workspaceId)
    .orderBy("created_at")
    .orderBy("name")
    .execute();
  return rows.map((row) => ({
    name: row.name,
    label: row.label,
    description: row.description,
    scopes: JSON.parse(row.scopes) as string[],
    permissions: JSON.parse(row.permissions) as string[],
  }));
}

/**
 * Workspace-defined roles, where the workspace's model allows them (`policy.workspaceRoles`): the
 * owner — or whoever holds the model's settings gate — defines, changes and deletes roles made of
 * the model's permissions, never owner-only ones and never one the definer does not hold at the
 * root. Each change bumps the revision with a `roles.change` op, so every engine of the workspace
 * reloads with its new model; the role matrix (`access.roleMatrix`) lists them with the model's.
 */
export class WorkspaceRoles {
  readonly #core: ServiceCore;

  constructor(core: ServiceCore) {
    this.#core = core;
  }

  /**
   * The workspace's preset and its own roles, for any member (the model route and the console's
   * role pickers: the workspace's model is the preset's plus these).
   * @example
   * const { preset, roles } = await gatehouse.workspaceRoles.list(asUser(dana), ws);
   */
  async list(
    request: RequestContext,
    workspaceId: string,
  ): Promise<{ preset: string; roles: WorkspaceRole[] }> {
    const reader = await this.#core.read(request, workspaceId);
    const preset = reader.workspace.preset;
    const builtIn = this.#core.modelOf(preset).definition.roles;
    const roles = Object.entries(reader.model.definition.roles)
      .filter(([name]) => !Object.hasOwn(builtIn, name))
      .map(([name, role]) => ({
        name,
        label: role.label ?? name,
        description: role.description ?? "",
        scopes: [...role.scopes],
        permissions: [...(role.permissions ?? [])],
      }));
    return { preset, roles };
  }

  /**
   * Defines a role for the workspace. INVALID_INPUT (with `issues`) when the model would refuse it
   * as one of its own roles or its name is the model's; PERMISSION_DENIED for a permission the
   * caller does not hold at the root.
   * @example
   * await gatehouse.workspaceRoles.define(asUser(olivia), ws, {
   *   name: "deployer", label: "Deployer", scopes: ["site"], permissions: ["site.view", "site.deploy"],
   * });
   */
  async define(
    request: RequestContext,
    workspaceId: string,
    input: WorkspaceRoleInput,
  ): Promise<{ role: WorkspaceRole; revision: number }> {
    const name = (input as { name?: unknown } | undefined)?.name;
    if (typeof name !== "string" || name.length === 0)
      throw new GatehouseError(ErrorCode.INVALID_INPUT, "a role needs a name");
    const { value, revision } = await this.#core.write(request, workspaceId, async (tx) => {
      const record = { action: "role.define", target: tx.root, details: { role: name } };
      const existing = await requireDefiner(tx, record);
      if (existing.some((role) => role.name === name))
        throw new GatehouseError(ErrorCode.CONFLICT, `the workspace already has a role "${name}"`);
      const role = roleOf(name, input, undefined);
      checkRoles(tx, [...existing, role]);
      requireHeld(tx, record, role.permissions);
      await tx.trx
        .insertInto("workspace_roles")
        .values({
          workspace_id: tx.workspace.id,
          name,
          label: role.label,
          description: role.description,
          scopes: JSON.stringify(role.scopes),
          permissions: JSON.stringify(role.permissions),
          created_at: tx.now,
          created_by: actorLabel(tx.request),
        })
        .execute();
      tx.apply({ op: "roles.change" });
      tx.audit({ ...record, details: detailsOf(role) });
      return role;
    });
    return { role: value, revision };
  }

  /**
   * Changes a workspace role's label, description, scopes or permissions. Added permissions must
   * be held by the caller at the root; a scope still used by a grant or pending invitation of the
   * role is not removed (ROLE_IN_USE).
   * @example
   * await gatehouse.workspaceRoles.update(asUser(olivia), ws, "deployer", { permissions: ["site.view"] });
   */
  async update(
    request: RequestContext,
    workspaceId: string,
    name: string,
    changes: WorkspaceRoleChanges,
  ): Promise<{ role: WorkspaceRole; revision: number }> {
    if (typeof changes !== "object" || changes === null)
      throw new GatehouseError(ErrorCode.INVALID_INPUT, "changes must be an object");
    for (const key of Object.keys(changes))
      if (!CHANGE_KEYS.includes(key))
        throw new GatehouseError(
          ErrorCode.INVALID_INPUT,
          `unknown field "${key}"; a role's ${CHANGE_KEYS.join(", ")} may change`,
        );
    const { value, revision } = await this.#core.write(request, workspaceId, async (tx) => {
      const record = { action: "role.update", target: tx.root, details: { role: name } };
      const existing = await requireDefiner(tx, record);
      const current = existing.find((role) => role.name === name);
      if (current === undefined) throw roleNotFound(name);
      const role = roleOf(name, { ...current, ...changes }, current);
      checkRoles(
        tx,
        existing.map((other) => (other.name === name ? role : other)),
      );
      requireHeld(
        tx,
        record,
        role.permissions.filter((permission) => !current.permissions.includes(permission)),
      );
      const dropped = current.scopes.filter((scope) => !role.scopes.includes(scope));
      if (dropped.length > 0) {
        const used = (await usesOf(tx, name)).filter((scope) => dropped.includes(typeOf(scope)));
        if (used.length > 0)
          throw new GatehouseError(
            ErrorCode.ROLE_IN_USE,
            `"${name}" is still given at ${used.slice(0, 3).join(", ")}${used.length > 3 ? ", …" : ""}; remove those first`,
          );
      }
      await tx.trx
        .updateTable("workspace_roles")
        .set({
          label: role.label,
          description: role.description,
          scopes: JSON.stringify(role.scopes),
          permissions: JSON.stringify(role.permissions),
        })
        .where("workspace_id", "=", tx.workspace.id)
        .where("name", "=", name)
        .execute();
      tx.apply({ op: "roles.change" });
      tx.audit({ ...record, details: detailsOf(role) });
      return role;
    });
    return { role: value, revision };
  }

  /**
   * Deletes a workspace role no grant and no pending invitation gives (else ROLE_IN_USE).
   * @example
   * await gatehouse.workspaceRoles.remove(asUser(olivia), ws, "deployer");
   */
  async remove(
    request: RequestContext,
    workspaceId: string,
    name: string,
  ): Promise<{ revision: number }> {
    const { revision } = await this.#core.write(request, workspaceId, async (tx) => {
      const record = { action: "role.delete", target: tx.root, details: { role: name } };
      const existing = await requireDefiner(tx, record);
      if (!existing.some((role) => role.name === name)) throw roleNotFound(name);
      const used = await usesOf(tx, name);
      if (used.length > 0)
        throw new GatehouseError(
          ErrorCode.ROLE_IN_USE,
          `"${name}" is still given by ${used.length} grant${used.length === 1 ? "" : "s"} or pending invitation${used.length === 1 ? "" : "s"} (at ${used.slice(0, 3).join(", ")}${used.length > 3 ? ", …" : ""}); remove them first`,
        );
      await tx.trx
        .deleteFrom("workspace_roles")
        .where("workspace_id", "=", tx.workspace.id)
        .where("name", "=", name)
        .execute();
      tx.apply({ op: "roles.change" });
      tx.audit(record);
    });
    return { revision };
  }
}

/** Membership, the model's switch and the settings gate; answers the workspace's roles. */
async function requireDefiner(tx: WorkspaceWriter, record: AuditRecord): Promise<WorkspaceRole[]> {
  await tx.requireMember(record);
  const model = tx.core.modelOf(tx.workspace.preset);
  if (!model.policy.workspaceRoles)
    throw new GatehouseError(
      ErrorCode.WORKSPACE_ROLES_DISABLED,
      `roles are fixed in model "${model.name}": a workspace defines none of its own`,
    );
  if (!holdsSettingsGate(tx))
    tx.deny(record, "roles are defined by the owner and those who may change the settings");
  return readWorkspaceRoles(tx.trx, tx.workspace.id);
}

/** The role as stored, from input checked for its shape (the model checks the rest). */
export function roleOf(
  name: string,
  input: Partial<WorkspaceRoleInput>,
  current: WorkspaceRole | undefined,
): WorkspaceRole {
  const label = input.label ?? current?.label ?? name;
  if (!isText(label)) throw invalid("label must be 1–200 characters");
  const description = input.description ?? "";
  if (typeof description !== "string" || description.length > DESCRIPTION_MAX_LENGTH)
    throw invalid(`description must be at most ${DESCRIPTION_MAX_LENGTH} characters`);
  const names = (value: unknown, what: string): string[] => {
    if (!Array.isArray(value) || value.some((item) => typeof item !== "string"))
      throw invalid(`${what} must be an array of names`);
    return [...new Set(value as string[])];
  };
  return {
    name,
    label: label.trim(),
    description: description.trim(),
    scopes: names(input.scopes, "scopes"),
    permissions: names(input.permissions, "permissions"),
  };
}

/** The roles as the engine's `extendModel` takes them. */
export function definitionsOf(
  roles: readonly WorkspaceRole[],
): Record<string, WorkspaceRoleDefinition> {
  return Object.fromEntries(
    roles.map((role) => [role.name, { scopes: role.scopes, permissions: role.permissions }]),
  );
}

/** The model's rules for roles, over all the workspace's roles as they would be. */
function checkRoles(tx: WorkspaceWriter, roles: readonly WorkspaceRole[]): void {
  const model = tx.core.modelOf(tx.workspace.preset);
  const issues = workspaceRoleIssues(model, definitionsOf(roles));
  if (issues.length > 0) {
    const [first] = issues;
    throw new GatehouseError(ErrorCode.INVALID_INPUT, `${first!.path}: ${first!.message}`, {
      issues,
    });
  }
}

/** A role never gives more than its definer holds at the root (the system actor holds all). */
function requireHeld(
  tx: WorkspaceWriter,
  record: AuditRecord,
  permissions: readonly string[],
): void {
  const missing = permissions.filter((permission) => !tx.holds(permission, tx.root));
  if (missing.length > 0)
    tx.deny(
      { ...record, details: { ...record.details, permissions: missing } },
      `you do not hold ${missing.join(", ")} at ${tx.root}: a role never gives more than its definer holds`,
    );
}

/** Where the role is given: its grants' scopes and its pending invitations' scopes. */
async function usesOf(tx: WorkspaceWriter, name: string): Promise<string[]> {
  const [grants, invitations] = await Promise.all([
    tx.trx
      .selectFrom("grants")
      .select("scope")
      .where("workspace_id", "=", tx.workspace.id)
      // A temporary grant falling back to the role uses it too.
      .where((where) => where.or([where("role", "=", name), where("fallback_role", "=", name)]))
      .execute(),
    tx.trx
      .selectFrom("invitations")
      .select("scopes")
      .where("workspace_id", "=", tx.workspace.id)
      .where("role", "=", name)
      .where("accepted_at", "is", null)
      .where("revoked_at", "is", null)
      .where("expires_at", ">", tx.now)
      .execute(),
  ]);
  return [
    ...grants.map((row) => row.scope),
    ...invitations.flatMap((row) => JSON.parse(row.scopes) as string[]),
  ];
}

function detailsOf(role: WorkspaceRole): Record<string, unknown> {
  return { role: role.name, label: role.label, scopes: role.scopes, permissions: role.permissions };
}

function roleNotFound(name: string): GatehouseError {
  return new GatehouseError(ErrorCode.ROLE_NOT_FOUND, `the workspace defined no role "${name}"`);
}

function invalid(message: string): GatehouseError {
  return new GatehouseError(ErrorCode.INVALID_INPUT, message);
}
