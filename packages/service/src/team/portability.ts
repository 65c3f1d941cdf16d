import type { ChangeOp } from "@gatehouse/engine";
import {
  createEngine,
  type Engine,
  GatehouseError,
  type GranteeRef,
  Issues,
  isGatehouseError,
  type Model,
  type ModelDefinition,
  type ResourceRef,
} from "@gatehouse/engine";
import type { Kysely } from "kysely";
import type { RequestContext } from "../actor.ts";
import { actorLabel } from "../audit/actor-label.ts";
import type { Database } from "../database/schema.ts";
import type { ServiceCore } from "../service-core.ts";
import { insertUser, normalizeEmail } from "../sign-in/users.ts";
import { ErrorCode } from "../support/error-codes.ts";
import { isResourceName, isText, requireText } from "../support/validation.ts";
import { isOneWorkspacePerEmail, memberLimit } from "./membership.ts";
import { createWorkspaceIn, toWorkspace, type Workspace } from "./workspaces.ts";

/** The `format` field of every workspace export. */
export const EXPORT_FORMAT = "gatehouse.workspace";
/** The version of the export format this service writes and reads. */
export const EXPORT_VERSION = 1;

export interface ExportedMember {
  /** The user's id on the exporting instance; grants and groups refer to it. */
  readonly userId: string;
  readonly email: string;
  readonly name: string;
  readonly joinedAt: number;
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
  /** For a temporary role over a standing one: what it falls back to at `expiresAt`. */
  readonly fallback?: { readonly role: string; readonly extras: readonly string[] };
}

/**
 * A workspace as data: its model, settings, resources, members, groups and grants. Never
 * passwords, TOTP secrets, API keys, sessions, invitations or sealed credentials.
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
  readonly members: readonly ExportedMember[];
  readonly groups: readonly ExportedGroup[];
  /** Parents before children; the root is `<root type>:<workspace.id>`. */
  readonly resources: readonly { readonly resource: ResourceRef; readonly parent: ResourceRef }[];
  readonly grants: readonly ExportedGrant[];
}

export interface ImportProgress {
  readonly phase: "users" | "members" | "resources" | "groups" | "grants";
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
  readonly grants: number;
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
        .select(["users.id", "users.email", "users.name", "members.joined_at"])
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
        .map((grant) => ({
          subject: grant.subject,
          role: grant.role,
          scope: grant.scope,
          extras: [...grant.extras],
          expiresAt: grant.expiresAt ?? null,
          ...(grant.fallback === undefined
            ? {}
            : { fallback: { role: grant.fallback.role, extras: [...grant.fallback.extras] } }),
        }))
        .sort((a, b) => compare(a.subject, b.subject) || compare(a.scope, b.scope));
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
        model: reader.model.definition,
        members: members.map((member) => ({
          userId: member.id,
          email: member.email,
          name: member.name,
          joinedAt: member.joined_at,
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
          grants: data.grants.length,
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
  readonly model: Model;
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
  if (data["version"] !== EXPORT_VERSION)
    issues.add("version", `this Gatehouse reads version ${EXPORT_VERSION} exports`);
  const known = [
    "format",
    "version",
    "exportedAt",
    "workspace",
    "model",
    "members",
    "groups",
    "resources",
    "grants",
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
    if (limit !== null && members.length > limit)
      issues.add("members", `${members.length} members exceed the ${plan} plan's ${limit}`);
  }

  // The tree and the grants, applied to a scratch engine: what the engine refuses is reported.
  const resources = listAt(data, "resources", issues);
  const grants = listAt(data, "grants", issues);
  const ordered: ExportedResourceAt[] = [];
  let ownerUserId: string | undefined;
  if (model !== undefined && root !== undefined) {
    const engine = createEngine(model, {
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
    ownerUserId = applyGrants(engine, grants, { memberIds, groupIds, root }, issues);
  }
  if (ownerUserId === undefined && issues.isEmpty)
    issues.add("grants", `no grant of the owner role ("${model?.ownerRole}") at ${root}`);
  issues.throwIfAny(ErrorCode.INVALID_INPUT, INVALID_EXPORT);
  return {
    data: data as unknown as WorkspaceExport,
    model: model!,
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

/** Adds every grant to the scratch engine; returns the owner's user id. */
function applyGrants(
  engine: Engine,
  grants: readonly unknown[],
  known: { memberIds: ReadonlySet<string>; groupIds: ReadonlySet<string>; root: ResourceRef },
  issues: Issues,
): string | undefined {
  let owner: string | undefined;
  for (const [index, entry] of grants.entries()) {
    const path = `grants[${index}]`;
    if (!isObject(entry)) {
      issues.add(path, "must be an object with subject, role and scope");
      continue;
    }
    const unknown = Object.keys(entry).filter(
      (key) => !["subject", "role", "scope", "extras", "expiresAt", "fallback"].includes(key),
    );
    if (unknown.length > 0) issues.add(path, `unknown fields ${unknown.join(", ")}`);
    const { subject, role, scope, extras = [], expiresAt = null, fallback } = entry;
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
    if (!Array.isArray(extras) || extras.some((extra) => typeof extra !== "string")) {
      issues.add(`${path}.extras`, "must be a list of permission names");
      continue;
    }
    if (expiresAt !== null && !Number.isSafeInteger(expiresAt)) {
      issues.add(`${path}.expiresAt`, "must be epoch milliseconds or null");
      continue;
    }
    if (
      fallback !== undefined &&
      (!isObject(fallback) ||
        typeof fallback["role"] !== "string" ||
        !Array.isArray(fallback["extras"] ?? []))
    ) {
      issues.add(`${path}.fallback`, "must be an object with a role and extras");
      continue;
    }
    try {
      engine.addGrant({
        subject: subject as GranteeRef,
        role,
        scope: scope as ResourceRef,
        extras: extras as string[],
        expiresAt: (expiresAt as number | null) ?? undefined,
        ...(fallback === undefined ? {} : { fallback: fallback as ExportedGrant["fallback"] }),
      });
    } catch (error) {
      issues.add(path, errorMessage(error));
      continue;
    }
    if (role === engine.model.ownerRole) owner = (subject as string).slice(5);
  }
  return owner;
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
    grants: plan.data.grants.length,
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

  const grants = data.grants.filter(
    (grant) => !(grant.role === model.ownerRole && grant.subject === `user:${plan.ownerUserId}`),
  );
  await inBatches(grants, "grants", options, (batch) => {
    const rows = batch.map((grant) => ({
      workspace_id: id,
      subject: mapSubject(grant.subject),
      scope: mapRef(grant.scope),
      role: grant.role,
      extras: JSON.stringify([...new Set(grant.extras ?? [])]),
      expires_at: grant.expiresAt ?? null,
      fallback_role: grant.fallback?.role ?? null,
      fallback_extras:
        grant.fallback === undefined ? null : JSON.stringify([...new Set(grant.fallback.extras)]),
      created_at: now,
      created_by: createdBy,
    }));
    for (const row of rows) {
      ops.push({
        op: "grant.add",
        grant: {
          subject: row.subject as GranteeRef,
          role: row.role,
          scope: row.scope as ResourceRef,
          extras: JSON.parse(row.extras) as string[],
          expiresAt: row.expires_at ?? undefined,
          ...(row.fallback_role === null
            ? {}
            : {
                fallback: {
                  role: row.fallback_role,
                  extras: JSON.parse(row.fallback_extras!) as string[],
                },
              }),
        },
      });
    }
    return trx.insertInto("grants").values(rows).execute();
  });

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
