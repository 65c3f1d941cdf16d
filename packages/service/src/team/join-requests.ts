import { GatehouseError, isGatehouseError, type ResourceRef } from "@gatehouse/engine";
import type { RequestContext } from "../actor.ts";
import { actorLabel } from "../audit/actor-label.ts";
import type { JoinRequestsTable } from "../database/schema.ts";
import type { ServiceCore, WorkspaceWriter } from "../service-core.ts";
import { ipKey, THROTTLE_WINDOW_MS } from "../sign-in/sessions.ts";
import { newId } from "../support/crypto.ts";
import { ErrorCode } from "../support/error-codes.ts";
import { DAY_MS } from "../support/time.ts";
import { requireText } from "../support/validation.ts";
import { joinGroups, parseGroupIds, requireDelegation, requireManagedGroup } from "./members.ts";
import { addMember, assertMayJoin, assertShareable, ownerRoleNotGranted } from "./membership.ts";

export type JoinRequestStatus = JoinRequestsTable["status"];

/** A request to join a workspace, as its managers (and the requester, on sending) see it. */
export interface JoinRequestInfo {
  readonly id: string;
  readonly workspaceId: string;
  readonly userId: string;
  readonly email: string;
  readonly name: string;
  readonly note: string;
  readonly createdAt: number;
  readonly status: JoinRequestStatus;
  /** Who approved or rejected it, as `user:<id>`, `apikey:<id>` or `system:<name>`. */
  readonly decidedBy: string | null;
  readonly decidedAt: number | null;
}

/** Join requests one user may send in any rolling 24 hours, across all workspaces (3, as on the company panel). */
export const JOIN_REQUESTS_PER_DAY = 3;
/** Wrong join keys one user may send in the throttle window (15 minutes) before they must wait. */
export const JOIN_KEY_FAILURES_PER_USER = 5;
/** Wrong join keys from one client address in the window, whoever sends them. */
export const JOIN_KEY_FAILURES_PER_IP = 20;
const MAX_NOTE_LENGTH = 1000;

/** One answer for a key no workspace has and a workspace that takes no join requests. */
function noSuchJoinKey(): GatehouseError {
  return new GatehouseError(
    ErrorCode.WORKSPACE_NOT_FOUND,
    "no workspace takes join requests with this key",
  );
}
const STATUSES: readonly JoinRequestStatus[] = ["pending", "approved", "rejected"];

interface JoinRequestRow {
  id: string;
  workspace_id: string;
  user_id: string;
  note: string;
  created_at: number;
  status: JoinRequestStatus;
  decided_by: string | null;
  decided_at: number | null;
  email: string;
  name: string;
}

function toJoinRequest(row: JoinRequestRow): JoinRequestInfo {
  return {
    id: row.id,
    workspaceId: row.workspace_id,
    userId: row.user_id,
    email: row.email,
    name: row.name,
    note: row.note,
    createdAt: row.created_at,
    status: row.status,
    decidedBy: row.decided_by,
    decidedAt: row.decided_at,
  };
}

function parseNote(note: unknown): string {
  if (note === undefined || note === null) return "";
  if (typeof note !== "string" || note.length > MAX_NOTE_LENGTH) {
    throw new GatehouseError(
      ErrorCode.INVALID_INPUT,
      `note is text of at most ${MAX_NOTE_LENGTH} characters`,
    );
  }
  return note.trim();
}

/** The request with the requester's email and name, in this workspace only. */
async function findRequest(tx: WorkspaceWriter, requestId: unknown): Promise<JoinRequestRow> {
  const row = await tx.trx
    .selectFrom("join_requests")
    .innerJoin("users", "users.id", "join_requests.user_id")
    .selectAll("join_requests")
    .select(["users.email", "users.name"])
    .where("join_requests.workspace_id", "=", tx.workspace.id)
    .where("join_requests.id", "=", typeof requestId === "string" ? requestId : "")
    .executeTakeFirst();
  if (row === undefined)
    throw new GatehouseError(ErrorCode.JOIN_REQUEST_NOT_FOUND, "no such join request");
  return row;
}

function assertPending(row: JoinRequestRow): void {
  if (row.status !== "pending") {
    throw new GatehouseError(
      ErrorCode.JOIN_REQUEST_DECIDED,
      `this join request was already ${row.status}`,
    );
  }
}

/** Closes a pending request; the condition keeps a request from being decided twice. */
async function decide(
  tx: WorkspaceWriter,
  row: JoinRequestRow,
  status: "approved" | "rejected",
): Promise<JoinRequestRow> {
  const decidedBy = actorLabel(tx.request);
  const result = await tx.trx
    .updateTable("join_requests")
    .set({ status, decided_by: decidedBy, decided_at: tx.now })
    .where("id", "=", row.id)
    .where("status", "=", "pending")
    .executeTakeFirst();
  if (Number(result.numUpdatedRows) !== 1) {
    throw new GatehouseError(ErrorCode.JOIN_REQUEST_DECIDED, "this join request was decided");
  }
  return { ...row, status, decided_by: decidedBy, decided_at: tx.now };
}

/**
 * Join requests (from the company panel): a registered user who knows a workspace's join key (e.g. its tax
 * number) asks to join with a note; managers approve with a role or reject.
 */
export class JoinRequests {
  readonly #core: ServiceCore;

  constructor(core: ServiceCore) {
    this.#core = core;
  }

  /**
   * Asks to join the workspace whose join key is `joinKey`, as the signed-in user. At most
   * {@link JOIN_REQUESTS_PER_DAY} requests per user in any 24 hours, across all workspaces
   * (JOIN_REQUEST_RATE_LIMITED, with `details.retryAfterMs`); one pending request per workspace.
   * A key no workspace has and a workspace without join requests answer alike (WORKSPACE_NOT_FOUND);
   * wrong keys count per user and per client address, and past {@link JOIN_KEY_FAILURES_PER_USER}
   * (or {@link JOIN_KEY_FAILURES_PER_IP}) in 15 minutes every key answers RATE_LIMITED, right or not.
   * @example
   * const { request } = await gatehouse.joinRequests.create(asUser(bob), { joinKey: "DE123456789", note: "New in finance" });
   */
  async create(
    request: RequestContext,
    input: { joinKey: string; note?: string },
  ): Promise<{ request: JoinRequestInfo; revision: number }> {
    const core = this.#core;
    if (request.actor.type !== "user") {
      throw new GatehouseError(
        ErrorCode.PERMISSION_DENIED,
        "only a signed-in person can ask to join a workspace",
      );
    }
    const userId = request.actor.userId;
    const joinKey = requireText(input?.joinKey, "joinKey", 100);
    const note = parseNote(input?.note);
    const buckets = [
      { bucket: "join_key.user", key: userId, limit: JOIN_KEY_FAILURES_PER_USER },
      { bucket: "join_key.ip", key: ipKey(request.origin), limit: JOIN_KEY_FAILURES_PER_IP },
    ].filter((bucket) => bucket.key !== "");
    // Checked before the key is looked at, so a right key past the limit tells nothing either.
    await this.#requireUnderLimit(buckets);
    try {
      const workspace = await core.db
        .selectFrom("workspaces")
        .select("id")
        .where("join_key", "=", joinKey)
        .where("closed_at", "is", null)
        .executeTakeFirst();
      if (workspace === undefined) throw noSuchJoinKey();
      return await this.#createIn(request, workspace.id, { userId, joinKey, note });
    } catch (error) {
      // A key nobody has, a workspace without join requests, or one closed meanwhile.
      if (isGatehouseError(error) && error.code === ErrorCode.WORKSPACE_NOT_FOUND)
        await this.#countWrongKey(buckets);
      throw error;
    }
  }

  /**
   * RATE_LIMITED (with `details.retryAfterMs`) while a bucket holds its limit of wrong keys in the
   * window. Only wrong keys are recorded, so a person's right requests never hold them back.
   */
  async #requireUnderLimit(
    buckets: readonly { bucket: string; key: string; limit: number }[],
  ): Promise<void> {
    const now = this.#core.clock();
    let retryAfterMs = 0;
    for (const bucket of buckets) {
      const failures = await this.#core.db
        .selectFrom("login_attempts")
        .select("at")
        .where("bucket", "=", bucket.bucket)
        .where("key", "=", bucket.key)
        .where("at", ">", now - THROTTLE_WINDOW_MS)
        .orderBy("at")
        .execute();
      if (failures.length >= bucket.limit) {
        // Allowed again once enough of the window's failures are older than the window.
        const freesUp = failures[failures.length - bucket.limit]!.at + THROTTLE_WINDOW_MS;
        retryAfterMs = Math.max(retryAfterMs, freesUp - now, 1);
      }
    }
    if (retryAfterMs > 0)
      throw new GatehouseError(
        ErrorCode.RATE_LIMITED,
        "too many wrong join keys; wait before trying again",
        { details: { retryAfterMs } },
      );
  }

  async #countWrongKey(buckets: readonly { bucket: string; key: string }[]): Promise<void> {
    const now = this.#core.clock();
    await this.#core.storage.transaction(async (trx) => {
      await trx
        .deleteFrom("login_attempts")
        .where("at", "<=", now - THROTTLE_WINDOW_MS)
        .execute();
      await trx
        .insertInto("login_attempts")
        .values(buckets.map(({ bucket, key }) => ({ id: newId("att"), bucket, key, at: now })))
        .execute();
    });
  }

  async #createIn(
    request: RequestContext,
    workspaceId: string,
    { userId, joinKey, note }: { userId: string; joinKey: string; note: string },
  ): Promise<{ request: JoinRequestInfo; revision: number }> {
    const core = this.#core;
    const id = newId("jrq");
    const { value, revision } = await core.write(request, workspaceId, async (tx) => {
      // The key may have changed (or been turned off) since it was looked up; a workspace that
      // takes no join requests answers exactly as a key nobody has.
      if (tx.workspace.join_key !== joinKey || !tx.model.policy.joinRequests) throw noSuchJoinKey();
      assertShareable(tx.core, tx.workspace);
      // Lock the user's row: their requests to other workspaces serialize here, so the count holds.
      const user = await tx.trx
        .selectFrom("users")
        .select(["id", "email", "name"])
        .where("id", "=", userId)
        .$if(core.storage.locksRows, (query) => query.forUpdate())
        .executeTakeFirst();
      if (user === undefined) throw new GatehouseError(ErrorCode.USER_NOT_FOUND, "no such user");
      const ws = tx.workspace.id;
      if (await tx.isMember())
        throw new GatehouseError(ErrorCode.ALREADY_MEMBER, "already a member of this workspace");
      const pending = await tx.trx
        .selectFrom("join_requests")
        .select("id")
        .where("workspace_id", "=", ws)
        .where("user_id", "=", userId)
        .where("status", "=", "pending")
        .executeTakeFirst();
      if (pending !== undefined) {
        throw new GatehouseError(
          ErrorCode.CONFLICT,
          "you already asked to join this workspace; wait for a decision",
          { details: { requestId: pending.id } },
        );
      }
      const recent = await tx.trx
        .selectFrom("join_requests")
        .select("created_at")
        .where("user_id", "=", userId)
        .where("created_at", ">", tx.now - DAY_MS)
        .orderBy("created_at")
        .execute();
      if (recent.length >= JOIN_REQUESTS_PER_DAY) {
        // Allowed again once enough of the window's requests are older than 24 hours.
        const freesUp = recent[recent.length - JOIN_REQUESTS_PER_DAY]!.created_at + DAY_MS;
        throw new GatehouseError(
          ErrorCode.JOIN_REQUEST_RATE_LIMITED,
          `at most ${JOIN_REQUESTS_PER_DAY} join requests in 24 hours; try again later`,
          { details: { retryAfterMs: freesUp - tx.now } },
        );
      }
      const row = {
        id,
        workspace_id: ws,
        user_id: userId,
        note,
        created_at: tx.now,
        status: "pending" as const,
        decided_by: null,
        decided_at: null,
      };
      await tx.trx.insertInto("join_requests").values(row).execute();
      tx.audit({
        action: "join_request.create",
        target: `user:${userId}`,
        details: { request: id, note },
      });
      return toJoinRequest({ ...row, email: user.email, name: user.name });
    });
    return { request: value, revision };
  }

  /**
   * The workspace's join requests, newest first, optionally of one status; for those who may see
   * the team.
   * @example
   * const pending = await gatehouse.joinRequests.list(asUser(ada), ws, { status: "pending" });
   */
  async list(
    request: RequestContext,
    workspaceId: string,
    filter: { status?: JoinRequestStatus } = {},
  ): Promise<JoinRequestInfo[]> {
    const status = filter?.status;
    if (status !== undefined && !STATUSES.includes(status)) {
      throw new GatehouseError(ErrorCode.INVALID_INPUT, `status is one of ${STATUSES.join(", ")}`);
    }
    const reader = await this.#core.read(request, workspaceId);
    await reader.requireGate("teamView", "you may not see this workspace's team");
    const rows = await reader.db
      .selectFrom("join_requests")
      .innerJoin("users", "users.id", "join_requests.user_id")
      .selectAll("join_requests")
      .select(["users.email", "users.name"])
      .where("join_requests.workspace_id", "=", reader.workspace.id)
      .$if(status !== undefined, (query) =>
        query.where("join_requests.status", "=", status as JoinRequestStatus),
      )
      .orderBy("join_requests.created_at", "desc")
      .orderBy("join_requests.id", "desc")
      .execute();
    return rows.map(toJoinRequest);
  }

  /**
   * Approves a pending request: the user joins with `role` at `scope` (the workspace root by
   * default), into the teams `groups`, or both. Needs the right to give that grant and to manage
   * each team (give every grant it holds); respects the plan's member limit and
   * one workspace per email. A pending invitation to the user's email is revoked: they joined.
   * @example
   * await gatehouse.joinRequests.approve(asUser(ada), ws, request.id, { role: "billing" });
   */
  async approve(
    request: RequestContext,
    workspaceId: string,
    requestId: string,
    input: { role?: string; scope?: string; groups?: readonly string[] },
  ): Promise<{ request: JoinRequestInfo; revision: number }> {
    const groups = parseGroupIds(input?.groups);
    // Into teams only: no role, and so no scope for it.
    const role =
      input?.role === undefined && groups.length > 0
        ? undefined
        : requireText(input?.role, "role", 100);
    const requestedScope = input?.scope;
    if (requestedScope !== undefined && (typeof requestedScope !== "string" || role === undefined))
      throw new GatehouseError(ErrorCode.INVALID_INPUT, "scope names a resource for the role");
    const { value, revision } = await this.#core.write(request, workspaceId, async (tx) => {
      const scope = (requestedScope ?? tx.root) as ResourceRef;
      const grants = role === undefined ? [] : [{ role, scope }];
      const record = {
        action: "join_request.approve",
        target: `join_request:${String(requestId)}`,
        details: { role: role ?? null, scope: role === undefined ? null : scope, groups },
      };
      await tx.requireMember(record);
      if (role === tx.model.ownerRole) throw ownerRoleNotGranted(tx.model);
      for (const grant of grants) requireDelegation(tx, grant, record, { named: true });
      for (const group of groups) await requireManagedGroup(tx, group, record);
      const row = await findRequest(tx, requestId);
      assertPending(row);
      const { releasedInvitations } = await assertMayJoin(tx, row.user_id, { countingSelf: true });
      await addMember(tx, row.user_id, grants);
      await joinGroups(tx, row.user_id, groups);
      const decided = await decide(tx, row, "approved");
      tx.audit({
        ...record,
        details: {
          ...record.details,
          user: row.user_id,
          revokedInvitations: releasedInvitations,
        },
      });
      return decided;
    });
    return { request: toJoinRequest(value), revision };
  }

  /**
   * Rejects a pending request; the user may send new ones (within the daily limit).
   * @example
   * await gatehouse.joinRequests.reject(asUser(ada), ws, request.id);
   */
  async reject(
    request: RequestContext,
    workspaceId: string,
    requestId: string,
  ): Promise<{ request: JoinRequestInfo; revision: number }> {
    const { value, revision } = await this.#core.write(request, workspaceId, async (tx) => {
      const record = {
        action: "join_request.reject",
        target: `join_request:${String(requestId)}`,
      };
      await tx.require(tx.model.definition.delegation, tx.root, record);
      const row = await findRequest(tx, requestId);
      assertPending(row);
      const decided = await decide(tx, row, "rejected");
      tx.audit({ ...record, details: { user: row.user_id } });
      return decided;
    });
    return { request: toJoinRequest(value), revision };
  }
}
