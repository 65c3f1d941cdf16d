import type { ChangeOp } from "@gatehouse/engine";
import { GatehouseError, type GranteeRef, type Model, type ResourceRef } from "@gatehouse/engine";
import type { Kysely } from "kysely";
import { hostOf, personOf, type RequestContext } from "../actor.ts";
import { actorLabel } from "../audit/actor-label.ts";
import { appendAudit } from "../audit/chain.ts";
import type { Database } from "../database/schema.ts";
import type { ServiceCore, WorkspaceRow, WorkspaceWriter } from "../service-core.ts";
import { newId } from "../support/crypto.ts";
import { ErrorCode } from "../support/error-codes.ts";
import { requireText } from "../support/validation.ts";
import { gate, mayChangePlan } from "./gates.ts";
import { isOneWorkspacePerEmail, memberLimit, removeMemberRows, seatsTaken } from "./membership.ts";

export interface WorkspaceSettings {
  /** The key users give to ask to join (e.g. a tax number); `null` when joining by key is off. */
  readonly joinKey: string | null;
  /** Every member must have two-factor sign-in. */
  readonly require2fa: boolean;
  /** One active workspace per email, as set here or by the model's policy. */
  readonly oneWorkspacePerEmail: boolean;
}

export interface Workspace {
  readonly id: string;
  readonly name: string;
  readonly preset: string;
  readonly plan: string | null;
  readonly personal: boolean;
  readonly revision: number;
  readonly createdAt: number;
  /** Present for callers who may see the workspace's settings (the team gate). */
  readonly settings: WorkspaceSettings | undefined;
}

/** Settings to change; absent ones stay as they are. */
export interface SettingsChanges {
  readonly joinKey?: string | null;
  readonly require2fa?: boolean;
  /** `null`: the model's policy decides. */
  readonly oneWorkspacePerEmail?: boolean | null;
}

/** What `Workspaces.update` changes; absent parts stay as they are. */
export interface WorkspaceChanges {
  readonly name?: string;
  readonly settings?: SettingsChanges;
  readonly plan?: string;
}

/** A workspace's plan and its seats (the plan's member limit). */
export interface PlanSeats {
  readonly plan: string | null;
  readonly plans: readonly {
    readonly name: string;
    readonly label: string;
    readonly maxMembers: number | null;
  }[];
  readonly seats: {
    readonly members: number;
    /** Pending, unexpired invitations: they hold a seat too. */
    readonly pending: number;
    /** `null` when the plan has no member limit. */
    readonly limit: number | null;
    readonly remaining: number | null;
  };
}

export function toWorkspace(
  core: ServiceCore,
  row: WorkspaceRow,
  withSettings: boolean,
): Workspace {
  return {
    id: row.id,
    name: row.name,
    preset: row.preset,
    plan: row.plan,
    personal: row.personal === 1,
    revision: row.revision,
    createdAt: row.created_at,
    settings: withSettings
      ? {
          joinKey: row.join_key,
          require2fa: row.require_2fa === 1,
          oneWorkspacePerEmail: isOneWorkspacePerEmail(core, row),
        }
      : undefined,
  };
}

function resolvePlan(model: Model, plan: string | undefined): string | null {
  const plans = model.definition.plans ?? {};
  const names = Object.keys(plans);
  if (plan === undefined) return model.definition.defaultPlan ?? names[0] ?? null;
  if (!names.includes(plan)) {
    throw new GatehouseError(
      ErrorCode.UNKNOWN_PLAN,
      `unknown plan "${plan}"; plans: ${names.join(", ") || "none"}`,
    );
  }
  return plan;
}

/** Creates a workspace owned by `ownerId` at revision 1, with its first audit entry. */
export async function createWorkspaceIn(
  core: ServiceCore,
  trx: Kysely<Database>,
  input: {
    name: string;
    preset: string;
    plan?: string | undefined;
    ownerId: string;
    personal: boolean;
    request?: RequestContext;
  },
): Promise<Workspace> {
  const model = core.modelOf(input.preset);
  const name = requireText(input.name, "workspace name");
  const plan = resolvePlan(model, input.plan);
  const id = newId("ws");
  const now = core.clock();
  const root = `${model.rootType}:${id}` as ResourceRef;
  const owner = {
    subject: `user:${input.ownerId}` as GranteeRef,
    role: model.ownerRole,
    scope: root,
    extras: [],
  };
  const request = input.request ?? { actor: { type: "user" as const, userId: input.ownerId } };
  await trx
    .insertInto("workspaces")
    .values({
      id,
      name,
      preset: input.preset,
      plan,
      personal: input.personal ? 1 : 0,
      join_key: null,
      require_2fa: 0,
      one_workspace_per_email: null,
      revision: 1,
      audit_seq: 0,
      audit_head: "",
      created_at: now,
      closed_at: null,
    })
    .execute();
  const head = await appendAudit(trx, {
    workspaceId: id,
    head: { seq: 0, hash: "" },
    at: now,
    actor: request.actor,
    origin: request.origin,
    result: "success",
    record: {
      action: "workspace.create",
      target: root,
      details: { name, preset: input.preset, plan, owner: input.ownerId },
    },
  });
  await trx
    .insertInto("members")
    .values({ workspace_id: id, user_id: input.ownerId, joined_at: now })
    .execute();
  await trx
    .insertInto("grants")
    .values({
      workspace_id: id,
      subject: owner.subject,
      scope: root,
      role: owner.role,
      extras: "[]",
      expires_at: null,
      created_at: now,
      created_by: actorLabel(request),
    })
    .execute();
  const ops: ChangeOp[] = [{ op: "grant.add", grant: owner }];
  await trx
    .insertInto("changes")
    .values({ workspace_id: id, revision: 1, at: now, ops: JSON.stringify(ops) })
    .execute();
  await trx
    .updateTable("workspaces")
    .set({ audit_seq: head.seq, audit_head: head.hash })
    .where("id", "=", id)
    .execute();
  return {
    id,
    name,
    preset: input.preset,
    plan,
    personal: input.personal,
    revision: 1,
    createdAt: now,
    settings: {
      joinKey: null,
      require2fa: false,
      oneWorkspacePerEmail: model.policy.oneWorkspacePerEmail,
    },
  };
}

/** Workspaces: create, read, rename, settings, plan, ownership transfer and closing. */
export class Workspaces {
  readonly #core: ServiceCore;

  constructor(core: ServiceCore) {
    this.#core = core;
  }

  /**
   * Creates a workspace with a preset (and plan); the calling user becomes its owner. The system
   * actor names the owner with `ownerId`.
   * @example
   * const ws = await gatehouse.workspaces.create(asUser(ada.id), { name: "Acme", preset: "company", plan: "premium" });
   */
  async create(
    request: RequestContext,
    input: { name: string; preset: string; plan?: string; ownerId?: string },
  ): Promise<Workspace> {
    const core = this.#core;
    const ownerId = personOf(request.actor) ?? input.ownerId;
    if (ownerId === undefined)
      throw new GatehouseError(ErrorCode.INVALID_INPUT, "ownerId is required for the system actor");
    if (request.actor.type === "api_key" || request.actor.type === "assistant")
      throw new GatehouseError(
        ErrorCode.PERMISSION_DENIED,
        "API keys and the assistant cannot create workspaces",
      );
    // A new workspace would lie outside a credential limited to some workspaces.
    if (hostOf(request.actor)?.workspaces !== undefined)
      throw new GatehouseError(
        ErrorCode.PERMISSION_DENIED,
        "a host credential limited to some workspaces cannot create workspaces",
      );
    if (typeof input.preset !== "string")
      throw new GatehouseError(ErrorCode.INVALID_INPUT, "preset is required");
    const model = core.modelOf(input.preset);
    return core.storage.transaction(async (trx) => {
      const owner = await trx
        .selectFrom("users")
        .select("id")
        .where("id", "=", ownerId)
        .executeTakeFirst();
      if (owner === undefined) throw new GatehouseError(ErrorCode.USER_NOT_FOUND, "no such user");
      if (model.policy.oneWorkspacePerEmail) {
        const memberships = await trx
          .selectFrom("members")
          .innerJoin("workspaces", "workspaces.id", "members.workspace_id")
          .selectAll("workspaces")
          .where("members.user_id", "=", ownerId)
          .where("workspaces.closed_at", "is", null)
          .execute();
        if (memberships.some((row) => isOneWorkspacePerEmail(core, row))) {
          throw new GatehouseError(
            ErrorCode.ONE_WORKSPACE_PER_EMAIL,
            "this email is already an active member of another workspace",
          );
        }
      }
      return createWorkspaceIn(core, trx, { ...input, ownerId, personal: false, request });
    });
  }

  /** A workspace the caller is a member of (settings included for those who may see the team). */
  async get(request: RequestContext, workspaceId: string): Promise<Workspace> {
    const reader = await this.#core.read(request, workspaceId);
    return toWorkspace(
      this.#core,
      reader.workspace,
      reader.holds(gate(reader.model, "teamView"), reader.root),
    );
  }

  /**
   * The plan, the plans of the model and the seats in use: members plus pending invitations
   * against the plan's member limit; for those who may see the team.
   * @example
   * const { seats } = await gatehouse.workspaces.seats(asUser(ada), ws); // { members: 3, pending: 1, limit: 5, remaining: 1 }
   */
  async seats(request: RequestContext, workspaceId: string): Promise<PlanSeats> {
    const reader = await this.#core.read(request, workspaceId);
    await reader.requireGate("teamView", "you may not see this workspace's team");
    return this.#core.readSnapshot(request, workspaceId, async (snapshot) => {
      const now = this.#core.clock();
      const taken = await seatsTaken(snapshot.db, workspaceId, now);
      const members = await snapshot.db
        .selectFrom("members")
        .select((eb) => eb.fn.countAll<number>().as("count"))
        .where("workspace_id", "=", workspaceId)
        .executeTakeFirstOrThrow();
      const plan = snapshot.workspace.plan;
      const limit = memberLimit(snapshot.model, plan);
      return {
        plan,
        plans: Object.entries(snapshot.model.definition.plans ?? {}).map(([name, definition]) => ({
          name,
          label: definition.label ?? name,
          maxMembers: definition.maxMembers,
        })),
        seats: {
          members: Number(members.count),
          pending: taken - Number(members.count),
          limit,
          remaining: limit === null ? null : Math.max(0, limit - taken),
        },
      };
    });
  }

  /** The open workspaces a user is a member of. */
  async listForUser(userId: string): Promise<Workspace[]> {
    const rows = await this.#core.db
      .selectFrom("members")
      .innerJoin("workspaces", "workspaces.id", "members.workspace_id")
      .selectAll("workspaces")
      .where("members.user_id", "=", userId)
      .where("workspaces.closed_at", "is", null)
      .orderBy("workspaces.created_at")
      .execute();
    return rows.map((row) => toWorkspace(this.#core, row, false));
  }

  /**
   * Changes any of the name, the settings and the plan in one write: every part's permission is
   * checked (the plan: the model's plan gate, else the host app or operator only; the name and settings: the model's settings gate) and all
   * apply at one revision, or none does.
   * @example
   * const { revision } = await gatehouse.workspaces.update(asUser(olivia), ws, { name: "Acme Ltd", plan: "pci" });
   */
  async update(
    request: RequestContext,
    workspaceId: string,
    changes: WorkspaceChanges,
  ): Promise<{ workspace: Workspace; revision: number }> {
    const known = ["name", "settings", "plan"];
    const unknown = Object.keys(changes ?? {}).filter((key) => !known.includes(key));
    if (unknown.length > 0)
      throw new GatehouseError(ErrorCode.INVALID_INPUT, `unknown changes: ${unknown.join(", ")}`);
    const { name, settings, plan } = changes;
    if (name === undefined && settings === undefined && plan === undefined)
      throw new GatehouseError(ErrorCode.INVALID_INPUT, "nothing to change");
    // Every part is validated before any is applied.
    const newName = name === undefined ? undefined : requireText(name, "workspace name");
    const settingValues = settings === undefined ? undefined : settingsRowOf(settings);
    const { value, revision } = await this.#core.write(request, workspaceId, async (tx) => {
      // The order of the audit entries (and of the checks): plan, settings, name.
      if (plan !== undefined) await changePlanIn(tx, plan);
      if (settings !== undefined && settingValues !== undefined)
        await updateSettingsIn(tx, settings, settingValues);
      if (newName !== undefined) await renameIn(tx, newName);
      return { ...tx.workspace, ...tx.rowUpdates };
    });
    return { workspace: toWorkspace(this.#core, { ...value, revision }, true), revision };
  }

  /** Renames the workspace (the owner, or who holds the model's settings gate). */
  rename(
    request: RequestContext,
    workspaceId: string,
    name: string,
  ): Promise<{ workspace: Workspace; revision: number }> {
    return this.update(request, workspaceId, { name });
  }

  /** Changes the join key, the 2FA requirement or the one-workspace-per-email switch. */
  updateSettings(
    request: RequestContext,
    workspaceId: string,
    changes: SettingsChanges,
  ): Promise<{ workspace: Workspace; revision: number }> {
    return this.update(request, workspaceId, { settings: changes });
  }

  /** Changes the plan (the model's plan gate, else the host app or operator); refused when the members already exceed the new limit. */
  changePlan(
    request: RequestContext,
    workspaceId: string,
    plan: string,
  ): Promise<{ workspace: Workspace; revision: number }> {
    return this.update(request, workspaceId, { plan });
  }

  /**
   * Hands ownership to another member: the previous owner takes the model's former-owner
   * role at the root, or leaves when the model has none. Self-service only where the model allows
   * it; otherwise only the instance operator (the system actor) can.
   */
  async transferOwnership(
    request: RequestContext,
    workspaceId: string,
    toUserId: string,
  ): Promise<{ revision: number }> {
    const { revision } = await this.#core.write(request, workspaceId, async (tx) => {
      const record = {
        action: "workspace.transfer_ownership",
        target: tx.root,
        details: { to: toUserId },
      };
      await tx.requireOwner(record);
      if (!tx.isSystem && !tx.model.policy.selfServiceTransfer) {
        tx.deny(
          record,
          "ownership is transferred by support for this workspace",
          ErrorCode.TRANSFER_NOT_SELF_SERVICE,
        );
      }
      const previous = tx.engine.ownerGrant;
      if (previous === undefined)
        throw new GatehouseError(ErrorCode.LAST_OWNER, "the workspace has no owner");
      const target = await tx.trx
        .selectFrom("members")
        .select("user_id")
        .where("workspace_id", "=", tx.workspace.id)
        .where("user_id", "=", typeof toUserId === "string" ? toUserId : "")
        // A support person (docs/support-access.md) is a guest for a while, never an owner.
        .where("support_until", "is", null)
        .executeTakeFirst();
      if (target === undefined)
        throw new GatehouseError(
          ErrorCode.MEMBER_NOT_FOUND,
          "the new owner must be a member of the workspace",
        );
      const next = `user:${toUserId}` as const;
      if (previous.subject === next)
        throw new GatehouseError(ErrorCode.INVALID_INPUT, "this member already owns the workspace");
      const root = tx.root;
      const ws = tx.workspace.id;
      // The new owner's grant at the root (one role per resource) and the old owner's grant go.
      const targetAtRoot = tx.engine.grantsOf(next).some((grant) => grant.scope === root);
      await tx.trx
        .deleteFrom("grants")
        .where("workspace_id", "=", ws)
        .where("scope", "=", root)
        .where("subject", "in", [next, previous.subject])
        .execute();
      if (targetAtRoot) tx.apply({ op: "grant.remove", subject: next, scope: root });
      tx.apply({ op: "grant.remove", subject: previous.subject, scope: root });
      const grants: { subject: GranteeRef; role: string }[] = [
        { subject: next, role: tx.model.ownerRole },
      ];
      const former = tx.model.definition.formerOwnerRole;
      if (former !== undefined) grants.push({ subject: previous.subject, role: former });
      for (const grant of grants) {
        await tx.trx
          .insertInto("grants")
          .values({
            workspace_id: ws,
            subject: grant.subject,
            scope: root,
            role: grant.role,
            extras: "[]",
            expires_at: null,
            created_at: tx.now,
            created_by: actorLabel(tx.request),
          })
          .execute();
        tx.apply({
          op: "grant.add",
          grant: { subject: grant.subject, role: grant.role, scope: root, extras: [] },
        });
      }
      if (former === undefined) await removeMemberRows(tx, previous.subject.slice("user:".length));
      tx.audit({
        ...record,
        details: { from: previous.subject, to: next, formerOwnerRole: former ?? null },
      });
    });
    return { revision };
  }

  /**
   * Closes the workspace (owner only, never delegable) when `confirmName` is its exact name: members,
   * grants, resource records, groups, invitations, join requests and API keys are deleted; the
   * activity log stays, and the instance log keeps a final record. The host app's servers and
   * sites are never touched.
   */
  async close(
    request: RequestContext,
    workspaceId: string,
    input: { confirmName: string },
  ): Promise<{ revision: number }> {
    const core = this.#core;
    const { revision } = await core.write(request, workspaceId, async (tx) => {
      const record = {
        action: "workspace.close",
        target: tx.root,
        details: { name: tx.workspace.name },
      };
      await tx.requireOwner(record);
      if (input?.confirmName !== tx.workspace.name) {
        throw new GatehouseError(
          ErrorCode.CONFIRMATION_MISMATCH,
          "type the workspace's exact name to close it",
        );
      }
      const ws = tx.workspace.id;
      const counts: Record<string, number> = {};
      for (const table of [
        "members",
        "grants",
        "resources",
        "group_members",
        "groups",
        "invitations",
        "join_requests",
        "access_requests",
        "api_keys",
        "integration_credentials",
        "assistant_tools",
        "sign_in_targets",
        "sign_in_links",
        "workspace_roles",
      ] as const) {
        const result = await tx.trx
          .deleteFrom(table)
          .where("workspace_id", "=", ws)
          .executeTakeFirst();
        counts[table] = Number(result.numDeletedRows);
      }
      tx.update({ closed_at: tx.now, join_key: null });
      tx.apply({ op: "workspace.close" });
      tx.audit({ ...record, details: { name: tx.workspace.name, deleted: counts } });
      await core.appendInstanceLog(tx.trx, {
        action: "workspace.closed",
        workspaceId: ws,
        actor: actorLabel(request),
        details: {
          name: tx.workspace.name,
          preset: tx.workspace.preset,
          deleted: counts,
          auditEntries: tx.workspace.audit_seq + 1,
        },
      });
    });
    return { revision };
  }
}

/** Checks and stages a rename inside a workspace write. */
async function renameIn(tx: WorkspaceWriter, name: string): Promise<void> {
  const record = {
    action: "workspace.rename",
    target: tx.root,
    details: { from: tx.workspace.name, to: name },
  };
  await requireSettings(tx, record);
  tx.update({ name });
  tx.audit(record);
}

/** The workspace columns of validated settings changes. */
function settingsRowOf(changes: SettingsChanges): Partial<WorkspaceRow> {
  const known = ["joinKey", "require2fa", "oneWorkspacePerEmail"];
  const unknown = Object.keys(changes ?? {}).filter((key) => !known.includes(key));
  if (unknown.length > 0)
    throw new GatehouseError(ErrorCode.INVALID_INPUT, `unknown settings: ${unknown.join(", ")}`);
  const values: Partial<WorkspaceRow> = {};
  if (changes.joinKey !== undefined) {
    values.join_key = changes.joinKey === null ? null : normalizeJoinKey(changes.joinKey);
  }
  if (changes.require2fa !== undefined) {
    if (typeof changes.require2fa !== "boolean")
      throw new GatehouseError(ErrorCode.INVALID_INPUT, "require2fa is true or false");
    values.require_2fa = changes.require2fa ? 1 : 0;
  }
  if (changes.oneWorkspacePerEmail !== undefined) {
    if (
      changes.oneWorkspacePerEmail !== null &&
      typeof changes.oneWorkspacePerEmail !== "boolean"
    ) {
      throw new GatehouseError(
        ErrorCode.INVALID_INPUT,
        "oneWorkspacePerEmail is true, false or null (the model decides)",
      );
    }
    values.one_workspace_per_email =
      changes.oneWorkspacePerEmail === null ? null : changes.oneWorkspacePerEmail ? 1 : 0;
  }
  return values;
}

/** Checks and stages settings changes inside a workspace write. */
async function updateSettingsIn(
  tx: WorkspaceWriter,
  changes: SettingsChanges,
  values: Partial<WorkspaceRow>,
): Promise<void> {
  const record = {
    action: "workspace.settings",
    target: tx.root,
    // The join key is a shared secret of sorts: the log says that it changed, not what it is.
    details: {
      ...changes,
      ...(changes.joinKey === undefined
        ? {}
        : { joinKey: changes.joinKey === null ? null : "(changed)" }),
    },
  };
  await requireSettings(tx, record);
  if (values.join_key !== undefined && values.join_key !== null) {
    const clash = await tx.trx
      .selectFrom("workspaces")
      .select("id")
      .where("join_key", "=", values.join_key)
      .where("id", "!=", tx.workspace.id)
      .executeTakeFirst();
    if (clash !== undefined)
      throw new GatehouseError(ErrorCode.CONFLICT, "another workspace uses this join key");
  }
  const turningOn2fa = values.require_2fa === 1 && tx.workspace.require_2fa !== 1;
  if (turningOn2fa) await requireOwnTwoFactor(tx);
  tx.update(values);
  tx.audit(record);
  if (turningOn2fa) await endSessionsWithout2fa(tx);
}

/**
 * A person requires two-factor sign-in only once they have it themselves (#16): otherwise the
 * policy they set would lock them out at their next sign-in. The host app and operator are exempt.
 */
async function requireOwnTwoFactor(tx: WorkspaceWriter): Promise<void> {
  const caller = personOf(tx.request.actor);
  if (caller === undefined) return;
  const user = await tx.trx
    .selectFrom("users")
    .select("totp_enabled_at")
    .where("id", "=", caller)
    .executeTakeFirst();
  if (user?.totp_enabled_at != null) return;
  throw new GatehouseError(
    ErrorCode.TOTP_NOT_ENABLED,
    `turn on two-factor sign-in for your own account before requiring it in ${tx.workspace.name}`,
  );
}

/**
 * Turning on "require two-factor sign-in" ends the sessions of every member without TOTP (#14):
 * their next sign-in asks them to enrol first. The person who turned it on has TOTP (#16).
 */
async function endSessionsWithout2fa(tx: WorkspaceWriter): Promise<void> {
  const caller = personOf(tx.request.actor) ?? "";
  const ended = await tx.trx
    .updateTable("sessions")
    .set({ revoked_at: tx.now })
    .where("revoked_at", "is", null)
    .where("user_id", "!=", caller)
    .where("user_id", "in", (eb) =>
      eb
        .selectFrom("members")
        .innerJoin("users", "users.id", "members.user_id")
        .select("members.user_id")
        .where("members.workspace_id", "=", tx.workspace.id)
        .where("users.totp_enabled_at", "is", null),
    )
    .executeTakeFirst();
  const sessionsEnded = Number(ended.numUpdatedRows);
  if (sessionsEnded > 0)
    tx.audit({
      action: "workspace.require_2fa.sessions_end",
      target: tx.root,
      details: { sessionsEnded },
    });
}

/**
 * Checks and stages a plan change inside a workspace write: the model's plan gate, else only the
 * host app or operator (#14: a plan whose upgrades go through support is not the owner's to lift).
 */
async function changePlanIn(tx: WorkspaceWriter, plan: string): Promise<void> {
  const record = {
    action: "workspace.plan",
    target: tx.root,
    details: { from: tx.workspace.plan, to: plan },
  };
  await tx.requireMember(record);
  if (!mayChangePlan(tx))
    tx.deny(
      record,
      tx.model.definition.gates?.plan === undefined
        ? "this workspace's plan is changed by the host application or the instance operator"
        : `${tx.model.definition.gates.plan} on ${tx.root} is not granted to you`,
    );
  const next = resolvePlan(tx.model, plan);
  const limit = memberLimit(tx.model, next);
  const taken = await seatsTaken(tx.trx, tx.workspace.id, tx.now);
  if (limit !== null && taken > limit) {
    throw new GatehouseError(
      ErrorCode.MEMBER_LIMIT_REACHED,
      `${taken} members and pending invitations exceed the ${next} plan's ${limit}`,
    );
  }
  tx.update({ plan: next });
  tx.audit(record);
}

function normalizeJoinKey(value: unknown): string {
  if (typeof value !== "string")
    throw new GatehouseError(ErrorCode.INVALID_INPUT, "joinKey is a string or null");
  const key = value.trim();
  if (key.length < 4 || key.length > 100)
    throw new GatehouseError(ErrorCode.INVALID_INPUT, "joinKey must be 4–100 characters");
  return key;
}

async function requireSettings(
  tx: WorkspaceWriter,
  record: { action: string; target: string },
): Promise<void> {
  const permission = tx.model.definition.gates?.settings;
  if (permission === undefined) await tx.requireOwner(record);
  else await tx.require(permission, tx.root, record);
}
