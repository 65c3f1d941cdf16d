import { type Engine, GatehouseError, type ResourceRef, type SubjectRef } from "@gatehouse/engine";
import { personOf, type RequestContext, subjectOf } from "../actor.ts";
import { actorLabel } from "../audit/actor-label.ts";
import type { AccessRequestsTable } from "../database/schema.ts";
import type { ServiceCore, WorkspaceReader, WorkspaceWriter } from "../service-core.ts";
import { newId } from "../support/crypto.ts";
import { ErrorCode } from "../support/error-codes.ts";
import { DAY_MS } from "../support/time.ts";
import { requireText } from "../support/validation.ts";
import { requireDelegation } from "./members.ts";
import { removeMemberRows } from "./membership.ts";
import {
  endTemporaryGrant,
  type GrantOrigin,
  isFrom,
  permissionsOfRole,
  placeTemporaryGrant,
  requireRoomFor,
  temporaryNote,
} from "./temporary-grants.ts";

const originOf = (id: string): GrantOrigin => ({ kind: "request", id });

/** `expired`: still pending when its seven days ran out (never stored; read off the clock). */
export type AccessRequestStatus = AccessRequestsTable["status"] | "expired";

/** A request for a role at a resource for a while, as the requester and its approvers see it. */
export interface AccessRequestInfo {
  readonly id: string;
  readonly workspaceId: string;
  readonly userId: string;
  readonly email: string;
  readonly name: string;
  readonly role: string;
  readonly scope: string;
  readonly reason: string;
  readonly durationMinutes: number;
  readonly createdAt: number;
  /** When the request lapses if nobody decides it. */
  readonly expiresAt: number;
  readonly status: AccessRequestStatus;
  /** Who approved, rejected or withdrew it, as `user:<id>`, `apikey:<id>` or `system:<name>`. */
  readonly decidedBy: string | null;
  readonly decidedAt: number | null;
  /** Why it was rejected, when the approver said. */
  readonly rejectionReason: string | null;
  /**
   * Support access (docs/support-access.md): the host that asked for this, for one of its support
   * people, as `system:<name>`; null for a member's own request.
   */
  readonly requestedBy: string | null;
  /** The grant approved (perhaps narrower than asked): role, scope and its end. */
  readonly granted: {
    readonly role: string;
    readonly scope: string;
    readonly expiresAt: number;
  } | null;
}

/** Where a grant came from, when it came from an approved access request. */
export interface AccessRequestProvenance {
  readonly requestId: string;
  /** Who asked: `user:<id>`. */
  readonly requestedBy: string;
  /** Who approved, as `user:<id>`, `apikey:<id>` or `system:<name>`. */
  readonly approvedBy: string;
  /** The approving person's email and name, when a person (or their key) approved. */
  readonly approver: { readonly email: string; readonly name: string } | null;
  readonly approvedAt: number;
  readonly reason: string;
  /** Support access: the host asked for its support person; `requestedBy` names the host then. */
  readonly support: boolean;
}

/** Access requests one member may send to one workspace in any rolling 24 hours. */
export const ACCESS_REQUESTS_PER_MEMBER_PER_DAY = 10;
/** Access requests one workspace takes from all its members in any rolling 24 hours. */
export const ACCESS_REQUESTS_PER_WORKSPACE_PER_DAY = 200;
/** How long a request waits for a decision before it lapses. */
export const ACCESS_REQUEST_PENDING_MS = 7 * DAY_MS;
/** The longest access one may ask for: 30 days, in minutes. */
export const MAX_ACCESS_MINUTES = 30 * 24 * 60;
const MAX_REASON_LENGTH = 1000;
const MINUTE_MS = 60_000;
const STATUSES: readonly AccessRequestStatus[] = [
  "pending",
  "approved",
  "rejected",
  "withdrawn",
  "revoked",
  "expired",
];

type AccessRequestRow = AccessRequestsTable & { email: string; name: string };

function statusAt(row: AccessRequestsTable, now: number): AccessRequestStatus {
  return row.status === "pending" && row.expires_at <= now ? "expired" : row.status;
}

function toAccessRequest(row: AccessRequestRow, now: number): AccessRequestInfo {
  return {
    id: row.id,
    workspaceId: row.workspace_id,
    userId: row.user_id,
    email: row.email,
    name: row.name,
    role: row.role,
    scope: row.scope,
    reason: row.reason,
    durationMinutes: row.duration_minutes,
    createdAt: row.created_at,
    expiresAt: row.expires_at,
    status: statusAt(row, now),
    decidedBy: row.decided_by,
    decidedAt: row.decided_at,
    rejectionReason: row.decision_note,
    requestedBy: row.requested_by,
    granted:
      row.granted_role !== null && row.granted_scope !== null && row.granted_until !== null
        ? { role: row.granted_role, scope: row.granted_scope, expiresAt: row.granted_until }
        : null,
  };
}

function parseMinutes(value: unknown, name: string): number {
  if (
    typeof value !== "number" ||
    !Number.isSafeInteger(value) ||
    value < 1 ||
    value > MAX_ACCESS_MINUTES
  ) {
    throw new GatehouseError(
      ErrorCode.INVALID_INPUT,
      `${name} is a whole number of minutes from 1 to ${MAX_ACCESS_MINUTES}`,
    );
  }
  return value;
}

function parseText(value: unknown, name: string, required: boolean): string {
  if (!required && (value === undefined || value === null)) return "";
  if (typeof value !== "string" || value.length > MAX_REASON_LENGTH)
    throw new GatehouseError(
      ErrorCode.INVALID_INPUT,
      `${name} is text of at most ${MAX_REASON_LENGTH} characters`,
    );
  const text = value.trim();
  if (required && text === "")
    throw new GatehouseError(ErrorCode.INVALID_INPUT, `${name} says why you need the access`);
  return text;
}

/** May `subject` decide this request: give its role at its scope? The system actor may. */
function mayDecide(
  engine: Engine,
  subject: SubjectRef | undefined,
  row: { role: string; scope: string },
): boolean {
  if (subject === undefined) return true;
  const scope = row.scope as ResourceRef;
  return (
    engine.hasResource(scope) &&
    engine.reaches(subject, scope) &&
    engine.canGrant(subject, row.role, scope).allowed
  );
}

/** Is `scope` the resource `within` or below it? */
function isAtOrBelow(engine: Engine, scope: ResourceRef, within: ResourceRef): boolean {
  for (let at: ResourceRef | undefined = scope; at !== undefined; at = engine.parentOf(at)) {
    if (at === within) return true;
  }
  return false;
}

/**
 * The request with the requester's email and name, in this workspace, for its requester and for
 * those who may decide it; ACCESS_REQUEST_NOT_FOUND for everyone else, as for an unknown id.
 */
async function findRequest(tx: WorkspaceReader, requestId: unknown): Promise<AccessRequestRow> {
  const row = await tx.db
    .selectFrom("access_requests")
    .innerJoin("users", "users.id", "access_requests.user_id")
    .selectAll("access_requests")
    .select(["users.email", "users.name"])
    .where("access_requests.workspace_id", "=", tx.workspace.id)
    .where("access_requests.id", "=", typeof requestId === "string" ? requestId : "")
    .executeTakeFirst();
  const actor = tx.request.actor;
  if (
    row !== undefined &&
    (personOf(actor) === row.user_id || mayDecide(tx.engine, subjectOf(actor), row))
  )
    return row;
  throw new GatehouseError(ErrorCode.ACCESS_REQUEST_NOT_FOUND, "no such access request");
}

function assertPending(row: AccessRequestsTable, now: number): void {
  const status = statusAt(row, now);
  if (status !== "pending") {
    throw new GatehouseError(
      ErrorCode.ACCESS_REQUEST_DECIDED,
      `this access request was already ${status}`,
      { details: { status } },
    );
  }
}

/** Closes a pending request; the condition keeps it from being decided twice or after it lapsed. */
async function decide(
  tx: WorkspaceWriter,
  row: AccessRequestRow,
  change: Pick<
    AccessRequestsTable,
    "status" | "decision_note" | "granted_role" | "granted_scope" | "granted_until"
  >,
): Promise<AccessRequestRow> {
  const decided = { ...change, decided_by: actorLabel(tx.request), decided_at: tx.now };
  const result = await tx.trx
    .updateTable("access_requests")
    .set(decided)
    .where("id", "=", row.id)
    .where("status", "=", "pending")
    .where("expires_at", ">", tx.now)
    .executeTakeFirst();
  if (Number(result.numUpdatedRows) !== 1) {
    throw new GatehouseError(ErrorCode.ACCESS_REQUEST_DECIDED, "this access request was decided");
  }
  return { ...row, ...decided };
}

/**
 * Where approved access requests gave these grants: for each grant of a user ending at the end an
 * approval set, that request and its approver; `undefined` for a grant given any other way. For
 * explanations and the Permissions card.
 */
export async function accessRequestsBehind(
  reader: WorkspaceReader,
  grants: readonly {
    subject: string;
    scope: string;
    expiresAt: number | undefined;
    note?: string | undefined;
  }[],
): Promise<(AccessRequestProvenance | undefined)[]> {
  const wanted = grants.filter(
    (grant) => grant.subject.startsWith("user:") && grant.expiresAt !== undefined,
  );
  if (wanted.length === 0) return grants.map(() => undefined);
  const rows = await reader.db
    .selectFrom("access_requests")
    .select([
      "id",
      "user_id",
      "decided_by",
      "decided_at",
      "reason",
      "granted_scope",
      "granted_until",
      "requested_by",
    ])
    .where("workspace_id", "=", reader.workspace.id)
    .where("status", "=", "approved")
    .where(
      "user_id",
      "in",
      wanted.map((grant) => grant.subject.slice(5)),
    )
    .execute();
  // The approvers by name, one lookup: a key's approval names the key's owner.
  const approverIds = new Set<string>();
  const ownerOf = (label: string | null): string | undefined => {
    if (label?.startsWith("user:")) return label.slice(5);
    if (label?.startsWith("apikey:")) return reader.engine.apiKey(label.slice(7))?.owner.slice(5);
    return undefined;
  };
  for (const row of rows) {
    const id = ownerOf(row.decided_by);
    if (id !== undefined) approverIds.add(id);
  }
  const people =
    approverIds.size === 0
      ? []
      : await reader.db
          .selectFrom("users")
          .select(["id", "email", "name"])
          .where("id", "in", [...approverIds])
          .execute();
  return grants.map((grant) => {
    // By the note naming the request; a grant approved before grants carried one, by its end.
    const row = rows.find(
      (candidate) =>
        `user:${candidate.user_id}` === grant.subject &&
        candidate.granted_scope === grant.scope &&
        (isFrom(grant, originOf(candidate.id)) ||
          (grant.note === undefined && candidate.granted_until === grant.expiresAt)),
    );
    if (row === undefined) return undefined;
    const person = people.find((candidate) => candidate.id === ownerOf(row.decided_by));
    return {
      requestId: row.id,
      requestedBy: row.requested_by ?? `user:${row.user_id}`,
      approvedBy: row.decided_by ?? "",
      approver: person === undefined ? null : { email: person.email, name: person.name },
      approvedAt: row.decided_at ?? 0,
      reason: row.reason,
      support: row.requested_by !== null,
    };
  });
}

/**
 * Access requests (#18): a member asks for a role at a resource, for a reason and a while; those
 * who may give that role there approve — perhaps narrower — or reject. The approved grant expires
 * on its own and names the request and approver it came from.
 */
export class AccessRequests {
  readonly #core: ServiceCore;

  constructor(core: ServiceCore) {
    this.#core = core;
  }

  /**
   * Asks, for the caller themself, for `role` at `scope` for `durationMinutes` (at most 30 days),
   * saying why. The scope must be within the caller's reach (RESOURCE_NOT_FOUND otherwise, as
   * for one that does not exist). One pending request per member, role and scope (CONFLICT); at
   * most {@link ACCESS_REQUESTS_PER_MEMBER_PER_DAY} per member and
   * {@link ACCESS_REQUESTS_PER_WORKSPACE_PER_DAY} per workspace in any 24 hours
   * (ACCESS_REQUEST_RATE_LIMITED, with `details.retryAfterMs`). Undecided, it lapses after 7 days.
   * @example
   * const { request } = await gatehouse.accessRequests.create(asUser(bob), ws, { role: "site_admin", scope: "site:shop", reason: "Fix the checkout", durationMinutes: 120 });
   */
  async create(
    request: RequestContext,
    workspaceId: string,
    input: { role: string; scope: string; reason: string; durationMinutes: number },
  ): Promise<{ request: AccessRequestInfo; revision: number }> {
    const userId = personOf(request.actor);
    if (userId === undefined) {
      throw new GatehouseError(
        ErrorCode.INVALID_INPUT,
        "only a member asks for access, for themself; the host application grants directly",
      );
    }
    return this.#ask(request, workspaceId, userId, input, null);
  }

  /**
   * Support access (docs/support-access.md): the host application asks, for one of its support
   * people (a user it provisioned, who need not be a member), for `role` at `scope` for
   * `durationMinutes`, saying why. Only the host (the system actor) asks; anyone else gets
   * WORKSPACE_NOT_FOUND, as for a workspace out of reach. Those who may give that role there
   * approve it — narrower if they like — as any access request; until then the support person is
   * nobody here. The same limits as {@link create}.
   * @example
   * const { request } = await gatehouse.accessRequests.createSupport(systemActor(), ws, { userId: sam, role: "site_admin", scope: "site:shop", reason: "Ticket 4711: checkout fails", durationMinutes: 120 });
   */
  async createSupport(
    request: RequestContext,
    workspaceId: string,
    input: { userId: string; role: string; scope: string; reason: string; durationMinutes: number },
  ): Promise<{ request: AccessRequestInfo; revision: number }> {
    if (request.actor.type !== "system") {
      throw new GatehouseError(ErrorCode.WORKSPACE_NOT_FOUND, "no such workspace");
    }
    const userId = requireText(input?.userId, "userId", 100);
    return this.#ask(request, workspaceId, userId, input, `system:${request.actor.name}`);
  }

  async #ask(
    request: RequestContext,
    workspaceId: string,
    userId: string,
    input: { role: string; scope: string; reason: string; durationMinutes: number },
    requestedBy: string | null,
  ): Promise<{ request: AccessRequestInfo; revision: number }> {
    const support = requestedBy !== null;
    const role = requireText(input?.role, "role", 100);
    const scope = requireText(input?.scope, "scope", 300) as ResourceRef;
    const reason = parseText(input?.reason, "reason", true);
    const durationMinutes = parseMinutes(input?.durationMinutes, "durationMinutes");
    const id = newId("arq");
    const { value, revision } = await this.#core.write(request, workspaceId, async (tx) => {
      const record = {
        action: support ? "support_access.request" : "access_request.create",
        target: scope,
        details: { request: id, user: userId, role, scope, durationMinutes, reason },
      };
      await tx.requireMember(record);
      const person = await tx.trx
        .selectFrom("users")
        .select("id")
        .where("id", "=", userId)
        .executeTakeFirst();
      if (person === undefined)
        throw new GatehouseError(ErrorCode.USER_NOT_FOUND, `no user ${userId}`);
      const subject = subjectOf(request.actor);
      if (!tx.engine.hasResource(scope) || (subject && !tx.engine.reaches(subject, scope)))
        throw new GatehouseError(
          ErrorCode.RESOURCE_NOT_FOUND,
          `no resource ${scope} in this workspace`,
        );
      tx.engine.validateGrant({ subject: `user:${userId}`, role, scope });
      if (permissionsOfRole(tx.engine, role) === undefined)
        throw new GatehouseError(
          ErrorCode.INVALID_INPUT,
          `role "${role}" is never given; ownership is transferred`,
        );
      // Over a standing role, only for more than it gives; never over another temporary one.
      const held = tx.engine.grantsOf(`user:${userId}`).find((grant) => grant.scope === scope);
      requireRoomFor(tx.engine, held, { subject: `user:${userId}`, role, scope }, tx.now);
      const ws = tx.workspace.id;
      const pending = await tx.trx
        .selectFrom("access_requests")
        .select("id")
        .where("workspace_id", "=", ws)
        .where("user_id", "=", userId)
        .where("role", "=", role)
        .where("scope", "=", scope)
        .where("status", "=", "pending")
        .where("expires_at", ">", tx.now)
        .executeTakeFirst();
      if (pending !== undefined) {
        throw new GatehouseError(
          ErrorCode.CONFLICT,
          "you already asked for this role here; wait for a decision or withdraw that request",
          { details: { requestId: pending.id } },
        );
      }
      // The workspace row is locked for the write: the counts hold against concurrent requests.
      const recent = await tx.trx
        .selectFrom("access_requests")
        .select(["user_id", "created_at"])
        .where("workspace_id", "=", ws)
        .where("created_at", ">", tx.now - DAY_MS)
        .orderBy("created_at")
        .execute();
      const own = recent.filter((row) => row.user_id === userId);
      for (const [rows, limit, whose] of [
        [own, ACCESS_REQUESTS_PER_MEMBER_PER_DAY, "per member"],
        [recent, ACCESS_REQUESTS_PER_WORKSPACE_PER_DAY, "in this workspace"],
      ] as const) {
        if (rows.length >= limit) {
          // Allowed again once enough of the window's requests are older than 24 hours.
          const freesUp = rows[rows.length - limit]!.created_at + DAY_MS;
          throw new GatehouseError(
            ErrorCode.ACCESS_REQUEST_RATE_LIMITED,
            `at most ${limit} access requests ${whose} in 24 hours; try again later`,
            { details: { retryAfterMs: freesUp - tx.now } },
          );
        }
      }
      const row = {
        id,
        workspace_id: ws,
        user_id: userId,
        role,
        scope,
        reason,
        duration_minutes: durationMinutes,
        created_at: tx.now,
        expires_at: tx.now + ACCESS_REQUEST_PENDING_MS,
        status: "pending" as const,
        decided_by: null,
        decided_at: null,
        decision_note: null,
        granted_role: null,
        granted_scope: null,
        granted_until: null,
        requested_by: requestedBy,
      };
      await tx.trx.insertInto("access_requests").values(row).execute();
      tx.audit(record);
      const user = await tx.trx
        .selectFrom("users")
        .select(["email", "name"])
        .where("id", "=", userId)
        .executeTakeFirstOrThrow();
      return toAccessRequest({ ...row, ...user }, tx.now);
    });
    return { request: value, revision };
  }

  /**
   * The access requests the caller sees, newest first: their own, and those they may decide —
   * whose role they may give at its scope (a sub-tree admin sees only their part's). Optionally
   * of one status, or only the caller's own (`mine`).
   * @example
   * const waiting = await gatehouse.accessRequests.list(asUser(ada), ws, { status: "pending" });
   */
  async list(
    request: RequestContext,
    workspaceId: string,
    filter: { status?: AccessRequestStatus; mine?: boolean } = {},
  ): Promise<AccessRequestInfo[]> {
    const status = filter?.status;
    if (status !== undefined && !STATUSES.includes(status)) {
      throw new GatehouseError(ErrorCode.INVALID_INPUT, `status is one of ${STATUSES.join(", ")}`);
    }
    const reader = await this.#core.read(request, workspaceId);
    const now = this.#core.clock();
    const person = personOf(request.actor);
    const subject = subjectOf(request.actor);
    const stored = status === "expired" ? "pending" : status;
    const rows = await reader.db
      .selectFrom("access_requests")
      .innerJoin("users", "users.id", "access_requests.user_id")
      .selectAll("access_requests")
      .select(["users.email", "users.name"])
      .where("access_requests.workspace_id", "=", reader.workspace.id)
      .$if(stored !== undefined, (query) =>
        query.where("access_requests.status", "=", stored as AccessRequestsTable["status"]),
      )
      .$if(filter?.mine === true, (query) =>
        query.where("access_requests.user_id", "=", person ?? ""),
      )
      .orderBy("access_requests.created_at", "desc")
      .orderBy("access_requests.id", "desc")
      .execute();
    return rows
      .filter((row) => status === undefined || statusAt(row, now) === status)
      .filter((row) => row.user_id === person || mayDecide(reader.engine, subject, row))
      .map((row) => toAccessRequest(row, now));
  }

  /**
   * The members who may decide a pending request — to notify them (the server mails them). For
   * the request's own requester and those who may decide it; not a route of its own.
   */
  async approversOf(
    request: RequestContext,
    workspaceId: string,
    requestId: string,
  ): Promise<{ userId: string; email: string; name: string }[]> {
    const reader = await this.#core.read(request, workspaceId);
    const row = await findRequest(reader, requestId);
    const members = await reader.db
      .selectFrom("members")
      .innerJoin("users", "users.id", "members.user_id")
      .select(["users.id", "users.email", "users.name"])
      .where("members.workspace_id", "=", reader.workspace.id)
      .where("users.id", "!=", row.user_id)
      .orderBy("users.email")
      .execute();
    return members
      .filter((member) => mayDecide(reader.engine, `user:${member.id}`, row))
      .map((member) => ({ userId: member.id, email: member.email, name: member.name }));
  }

  /**
   * Approves a pending request: the requester holds the role at the scope until now plus the
   * duration, the grant marked with this request and approver. The approver may narrow it — a
   * role whose permissions are a subset, a scope at or below, fewer minutes — never widen it
   * (INVALID_INPUT), and must be allowed to give what is approved. Nobody approves their own.
   * ACCESS_REQUEST_DECIDED once decided or lapsed.
   * @example
   * await gatehouse.accessRequests.approve(asUser(ada), ws, id, { durationMinutes: 60 });
   */
  async approve(
    request: RequestContext,
    workspaceId: string,
    requestId: string,
    input: { role?: string; scope?: string; durationMinutes?: number } = {},
  ): Promise<{ request: AccessRequestInfo; revision: number }> {
    const narrowRole = input?.role === undefined ? undefined : requireText(input.role, "role", 100);
    const narrowScope =
      input?.scope === undefined
        ? undefined
        : (requireText(input.scope, "scope", 300) as ResourceRef);
    const narrowMinutes =
      input?.durationMinutes === undefined
        ? undefined
        : parseMinutes(input.durationMinutes, "durationMinutes");
    const { value, revision } = await this.#core.write(request, workspaceId, async (tx) => {
      const record = {
        action: "access_request.approve" as string,
        target: `access_request:${String(requestId)}`,
        details: {} as Record<string, unknown>,
      };
      await tx.requireMember(record);
      const row = await findRequest(tx, requestId);
      record.target = row.scope;
      if (row.requested_by !== null) record.action = "support_access.approve";
      record.details = { request: row.id, user: row.user_id };
      if (personOf(request.actor) === row.user_id)
        tx.deny(
          { ...record, details: { ...record.details, reason: "own_request" } },
          "you cannot approve your own access request",
        );
      assertPending(row, tx.now);
      const role = narrowRole ?? row.role;
      const scope = narrowScope ?? (row.scope as ResourceRef);
      const minutes = narrowMinutes ?? row.duration_minutes;
      const asked = permissionsOfRole(tx.engine, row.role) ?? [];
      const given = permissionsOfRole(tx.engine, role);
      if (given === undefined || given.some((permission) => !asked.includes(permission)))
        throw new GatehouseError(
          ErrorCode.INVALID_INPUT,
          `role "${role}" is not within "${row.role}": an approval may only narrow the role`,
        );
      if (!tx.engine.hasResource(scope) || !isAtOrBelow(tx.engine, scope, row.scope as ResourceRef))
        throw new GatehouseError(
          ErrorCode.INVALID_INPUT,
          `${scope} is not ${row.scope} or below it: an approval may only narrow the scope`,
        );
      if (minutes > row.duration_minutes)
        throw new GatehouseError(
          ErrorCode.INVALID_INPUT,
          `an approval may only shorten the ${row.duration_minutes} minutes asked for`,
        );
      const expiresAt = tx.now + minutes * MINUTE_MS;
      record.details = { ...record.details, role, scope, expiresAt };
      requireDelegation(tx, { role, scope }, record, { named: true });
      const member = await tx.trx
        .selectFrom("members")
        .select(["user_id", "support_until"])
        .where("workspace_id", "=", tx.workspace.id)
        .where("user_id", "=", row.user_id)
        .executeTakeFirst();
      if (member === undefined && row.requested_by === null)
        throw new GatehouseError(ErrorCode.MEMBER_NOT_FOUND, "the requester is no longer a member");
      if (row.requested_by !== null) {
        // Support access: the approval is the consent; a support person who is no member is one
        // only until the grant ends (`isMember` reads `support_until`).
        if (member === undefined)
          await tx.trx
            .insertInto("members")
            .values({
              workspace_id: tx.workspace.id,
              user_id: row.user_id,
              joined_at: tx.now,
              support_until: expiresAt,
            })
            .execute();
        else if (member.support_until !== null)
          await tx.trx
            .updateTable("members")
            .set({ support_until: Math.max(member.support_until, expiresAt) })
            .where("workspace_id", "=", tx.workspace.id)
            .where("user_id", "=", row.user_id)
            .execute();
      }
      const subject = `user:${row.user_id}` as const;
      const note = temporaryNote(
        originOf(row.id),
        expiresAt,
        `requested by ${row.requested_by ?? subject}, approved by ${actorLabel(tx.request)}`,
        row.reason,
      );
      // Over a standing role there, the grant falls back to it at its end.
      const grant = await placeTemporaryGrant(tx, subject, { role, scope, until: expiresAt, note });
      if (grant.fallback !== undefined)
        record.details = { ...record.details, fallback: grant.fallback };
      const decided = await decide(tx, row, {
        status: "approved",
        decision_note: null,
        granted_role: role,
        granted_scope: scope,
        granted_until: expiresAt,
      });
      tx.audit({
        ...record,
        details: {
          ...record.details,
          requested: { role: row.role, scope: row.scope, durationMinutes: row.duration_minutes },
        },
      });
      return decided;
    });
    return { request: toAccessRequest(value, this.#core.clock()), revision };
  }

  /**
   * Ends an approved request's access now, before its time: the grant goes, and a support person
   * who was a member only through support access is no member any more. For those who may decide
   * the request (the customer's administrators) and for its requester, who may give it up early;
   * ACCESS_REQUEST_NOT_FOUND for everyone else. ACCESS_REQUEST_DECIDED when it is not approved or
   * its access already ended.
   * @example
   * await gatehouse.accessRequests.revoke(asUser(olivia), ws, id);
   */
  async revoke(
    request: RequestContext,
    workspaceId: string,
    requestId: string,
  ): Promise<{ request: AccessRequestInfo; revision: number }> {
    const { value, revision } = await this.#core.write(request, workspaceId, async (tx) => {
      const record = {
        action: "access_request.revoke",
        target: `access_request:${String(requestId)}`,
      };
      await tx.requireMember(record);
      const row = await findRequest(tx, requestId);
      const action = row.requested_by === null ? "access_request.revoke" : "support_access.revoke";
      const details = { request: row.id, user: row.user_id };
      if (
        row.status !== "approved" ||
        row.granted_scope === null ||
        row.granted_until === null ||
        row.granted_until <= tx.now
      ) {
        throw new GatehouseError(
          ErrorCode.ACCESS_REQUEST_DECIDED,
          "this access request holds no access to revoke",
          { details: { status: statusAt(row, tx.now) } },
        );
      }
      const subject = `user:${row.user_id}` as const;
      const scope = row.granted_scope as ResourceRef;
      const grant = tx.engine.grantsOf(subject).find(
        (held) =>
          held.scope === scope &&
          (isFrom(held, originOf(row.id)) ||
            // Approved before grants carried their request's note.
            (held.note === undefined && held.expiresAt === row.granted_until)),
      );
      const member = await tx.trx
        .selectFrom("members")
        .select("support_until")
        .where("workspace_id", "=", tx.workspace.id)
        .where("user_id", "=", row.user_id)
        .executeTakeFirst();
      if (member !== undefined && member.support_until !== null) {
        // Only support access made them a member: that membership ends with it.
        await removeMemberRows(tx, row.user_id);
      } else if (grant !== undefined) {
        // The standing role it went over comes back; without one, the grant goes.
        await endTemporaryGrant(tx, subject, scope);
      }
      // Conditional: a revoke racing another revoke (or the end) changes the row once.
      const result = await tx.trx
        .updateTable("access_requests")
        .set({ status: "revoked", granted_until: tx.now })
        .where("id", "=", row.id)
        .where("status", "=", "approved")
        .where("granted_until", ">", tx.now)
        .executeTakeFirst();
      if (Number(result.numUpdatedRows) !== 1)
        throw new GatehouseError(ErrorCode.ACCESS_REQUEST_DECIDED, "this access was revoked");
      tx.audit({
        action,
        target: row.scope,
        details: { ...details, role: row.granted_role, scope, until: row.granted_until },
      });
      return { ...row, status: "revoked" as const, granted_until: tx.now };
    });
    return { request: toAccessRequest(value, this.#core.clock()), revision };
  }

  /**
   * Rejects a pending request, optionally saying why; for those who may decide it.
   * @example
   * await gatehouse.accessRequests.reject(asUser(ada), ws, id, { reason: "Use the staging site" });
   */
  async reject(
    request: RequestContext,
    workspaceId: string,
    requestId: string,
    input: { reason?: string } = {},
  ): Promise<{ request: AccessRequestInfo; revision: number }> {
    const note = parseText(input?.reason, "reason", false);
    return this.#close(request, workspaceId, requestId, "rejected", note);
  }

  /**
   * Withdraws the caller's own pending request.
   * @example
   * await gatehouse.accessRequests.withdraw(asUser(bob), ws, id);
   */
  async withdraw(
    request: RequestContext,
    workspaceId: string,
    requestId: string,
  ): Promise<{ request: AccessRequestInfo; revision: number }> {
    return this.#close(request, workspaceId, requestId, "withdrawn", "");
  }

  async #close(
    request: RequestContext,
    workspaceId: string,
    requestId: string,
    status: "rejected" | "withdrawn",
    note: string,
  ): Promise<{ request: AccessRequestInfo; revision: number }> {
    const { value, revision } = await this.#core.write(request, workspaceId, async (tx) => {
      const action = status === "rejected" ? "access_request.reject" : "access_request.withdraw";
      const record = { action, target: `access_request:${String(requestId)}` };
      await tx.requireMember(record);
      const row = await findRequest(tx, requestId);
      const own = personOf(request.actor) === row.user_id;
      // The requester withdraws; only those who may decide it reject, never the requester.
      if (own !== (status === "withdrawn"))
        tx.deny(
          { ...record, target: row.scope, details: { request: row.id, reason: "not_yours" } },
          status === "withdrawn"
            ? "only the requester withdraws an access request"
            : "you cannot reject your own access request; withdraw it",
        );
      assertPending(row, tx.now);
      const decided = await decide(tx, row, {
        status,
        decision_note: note === "" ? null : note,
        granted_role: null,
        granted_scope: null,
        granted_until: null,
      });
      tx.audit({
        action,
        target: row.scope,
        details: {
          request: row.id,
          user: row.user_id,
          role: row.role,
          ...(note === "" ? {} : { reason: note }),
        },
      });
      return decided;
    });
    return { request: toAccessRequest(value, this.#core.clock()), revision };
  }
}
