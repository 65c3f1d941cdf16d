import type { ChangeOp } from "@gatehouse/engine";
import {
  createEngine,
  type Engine,
  extendModel,
  GatehouseError,
  type Grant,
  type GranteeRef,
  type GrantInput,
  Issues,
  isGatehouseError,
  type Model,
  type ModelDefinition,
  type ResourceRef,
  workspaceRoleIssues,
} from "@gatehouse/engine";
import type { Insertable, Kysely } from "kysely";
import type { RequestContext } from "../actor.ts";
import { actorLabel } from "../audit/actor-label.ts";
import type { Database, GrantsTable } from "../database/schema.ts";
import type { ServiceCore } from "../service-core.ts";
import { insertUser, normalizeEmail } from "../sign-in/users.ts";
import { ErrorCode } from "../support/error-codes.ts";
import { isResourceName, isText, requireText } from "../support/validation.ts";
import { ELEVATION_MAX_MS, ELEVATION_MIN_MS } from "./elevations.ts";
import { isOneWorkspacePerEmail, memberLimit } from "./membership.ts";
import {
  definitionsOf,
  readWorkspaceRoles,
  roleOf,
  type WorkspaceRole,
} from "./workspace-roles.ts";
import { createWorkspaceIn, toWorkspace, type Workspace } from "./workspaces.ts";

/** The `format` field of every workspace export. */
export const EXPORT_FORMAT = "gatehouse.workspace";
/**
 * The version of the export format this service writes. Version 2 added the workspace's own roles,
 * grant notes, eligibilities and support people's end; version 1 exports are still read.
 */
export const EXPORT_VERSION = 2;
/** The versions an import reads. */
const READABLE_VERSIONS: readonly number[] = [1, EXPORT_VERSION];

export interface ExportedMember {
  /** The user's id on the exporting instance; grants and groups refer to it. */
  readonly userId: string;
  readonly email: string;
  readonly name: string;
  readonly joinedAt: number;
  /**
   * A support person's membership ends here (approved support access, docs/support-access.md);
   * `null` for members. Since version 2.
   */
  readonly supportUntil: number | null;
}

export interface ExportedGroup {
  readonly id: string;
  readonly name: string;
  /** User ids of members. */
  readonly members: readonly string[];
}

export interface ExportedGrant {
  readonly subject: GranteeRef;
  readonly role: string;
  readonly scope: ResourceRef;
  readonly extras: readonly string[];
  /** Epoch milliseconds; `null` for a grant that never expires. */
  readonly expiresAt: number | null;
  /** The grant's note (a just-in-time elevation's provenance); `null` for none. Since version 2. */
  readonly note: string | null;
  /**
   * For a temporary role over a standing one: the role (and extras) it falls back to at
   * `expiresAt`; `null` for none. Since version 2.
   */
  readonly fallback: { readonly role: string; readonly extras: readonly string[] } | null;
}

/** A member's standing eligibility for a role at a scope (docs/elevation.md). Since version 2. */
export interface ExportedEligibility {
  /** Kept on import: a live elevation's grant note names it. */
  readonly id: string;
  /** `user:<exported user id>`. */
  readonly subject: `user:${string}`;
  readonly role: string;
  readonly scope: ResourceRef;
  readonly maxDurationMs: number;
  readonly require2fa: boolean;
}

/**
 * A workspace as data: its model, its own roles, settings, resources, members, groups, grants and
 * eligibilities. Never passwords, TOTP secrets, API keys, sessions, invitations, access or support
 * requests, or sealed credentials.
 */
export interface WorkspaceExport {
  readonly format: typeof EXPORT_FORMAT;
  readonly version: typeof EXPORT_VERSION;
  readonly exportedAt: string;
  readonly workspace: {
    readonly id: string;
    readonly name: string;
    readonly preset: string;
    readonly plan: string | null;
    readonly personal: boolean;
    readonly revision: number;
    readonly createdAt: number;
    readonly settings: {
      readonly joinKey: string | null;
      readonly require2fa: boolean;
      /** `null`: the model's policy decides. */
      readonly oneWorkspacePerEmail: boolean | null;
    };
  };
  /** The definition of the preset, so a reader knows exactly which model the grants refer to. */
  readonly model: ModelDefinition;
  /** The workspace's own roles (docs/workspace-roles.md), defined before the grants give them. */
  readonly roles: readonly WorkspaceRole[];
  readonly members: readonly ExportedMember[];
  readonly groups: readonly ExportedGroup[];
  /** Parents before children; the root is `<root type>:<workspace.id>`. */
  readonly resources: readonly { readonly resource: ResourceRef; readonly parent: ResourceRef }[];
  readonly grants: readonly ExportedGrant[];
  readonly eligibilities: readonly ExportedEligibility[];
}

export interface ImportProgress {
  readonly phase: "users" | "members" | "resources" | "groups" | "grants" | "eligibilities";
  readonly done: number;
  readonly total: number;
}

export interface ImportOptions {
  /** The new workspace's name; the exported name by default. */
  readonly name?: string | undefined;
  /** Validate everything (the database checks included) and write nothing. */
  readonly dryRun?: boolean | undefined;
  /** Called after every batch of rows written. */
  readonly onProgress?: ((progress: ImportProgress) => void) | undefined;
}

export interface ImportCounts {
  readonly members: number;
  readonly usersCreated: number;
  readonly usersMatched: number;
  readonly resources: number;
  readonly groups: number;
  readonly roles: number;
  readonly grants: number;
  readonly eligibilities: number;
}

export interface ImportResult {
  /** The new workspace; `undefined` for a dry run. */
  readonly workspace: Workspace | undefined;
  readonly revision: number;
  readonly counts: ImportCounts;
}

/** Rows per INSERT: well under SQLite's and PostgreSQL's limits on bound parameters. */
const BATCH = 1000;
/** The title of the INVALID_INPUT error listing an export's issues. */
const INVALID_EXPORT = "invalid workspace export";

/**
 * Moving a workspace between instances (or keeping a copy): export it as JSON, import it as a new
 * workspace. Both are instance-operator paths (the system actor, e.g. `gatehouse workspace …`).
 */
export class Portability {
  readonly #core: ServiceCore;

  constructor(core: ServiceCore) {
    this.#core = core;
  }

  /**
   * The workspace as data, read from one snapshot; recorded in the instance log.
   * @example
   * const data = await gatehouse.portability.export(systemActor("cli"), ws);
   * writeFileSync("acme.json", JSON.stringify(data, null, 2));
   */
  async export(request: RequestContext, workspaceId: string): Promise<WorkspaceExport> {
    const core = this.#core;
    requireOperator(request, "exports");
    const data = await core.readSnapshot(request, workspaceId, async (reader) => {
      const row = reader.workspace;
      const engine = reader.engine;
      const members = await reader.db
        .selectFrom("members")
        .innerJoin("users", "users.id", "members.user_id")
        .select([
          "users.id",
          "users.email",
          "users.name",
          "members.joined_at",
          "members.support_until",
        ])
        .where("members.workspace_id", "=", row.id)
        .orderBy("members.joined_at")
        .orderBy("users.email")
        .execute();
      const groups = await reader.db
        .selectFrom("groups")
        .select(["group_id", "name"])
        .where("workspace_id", "=", row.id)
        .orderBy("group_id")
        .execute();
      const resources = engine
        .subtreeOf(engine.root)
        .slice(1)
        .map((resource) => ({ resource, parent: engine.parentOf(resource)! }));
      const grants = [...engine.grants()]
        .map(exportedGrant)
        .sort((a, b) => compare(a.subject, b.subject) || compare(a.scope, b.scope));
      const eligibilities = await reader.db
        .selectFrom("eligibilities")
        .selectAll()
        .where("workspace_id", "=", row.id)
        .orderBy("subject")
        .orderBy("scope")
        .execute();
      return {
        format: EXPORT_FORMAT,
        version: EXPORT_VERSION,
        exportedAt: new Date(core.clock()).toISOString(),
        workspace: {
          id: row.id,
          name: row.name,
          preset: row.preset,
          plan: row.plan,
          personal: row.personal === 1,
          revision: row.revision,
          createdAt: row.created_at,
          settings: {
            joinKey: row.join_key,
            require2fa: row.require_2fa === 1,
            oneWorkspacePerEmail:
              row.one_workspace_per_email === null ? null : row.one_workspace_per_email === 1,
          },
        },
        model: core.modelOf(row.preset).definition,
        roles: await readWorkspaceRoles(reader.db, row.id),
        members: members.map((member) => ({
          userId: member.id,
          email: member.email,
          name: member.name,
          joinedAt: member.joined_at,
          supportUntil: member.support_until,
        })),
        groups: groups.map((group) => ({
          id: group.group_id,
          name: group.name,
          members: engine
            .membersOf(`group:${group.group_id}`)
            .map((user) => user.slice("user:".length))
            .sort(),
        })),
        resources,
        grants,
        eligibilities: eligibilities.map((eligibility) => ({
          id: eligibility.id,
          subject: eligibility.subject as `user:${string}`,
          role: eligibility.role,
          scope: eligibility.scope as ResourceRef,
          maxDurationMs: Number(eligibility.max_duration_ms),
          require2fa: eligibility.require_2fa === 1,
        })),
      } satisfies WorkspaceExport;
    });
    await core.storage.transaction((trx) =>
      core.appendInstanceLog(trx, {
        action: "workspace.exported",
        workspaceId,
        actor: actorLabel(request),
        details: {
          revision: data.workspace.revision,
          members: data.members.length,
          resources: data.resources.length,
          roles: data.roles.length,
          grants: data.grants.length,
          eligibilities: data.eligibilities.length,
        },
      }),
    );
    return data;
  }

  /**
   * Creates a new workspace from an export. Everything is validated before anything is written —
   * the shape, the model, the tree, every grant, the plan's member limit, one workspace per email,
   * the join key — and every problem is reported with its path (INVALID_INPUT with `issues`).
   * Then one transaction writes it all: members are matched to existing users by email, or
   * created without a password (they sign in by magic link); the workspace is created at revision
   * 1 with its owner and filled at revision 2, recorded in its activity log and the instance log.
   * @example
   * const { workspace } = await gatehouse.portability.import(systemActor("cli"), JSON.parse(text));
   */
  async import(
    request: RequestContext,
    data: unknown,
    options: ImportOptions = {},
  ): Promise<ImportResult> {
    const core = this.#core;
    requireOperator(request, "imports");
    if (options.name !== undefined) requireText(options.name, "workspace name");
    const plan = planImport(core, data);
    if (options.dryRun === true) {
      const { matched } = await checkAgainstDatabase(core, core.db, plan, false);
      return { workspace: undefined, revision: 0, counts: countsOf(plan, matched.size) };
    }
    const result = await core.storage.transaction(async (trx) => {
      const { matched } = await checkAgainstDatabase(core, trx, plan, core.storage.locksRows);
      return writeImport(core, trx, request, plan, matched, options);
    });
    core.events.emit("change", {
      workspaceId: result.workspace.id,
      revision: result.revision,
      ops: result.ops,
    });
    return { workspace: result.workspace, revision: result.revision, counts: result.counts };
  }
}

function requireOperator(request: RequestContext, what: string): void {
  if (request.actor.type !== "system") {
    throw new GatehouseError(
      ErrorCode.PERMISSION_DENIED,
      `workspace ${what} are made by the instance operator`,
    );
  }
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** A validated export, ready to write. */
interface ImportPlan {
  readonly data: WorkspaceExport;
  /** The preset's model (the workspace's own roles come on top). */
  readonly model: Model;
  readonly roles: readonly WorkspaceRole[];
  /** Every grant with every field, older versions' missing ones filled in. */
  readonly grants: readonly ExportedGrant[];
  readonly eligibilities: readonly ExportedEligibility[];
  /** The exported root, `<root type>:<exported id>`. */
  readonly root: ResourceRef;
  /** Resources, parents first. */
  readonly resources: readonly { readonly resource: ResourceRef; readonly parent: ResourceRef }[];
  readonly ownerUserId: string;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** JSON with object keys sorted, so two definitions compare equal whatever their key order. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(",")}]`;
  if (isObject(value)) {
    const keys = Object.keys(value)
      .filter((key) => value[key] !== undefined)
      .sort();
    return `{${keys.map((key) => `${JSON.stringify(key)}:${canonical(value[key])}`).join(",")}}`;
  }
  return JSON.stringify(value);
}

function errorMessage(error: unknown): string {
  if (isGatehouseError(error)) return `${error.message} (${error.code})`;
  throw error;
}

/**
 * Checks everything that needs no database: the shape, the preset and model, the plan, the tree,
 * the groups and every grant (on a scratch engine). Throws INVALID_INPUT with every issue.
 */
function planImport(core: ServiceCore, input: unknown): ImportPlan {
  const issues = new Issues();
  if (!isObject(input)) {
    issues.add("", "a workspace export is a JSON object");
    issues.throwIfAny(ErrorCode.INVALID_INPUT, INVALID_EXPORT);
  }
  const data = input as Record<string, unknown>;
  if (data["format"] !== EXPORT_FORMAT)
    issues.add("format", `must be "${EXPORT_FORMAT}" (is this a Gatehouse workspace export?)`);
  if (!READABLE_VERSIONS.includes(data["version"] as number))
    issues.add(
      "version",
      `this Gatehouse reads version ${READABLE_VERSIONS.join(" and ")} exports`,
    );
  const known = [
    "format",
    "version",
    "exportedAt",
    "workspace",
    "model",
    "roles",
    "members",
    "groups",
    "resources",
    "grants",
    "eligibilities",
  ];
  for (const key of Object.keys(data)) if (!known.includes(key)) issues.add(key, "unknown field");
  issues.throwIfAny(ErrorCode.INVALID_INPUT, INVALID_EXPORT);

  // The workspace and its model.
  const workspace = data["workspace"];
  let model: Model | undefined;
  let root: ResourceRef | undefined;
  if (!isObject(workspace)) {
    issues.add("workspace", "must be an object with id, name, preset, plan and settings");
  } else {
    if (!isText(workspace["id"], 100)) issues.add("workspace.id", "must be 1–100 characters");
    if (!isText(workspace["name"])) issues.add("workspace.name", "must be 1–200 characters");
    const preset = workspace["preset"];
    if (typeof preset !== "string" || core.models[preset] === undefined) {
      issues.add(
        "workspace.preset",
        `unknown preset ${JSON.stringify(preset)}; this instance has ${Object.keys(core.models).join(", ")}`,
      );
    } else {
      model = core.models[preset]!;
      if (typeof workspace["id"] === "string")
        root = `${model.rootType}:${workspace["id"]}` as ResourceRef;
      const plans = Object.keys(model.definition.plans ?? {});
      const plan = workspace["plan"];
      if (plan === null ? plans.length > 0 : typeof plan !== "string" || !plans.includes(plan)) {
        issues.add(
          "workspace.plan",
          plans.length === 0
            ? `must be null: the ${preset} preset has no plans`
            : `must be one of ${plans.join(", ")}`,
        );
      }
      if (data["model"] !== undefined && canonical(data["model"]) !== canonical(model.definition))
        issues.add(
          "model",
          `differs from this instance's "${preset}" preset; a workspace uses the instance's model of its preset`,
        );
    }
    if (workspace["personal"] !== undefined && typeof workspace["personal"] !== "boolean")
      issues.add("workspace.personal", "must be true or false");
    const settings = workspace["settings"];
    if (settings !== undefined) {
      if (!isObject(settings)) issues.add("workspace.settings", "must be an object");
      else {
        const joinKey = settings["joinKey"];
        if (
          joinKey !== undefined &&
          joinKey !== null &&
          (typeof joinKey !== "string" || joinKey.trim().length < 4 || joinKey.length > 100)
        )
          issues.add("workspace.settings.joinKey", "must be null or 4–100 characters");
        if (settings["require2fa"] !== undefined && typeof settings["require2fa"] !== "boolean")
          issues.add("workspace.settings.require2fa", "must be true or false");
        const perEmail = settings["oneWorkspacePerEmail"];
        if (perEmail !== undefined && perEmail !== null && typeof perEmail !== "boolean")
          issues.add("workspace.settings.oneWorkspacePerEmail", "must be true, false or null");
      }
    }
  }

  // Members and groups.
  const memberIds = new Set<string>();
  const emails = new Set<string>();
  let supportPeople = 0;
  const members = listAt(data, "members", issues);
  for (const [index, member] of members.entries()) {
    const path = `members[${index}]`;
    if (!isObject(member)) {
      issues.add(path, "must be an object with userId, email and name");
      continue;
    }
    const userId = member["userId"];
    if (!isText(userId, 100)) issues.add(`${path}.userId`, "must be 1–100 characters");
    else if (memberIds.has(userId)) issues.add(`${path}.userId`, `${userId} is listed twice`);
    else memberIds.add(userId);
    try {
      const email = normalizeEmail(member["email"]);
      if (emails.has(email)) issues.add(`${path}.email`, `${email} is listed twice`);
      emails.add(email);
    } catch {
      issues.add(`${path}.email`, "must be an email address");
    }
    if (!isText(member["name"])) issues.add(`${path}.name`, "must be 1–200 characters");
    if (member["joinedAt"] !== undefined && !Number.isSafeInteger(member["joinedAt"]))
      issues.add(`${path}.joinedAt`, "must be epoch milliseconds");
    const supportUntil = member["supportUntil"];
    if (supportUntil !== undefined && supportUntil !== null && !Number.isSafeInteger(supportUntil))
      issues.add(`${path}.supportUntil`, "must be epoch milliseconds or null");
    else if (isSupportPerson(member)) supportPeople++;
  }
  const groupIds = new Set<string>();
  const groups = listAt(data, "groups", issues);
  for (const [index, group] of groups.entries()) {
    const path = `groups[${index}]`;
    if (!isObject(group)) {
      issues.add(path, "must be an object with id, name and members");
      continue;
    }
    const id = group["id"];
    if (!isText(id, 100)) issues.add(`${path}.id`, "must be 1–100 characters");
    else if (groupIds.has(id)) issues.add(`${path}.id`, `${id} is listed twice`);
    else groupIds.add(id);
    if (!isText(group["name"])) issues.add(`${path}.name`, "must be 1–200 characters");
    const users = group["members"] ?? [];
    if (!Array.isArray(users)) {
      issues.add(`${path}.members`, "must be a list of user ids");
      continue;
    }
    for (const [position, user] of users.entries()) {
      if (typeof user !== "string" || !memberIds.has(user))
        issues.add(`${path}.members[${position}]`, `${JSON.stringify(user)} is not a member`);
    }
  }
  if (model !== undefined && isObject(workspace)) {
    const plan = typeof workspace["plan"] === "string" ? workspace["plan"] : null;
    const limit = memberLimit(model, plan);
    // Support people hold no seat, as on the Team page.
    if (limit !== null && members.length - supportPeople > limit)
      issues.add("members", `${members.length} members exceed the ${plan} plan's ${limit}`);
  }

  // The workspace's own roles, by the rules the workspace-roles service applies.
  const roles = model === undefined ? [] : checkRoles(listAt(data, "roles", issues), model, issues);

  // The tree and the grants, applied to a scratch engine: what the engine refuses is reported.
  const resources = listAt(data, "resources", issues);
  const grants = listAt(data, "grants", issues);
  const ordered: ExportedResourceAt[] = [];
  const checkedGrants: ExportedGrant[] = [];
  const eligibilities: ExportedEligibility[] = [];
  let ownerUserId: string | undefined;
  if (model !== undefined && root !== undefined) {
    const engine = createEngine(extendModel(model, definitionsOf(roles)), {
      workspace: root.slice(root.indexOf(":") + 1),
      clock: core.clock,
    });
    orderResources(resources, root, issues, ordered);
    for (const { resource, parent, index } of ordered) {
      try {
        engine.upsertResource(resource, parent);
      } catch (error) {
        issues.add(`resources[${index}]`, errorMessage(error));
      }
    }
    for (const [index, group] of groups.entries()) {
      if (!isObject(group) || typeof group["id"] !== "string" || !Array.isArray(group["members"]))
        continue;
      for (const user of group["members"]) {
        if (typeof user !== "string" || !memberIds.has(user)) continue;
        try {
          engine.addGroupMember(`group:${group["id"]}`, `user:${user}`);
        } catch (error) {
          issues.add(`groups[${index}]`, errorMessage(error));
        }
      }
    }
    ownerUserId = applyGrants(
      engine,
      grants,
      { memberIds, groupIds, root },
      { issues, checked: checkedGrants },
    );
    checkEligibilities(
      engine,
      listAt(data, "eligibilities", issues),
      memberIds,
      issues,
      eligibilities,
    );
  }
  if (ownerUserId === undefined && issues.isEmpty)
    issues.add("grants", `no grant of the owner role ("${model?.ownerRole}") at ${root}`);
  issues.throwIfAny(ErrorCode.INVALID_INPUT, INVALID_EXPORT);
  return {
    data: data as unknown as WorkspaceExport,
    model: model!,
    roles,
    grants: checkedGrants,
    eligibilities,
    root: root!,
    resources: ordered.map(({ resource, parent }) => ({ resource, parent })),
    ownerUserId: ownerUserId!,
  };
}

interface ExportedResourceAt {
  readonly resource: ResourceRef;
  readonly parent: ResourceRef;
  readonly index: number;
}

function isSupportPerson(member: Record<string, unknown>): boolean {
  return typeof member["supportUntil"] === "number";
}

function listAt(data: Record<string, unknown>, key: string, issues: Issues): readonly unknown[] {
  const value = data[key] ?? [];
  if (Array.isArray(value)) return value;
  issues.add(key, "must be a list");
  return [];
}

/** Puts parents before children; reports bad names, duplicates, unknown parents and cycles. */
function orderResources(
  resources: readonly unknown[],
  root: ResourceRef,
  issues: Issues,
  ordered: ExportedResourceAt[],
): void {
  const children = new Map<string, ExportedResourceAt[]>();
  const seen = new Set<string>();
  const all: ExportedResourceAt[] = [];
  for (const [index, entry] of resources.entries()) {
    const path = `resources[${index}]`;
    if (!isObject(entry)) {
      issues.add(path, "must be an object with resource and parent");
      continue;
    }
    const { resource, parent } = entry;
    let valid = true;
    for (const [field, value] of [
      ["resource", resource],
      ["parent", parent],
    ] as const) {
      if (!isResourceName(value)) {
        issues.add(`${path}.${field}`, "must be named type:id (at most 300 characters)");
        valid = false;
      }
    }
    if (!valid) return;
    if (resource === root) {
      issues.add(`${path}.resource`, "the root is not listed");
      continue;
    }
    if (seen.has(resource as string)) {
      issues.add(`${path}.resource`, `${resource} is listed twice`);
      continue;
    }
    seen.add(resource as string);
    const item = { resource: resource as ResourceRef, parent: parent as ResourceRef, index };
    all.push(item);
    children.set(item.parent, [...(children.get(item.parent) ?? []), item]);
  }
  const queue: string[] = [root];
  const placed = new Set<string>();
  for (let head = 0; head < queue.length; head++) {
    for (const child of children.get(queue[head]!) ?? []) {
      ordered.push(child);
      placed.add(child.resource);
      queue.push(child.resource);
    }
  }
  for (const item of all) {
    if (placed.has(item.resource)) continue;
    issues.add(
      `resources[${item.index}].parent`,
      seen.has(item.parent)
        ? `${item.parent} is not reachable from the root (a cycle)`
        : `${item.parent} is neither the root ${root} nor a listed resource`,
    );
  }
}

/**
 * How each field of a grant past subject, role and scope travels: its value in an export, its
 * value when an older export lacks it, what an import refuses, and what it becomes in the engine
 * and in the grants row. A new grant field is one entry here.
 */
interface GrantField<K extends GrantFieldName> {
  readonly exported: (grant: Grant) => ExportedGrant[K];
  readonly absent: ExportedGrant[K];
  /** Why an exported value is refused; `undefined` when it is fine. */
  readonly problem: (value: unknown) => string | undefined;
  readonly input: (value: ExportedGrant[K]) => Partial<GrantInput>;
  readonly row: (value: ExportedGrant[K]) => Partial<Insertable<GrantsTable>>;
}

type GrantFieldName = Exclude<keyof ExportedGrant, "subject" | "role" | "scope">;

/** A grant note's longest length (an elevation's note holds a reason of up to 500 characters). */
const NOTE_MAX_LENGTH = 2000;

const GRANT_FIELDS: { readonly [K in GrantFieldName]: GrantField<K> } = {
  extras: {
    exported: (grant) => [...grant.extras],
    absent: [],
    problem: (value) =>
      Array.isArray(value) && value.every((extra) => typeof extra === "string")
        ? undefined
        : "must be a list of permission names",
    input: (extras) => ({ extras: [...new Set(extras)] }),
    row: (extras) => ({ extras: JSON.stringify([...new Set(extras)]) }),
  },
  expiresAt: {
    exported: (grant) => grant.expiresAt ?? null,
    absent: null,
    problem: (value) =>
      value === null || Number.isSafeInteger(value)
        ? undefined
        : "must be epoch milliseconds or null",
    input: (expiresAt) => (expiresAt === null ? {} : { expiresAt }),
    row: (expiresAt) => ({ expires_at: expiresAt }),
  },
  note: {
    exported: (grant) => grant.note ?? null,
    absent: null,
    problem: (value) =>
      value === null || (typeof value === "string" && value.length <= NOTE_MAX_LENGTH)
        ? undefined
        : `must be null or at most ${NOTE_MAX_LENGTH} characters`,
    input: (note) => (note === null ? {} : { note }),
    row: (note) => ({ note }),
  },
  fallback: {
    exported: (grant) =>
      grant.fallback === undefined
        ? null
        : { role: grant.fallback.role, extras: [...grant.fallback.extras] },
    absent: null,
    problem: (value) =>
      value === null ||
      (isObject(value) &&
        typeof value["role"] === "string" &&
        Array.isArray(value["extras"] ?? []) &&
        ((value["extras"] ?? []) as unknown[]).every((extra) => typeof extra === "string"))
        ? undefined
        : "must be null or an object with a role and a list of extras",
    input: (fallback) =>
      fallback === null
        ? {}
        : { fallback: { role: fallback.role, extras: [...new Set(fallback.extras ?? [])] } },
    row: (fallback) => ({
      fallback_role: fallback?.role ?? null,
      fallback_extras:
        fallback === null ? null : JSON.stringify([...new Set(fallback.extras ?? [])]),
    }),
  },
};

const GRANT_FIELD_NAMES = Object.keys(GRANT_FIELDS) as GrantFieldName[];

/** One field's entry, for code that handles every field alike. */
function grantField(name: GrantFieldName): GrantField<GrantFieldName> {
  return GRANT_FIELDS[name] as unknown as GrantField<GrantFieldName>;
}

/** A grant as an export holds it. */
function exportedGrant(grant: Grant): ExportedGrant {
  const fields = GRANT_FIELD_NAMES.map((name) => [name, grantField(name).exported(grant)]);
  return {
    subject: grant.subject as GranteeRef,
    role: grant.role,
    scope: grant.scope,
    ...(Object.fromEntries(fields) as Pick<ExportedGrant, GrantFieldName>),
  };
}

/** An exported grant as the engine takes it. */
function grantInputOf(grant: ExportedGrant, subject: GranteeRef, scope: ResourceRef): GrantInput {
  return Object.assign(
    { subject, role: grant.role, scope },
    ...GRANT_FIELD_NAMES.map((name) => grantField(name).input(grant[name])),
  ) as GrantInput;
}

/** An exported grant's columns past subject, role and scope. */
function grantColumnsOf(grant: ExportedGrant): Partial<Insertable<GrantsTable>> {
  return Object.assign({}, ...GRANT_FIELD_NAMES.map((name) => grantField(name).row(grant[name])));
}

/**
 * Adds every grant to the scratch engine, each with every field (missing ones from older
 * versions filled in) into `checked`; returns the owner's user id.
 */
function applyGrants(
  engine: Engine,
  grants: readonly unknown[],
  known: { memberIds: ReadonlySet<string>; groupIds: ReadonlySet<string>; root: ResourceRef },
  { issues, checked }: { issues: Issues; checked: ExportedGrant[] },
): string | undefined {
  let owner: string | undefined;
  for (const [index, entry] of grants.entries()) {
    const path = `grants[${index}]`;
    if (!isObject(entry)) {
      issues.add(path, "must be an object with subject, role and scope");
      continue;
    }
    const unknown = Object.keys(entry).filter(
      (key) => !["subject", "role", "scope", ...GRANT_FIELD_NAMES].includes(key),
    );
    if (unknown.length > 0) issues.add(path, `unknown fields ${unknown.join(", ")}`);
    const { subject, role, scope } = entry;
    const isUser = typeof subject === "string" && subject.startsWith("user:");
    const isGroup = typeof subject === "string" && subject.startsWith("group:");
    if (
      !(isUser && known.memberIds.has((subject as string).slice(5))) &&
      !(isGroup && known.groupIds.has((subject as string).slice(6)))
    ) {
      issues.add(`${path}.subject`, `${JSON.stringify(subject)} is not a member or group`);
      continue;
    }
    if (typeof role !== "string") {
      issues.add(`${path}.role`, "must be a role name");
      continue;
    }
    if (typeof scope !== "string") {
      issues.add(`${path}.scope`, "must be a resource");
      continue;
    }
    const fields: Record<string, unknown> = {};
    let valid = true;
    for (const name of GRANT_FIELD_NAMES) {
      const field = grantField(name);
      const value = entry[name] === undefined ? field.absent : entry[name];
      const problem = field.problem(value);
      if (problem !== undefined) {
        issues.add(`${path}.${name}`, problem);
        valid = false;
      }
      fields[name] = value;
    }
    if (!valid) continue;
    const grant = { subject, role, scope, ...fields } as ExportedGrant;
    try {
      engine.addGrant(grantInputOf(grant, grant.subject, grant.scope));
    } catch (error) {
      issues.add(path, errorMessage(error));
      continue;
    }
    checked.push(grant);
    if (role === engine.model.ownerRole) owner = (subject as string).slice(5);
  }
  return owner;
}

/** The workspace's own roles, each checked as `workspaceRoles.define` checks it; `[]` if any is wrong. */
function checkRoles(entries: readonly unknown[], model: Model, issues: Issues): WorkspaceRole[] {
  const roles: WorkspaceRole[] = [];
  let valid = true;
  for (const [index, entry] of entries.entries()) {
    const path = `roles[${index}]`;
    const name = isObject(entry) ? entry["name"] : undefined;
    if (typeof name !== "string" || name.length === 0) {
      issues.add(`${path}.name`, "a role needs a name");
      valid = false;
      continue;
    }
    if (roles.some((role) => role.name === name)) {
      issues.add(`${path}.name`, `${name} is listed twice`);
      valid = false;
      continue;
    }
    try {
      roles.push(roleOf(name, entry as Partial<WorkspaceRole>, undefined));
    } catch (error) {
      issues.add(path, errorMessage(error));
      valid = false;
    }
  }
  for (const issue of workspaceRoleIssues(model, definitionsOf(roles))) {
    issues.add(issue.path, issue.message);
    valid = false;
  }
  return valid ? roles : [];
}

/**
 * Checks each eligibility as `elevations.set` would: a member, a role grantable at the scope
 * (never the owner's), a duration within bounds; one per member per resource; ids kept.
 */
function checkEligibilities(
  engine: Engine,
  entries: readonly unknown[],
  memberIds: ReadonlySet<string>,
  issues: Issues,
  checked: ExportedEligibility[],
): void {
  const ids = new Set<string>();
  const places = new Set<string>();
  for (const [index, entry] of entries.entries()) {
    const path = `eligibilities[${index}]`;
    if (!isObject(entry)) {
      issues.add(path, "must be an object with id, subject, role, scope and maxDurationMs");
      continue;
    }
    const { id, subject, role, scope, maxDurationMs, require2fa = false } = entry;
    const before = issues.list.length;
    const unknown = Object.keys(entry).filter(
      (key) => !["id", "subject", "role", "scope", "maxDurationMs", "require2fa"].includes(key),
    );
    if (unknown.length > 0) issues.add(path, `unknown fields ${unknown.join(", ")}`);
    if (!isText(id, 100)) issues.add(`${path}.id`, "must be 1–100 characters");
    else if (ids.has(id)) issues.add(`${path}.id`, `${id} is listed twice`);
    else ids.add(id);
    if (
      typeof subject !== "string" ||
      !subject.startsWith("user:") ||
      !memberIds.has(subject.slice(5))
    )
      issues.add(`${path}.subject`, `${JSON.stringify(subject)} is not a member`);
    if (typeof role !== "string") issues.add(`${path}.role`, "must be a role name");
    else if (role === engine.model.ownerRole)
      issues.add(`${path}.role`, "nobody is eligible for the owner's role");
    if (!isResourceName(scope)) issues.add(`${path}.scope`, "must be a resource");
    if (
      !Number.isInteger(maxDurationMs) ||
      (maxDurationMs as number) < ELEVATION_MIN_MS ||
      (maxDurationMs as number) > ELEVATION_MAX_MS
    )
      issues.add(
        `${path}.maxDurationMs`,
        `must be whole milliseconds from ${ELEVATION_MIN_MS} to ${ELEVATION_MAX_MS}`,
      );
    if (typeof require2fa !== "boolean") issues.add(`${path}.require2fa`, "must be true or false");
    if (issues.list.length > before) continue;
    const place = `${subject} ${scope}`;
    if (places.has(place)) {
      issues.add(path, `${subject} is eligible at ${scope} twice`);
      continue;
    }
    places.add(place);
    try {
      engine.validateGrant({
        subject: subject as GranteeRef,
        role: role as string,
        scope: scope as ResourceRef,
      });
    } catch (error) {
      issues.add(path, errorMessage(error));
      continue;
    }
    checked.push({
      id: id as string,
      subject: subject as `user:${string}`,
      role: role as string,
      scope: scope as ResourceRef,
      maxDurationMs: maxDurationMs as number,
      require2fa: require2fa as boolean,
    });
  }
}

/**
 * The checks that need the database, inside the import's transaction: which members are existing
 * users (by email), one workspace per email and the join key. Locks matched users' rows
 * where the backend locks rows, so concurrent joins serialize as with `members.add`.
 */
async function checkAgainstDatabase(
  core: ServiceCore,
  db: Kysely<Database>,
  plan: ImportPlan,
  lock: boolean,
): Promise<{ matched: Map<string, string> }> {
  const issues = new Issues();
  const { data } = plan;
  const matched = new Map<string, string>(); // email → local user id
  const emails = data.members.map((member) => normalizeEmail(member.email));
  for (let start = 0; start < emails.length; start += BATCH) {
    const rows = await db
      .selectFrom("users")
      .select(["id", "email"])
      .where("email", "in", emails.slice(start, start + BATCH))
      .$if(lock, (query) => query.forUpdate())
      .execute();
    for (const row of rows) matched.set(row.email, row.id);
  }
  const settings = data.workspace.settings ?? {};
  const perEmail = settings.oneWorkspacePerEmail ?? null;
  const onePerEmail = perEmail === null ? plan.model.policy.oneWorkspacePerEmail : perEmail;
  if (onePerEmail && matched.size > 0) {
    const ids = [...matched.values()];
    const taken = new Set<string>();
    for (let start = 0; start < ids.length; start += BATCH) {
      const others = await db
        .selectFrom("members")
        .innerJoin("workspaces", "workspaces.id", "members.workspace_id")
        .selectAll("workspaces")
        .select("members.user_id")
        .where("members.user_id", "in", ids.slice(start, start + BATCH))
        .where("workspaces.closed_at", "is", null)
        .execute();
      for (const row of others) if (isOneWorkspacePerEmail(core, row)) taken.add(row.user_id);
    }
    data.members.forEach((member, index) => {
      const id = matched.get(normalizeEmail(member.email));
      if (id !== undefined && taken.has(id))
        issues.add(
          `members[${index}].email`,
          `${member.email} is already active in another workspace, and may be active in only one`,
        );
    });
  }
  const joinKey = settings.joinKey ?? null;
  if (joinKey !== null) {
    const clash = await db
      .selectFrom("workspaces")
      .select("id")
      .where("join_key", "=", joinKey.trim())
      .executeTakeFirst();
    if (clash !== undefined)
      issues.add("workspace.settings.joinKey", "another workspace on this instance uses this key");
  }
  issues.throwIfAny(ErrorCode.INVALID_INPUT, INVALID_EXPORT);
  return { matched };
}

function countsOf(plan: ImportPlan, matched: number): ImportCounts {
  return {
    members: plan.data.members.length,
    usersCreated: plan.data.members.length - matched,
    usersMatched: matched,
    resources: plan.resources.length,
    groups: plan.data.groups?.length ?? 0,
    roles: plan.roles.length,
    grants: plan.grants.length,
    eligibilities: plan.eligibilities.length,
  };
}

async function inBatches<T>(
  rows: readonly T[],
  phase: ImportProgress["phase"],
  options: ImportOptions,
  write: (batch: readonly T[]) => Promise<unknown>,
): Promise<void> {
  for (let start = 0; start < rows.length; start += BATCH) {
    const batch = rows.slice(start, start + BATCH);
    await write(batch);
    options.onProgress?.({ phase, done: start + batch.length, total: rows.length });
  }
}

/** Writes a validated plan in the caller's transaction. */
async function writeImport(
  core: ServiceCore,
  trx: Kysely<Database>,
  request: RequestContext,
  plan: ImportPlan,
  matched: Map<string, string>,
  options: ImportOptions,
): Promise<{ workspace: Workspace; revision: number; ops: ChangeOp[]; counts: ImportCounts }> {
  const { data, model } = plan;
  const groups = data.groups ?? [];
  const now = core.clock();
  const createdBy = actorLabel(request);

  // Users: matched by email, or created without a password (magic link or reset to sign in).
  const localId = new Map<string, string>(); // exported user id → local user id
  const toCreate = data.members.filter((member) => {
    const id = matched.get(normalizeEmail(member.email));
    if (id !== undefined) localId.set(member.userId, id);
    return id === undefined;
  });
  await inBatches(toCreate, "users", options, async (batch) => {
    for (const member of batch) {
      const user = await insertUser(core, trx, {
        email: normalizeEmail(member.email),
        name: member.name.trim(),
        passwordHash: null,
      });
      localId.set(member.userId, user.id);
    }
  });
  const userRef = (exported: string): `user:${string}` => `user:${localId.get(exported)!}`;

  const workspace = await createWorkspaceIn(core, trx, {
    name: options.name ?? data.workspace.name,
    preset: data.workspace.preset,
    plan: data.workspace.plan ?? undefined,
    ownerId: localId.get(plan.ownerUserId)!,
    personal: data.workspace.personal === true,
    request,
  });
  const id = workspace.id;
  const root = `${model.rootType}:${id}` as ResourceRef;
  const mapRef = (ref: ResourceRef): ResourceRef => (ref === plan.root ? root : ref);
  const mapSubject = (subject: GranteeRef): GranteeRef =>
    subject.startsWith("user:") ? userRef(subject.slice(5)) : subject;
  const ops: ChangeOp[] = [];

  // The workspace's own roles, before the grants that give them: every engine reloads its model.
  if (plan.roles.length > 0) {
    await trx
      .insertInto("workspace_roles")
      .values(
        plan.roles.map((role) => ({
          workspace_id: id,
          name: role.name,
          label: role.label,
          description: role.description,
          scopes: JSON.stringify(role.scopes),
          permissions: JSON.stringify(role.permissions),
          created_at: now,
          created_by: createdBy,
        })),
      )
      .execute();
    ops.push({ op: "roles.change" });
  }

  const ownerMember = data.members.find((member) => member.userId === plan.ownerUserId)!;
  if (ownerMember.joinedAt !== undefined) {
    await trx
      .updateTable("members")
      .set({ joined_at: ownerMember.joinedAt })
      .where("workspace_id", "=", id)
      .execute();
  }
  const others = data.members.filter((member) => member.userId !== plan.ownerUserId);
  await inBatches(others, "members", options, (batch) =>
    trx
      .insertInto("members")
      .values(
        batch.map((member) => ({
          workspace_id: id,
          user_id: localId.get(member.userId)!,
          joined_at: member.joinedAt ?? now,
          support_until: member.supportUntil ?? null,
        })),
      )
      .execute(),
  );

  await inBatches(plan.resources, "resources", options, (batch) => {
    const rows = batch.map(({ resource, parent }) => ({
      workspace_id: id,
      resource,
      parent: mapRef(parent),
      created_at: now,
    }));
    for (const row of rows)
      ops.push({ op: "resource.upsert", resource: row.resource, parent: row.parent });
    return trx.insertInto("resources").values(rows).execute();
  });

  const memberships = groups.flatMap((group) =>
    (group.members ?? []).map((user) => ({ group: group.id, user })),
  );
  await inBatches(groups, "groups", options, (batch) =>
    trx
      .insertInto("groups")
      .values(
        batch.map((group) => ({
          workspace_id: id,
          group_id: group.id,
          name: group.name.trim(),
          created_at: now,
        })),
      )
      .execute(),
  );
  for (let start = 0; start < memberships.length; start += BATCH) {
    const batch = memberships.slice(start, start + BATCH);
    await trx
      .insertInto("group_members")
      .values(
        batch.map(({ group, user }) => ({
          workspace_id: id,
          group_id: group,
          user_id: localId.get(user)!,
        })),
      )
      .execute();
    for (const { group, user } of batch)
      ops.push({ op: "group.add_member", group: `group:${group}`, user: userRef(user) });
  }

  const grants = plan.grants.filter(
    (grant) => !(grant.role === model.ownerRole && grant.subject === `user:${plan.ownerUserId}`),
  );
  await inBatches(grants, "grants", options, (batch) => {
    const rows = batch.map((grant) => {
      const subject = mapSubject(grant.subject);
      const scope = mapRef(grant.scope);
      ops.push({ op: "grant.add", grant: grantInputOf(grant, subject, scope) });
      return {
        workspace_id: id,
        subject,
        scope,
        role: grant.role,
        extras: "[]",
        expires_at: null,
        ...grantColumnsOf(grant),
        created_at: now,
        created_by: createdBy,
      };
    });
    return trx.insertInto("grants").values(rows).execute();
  });

  // Eligibilities: standing configuration; no op, as `elevations.set` changes no decision.
  await inBatches(plan.eligibilities, "eligibilities", options, (batch) =>
    trx
      .insertInto("eligibilities")
      .values(
        batch.map((eligibility) => ({
          workspace_id: id,
          id: eligibility.id,
          subject: mapSubject(eligibility.subject),
          role: eligibility.role,
          scope: mapRef(eligibility.scope),
          max_duration_ms: eligibility.maxDurationMs,
          require_2fa: eligibility.require2fa ? 1 : 0,
          created_at: now,
          created_by: createdBy,
        })),
      )
      .execute(),
  );

  // Revision 2: the import itself, as one change with its audit entry and engine ops.
  const counts = countsOf(plan, matched.size);
  const settings = data.workspace.settings ?? {};
  const perEmail = settings.oneWorkspacePerEmail ?? null;
  const stored = await core.commitChange(trx, {
    workspace: await core.workspace(trx, id, { lock: true }),
    request,
    now,
    records: [
      {
        action: "workspace.import",
        target: root,
        details: { source: data.workspace.id, exportedAt: data.exportedAt ?? null, ...counts },
      },
    ],
    ops,
    rowUpdates: {
      join_key: settings.joinKey?.trim() ?? null,
      require_2fa: settings.require2fa === true ? 1 : 0,
      one_workspace_per_email: perEmail === null ? null : perEmail ? 1 : 0,
    },
  });
  await core.appendInstanceLog(trx, {
    action: "workspace.imported",
    workspaceId: id,
    actor: createdBy,
    details: { source: data.workspace.id, ...counts },
  });
  return { workspace: toWorkspace(core, stored, true), revision: stored.revision, ops, counts };
}
