import {
  GatehouseError,
  type GranteeRef,
  isGatehouseError,
  type ResourceRef,
} from "@gatehouse/engine";
import type { Kysely, Selectable } from "kysely";
import { type Actor, type Origin, personOf, type RequestContext, subjectOf } from "../actor.ts";
import { actorLabel } from "../audit/actor-label.ts";
import type { AuditRecord } from "../audit/chain.ts";
import type { Database, InvitationsTable } from "../database/schema.ts";
import type { ServiceCore, WorkspaceReader, WorkspaceWriter } from "../service-core.ts";
import type { NewSession } from "../sign-in/sessions.ts";
import { insertUser, normalizeEmail, toUser, type User } from "../sign-in/users.ts";
import { hashSecret, isSameDigest, newId, randomSecret } from "../support/crypto.ts";
import { ErrorCode } from "../support/error-codes.ts";
import { containsText, type PageQuery, pageOf, parsePageQuery } from "../support/paging.ts";
import { assertStrongPassword } from "../support/passwords.ts";
import { requireText } from "../support/validation.ts";
import { gate } from "./gates.ts";
import {
  joinGroups,
  managesGroup,
  parseGroupIds,
  requireDelegation,
  requireManagedGroup,
} from "./members.ts";
import {
  addMember,
  assertMayJoin,
  assertShareable,
  endSupportIfOver,
  memberLimit,
  ownerRoleNotGranted,
  seatsTaken,
} from "./membership.ts";
import { readWorkspaceRoles } from "./workspace-roles.ts";

export type InvitationStatus = "pending" | "accepted" | "revoked" | "expired";

/** An invitation as managers see it; the token is shown once, on creation, and never stored. */
export interface InvitationInfo {
  readonly id: string;
  readonly email: string;
  /** The role given directly; `null` for an invitation into teams only. */
  readonly role: string | null;
  /** The resources the role is given at; the workspace root by default; none without a role. */
  readonly scopes: readonly string[];
  readonly extras: readonly string[];
  /** The teams (groups) the invitee joins on accepting; a team deleted since is named by its id. */
  readonly groups: readonly { readonly id: string; readonly name: string }[];
  /** Who sent it, as `user:<id>`, `apikey:<id>` or `system:<name>`. */
  readonly invitedBy: string;
  readonly createdAt: number;
  readonly expiresAt: number;
  readonly status: InvitationStatus;
  readonly acceptedAt: number | null;
  readonly acceptedBy: string | null;
  readonly revokedAt: number | null;
}

export type AcceptInput =
  | { readonly token: string; readonly userId: string }
  | { readonly token: string; readonly newAccount: { password: string; name?: string } };

/** What `acceptAndSignIn` is given: the token, and who accepts it. */
export interface AcceptAndSignInInput {
  readonly token: string;
  /** The signed-in caller, who joins as themselves; absent for an anonymous invitee. */
  readonly caller?: RequestContext | undefined;
  /** Anonymous only: the password (and name) of the account created for the invited email. */
  readonly password?: string | undefined;
  readonly name?: string | undefined;
  readonly origin?: Origin | undefined;
}

/** An accepted invitation, and the session started for the account it created. */
export interface AcceptedAndSignedIn {
  readonly user: User;
  readonly workspaceId: string;
  readonly revision: number;
  readonly createdAccount: boolean;
  /** Started for a new account; `undefined` for a signed-in caller, or when the sign-in was refused. */
  readonly session: NewSession | undefined;
  /** Why the new account was not signed in (e.g. TOTP_ENROLLMENT_REQUIRED, RATE_LIMITED). */
  readonly signInRefusal: ErrorCode | undefined;
}

/** Starts a session with email and password (the sessions' `login`). */
export type PasswordLogin = (input: {
  email: string;
  password: string;
  origin?: Origin | undefined;
}) => Promise<NewSession>;

type InvitationRow = Selectable<InvitationsTable>;

const CREATE_KEYS = ["email", "role", "scopes", "extras", "groups", "replace"];
const STATUSES: readonly InvitationStatus[] = ["pending", "accepted", "revoked", "expired"];
const MAX_SCOPES = 100;
const MAX_TOKEN_LENGTH = 200;

function statusOf(row: InvitationRow, now: number): InvitationStatus {
  if (row.revoked_at !== null) return "revoked";
  if (row.accepted_at !== null) return "accepted";
  return row.expires_at <= now ? "expired" : "pending";
}

/** The names of the teams `rows` put their invitees in, by group id. */
async function teamNames(
  db: Kysely<Database>,
  workspaceId: string,
  rows: readonly InvitationRow[],
): Promise<Map<string, string>> {
  const ids = [...new Set(rows.flatMap(groupsOf))];
  if (ids.length === 0) return new Map();
  const found = await db
    .selectFrom("groups")
    .select(["group_id", "name"])
    .where("workspace_id", "=", workspaceId)
    .where("group_id", "in", ids)
    .execute();
  return new Map(found.map((row) => [row.group_id, row.name]));
}

function toInvitation(
  row: InvitationRow,
  now: number,
  names: ReadonlyMap<string, string>,
): InvitationInfo {
  return {
    id: row.id,
    email: row.email,
    role: row.role === "" ? null : row.role,
    scopes: JSON.parse(row.scopes) as string[],
    extras: JSON.parse(row.extras) as string[],
    groups: groupsOf(row).map((id) => ({ id, name: names.get(id) ?? id })),
    invitedBy: row.invited_by,
    createdAt: row.created_at,
    expiresAt: row.expires_at,
    status: statusOf(row, now),
    acceptedAt: row.accepted_at,
    acceptedBy: row.accepted_by,
    revokedAt: row.revoked_at,
  };
}

/** Refuses an invitation that can no longer be accepted, with the reason as the code. */
function assertAcceptable(row: InvitationRow, now: number): void {
  switch (statusOf(row, now)) {
    case "revoked":
      throw new GatehouseError(ErrorCode.INVITATION_REVOKED, "this invitation was revoked");
    case "accepted":
      throw new GatehouseError(
        ErrorCode.INVITATION_ALREADY_USED,
        "this invitation has already been used",
      );
    case "expired":
      throw new GatehouseError(
        ErrorCode.INVITATION_EXPIRED,
        "this invitation has expired; ask for a new one",
      );
    case "pending":
      return;
  }
}

function requireStringList(value: unknown, what: string, max: number): string[] {
  if (
    !Array.isArray(value) ||
    value.length > max ||
    value.some((item) => typeof item !== "string" || item.length === 0 || item.length > 300)
  ) {
    throw new GatehouseError(ErrorCode.INVALID_INPUT, `${what} is a list of at most ${max} names`);
  }
  return [...new Set(value as string[])];
}

function parseCreateInput(input: unknown): {
  email: string;
  role: string | undefined;
  scopes: string[] | undefined;
  extras: string[];
  groups: string[];
  replace: boolean;
} {
  if (typeof input !== "object" || input === null || Array.isArray(input)) {
    throw new GatehouseError(ErrorCode.INVALID_INPUT, "an invitation has an email and a role");
  }
  const record = input as Record<string, unknown>;
  const unknown = Object.keys(record).filter((key) => !CREATE_KEYS.includes(key));
  if (unknown.length > 0)
    throw new GatehouseError(ErrorCode.INVALID_INPUT, `unknown fields ${unknown.join(", ")}`);
  const email = normalizeEmail(record["email"]);
  const groups = parseGroupIds(record["groups"]);
  // Into teams only: no role, and so no scopes or extras for it.
  const role =
    record["role"] === undefined && groups.length > 0
      ? undefined
      : requireText(record["role"], "role", 100);
  if (role === undefined && (record["scopes"] !== undefined || record["extras"] !== undefined))
    throw new GatehouseError(ErrorCode.INVALID_INPUT, "scopes and extras go with a role");
  let scopes: string[] | undefined;
  if (record["scopes"] !== undefined) {
    scopes = requireStringList(record["scopes"], "scopes", MAX_SCOPES);
    if (scopes.length === 0)
      throw new GatehouseError(ErrorCode.INVALID_INPUT, "scopes, when given, name a resource");
  }
  const extras =
    record["extras"] === undefined ? [] : requireStringList(record["extras"], "extras", 200);
  const replace = record["replace"] ?? false;
  if (typeof replace !== "boolean")
    throw new GatehouseError(ErrorCode.INVALID_INPUT, "replace is true or false");
  return { email, role, scopes, extras, groups, replace };
}

/** What an invitation offers, in words for an error message. */
function offerOf(row: InvitationRow): string {
  const grants = grantsOf(row).map((grant) => `${grant.role} at ${grant.scope}`);
  const teams = groupsOf(row).map((group) => `team ${group}`);
  return [...grants, ...teams].join(", ");
}

function groupsOf(row: InvitationRow): string[] {
  return JSON.parse(row.group_ids) as string[];
}

function grantsOf(row: InvitationRow): { role: string; scope: ResourceRef; extras: string[] }[] {
  if (row.role === "") return [];
  const extras = JSON.parse(row.extras) as string[];
  return (JSON.parse(row.scopes) as ResourceRef[]).map((scope) => ({
    role: row.role,
    scope,
    extras,
  }));
}

/**
 * Taking back an invitation needs what giving it needed: each grant, and managing each team. A
 * scope or team removed since leaves nothing to check, so people management at the root stands in.
 */
async function requireMayWithdraw(
  tx: WorkspaceWriter,
  row: InvitationRow,
  record: AuditRecord,
): Promise<void> {
  for (const grant of grantsOf(row)) {
    if (tx.engine.hasResource(grant.scope)) requireDelegation(tx, grant, record);
    else await tx.require(tx.model.definition.delegation, tx.root, record);
  }
  for (const group of groupsOf(row)) {
    if (await groupExists(tx, group)) await requireManagedGroup(tx, group, record);
    else await tx.require(tx.model.definition.delegation, tx.root, record);
  }
}

async function groupExists(reader: WorkspaceReader, group: string): Promise<boolean> {
  const row = await reader.db
    .selectFrom("groups")
    .select("group_id")
    .where("workspace_id", "=", reader.workspace.id)
    .where("group_id", "=", group)
    .executeTakeFirst();
  return row !== undefined;
}

/**
 * Whether a sub-tree admin sees an invitation: every grant it gives lies at or below a resource
 * where they hold the delegation permission, and they manage every team it puts the invitee in.
 */
function inCallersPart(reader: WorkspaceReader, row: InvitationRow): boolean {
  const delegation = reader.model.definition.delegation;
  return (
    grantsOf(row).every(
      (grant) => reader.engine.hasResource(grant.scope) && reader.holds(delegation, grant.scope),
    ) && groupsOf(row).every((group) => managesGroup(reader, group))
  );
}

/** Whether the caller holds the delegation permission at one of their grants' scopes. */
async function delegatesSomewhere(reader: WorkspaceReader): Promise<boolean> {
  const person = personOf(reader.request.actor);
  if (person === undefined) return true;
  const groups = await reader.db
    .selectFrom("group_members")
    .select("group_id")
    .where("workspace_id", "=", reader.workspace.id)
    .where("user_id", "=", person)
    .execute();
  const subjects: GranteeRef[] = [
    `user:${person}`,
    ...groups.map((row) => `group:${row.group_id}` as const),
  ];
  return subjects.some((subject) =>
    reader.engine
      .grantsOf(subject)
      .some((grant) => reader.holds(reader.model.definition.delegation, grant.scope)),
  );
}

/** Whether `resource` is `under` or below it in the workspace's tree. */
function isAtOrBelow(reader: WorkspaceReader, resource: ResourceRef, under: ResourceRef): boolean {
  if (!reader.engine.hasResource(resource)) return false;
  for (
    let at: ResourceRef | undefined = resource;
    at !== undefined;
    at = reader.engine.parentOf(at)
  )
    if (at === under) return true;
  return false;
}

/** Whether an invitation gives access at or below `resource`: a grant there, or a team's. */
function concerns(reader: WorkspaceReader, row: InvitationRow, resource: ResourceRef): boolean {
  const scopes = [
    ...grantsOf(row).map((grant) => grant.scope),
    ...groupsOf(row).flatMap((group) =>
      reader.engine.grantsOf(`group:${group}`).map((grant) => grant.scope),
    ),
  ];
  return scopes.some((scope) => isAtOrBelow(reader, scope, resource));
}

/** The invitation whose mailed or copied token this is, or INVITATION_NOT_FOUND. */
async function findByToken(core: ServiceCore, token: string): Promise<InvitationRow> {
  const digest = hashSecret(token);
  const found = await core.db
    .selectFrom("invitations")
    .selectAll()
    .where((eb) => eb.or([eb("token_hash", "=", digest), eb("link_token_hash", "=", digest)]))
    .executeTakeFirst();
  const stored = found?.token_hash === digest ? found.token_hash : found?.link_token_hash;
  if (found === undefined || stored == null || !isSameDigest(stored, digest)) {
    throw new GatehouseError(ErrorCode.INVITATION_NOT_FOUND, "no such invitation");
  }
  return found;
}

/** What the holder of an invitation link may learn before accepting: what the mail says. */
export interface InvitationPreview {
  readonly workspaceName: string;
  readonly email: string;
  /** `null` for an invitation into teams only. */
  readonly role: string | null;
  readonly roleLabel: string | null;
  readonly scopes: readonly string[];
  /** The names of the teams the invitee joins. */
  readonly teams: readonly string[];
  readonly expiresAt: number;
  /** Whether an account with the invited email exists (then the invitee signs in to accept). */
  readonly hasAccount: boolean;
}

/** Invitations by email: role and scopes chosen up front, single use, valid 7 days. */
export class Invitations {
  readonly #core: ServiceCore;
  readonly #login: PasswordLogin;

  constructor(core: ServiceCore, login: PasswordLogin) {
    this.#core = core;
    this.#login = login;
  }

  /**
   * Invites `email` to the workspace with `role` at `scopes` (the workspace root by default), into
   * the teams `groups`, or both. The caller must be able to give each grant (delegation) and to
   * manage each team (give every grant it holds); the owner role is never invited. Refused at the
   * plan's member limit, counting pending invitations. An email with a pending invitation is
   * refused (INVITATION_PENDING) unless `replace: true` says to revoke that one for this one. The
   * token is returned once and stored only as its hash: send it.
   * @example
   * const { token } = await gatehouse.invitations.create(asUser(ada), ws, { email: "bob@example.com", role: "billing" });
   */
  async create(
    request: RequestContext,
    workspaceId: string,
    input: {
      email: string;
      /** The role given directly; may be left out when `groups` names a team. */
      role?: string;
      scopes?: readonly string[];
      extras?: readonly string[];
      /** Teams (group ids) the invitee joins on accepting. */
      groups?: readonly string[];
      /** Revoke a pending invitation to the same email for this one (else INVITATION_PENDING). */
      replace?: boolean;
    },
  ): Promise<{ invitation: InvitationInfo; token: string; revision: number }> {
    const core = this.#core;
    const { email, role, scopes: requested, extras, groups, replace } = parseCreateInput(input);
    const id = newId("inv");
    const token = randomSecret(32);
    const { value, revision } = await core.write(request, workspaceId, async (tx) => {
      const scopes = role === undefined ? [] : (requested ?? [tx.root]);
      const record = {
        action: "invitation.create",
        target: `invitation:${id}`,
        details: { email, role: role ?? null, scopes, extras, groups },
      };
      await tx.requireMember(record);
      if (role === tx.model.ownerRole) throw ownerRoleNotGranted(tx.model);
      assertShareable(tx.core, tx.workspace);
      for (const scope of scopes) {
        const grant = { role: role ?? "", scope: scope as ResourceRef, extras };
        requireDelegation(tx, grant, record, { named: true });
        tx.engine.validateGrant({ subject: "user:invitee", ...grant });
      }
      for (const group of groups) await requireManagedGroup(tx, group, record);
      const ws = tx.workspace.id;
      const member = await tx.trx
        .selectFrom("members")
        .innerJoin("users", "users.id", "members.user_id")
        .select(["members.user_id", "members.support_until"])
        .where("members.workspace_id", "=", ws)
        .where("users.email", "=", email)
        .executeTakeFirst();
      if (member !== undefined && !(await endSupportIfOver(tx, member))) {
        throw new GatehouseError(ErrorCode.ALREADY_MEMBER, `${email} is already a member`);
      }
      // One pending invitation per email: a newer one replaces it (and frees its seat first), but
      // only when asked to, so that a second invite never silently changes what the first offered.
      const previous = await tx.trx
        .selectFrom("invitations")
        .selectAll()
        .where("workspace_id", "=", ws)
        .where("email", "=", email)
        .where("accepted_at", "is", null)
        .where("revoked_at", "is", null)
        .where("expires_at", ">", tx.now)
        .execute();
      const pending = previous[0];
      if (pending !== undefined && !replace) {
        const offered = offerOf(pending);
        throw new GatehouseError(
          ErrorCode.INVITATION_PENDING,
          `${email} has a pending invitation (${pending.id}: ${offered}); send replace: true to revoke it for this one`,
        );
      }
      for (const row of previous) await requireMayWithdraw(tx, row, record);
      if (previous.length > 0) {
        await tx.trx
          .updateTable("invitations")
          .set({ revoked_at: tx.now })
          .where(
            "id",
            "in",
            previous.map((row) => row.id),
          )
          .execute();
      }
      const limit = memberLimit(tx.model, tx.workspace.plan);
      if (limit !== null && (await seatsTaken(tx.trx, ws, tx.now)) + 1 > limit) {
        throw new GatehouseError(
          ErrorCode.MEMBER_LIMIT_REACHED,
          `the ${tx.workspace.plan} plan allows ${limit} members, pending invitations included; upgrade the plan or revoke an invitation`,
        );
      }
      const row: InvitationRow = {
        id,
        workspace_id: ws,
        email,
        role: role ?? "",
        scopes: JSON.stringify(scopes),
        extras: JSON.stringify(extras),
        group_ids: JSON.stringify(groups),
        token_hash: hashSecret(token),
        link_token_hash: null,
        invited_by: actorLabel(tx.request),
        created_at: tx.now,
        expires_at: tx.now + core.invitationTtlMs,
        accepted_at: null,
        accepted_by: null,
        revoked_at: null,
      };
      await tx.trx.insertInto("invitations").values(row).execute();
      tx.audit({
        ...record,
        details: {
          ...record.details,
          expiresAt: row.expires_at,
          replaced: previous.map((old) => old.id),
        },
      });
      return toInvitation(row, tx.now, await teamNames(tx.trx, ws, [row]));
    });
    return { invitation: value, token, revision };
  }

  /**
   * The workspace's invitations, newest first, optionally of one status: all of them for those who
   * may see the team; for a sub-tree admin, those in their part (see `listPage`).
   * @example
   * const pending = await gatehouse.invitations.list(asUser(ada), ws, { status: "pending" });
   */
  async list(
    request: RequestContext,
    workspaceId: string,
    filter: { status?: InvitationStatus; resource?: string } = {},
  ): Promise<InvitationInfo[]> {
    return [...(await this.listPage(request, workspaceId, filter)).invitations];
  }

  /**
   * A page of `list`: those whose email contains `q` (ignoring case); every invitation when no
   * `limit` is given. `next` goes back as `after`. Those holding the team gate at the root see every
   * invitation; a sub-tree admin (the delegation permission below the root) those whose every grant
   * lies at or below a resource where they hold it and whose every team they manage; anyone else
   * PERMISSION_DENIED. `resource` keeps those giving access at or below it (a grant there, or a
   * team's): a resource out of the caller's reach is RESOURCE_NOT_FOUND, as a missing one.
   * @example
   * const { invitations, next } = await gatehouse.invitations.listPage(asUser(ada), ws, { status: "pending", limit: 50 });
   */
  async listPage(
    request: RequestContext,
    workspaceId: string,
    query: { status?: InvitationStatus; resource?: string } & PageQuery = {},
  ): Promise<{ invitations: readonly InvitationInfo[]; next: string | null }> {
    const status = query?.status;
    if (status !== undefined && !STATUSES.includes(status)) {
      throw new GatehouseError(ErrorCode.INVALID_INPUT, `status is one of ${STATUSES.join(", ")}`);
    }
    const page = parsePageQuery(query, 2);
    const reader = await this.#core.read(request, workspaceId);
    const resource = query?.resource as ResourceRef | undefined;
    if (resource !== undefined) {
      const caller = subjectOf(reader.request.actor);
      if (
        typeof resource !== "string" ||
        !reader.engine.hasResource(resource) ||
        (caller !== undefined && !reader.engine.reaches(caller, resource))
      )
        throw new GatehouseError(ErrorCode.RESOURCE_NOT_FOUND, `no such resource ${resource}`);
    }
    // The whole list for the team's viewers; a sub-tree admin's part, filtered below, for those
    // who hold the delegation permission somewhere (else the gate's refusal, logged).
    const wholeTeam = reader.holds(gate(reader.model, "teamView"), reader.root);
    if (!wholeTeam && !(await delegatesSomewhere(reader)))
      await reader.requireGate("teamView", "you may not see this workspace's team");
    const filtered = !wholeTeam || resource !== undefined;
    const shown = (row: InvitationRow) =>
      (wholeTeam || inCallersPart(reader, row)) &&
      (resource === undefined || concerns(reader, row, resource));
    const now = this.#core.clock();
    const [createdAt, id] = page.after ?? [];
    const found = await reader.db
      .selectFrom("invitations")
      .selectAll()
      .where("workspace_id", "=", reader.workspace.id)
      .$if(status === "revoked", (select) => select.where("revoked_at", "is not", null))
      .$if(status === "accepted", (select) => select.where("accepted_at", "is not", null))
      .$if(status === "pending" || status === "expired", (select) =>
        select
          .where("accepted_at", "is", null)
          .where("revoked_at", "is", null)
          .where("expires_at", status === "pending" ? ">" : "<=", now),
      )
      .$if(page.q !== undefined, (select) =>
        select.where((eb) => containsText(eb.ref("email"), page.q ?? "")),
      )
      .$if(page.after !== undefined, (select) =>
        select.where((eb) =>
          eb.or([
            eb("created_at", "<", Number(createdAt)),
            eb.and([eb("created_at", "=", Number(createdAt)), eb("id", "<", String(id))]),
          ]),
        ),
      )
      .orderBy("created_at", "desc")
      .orderBy("id", "desc")
      // Filtered in memory, a page reads on until it is full.
      .$if(page.limit !== undefined && !filtered, (select) => select.limit((page.limit ?? 0) + 1))
      .execute();
    const { rows, next } = pageOf(filtered ? found.filter(shown) : found, page.limit, (row) => [
      row.created_at,
      row.id,
    ]);
    const names = await teamNames(reader.db, reader.workspace.id, rows);
    return { invitations: rows.map((row) => toInvitation(row, now, names)), next };
  }

  /**
   * Revokes an invitation; its link stops working at once. Needs what sending it needed.
   * Revoking a revoked invitation changes nothing; an accepted one answers INVITATION_ALREADY_USED.
   * @example
   * await gatehouse.invitations.revoke(asUser(ada), ws, invitation.id);
   */
  async revoke(
    request: RequestContext,
    workspaceId: string,
    invitationId: string,
  ): Promise<{ invitation: InvitationInfo; revision: number }> {
    const { value, revision } = await this.#core.write(request, workspaceId, async (tx) => {
      const record = { action: "invitation.revoke", target: `invitation:${String(invitationId)}` };
      await tx.requireMember(record);
      const row = await tx.trx
        .selectFrom("invitations")
        .selectAll()
        .where("workspace_id", "=", tx.workspace.id)
        .where("id", "=", typeof invitationId === "string" ? invitationId : "")
        .executeTakeFirst();
      if (row === undefined)
        throw new GatehouseError(ErrorCode.INVITATION_NOT_FOUND, "no such invitation");
      await requireMayWithdraw(tx, row, record);
      if (row.accepted_at !== null) {
        throw new GatehouseError(
          ErrorCode.INVITATION_ALREADY_USED,
          "this invitation was accepted; remove the member instead",
        );
      }
      if (row.revoked_at !== null)
        return toInvitation(row, tx.now, await teamNames(tx.trx, tx.workspace.id, [row]));
      await tx.trx
        .updateTable("invitations")
        .set({ revoked_at: tx.now })
        .where("id", "=", row.id)
        .where("accepted_at", "is", null)
        .where("revoked_at", "is", null)
        .execute();
      tx.audit({
        ...record,
        details: { email: row.email, role: row.role || null, groups: groupsOf(row) },
      });
      const revoked = { ...row, revoked_at: tx.now };
      return toInvitation(revoked, tx.now, await teamNames(tx.trx, tx.workspace.id, [row]));
    });
    return { invitation: value, revision };
  }

  /**
   * What an invitation link is for — the workspace, the invited email and the role — for the
   * holder of its token, before accepting. Used, revoked and expired invitations answer as
   * accepting them would.
   * @example
   * const { workspaceName, role } = await gatehouse.invitations.preview(token);
   */
  async preview(token: string): Promise<InvitationPreview> {
    const core = this.#core;
    if (typeof token !== "string" || token.length === 0 || token.length > MAX_TOKEN_LENGTH) {
      throw new GatehouseError(ErrorCode.INVALID_INPUT, "token is required");
    }
    const row = await findByToken(core, token);
    assertAcceptable(row, core.clock());
    const workspace = await core.workspace(core.db, row.workspace_id).catch(() => {
      throw new GatehouseError(ErrorCode.INVITATION_NOT_FOUND, "no such invitation");
    });
    const account = await core.db
      .selectFrom("users")
      .select("id")
      .where("email", "=", row.email)
      .executeTakeFirst();
    const definition = core.modelOf(workspace.preset).definition;
    // A role the workspace defined itself (docs/workspace-roles.md) has its label there.
    const own = Object.hasOwn(definition.roles, row.role)
      ? undefined
      : (await readWorkspaceRoles(core.db, workspace.id)).find((role) => role.name === row.role);
    return {
      workspaceName: workspace.name,
      email: row.email,
      role: row.role || null,
      roleLabel:
        row.role === "" ? null : (own?.label ?? definition.roles[row.role]?.label ?? row.role),
      teams: [...(await teamNames(core.db, row.workspace_id, [row])).values()],
      scopes: JSON.parse(row.scopes) as string[],
      expiresAt: row.expires_at,
      hasAccount: account !== undefined,
    };
  }

  /**
   * A copyable link token for a pending invitation, for whoever may withdraw it. Each call
   * makes a new one and the previous copied link stops working; the mailed link keeps working.
   * The token is returned once and stored only as its hash.
   * @example
   * const { token } = await gatehouse.invitations.link(asUser(ada), ws, invitation.id);
   */
  async link(
    request: RequestContext,
    workspaceId: string,
    invitationId: string,
  ): Promise<{ invitation: InvitationInfo; token: string; revision: number }> {
    const token = randomSecret(32);
    const { value, revision } = await this.#core.write(request, workspaceId, async (tx) => {
      const record = { action: "invitation.link", target: `invitation:${String(invitationId)}` };
      await tx.requireMember(record);
      const row = await tx.trx
        .selectFrom("invitations")
        .selectAll()
        .where("workspace_id", "=", tx.workspace.id)
        .where("id", "=", typeof invitationId === "string" ? invitationId : "")
        .executeTakeFirst();
      if (row === undefined)
        throw new GatehouseError(ErrorCode.INVITATION_NOT_FOUND, "no such invitation");
      await requireMayWithdraw(tx, row, record);
      assertAcceptable(row, tx.now);
      await tx.trx
        .updateTable("invitations")
        .set({ link_token_hash: hashSecret(token) })
        .where("id", "=", row.id)
        .execute();
      tx.audit({ ...record, details: { email: row.email } });
      return toInvitation(row, tx.now, await teamNames(tx.trx, tx.workspace.id, [row]));
    });
    return { invitation: value, token, revision };
  }

  /**
   * Accepts an invitation as the signed-in caller (a person, not an API key), or — anonymous, with
   * a password — creates the invited account and signs it in. The account exists either way, so a
   * refused sign-in (a workspace requiring 2FA, throttling) only leaves `session` undefined and the
   * invitee signs in as usual. Anonymous without a password: INVALID_CREDENTIALS.
   * @example
   * const { session } = await gatehouse.invitations.acceptAndSignIn({ token, password: "a long passphrase", origin });
   */
  async acceptAndSignIn(input: AcceptAndSignInInput): Promise<AcceptedAndSignedIn> {
    const { token, caller, password, name, origin } = input;
    if (caller !== undefined) {
      if (caller.actor.type === "api_key") {
        throw new GatehouseError(
          ErrorCode.PERMISSION_DENIED,
          "invitations are accepted by a signed-in person, not with an API key",
        );
      }
      if (password !== undefined || name !== undefined) {
        throw new GatehouseError(
          ErrorCode.INVALID_INPUT,
          "signed in, the invitation is accepted for your account; sign out to create a new one",
        );
      }
      if (caller.actor.type === "system")
        throw new GatehouseError(ErrorCode.INVALID_CREDENTIALS, "sign in as a person");
      const accepted = await this.accept({ token, userId: caller.actor.userId }, origin);
      return { ...accepted, session: undefined, signInRefusal: undefined };
    }
    if (password === undefined) {
      throw new GatehouseError(
        ErrorCode.INVALID_CREDENTIALS,
        "sign in to accept with your account, or choose a password to create one",
      );
    }
    const accepted = await this.accept(
      { token, newAccount: name === undefined ? { password } : { password, name } },
      origin,
    );
    try {
      const session = await this.#login({ email: accepted.user.email, password, origin });
      return { ...accepted, session, signInRefusal: undefined };
    } catch (error) {
      if (!isGatehouseError(error)) throw error;
      return { ...accepted, session: undefined, signInRefusal: error.code as ErrorCode };
    }
  }

  /**
   * Accepts an invitation with its token, once: as the signed-in user `userId` (whose email must
   * be the invited one), or by creating the account for the invited email. The new member gets the
   * invitation's grants; a pending invitation holds no permissions. A new account gets no personal
   * workspace here: it exists to join this one.
   * @example
   * const { user, workspaceId } = await gatehouse.invitations.accept({ token, newAccount: { password: "a long passphrase" } });
   */
  async accept(
    input: AcceptInput,
    origin?: Origin,
  ): Promise<{ user: User; workspaceId: string; revision: number; createdAccount: boolean }> {
    const core = this.#core;
    const token = input?.token;
    if (typeof token !== "string" || token.length === 0 || token.length > MAX_TOKEN_LENGTH) {
      throw new GatehouseError(ErrorCode.INVALID_INPUT, "token is required");
    }
    const newAccount = "newAccount" in input ? input.newAccount : undefined;
    const existingId = "userId" in input ? input.userId : undefined;
    if ((newAccount === undefined) === (existingId === undefined)) {
      throw new GatehouseError(
        ErrorCode.INVALID_INPUT,
        "accept as a signed-in user (userId) or with a new account (newAccount), not both",
      );
    }
    if (existingId !== undefined && typeof existingId !== "string")
      throw new GatehouseError(ErrorCode.INVALID_INPUT, "userId is a string");
    const found = await findByToken(core, token);
    // Fail fast before the slow password hash; the transaction checks again under the lock.
    assertAcceptable(found, core.clock());
    let account: { name: string; passwordHash: string } | undefined;
    if (newAccount !== undefined) {
      if (typeof newAccount !== "object" || newAccount === null)
        throw new GatehouseError(ErrorCode.INVALID_INPUT, "newAccount has a password");
      assertStrongPassword(newAccount.password);
      const name = requireText(newAccount.name ?? found.email.split("@")[0], "name");
      account = { name, passwordHash: await core.passwords.hash(newAccount.password) };
    }
    // A new account's id exists only once inserted in the transaction; the actor follows it there.
    let actor: Actor =
      existingId === undefined
        ? { type: "system", name: "invitation" }
        : { type: "user", userId: existingId };
    const request: RequestContext = {
      get actor() {
        return actor;
      },
      origin,
    };
    const { value, revision } = await core.write(request, found.workspace_id, async (tx) => {
      const row = await tx.trx
        .selectFrom("invitations")
        .selectAll()
        .where("id", "=", found.id)
        .where("workspace_id", "=", tx.workspace.id)
        .executeTakeFirst();
      if (row === undefined)
        throw new GatehouseError(ErrorCode.INVITATION_NOT_FOUND, "no such invitation");
      assertAcceptable(row, tx.now);
      const record = {
        action: "invitation.accept",
        target: `invitation:${row.id}`,
        details: { email: row.email, role: row.role || null },
      };
      let user: User;
      if (account === undefined) {
        const existing = await tx.trx
          .selectFrom("users")
          .selectAll()
          .where("id", "=", existingId ?? "")
          .executeTakeFirst();
        if (existing === undefined)
          throw new GatehouseError(ErrorCode.USER_NOT_FOUND, "no such user");
        if (existing.email !== row.email) {
          tx.deny(
            { ...record, details: { ...record.details, userEmail: existing.email } },
            "this invitation was sent to another email address",
            ErrorCode.INVITATION_EMAIL_MISMATCH,
          );
        }
        user = toUser(existing);
      } else {
        user = await insertUser(core, tx.trx, {
          email: row.email,
          name: account.name,
          passwordHash: account.passwordHash,
        });
        actor = { type: "user", userId: user.id };
      }
      // The invitation already holds its seat; one workspace per email is checked here.
      await assertMayJoin(tx, user.id, { countingSelf: false });
      await addMember(tx, user.id, grantsOf(row));
      // Into the teams still there: membership through a team, in the same transaction.
      const teams = groupsOf(row);
      const names = await teamNames(tx.trx, tx.workspace.id, [row]);
      const joined = teams.filter((group) => names.has(group));
      await joinGroups(tx, user.id, joined);
      const used = await tx.trx
        .updateTable("invitations")
        .set({ accepted_at: tx.now, accepted_by: user.id })
        .where("id", "=", row.id)
        .where("accepted_at", "is", null)
        .where("revoked_at", "is", null)
        .executeTakeFirst();
      if (Number(used.numUpdatedRows) !== 1) {
        throw new GatehouseError(
          ErrorCode.INVITATION_ALREADY_USED,
          "this invitation has already been used",
        );
      }
      tx.audit({
        ...record,
        details: {
          ...record.details,
          user: user.id,
          scopes: JSON.parse(row.scopes) as string[],
          groups: joined,
          ...(joined.length < teams.length
            ? { groupsGone: teams.filter((group) => !names.has(group)) }
            : {}),
          createdAccount: account !== undefined,
        },
      });
      return user;
    });
    return { user: value, workspaceId: found.workspace_id, revision, createdAccount: !!account };
  }
}
