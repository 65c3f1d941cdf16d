import { GatehouseError, type Grant, type GranteeRef, type ResourceRef } from "@gatehouse/engine";
import { personOf, type RequestContext, subjectOf } from "../actor.ts";
import { actorLabel } from "../audit/actor-label.ts";
import type { AuditRecord } from "../audit/chain.ts";
import type {
  ServiceCore,
  WorkspaceReader,
  WorkspaceWriter,
  WriteOptions,
  WriteResult,
} from "../service-core.ts";
import { newId } from "../support/crypto.ts";
import { ErrorCode } from "../support/error-codes.ts";
import { containsText, type PageQuery, pageOf, parsePageQuery } from "../support/paging.ts";
import { requireText } from "../support/validation.ts";
import { assertMayJoin, ownerRoleNotGranted, removeMemberRows } from "./membership.ts";

export interface GrantSpec {
  readonly role: string;
  readonly scope: ResourceRef;
  readonly extras?: readonly string[];
  /** Epoch ms after which the grant holds nothing (temporary access). */
  readonly expiresAt?: number | undefined;
  /** The engine's opaque note (a just-in-time elevation's provenance); never read from a request. */
  readonly note?: string | undefined;
  /** What a temporary grant falls back to at `expiresAt` (the standing role); never read from a request. */
  readonly fallback?: { readonly role: string; readonly extras: readonly string[] } | undefined;
}

export interface Member {
  readonly userId: string;
  readonly email: string;
  readonly name: string;
  readonly joinedAt: number;
  readonly isOwner: boolean;
  readonly grants: readonly Grant[];
  readonly groups: readonly string[];
  /** A support person (docs/support-access.md): a member only until then; absent for members. */
  readonly supportUntil?: number;
}

export interface Group {
  readonly id: string;
  readonly name: string;
  readonly members: readonly string[];
  readonly grants: readonly Grant[];
}

const GRANT_KEYS = ["role", "scope", "extras", "expiresAt"];

/** Parses one grant of a request; unknown fields are refused (no mass assignment). */
export function parseGrantSpec(value: unknown, path: string): GrantSpec {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new GatehouseError(
      ErrorCode.INVALID_INPUT,
      `${path} must be an object with role and scope`,
    );
  }
  const record = value as Record<string, unknown>;
  const unknown = Object.keys(record).filter((key) => !GRANT_KEYS.includes(key));
  if (unknown.length > 0)
    throw new GatehouseError(
      ErrorCode.INVALID_INPUT,
      `${path}: unknown fields ${unknown.join(", ")}`,
    );
  if (typeof record["role"] !== "string")
    throw new GatehouseError(ErrorCode.INVALID_INPUT, `${path}.role is required`);
  if (typeof record["scope"] !== "string")
    throw new GatehouseError(ErrorCode.INVALID_INPUT, `${path}.scope is required`);
  const extras = record["extras"] ?? [];
  if (!Array.isArray(extras) || extras.some((extra) => typeof extra !== "string")) {
    throw new GatehouseError(
      ErrorCode.INVALID_INPUT,
      `${path}.extras is a list of permission names`,
    );
  }
  const expiresAt = record["expiresAt"];
  if (
    expiresAt !== undefined &&
    expiresAt !== null &&
    (typeof expiresAt !== "number" || !Number.isFinite(expiresAt))
  ) {
    throw new GatehouseError(ErrorCode.INVALID_INPUT, `${path}.expiresAt is epoch milliseconds`);
  }
  return {
    role: record["role"],
    scope: record["scope"] as ResourceRef,
    extras: extras as string[],
    expiresAt: typeof expiresAt === "number" ? expiresAt : undefined,
  };
}

/**
 * Delegation: the caller must be allowed to give `grant` at its scope — people management
 * there and nothing beyond what they hold. Revoking needs the same as granting what is revoked.
 * A grant that could not exist at all (unknown role, wrong scope type, owner-only extras, the
 * owner role) is bad input first, whoever asks.
 */
export function requireDelegation(
  tx: WorkspaceWriter,
  grant: { role: string; scope: ResourceRef; extras?: readonly string[] },
  record: AuditRecord,
  { named = false }: { named?: boolean } = {},
): void {
  // A resource the caller names but cannot reach answers exactly as one that does not exist.
  const subject = subjectOf(tx.request.actor);
  if (
    named &&
    subject !== undefined &&
    tx.engine.hasResource(grant.scope) &&
    !tx.engine.reaches(subject, grant.scope)
  ) {
    tx.deny(
      { ...record, details: { ...record.details, reason: "out_of_reach" } },
      `no resource ${grant.scope} in this workspace`,
      ErrorCode.RESOURCE_NOT_FOUND,
    );
  }
  tx.engine.validateGrant({
    subject: "user:-",
    role: grant.role,
    scope: grant.scope,
    extras: grant.extras ?? [],
  });
  if (grant.role === tx.model.ownerRole) throw ownerRoleNotGranted(tx.model);
  if (subject === undefined) return;
  const decision = tx.engine.canGrant(subject, grant.role, grant.scope, grant.extras ?? []);
  if (!decision.allowed) {
    const detail =
      decision.reason === "exceeds_granter"
        ? `: it includes ${decision.missing?.join(", ")}, which you do not hold there`
        : "";
    tx.deny(
      { ...record, details: { ...record.details, reason: decision.reason } },
      `you may not give or take role "${grant.role}" on ${grant.scope} (${decision.reason})${detail}`,
    );
  }
}

async function requireMemberUser(tx: WorkspaceWriter, userId: unknown): Promise<string> {
  if (typeof userId === "string") {
    const row = await tx.trx
      .selectFrom("members")
      .select("user_id")
      .where("workspace_id", "=", tx.workspace.id)
      .where("user_id", "=", userId)
      .executeTakeFirst();
    if (row !== undefined) return userId;
  }
  throw new GatehouseError(ErrorCode.MEMBER_NOT_FOUND, "no such member in this workspace");
}

async function requireGroup(tx: WorkspaceWriter, groupId: unknown): Promise<string> {
  if (typeof groupId === "string") {
    const row = await tx.trx
      .selectFrom("groups")
      .select("group_id")
      .where("workspace_id", "=", tx.workspace.id)
      .where("group_id", "=", groupId)
      .executeTakeFirst();
    if (row !== undefined) return groupId;
  }
  throw new GatehouseError(ErrorCode.NOT_FOUND, "no such group in this workspace");
}

/**
 * A team (group) the caller may put people in or take them out of: whoever may give every grant it
 * holds — a sub-tree admin manages the teams holding grants only in their part; a team holding
 * nothing needs the delegation at the root. NOT_FOUND for a group that does not exist.
 */
export async function requireManagedGroup(
  tx: WorkspaceWriter,
  groupId: unknown,
  record: AuditRecord,
): Promise<string> {
  const group = await requireGroup(tx, groupId);
  const grants = tx.engine.grantsOf(`group:${group}`);
  if (grants.length === 0) await tx.require(tx.model.definition.delegation, tx.root, record);
  for (const grant of grants) requireDelegation(tx, grant, record);
  return group;
}

/**
 * Whether the caller holds the delegation permission wherever `group`'s grants lie (at the root
 * for a team holding nothing): the read-side test of `requireManagedGroup`, for lists.
 */
export function managesGroup(reader: WorkspaceReader, group: string): boolean {
  const delegation = reader.model.definition.delegation;
  const grants = reader.engine.grantsOf(`group:${group}`);
  if (grants.length === 0) return reader.holds(delegation, reader.root);
  return grants.every((grant) => reader.holds(delegation, grant.scope));
}

/** Puts a member into teams (groups, already checked), in the caller's transaction. */
export async function joinGroups(
  tx: WorkspaceWriter,
  userId: string,
  groups: readonly string[],
): Promise<void> {
  for (const group of new Set(groups)) {
    await tx.trx
      .insertInto("group_members")
      .values({ workspace_id: tx.workspace.id, group_id: group, user_id: userId })
      .execute();
    tx.apply({ op: "group.add_member", group: `group:${group}`, user: `user:${userId}` });
  }
}

/** Parses a request's list of team (group) ids; none when absent. */
export function parseGroupIds(value: unknown): string[] {
  if (value === undefined) return [];
  if (
    !Array.isArray(value) ||
    value.length > 100 ||
    value.some((item) => typeof item !== "string" || item.length === 0 || item.length > 100)
  ) {
    throw new GatehouseError(ErrorCode.INVALID_INPUT, "groups is a list of at most 100 group ids");
  }
  return [...new Set(value as string[])];
}

/** Removes the grant `subject` holds at `scope`, in the store and (once committed) the engine. */
export async function deleteGrant(
  tx: WorkspaceWriter,
  subject: GranteeRef,
  scope: ResourceRef,
): Promise<void> {
  await tx.trx
    .deleteFrom("grants")
    .where("workspace_id", "=", tx.workspace.id)
    .where("subject", "=", subject)
    .where("scope", "=", scope)
    .execute();
  tx.apply({ op: "grant.remove", subject, scope });
}

/** A grantee that exists in the workspace: a member user or a group. */
async function requireGrantee(tx: WorkspaceWriter, subject: unknown): Promise<GranteeRef> {
  if (typeof subject === "string" && subject.startsWith("user:")) {
    return `user:${await requireMemberUser(tx, subject.slice(5))}`;
  }
  if (typeof subject === "string" && subject.startsWith("group:")) {
    return `group:${await requireGroup(tx, subject.slice(6))}`;
  }
  throw new GatehouseError(ErrorCode.INVALID_INPUT, 'subject is "user:<id>" or "group:<id>"');
}

function isOwnerGrant(tx: WorkspaceWriter, subject: string, scope: string): boolean {
  const owner = tx.engine.ownerGrant;
  return owner !== undefined && owner.subject === subject && owner.scope === scope;
}

export async function insertGrant(
  tx: WorkspaceWriter,
  subject: GranteeRef,
  spec: GrantSpec,
): Promise<void> {
  const input = {
    subject,
    role: spec.role,
    scope: spec.scope,
    extras: [...new Set(spec.extras ?? [])],
    expiresAt: spec.expiresAt,
    ...(spec.note === undefined ? {} : { note: spec.note }),
    ...(spec.fallback === undefined ? {} : { fallback: spec.fallback }),
  };
  if (spec.expiresAt !== undefined && spec.expiresAt <= tx.now) {
    throw new GatehouseError(ErrorCode.INVALID_INPUT, "expiresAt must be in the future");
  }
  tx.engine.validateGrant(input);
  if (tx.engine.model.roles.length > 0 && spec.role === tx.model.ownerRole)
    throw ownerRoleNotGranted(tx.model);
  try {
    await tx.trx
      .insertInto("grants")
      .values({
        workspace_id: tx.workspace.id,
        subject,
        scope: spec.scope,
        role: spec.role,
        extras: JSON.stringify(input.extras),
        expires_at: spec.expiresAt ?? null,
        note: spec.note ?? null,
        fallback_role: spec.fallback?.role ?? null,
        fallback_extras: spec.fallback === undefined ? null : JSON.stringify(spec.fallback.extras),
        created_at: tx.now,
        created_by: actorLabel(tx.request),
      })
      .execute();
  } catch (error) {
    if (tx.core.storage.isUniqueViolation(error)) {
      throw new GatehouseError(
        ErrorCode.ROLE_CONFLICT,
        `${subject} already holds a role on ${spec.scope}; roles cannot be combined on one resource`,
      );
    }
    throw error;
  }
  tx.apply({ op: "grant.add", grant: input });
}

/** Members, their grants (role × scope) and groups. */
export class Members {
  readonly #core: ServiceCore;

  constructor(core: ServiceCore) {
    this.#core = core;
  }

  /** Every member with their grants; visible only to those allowed to see the team. */
  async list(request: RequestContext, workspaceId: string): Promise<Member[]> {
    return [...(await this.listPage(request, workspaceId)).members];
  }

  /**
   * A page of the members in the order they joined, those whose email or name contains `q`
   * (ignoring case); every member when no `limit` is given. `next` goes back as `after`.
   * @example
   * const { members, next } = await gatehouse.members.listPage(asUser(ada), ws, { q: "ann", limit: 50 });
   */
  async listPage(
    request: RequestContext,
    workspaceId: string,
    query: PageQuery = {},
  ): Promise<{ members: readonly Member[]; next: string | null }> {
    const page = parsePageQuery(query, 3);
    await (await this.#core.read(request, workspaceId)).requireGate(
      "teamView",
      "you may not see this workspace's team",
    );
    // Rows and the engine from one snapshot: a list racing a transfer still shows exactly one owner.
    return this.#core.readSnapshot(request, workspaceId, async (reader) => {
      const [joinedAt, email, id] = page.after ?? [];
      const found = await reader.db
        .selectFrom("members")
        .innerJoin("users", "users.id", "members.user_id")
        .select([
          "users.id",
          "users.email",
          "users.name",
          "members.joined_at",
          "members.support_until",
        ])
        .where("members.workspace_id", "=", workspaceId)
        // A support person's membership ended with their access (docs/support-access.md).
        .where((eb) =>
          eb.or([
            eb("members.support_until", "is", null),
            eb("members.support_until", ">", this.#core.clock()),
          ]),
        )
        .$if(page.q !== undefined, (select) =>
          select.where((eb) =>
            eb.or([
              containsText(eb.ref("users.email"), page.q ?? ""),
              containsText(eb.ref("users.name"), page.q ?? ""),
            ]),
          ),
        )
        .$if(page.after !== undefined, (select) =>
          select.where((eb) =>
            eb.or([
              eb("members.joined_at", ">", Number(joinedAt)),
              eb.and([
                eb("members.joined_at", "=", Number(joinedAt)),
                eb.or([
                  eb("users.email", ">", String(email)),
                  eb.and([eb("users.email", "=", String(email)), eb("users.id", ">", String(id))]),
                ]),
              ]),
            ]),
          ),
        )
        .orderBy("members.joined_at")
        .orderBy("users.email")
        .orderBy("users.id")
        .$if(page.limit !== undefined, (select) => select.limit((page.limit ?? 0) + 1))
        .execute();
      const { rows, next } = pageOf(found, page.limit, (row) => [row.joined_at, row.email, row.id]);
      // A page asks only for its own members' groups; the whole list reads them all at once.
      const groupRows =
        rows.length === 0
          ? []
          : await reader.db
              .selectFrom("group_members")
              .select(["group_id", "user_id"])
              .where("workspace_id", "=", workspaceId)
              .$if(page.limit !== undefined || page.q !== undefined, (select) =>
                select.where(
                  "user_id",
                  "in",
                  rows.map((row) => row.id),
                ),
              )
              .execute();
      const owner = reader.engine.ownerGrant?.subject;
      const members = rows.map((row) => ({
        userId: row.id,
        email: row.email,
        name: row.name,
        joinedAt: row.joined_at,
        isOwner: owner === `user:${row.id}`,
        ...(row.support_until === null ? {} : { supportUntil: row.support_until }),
        grants: reader.engine.grantsOf(`user:${row.id}`),
        groups: groupRows
          .filter((group) => group.user_id === row.id)
          .map((group) => group.group_id),
      }));
      return { members, next };
    });
  }

  /**
   * Adds an existing user as a member with their first grants — the host app's and the operator's
   * direct path (the system actor) only: nobody is put into a workspace without consent, so
   * members invite and the person accepts (HOST_CREDENTIAL_REQUIRED for every other caller, before
   * the user id is looked at). Respects the plan's member limit and one workspace per email.
   * @example
   * await gatehouse.members.add(systemActor(), ws, { userId: carol, grants: [{ role: "customer", scope: "site:shop" }] });
   */
  async add(
    request: RequestContext,
    workspaceId: string,
    input: { userId: string; grants?: readonly unknown[]; groups?: readonly unknown[] },
  ): Promise<{ revision: number }> {
    const grants = input?.grants ?? [];
    const groups = input?.groups ?? [];
    if (
      !Array.isArray(grants) ||
      !Array.isArray(groups) ||
      groups.some((group) => typeof group !== "string") ||
      grants.length + groups.length === 0
    ) {
      throw new GatehouseError(
        ErrorCode.INVALID_INPUT,
        "a member holds at least one grant or belongs to at least one team (groups: group ids)",
      );
    }
    const specs = grants.map((grant, index) => parseGrantSpec(grant, `grants[${index}]`));
    const { revision } = await this.#core.write(request, workspaceId, async (tx) => {
      const record = {
        action: "member.add",
        target: `user:${String(input.userId)}`,
        details: { grants: specs },
      };
      await tx.requireMember(record);
      // Consent (#14): a member invites and the person accepts; only the trusted host app or
      // operator, who answer for their users, add someone directly. Refused before the user
      // is looked up, so the answer says nothing about whether the id exists.
      if (!tx.isSystem)
        tx.deny(
          { ...record, details: { ...record.details, reason: "no_consent" } },
          "people join a workspace by accepting an invitation or by a join request; only the host application or the operator adds a member directly",
          ErrorCode.HOST_CREDENTIAL_REQUIRED,
        );
      for (const spec of specs) requireDelegation(tx, spec, record, { named: true });
      const userId = String(input.userId);
      const { releasedInvitations } = await assertMayJoin(tx, userId, { countingSelf: true });
      await tx.trx
        .insertInto("members")
        .values({ workspace_id: tx.workspace.id, user_id: userId, joined_at: tx.now })
        .execute();
      for (const spec of specs) await insertGrant(tx, `user:${userId}`, spec);
      // Membership through a team alone is a membership: the member counts once all the same.
      const found: string[] = [];
      for (const groupId of new Set(groups as string[]))
        found.push(await requireGroup(tx, groupId));
      await joinGroups(tx, userId, found);
      tx.audit({
        ...record,
        details: { ...record.details, groups: [...new Set(groups)], releasedInvitations },
      });
    });
    return { revision };
  }

  /**
   * Replaces a member's direct grants with `grants` (at least one). The owner's grant cannot be
   * changed here (LAST_OWNER); every grant given or taken passes the delegation check.
   * @example
   * await gatehouse.members.setGrants(asUser(owner), ws, otto, [{ role: "operator", scope: "server:s1" }]);
   */
  async setGrants(
    request: RequestContext,
    workspaceId: string,
    userId: string,
    grants: readonly unknown[],
    options: WriteOptions = {},
  ): Promise<WriteResult> {
    if (!Array.isArray(grants) || grants.length === 0) {
      throw new GatehouseError(
        ErrorCode.INVALID_INPUT,
        "a member holds at least one grant; remove the member instead",
      );
    }
    const specs = grants.map((grant, index) => parseGrantSpec(grant, `grants[${index}]`));
    const scopes = new Set<string>();
    for (const spec of specs) {
      if (scopes.has(spec.scope))
        throw new GatehouseError(
          ErrorCode.ROLE_CONFLICT,
          `two roles on ${spec.scope}; roles cannot be combined on one resource`,
        );
      scopes.add(spec.scope);
    }
    const { revision, diff } = await this.#core.write(
      request,
      workspaceId,
      async (tx) => {
        const record = {
          action: "member.grants.set",
          target: `user:${String(userId)}`,
          details: { grants: specs },
        };
        await tx.requireMember(record);
        const member = await requireMemberUser(tx, userId);
        const subject = `user:${member}` as const;
        const current = tx.engine.grantsOf(subject);
        if (current.some((grant) => isOwnerGrant(tx, subject, grant.scope))) {
          tx.deny(
            record,
            "the owner's role cannot be changed; transfer ownership instead",
            ErrorCode.LAST_OWNER,
          );
        }
        for (const grant of current) requireDelegation(tx, grant, record);
        for (const spec of specs) requireDelegation(tx, spec, record, { named: true });
        await tx.trx
          .deleteFrom("grants")
          .where("workspace_id", "=", tx.workspace.id)
          .where("subject", "=", subject)
          .execute();
        for (const grant of current) tx.apply({ op: "grant.remove", subject, scope: grant.scope });
        for (const spec of specs) await insertGrant(tx, subject, spec);
        tx.audit({ ...record, details: { before: current, after: specs } });
      },
      options,
    );
    return diff === undefined ? { revision } : { revision, diff };
  }

  /** Adds one grant to a member or a group; ROLE_CONFLICT when they already hold a role there. */
  async grant(
    request: RequestContext,
    workspaceId: string,
    input: { subject: string } & Record<string, unknown>,
    options: WriteOptions = {},
  ): Promise<WriteResult> {
    const { subject: rawSubject, ...rest } = input ?? {};
    const spec = parseGrantSpec(rest, "grant");
    const { revision, diff } = await this.#core.write(
      request,
      workspaceId,
      async (tx) => {
        const record = { action: "grant.add", target: String(rawSubject), details: { ...spec } };
        await tx.requireMember(record);
        const subject = await requireGrantee(tx, rawSubject);
        requireDelegation(tx, spec, record, { named: true });
        await insertGrant(tx, subject, spec);
        tx.audit(record);
      },
      options,
    );
    return diff === undefined ? { revision } : { revision, diff };
  }

  /** Removes the grant a member or group holds at `scope`. The owner's grant stays (LAST_OWNER). */
  async revoke(
    request: RequestContext,
    workspaceId: string,
    input: { subject: string; scope: string },
    options: WriteOptions = {},
  ): Promise<WriteResult> {
    const { revision, diff } = await this.#core.write(
      request,
      workspaceId,
      async (tx) => {
        const record = {
          action: "grant.remove",
          target: String(input?.subject),
          details: { scope: input?.scope },
        };
        await tx.requireMember(record);
        const subject = await requireGrantee(tx, input?.subject);
        const grant = tx.engine
          .grantsOf(subject)
          .find((candidate) => candidate.scope === input.scope);
        if (grant === undefined)
          throw new GatehouseError(
            ErrorCode.GRANT_NOT_FOUND,
            `${subject} holds no grant on ${String(input.scope)}`,
          );
        if (isOwnerGrant(tx, subject, grant.scope))
          tx.deny(
            record,
            "the owner's role cannot be revoked; transfer ownership instead",
            ErrorCode.LAST_OWNER,
          );
        requireDelegation(tx, grant, record);
        await deleteGrant(tx, subject, grant.scope);
        tx.audit({ ...record, details: { scope: grant.scope, role: grant.role } });
      },
      options,
    );
    return diff === undefined ? { revision } : { revision, diff };
  }

  /**
   * Removes a member: access ends at once, their API keys die, their records and the activity
   * log stay. The owner cannot be removed (LAST_OWNER). The caller must be able to take every
   * direct grant and to manage every team the member is in — so a sub-tree admin removes the
   * people whose access lies only in their part (directly or through the teams they manage), and
   * nobody with access beside it; a member with neither grants nor teams needs the delegation at
   * the root.
   */
  async remove(
    request: RequestContext,
    workspaceId: string,
    userId: string,
    options: WriteOptions = {},
  ): Promise<WriteResult> {
    const { revision, diff } = await this.#core.write(
      request,
      workspaceId,
      async (tx) => {
        const record = { action: "member.remove", target: `user:${String(userId)}` };
        await tx.requireMember(record);
        const member = await requireMemberUser(tx, userId);
        const subject = `user:${member}` as const;
        if (tx.engine.ownerGrant?.subject === subject)
          tx.deny(
            record,
            "the owner cannot be removed; transfer ownership first",
            ErrorCode.LAST_OWNER,
          );
        const grants = tx.engine.grantsOf(subject);
        const groups = (
          await tx.trx
            .selectFrom("group_members")
            .select("group_id")
            .where("workspace_id", "=", tx.workspace.id)
            .where("user_id", "=", member)
            .execute()
        ).map((row) => row.group_id);
        if (grants.length === 0 && groups.length === 0)
          await tx.require(tx.model.definition.delegation, tx.root, record);
        for (const grant of grants) requireDelegation(tx, grant, record);
        for (const group of groups) await requireManagedGroup(tx, group, record);
        await removeMemberRows(tx, member);
        tx.audit({ ...record, details: { grants, groups } });
      },
      options,
    );
    return diff === undefined ? { revision } : { revision, diff };
  }

  /**
   * The caller's own grants and groups in a workspace — every member may see their own, without
   * the team gate (for "my workspaces" and the per-site view).
   */
  async own(
    request: RequestContext,
    workspaceId: string,
  ): Promise<{ grants: readonly Grant[]; groups: readonly string[] }> {
    const reader = await this.#core.read(request, workspaceId);
    const person = personOf(request.actor);
    if (person === undefined)
      throw new GatehouseError(ErrorCode.INVALID_INPUT, "the host app has no grants of its own");
    const groups = await reader.db
      .selectFrom("group_members")
      .select("group_id")
      .where("workspace_id", "=", workspaceId)
      .where("user_id", "=", person)
      .execute();
    return {
      grants: [
        ...reader.engine.grantsOf(`user:${person}`),
        ...groups.flatMap((group) => reader.engine.grantsOf(`group:${group.group_id}`)),
      ],
      groups: groups.map((group) => group.group_id),
    };
  }

  /** The caller leaves the workspace. The owner must transfer ownership first (LAST_OWNER). */
  async leave(request: RequestContext, workspaceId: string): Promise<{ revision: number }> {
    const person = personOf(request.actor);
    if (person === undefined || request.actor.type !== "user") {
      throw new GatehouseError(
        ErrorCode.INVALID_INPUT,
        "only a signed-in person can leave a workspace",
      );
    }
    const { revision } = await this.#core.write(request, workspaceId, async (tx) => {
      const record = { action: "member.leave", target: `user:${person}` };
      await tx.requireMember(record);
      if (tx.engine.ownerGrant?.subject === `user:${person}`) {
        throw new GatehouseError(
          ErrorCode.LAST_OWNER,
          "the owner cannot leave; transfer ownership first",
        );
      }
      await removeMemberRows(tx, person);
      tx.audit(record);
    });
    return { revision };
  }

  /** Creates a group (a team of users, as on the hosting-customer panel) that can hold grants. */
  async createGroup(
    request: RequestContext,
    workspaceId: string,
    input: { name: string },
  ): Promise<{ group: Group; revision: number }> {
    const name = requireText(input?.name, "group name");
    const id = newId("grp");
    const { revision } = await this.#core.write(request, workspaceId, async (tx) => {
      const record = { action: "group.create", target: `group:${id}`, details: { name } };
      await tx.require(tx.model.definition.delegation, tx.root, record);
      await tx.trx
        .insertInto("groups")
        .values({ workspace_id: tx.workspace.id, group_id: id, name, created_at: tx.now })
        .execute();
      tx.audit(record);
    });
    return { group: { id, name, members: [], grants: [] }, revision };
  }

  /** Deletes a group with its grants and memberships. */
  async deleteGroup(
    request: RequestContext,
    workspaceId: string,
    groupId: string,
  ): Promise<{ revision: number }> {
    const { revision } = await this.#core.write(request, workspaceId, async (tx) => {
      const record = { action: "group.delete", target: `group:${String(groupId)}` };
      await tx.require(tx.model.definition.delegation, tx.root, record);
      const group = await requireGroup(tx, groupId);
      const subject = `group:${group}` as const;
      for (const grant of tx.engine.grantsOf(subject)) requireDelegation(tx, grant, record);
      const ws = tx.workspace.id;
      await tx.trx
        .deleteFrom("grants")
        .where("workspace_id", "=", ws)
        .where("subject", "=", subject)
        .execute();
      await tx.trx
        .deleteFrom("group_members")
        .where("workspace_id", "=", ws)
        .where("group_id", "=", group)
        .execute();
      await tx.trx
        .deleteFrom("groups")
        .where("workspace_id", "=", ws)
        .where("group_id", "=", group)
        .execute();
      tx.apply({ op: "subject.remove", subject });
      tx.audit(record);
    });
    return { revision };
  }

  /** Adds a member to a group; they then hold the group's grants. */
  async addToGroup(
    request: RequestContext,
    workspaceId: string,
    groupId: string,
    userId: string,
    options: WriteOptions = {},
  ): Promise<WriteResult> {
    return this.#changeGroup(request, workspaceId, { groupId, userId, change: "add" }, options);
  }

  async removeFromGroup(
    request: RequestContext,
    workspaceId: string,
    groupId: string,
    userId: string,
    options: WriteOptions = {},
  ): Promise<WriteResult> {
    return this.#changeGroup(request, workspaceId, { groupId, userId, change: "remove" }, options);
  }

  /** The groups with their members and grants (team view). */
  async listGroups(request: RequestContext, workspaceId: string): Promise<Group[]> {
    return [...(await this.listGroupsPage(request, workspaceId)).groups];
  }

  /**
   * A page of the groups by name, those whose name or id contains `q` (ignoring case); every
   * group when no `limit` is given. `next` goes back as `after`.
   * @example
   * const { groups, next } = await gatehouse.members.listGroupsPage(asUser(ada), ws, { q: "support" });
   */
  async listGroupsPage(
    request: RequestContext,
    workspaceId: string,
    query: PageQuery = {},
  ): Promise<{ groups: readonly Group[]; next: string | null }> {
    const page = parsePageQuery(query, 2);
    const reader = await this.#core.read(request, workspaceId);
    await reader.requireGate("teamView", "you may not see this workspace's team");
    const [name, id] = (page.after ?? []).map(String);
    const found = await reader.db
      .selectFrom("groups")
      .selectAll()
      .where("workspace_id", "=", workspaceId)
      .$if(page.q !== undefined, (select) =>
        select.where((eb) =>
          eb.or([
            containsText(eb.ref("name"), page.q ?? ""),
            containsText(eb.ref("group_id"), page.q ?? ""),
          ]),
        ),
      )
      .$if(page.after !== undefined, (select) =>
        select.where((eb) =>
          eb.or([
            eb("name", ">", String(name)),
            eb.and([eb("name", "=", String(name)), eb("group_id", ">", String(id))]),
          ]),
        ),
      )
      .orderBy("name")
      .orderBy("group_id")
      .$if(page.limit !== undefined, (select) => select.limit((page.limit ?? 0) + 1))
      .execute();
    const { rows, next } = pageOf(found, page.limit, (row) => [row.name, row.group_id]);
    const groups = rows.map((row) => ({
      id: row.group_id,
      name: row.name,
      members: reader.engine.membersOf(`group:${row.group_id}`).map((user) => user.slice(5)),
      grants: reader.engine.grantsOf(`group:${row.group_id}`),
    }));
    return { groups, next };
  }

  async #changeGroup(
    request: RequestContext,
    workspaceId: string,
    { groupId, userId, change }: { groupId: string; userId: string; change: "add" | "remove" },
    options: WriteOptions,
  ): Promise<WriteResult> {
    const { revision, diff } = await this.#core.write(
      request,
      workspaceId,
      async (tx) => {
        const record = {
          action: `group.member.${change}`,
          target: `group:${String(groupId)}`,
          details: { user: userId },
        };
        await tx.requireMember(record);
        // Adding someone to a group gives them its grants: the caller must be able to give each.
        const group = await requireManagedGroup(tx, groupId, record);
        const member = await requireMemberUser(tx, userId);
        const ws = tx.workspace.id;
        const existing = await tx.trx
          .selectFrom("group_members")
          .select("user_id")
          .where("workspace_id", "=", ws)
          .where("group_id", "=", group)
          .where("user_id", "=", member)
          .executeTakeFirst();
        if ((existing !== undefined) === (change === "add")) return;
        if (change === "add") {
          await tx.trx
            .insertInto("group_members")
            .values({ workspace_id: ws, group_id: group, user_id: member })
            .execute();
          tx.apply({ op: "group.add_member", group: `group:${group}`, user: `user:${member}` });
        } else {
          await tx.trx
            .deleteFrom("group_members")
            .where("workspace_id", "=", ws)
            .where("group_id", "=", group)
            .where("user_id", "=", member)
            .execute();
          tx.apply({ op: "group.remove_member", group: `group:${group}`, user: `user:${member}` });
        }
        tx.audit(record);
      },
      options,
    );
    return diff === undefined ? { revision } : { revision, diff };
  }
}
