import {
  GatehouseError,
  type Grant,
  type MemberNavigation,
  type ResourceRef,
  type SectionWorkflow,
  type SubjectRef,
} from "@gatehouse/engine";
import { personOf, type RequestContext, subjectOf } from "../actor.ts";
import type { ServiceCore, WorkspaceReader } from "../service-core.ts";
import { ErrorCode } from "../support/error-codes.ts";
import { gate, holdsSettingsGate, mayChangePlan } from "../team/gates.ts";
import { administers } from "./who-can.ts";

/** Which of Gatehouse's own workflows a member may use in a workspace: the console shows only those. */
export interface Workflows {
  /** See the team: members, invitations, join requests, groups (the model's team gate). */
  readonly viewTeam: boolean;
  /** Invite, change and remove people across the workspace (the delegation permission at the root). */
  readonly managePeople: boolean;
  /** Read, export and verify the activity log (the model's audit gate). */
  readonly viewActivity: boolean;
  /** Rename the workspace and change its settings (the model's settings gate, else the owner). */
  readonly changeSettings: boolean;
  /** Owner-only concerns: closing the workspace, integration credentials; never delegable. */
  readonly ownerOnly: boolean;
  /** Change the plan: who holds the model's plan gate; nobody where the model has none (host app or operator). */
  readonly changePlan: boolean;
  /** Hand ownership to another member: the owner, where the model makes it self-service. */
  readonly transferOwnership: boolean;
  /**
   * Administer a part of the tree: the delegation permission or team gate held at one of the
   * caller's grant scopes (the root included) — the Permissions card of those resources and below.
   */
  readonly administerBelow: boolean;
}

/** The caller's own access in one workspace: what the console builds its navigation from. */
export interface AccessSummary {
  readonly workspaceId: string;
  readonly userId: string;
  readonly isOwner: boolean;
  /** The caller's grants, direct and through groups. */
  readonly grants: readonly Grant[];
  readonly groups: readonly string[];
  readonly workflows: Workflows;
  /** The model's navigation sections the caller may use anywhere in the workspace. */
  readonly sections: readonly string[];
  /**
   * What the console offers around this workspace: `workspace-only` (no workspace switcher, no
   * account pages) when every role the caller holds here says so in the model; else `full`.
   */
  readonly navigation: MemberNavigation;
  /** Set while the owner previews the workspace as this member ("view as"), read-only. */
  readonly viewAs: { readonly viewerId: string } | null;
}

/** One role's row of the role × permission matrix. */
export interface RoleRow {
  readonly name: string;
  readonly label: string;
  readonly description: string;
  readonly owner: boolean;
  /** The resource types the role is granted at. */
  readonly scopes: readonly string[];
  readonly permissions: readonly string[];
  /** Defined by the workspace itself, not by its model (docs/workspace-roles.md). */
  readonly workspace: boolean;
}

/** The preset's role × permission matrix, as the engine compiles it (the owner holds every permission). */
export interface RoleMatrix {
  readonly preset: string;
  readonly types: readonly { readonly name: string; readonly label: string }[];
  readonly permissions: readonly {
    readonly name: string;
    readonly on: readonly string[];
    readonly description: string;
    readonly ownerOnly: boolean;
  }[];
  readonly roles: readonly RoleRow[];
  /**
   * Whether the model lets the workspace define roles (`policy.workspaceRoles`), and whether the
   * caller may: the owner, or who holds the model's settings gate.
   */
  readonly workspaceRoles: { readonly allowed: boolean; readonly mayDefine: boolean };
}

function workflowsOf(
  reader: WorkspaceReader,
  isOwner: boolean,
  grants: readonly Grant[],
): Workflows {
  const definition = reader.model.definition;
  const settings = definition.gates?.settings;
  return {
    viewTeam: reader.holds(gate(reader.model, "teamView"), reader.root),
    managePeople: reader.holds(definition.delegation, reader.root),
    viewActivity: reader.holds(gate(reader.model, "auditView"), reader.root),
    changeSettings: settings === undefined ? isOwner : reader.holds(settings, reader.root),
    ownerOnly: isOwner,
    changePlan: mayChangePlan(reader),
    transferOwnership: isOwner && reader.model.policy.selfServiceTransfer,
    administerBelow: grants.some((grant) => administers(reader, grant.scope)),
  };
}

/** Workspace-only when the caller holds roles here and each of them is workspace-only in the model. */
function navigationOf(reader: WorkspaceReader, grants: readonly Grant[]): MemberNavigation {
  const roles = reader.model.definition.roles;
  const workspaceOnly =
    grants.length > 0 &&
    grants.every((grant) => roles[grant.role]?.navigation === "workspace-only");
  return workspaceOnly ? "workspace-only" : "full";
}

/**
 * The caller's own access, the role matrix, and "view as": reads for the console, answered
 * exactly as the service decides every other request.
 */
export class Access {
  readonly #core: ServiceCore;

  constructor(core: ServiceCore) {
    this.#core = core;
  }

  /**
   * The caller's grants, groups, Gatehouse workflows and navigation sections in a workspace —
   * every member may read their own.
   * @example
   * const { workflows } = await gatehouse.access.mine(asUser(otto), ws); // workflows.viewTeam === false
   */
  async mine(request: RequestContext, workspaceId: string): Promise<AccessSummary> {
    const reader = await this.#core.read(request, workspaceId);
    const person = personOf(request.actor);
    if (person === undefined)
      throw new GatehouseError(ErrorCode.INVALID_INPUT, "the host app has no access of its own");
    const subject = `user:${person}` as const;
    // Sections are decided for the caller as they call: a key's sections are its own.
    const caller = subjectOf(request.actor) ?? subject;
    const groups = await reader.db
      .selectFrom("group_members")
      .select("group_id")
      .where("workspace_id", "=", workspaceId)
      .where("user_id", "=", person)
      .orderBy("group_id")
      .execute();
    // Only the owner signed in directly holds owner-only concerns; a key or a preview never does.
    const isOwner =
      reader.engine.ownerGrant?.subject === subject &&
      (request.actor.type === "user" || request.actor.type === "preview");
    const sections = sectionsOf(reader, caller, { at: reader.root, isOwner });
    const grants = [
      ...reader.engine.grantsOf(subject),
      ...groups.flatMap((group) => reader.engine.grantsOf(`group:${group.group_id}`)),
    ];
    return {
      workspaceId,
      userId: person,
      isOwner,
      grants,
      groups: groups.map((group) => group.group_id),
      workflows: workflowsOf(reader, isOwner, grants),
      sections,
      navigation: navigationOf(reader, grants),
      viewAs: request.actor.type === "preview" ? { viewerId: request.actor.viewerId } : null,
    };
  }

  /**
   * The preset's role × permission matrix for a member of the workspace: every role with its
   * scope types and the permissions it holds (the owner role holds them all).
   * @example
   * const { roles } = await gatehouse.access.roleMatrix(asUser(ada), ws);
   */
  async roleMatrix(request: RequestContext, workspaceId: string): Promise<RoleMatrix> {
    const reader = await this.#core.read(request, workspaceId);
    const model = reader.model;
    const definition = model.definition;
    const ownerOnly = new Set<string>(definition.ownerOnly ?? []);
    const builtIn = this.#core.modelOf(reader.workspace.preset).definition.roles;
    const allowed = model.policy.workspaceRoles;
    return {
      preset: model.name,
      types: model.types.map((name) => ({
        name,
        label: definition.types[name]?.label ?? name,
      })),
      permissions: model.permissions.map((name) => {
        const permission = definition.permissions[name]!;
        return {
          name,
          on: typeof permission.on === "string" ? [permission.on] : [...permission.on],
          description: permission.description ?? "",
          ownerOnly: ownerOnly.has(name),
        };
      }),
      roles: model.roles.map((name) => {
        const role = definition.roles[name]!;
        const isOwner = role.owner === true;
        return {
          name,
          label: role.label ?? name,
          description: role.description ?? "",
          owner: isOwner,
          scopes: [...role.scopes],
          permissions: isOwner ? [...model.permissions] : [...(role.permissions ?? [])],
          workspace: !Object.hasOwn(builtIn, name),
        };
      }),
      workspaceRoles: { allowed, mayDefine: allowed && holdsSettingsGate(reader) },
    };
  }

  /**
   * Starts a preview of the workspace as one of its members ("view as"): only the owner, signed
   * in directly, may; the answer is a request context that decides exactly as that member, is
   * read-only (every write is refused) and works in this workspace only.
   * @example
   * const asOtto = await gatehouse.access.viewAs(asUser(olivia), ws, otto);
   * await gatehouse.resources.list(asOtto, ws, { type: "site", permission: "site.view" }); // what Otto sees
   */
  async viewAs(
    request: RequestContext,
    workspaceId: string,
    userId: string,
  ): Promise<RequestContext> {
    const reader = await this.#core.read(request, workspaceId);
    const actor = request.actor;
    if (actor.type !== "user" || reader.engine.ownerGrant?.subject !== `user:${actor.userId}`) {
      await this.#core.recordDenial(request, workspaceId, {
        action: "view_as",
        target: `user:${String(userId)}`,
      });
      throw new GatehouseError(
        ErrorCode.PERMISSION_DENIED,
        "only the workspace owner, signed in directly, may view the workspace as a member",
      );
    }
    const member =
      typeof userId === "string"
        ? await reader.db
            .selectFrom("members")
            .select("user_id")
            .where("workspace_id", "=", workspaceId)
            .where("user_id", "=", userId)
            .executeTakeFirst()
        : undefined;
    if (member === undefined)
      throw new GatehouseError(ErrorCode.MEMBER_NOT_FOUND, "no such member in this workspace");
    return {
      actor: { type: "preview", userId: member.user_id, viewerId: actor.userId, workspaceId },
      origin: request.origin,
    };
  }
}

/**
 * The model's navigation sections `subject` may use: one of a section's `anyOf` held at `at` (or
 * above) or allowed somewhere in the workspace — and, for a section opening one of Gatehouse's own
 * workflows (`workflow`), only when that workflow's API serves them. `isOwner`: whether the subject
 * is the owner acting directly (owner-only concerns).
 */
export function sectionsOf(
  reader: WorkspaceReader,
  subject: SubjectRef,
  { at, isOwner }: { at: ResourceRef; isOwner: boolean },
): string[] {
  const engine = reader.engine;
  const served = (workflow: SectionWorkflow | undefined): boolean => {
    const definition = reader.model.definition;
    const heldAtRoot = (permission: string) =>
      engine.holds(subject, permission, reader.root).allowed;
    switch (workflow) {
      case undefined:
        return true;
      case "team":
        return heldAtRoot(gate(reader.model, "teamView"));
      case "people":
        return (
          heldAtRoot(definition.delegation) || isHeldBelow(reader, subject, definition.delegation)
        );
      case "activity": {
        const auditView = gate(reader.model, "auditView");
        return (
          heldAtRoot(auditView) ||
          isHeldBelow(reader, subject, auditView) ||
          Object.entries(definition.gates?.activity ?? {}).some(
            ([type, permission]) =>
              permission !== undefined &&
              engine.listVisible(subject, type, permission, { limit: 1 }).items.length > 0,
          )
        );
      }
      case "settings": {
        const settings = definition.gates?.settings;
        return settings === undefined ? isOwner : heldAtRoot(settings);
      }
      case "integrations":
        return isOwner;
    }
  };
  return Object.entries(reader.model.definition.sections ?? {})
    .filter(
      ([, section]) =>
        section.anyOf.some(
          (permission) =>
            engine.holds(subject, permission, at).allowed ||
            isHeldBelow(reader, subject, permission),
        ) && served(section.workflow),
    )
    .map(([name]) => name);
}

/** A section stays visible when its permission is held somewhere below (e.g. Sites for a site customer). */
function isHeldBelow(reader: WorkspaceReader, subject: SubjectRef, permission: string): boolean {
  const acts = reader.model.definition.permissions[permission]?.on;
  const types = typeof acts === "string" ? [acts] : (acts ?? []);
  return types.some(
    (type) => reader.engine.listVisible(subject, type, permission, { limit: 1 }).items.length > 0,
  );
}
