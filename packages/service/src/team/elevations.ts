import { GatehouseError, type Grant, type ResourceRef } from "@gatehouse/engine";
import { personOf, type RequestContext, subjectOf } from "../actor.ts";
import { actorLabel } from "../audit/actor-label.ts";
import type { EligibilitiesTable } from "../database/schema.ts";
import type { ServiceCore, WorkspaceReader, WorkspaceWriter } from "../service-core.ts";
import type { TwoFactor } from "../sign-in/two-factor.ts";
import { newId } from "../support/crypto.ts";
import { ErrorCode } from "../support/error-codes.ts";
import { requireResourceName, requireText } from "../support/validation.ts";
import { requireDelegation } from "./members.ts";
import {
  endTemporaryGrant,
  type GrantOrigin,
  isFrom,
  placeTemporaryGrant,
  storedGrant,
  temporaryNote,
} from "./temporary-grants.ts";

/** The shortest and the longest elevation a manager may allow. */
export const ELEVATION_MIN_MS = 60_000;
export const ELEVATION_MAX_MS = 30 * 24 * 3_600_000;
/** The longest reason a member gives for an elevation. */
const REASON_MAX_LENGTH = 500;

/** A member's standing eligibility for a role at a scope, and the elevation now live, if any. */
export interface Eligibility {
  readonly id: string;
  readonly subject: `user:${string}`;
  readonly role: string;
  readonly scope: ResourceRef;
  /** The longest one activation may last. */
  readonly maxDurationMs: number;
  /** Activation needs a fresh authenticator code. */
  readonly require2fa: boolean;
  readonly createdAt: number;
  readonly createdBy: string;
  /** The live elevation: its grant ends at `until`; `null` when not elevated now. */
  readonly active: { readonly until: number; readonly note: string } | null;
}

/** What a manager sets: the member, the role and scope, the longest activation, whether 2FA is needed. */
export interface EligibilityInput {
  readonly subject: string;
  readonly role: string;
  readonly scope: string;
  readonly maxDurationMs: number;
  readonly require2fa?: boolean;
}

export interface ActivationInput {
  readonly durationMs: number;
  readonly reason: string;
  /** The authenticator code, when the eligibility requires two-factor. */
  readonly totpCode?: string | undefined;
}

const originOf = (id: string): GrantOrigin => ({ kind: "eligibility", id });

function notFound(): GatehouseError {
  return new GatehouseError(ErrorCode.NOT_FOUND, "no such eligibility in this workspace");
}

function requireDuration(value: unknown, what: string, max: number): number {
  if (
    typeof value !== "number" ||
    !Number.isInteger(value) ||
    value < ELEVATION_MIN_MS ||
    value > max
  )
    throw new GatehouseError(
      ErrorCode.INVALID_INPUT,
      `${what} is whole milliseconds from ${ELEVATION_MIN_MS} (one minute) to ${max}`,
    );
  return value;
}

/**
 * Just-in-time elevation (#18): a manager makes a member eligible for a role at a scope, under the
 * same delegation rules as giving that grant; the member activates it themself for a bounded time
 * with a reason (and a fresh authenticator code when required), which adds an expiring grant noted
 * as elevated; it ends by itself at its expiry (the engine's clock) or earlier on demand.
 */
export class Elevations {
  readonly #core: ServiceCore;
  readonly #twoFactor: TwoFactor;

  constructor(core: ServiceCore, twoFactor: TwoFactor) {
    this.#core = core;
    this.#twoFactor = twoFactor;
  }

  /**
   * The eligibilities the caller may see: their own, and those they could set (people management
   * at the scope, within what they hold), each with the live elevation.
   * @example
   * const mine = await gatehouse.elevations.list(asUser(ada), ws);
   */
  async list(request: RequestContext, workspaceId: string): Promise<Eligibility[]> {
    return this.#core.readSnapshot(request, workspaceId, async (reader) => {
      if (!(await reader.isMember()))
        throw new GatehouseError(ErrorCode.WORKSPACE_NOT_FOUND, "no such workspace");
      const rows = await reader.db
        .selectFrom("eligibilities")
        .selectAll()
        .where("workspace_id", "=", workspaceId)
        .orderBy("created_at")
        .orderBy("id")
        .execute();
      const now = this.#core.clock();
      return rows
        .filter((row) => isVisible(reader, row))
        .map((row) => eligibilityOf(reader, row, now));
    });
  }

  /**
   * Makes a member eligible for `role` at `scope` (replacing their eligibility there): allowed to
   * whoever may give that grant.
   * @example
   * await gatehouse.elevations.set(asUser(owner), ws, { subject: `user:${ada}`, role: "admin", scope: "server:fra-1", maxDurationMs: 3_600_000, require2fa: true });
   */
  async set(
    request: RequestContext,
    workspaceId: string,
    input: EligibilityInput,
  ): Promise<{ eligibility: Eligibility; revision: number }> {
    const subject = String(input?.subject ?? "");
    const role = requireText(input?.role, "role");
    const scope = requireResourceName(input?.scope, "scope");
    const maxDurationMs = requireDuration(input?.maxDurationMs, "maxDurationMs", ELEVATION_MAX_MS);
    if (input.require2fa !== undefined && typeof input.require2fa !== "boolean")
      throw new GatehouseError(ErrorCode.INVALID_INPUT, "require2fa is true or false");
    const require2fa = input.require2fa === true;
    const { value, revision } = await this.#core.write(request, workspaceId, async (tx) => {
      const record = {
        action: "eligibility.set",
        target: subject,
        details: { role, scope, maxDurationMs, require2fa },
      };
      await tx.requireMember(record);
      await requireMemberSubject(tx, subject);
      requireDelegation(tx, { role, scope }, record, { named: true });
      const row: EligibilitiesTable = {
        workspace_id: tx.workspace.id,
        id: newId("el"),
        subject,
        role,
        scope,
        max_duration_ms: maxDurationMs,
        require_2fa: require2fa ? 1 : 0,
        created_at: tx.now,
        created_by: actorLabel(tx.request),
      };
      const previous = await tx.trx
        .selectFrom("eligibilities")
        .select("id")
        .where("workspace_id", "=", tx.workspace.id)
        .where("subject", "=", subject)
        .where("scope", "=", scope)
        .executeTakeFirst();
      if (previous !== undefined)
        await tx.trx
          .deleteFrom("eligibilities")
          .where("workspace_id", "=", tx.workspace.id)
          .where("id", "=", previous.id)
          .execute();
      await tx.trx.insertInto("eligibilities").values(row).execute();
      tx.audit({ ...record, details: { ...record.details, id: row.id, replaced: previous?.id } });
      return eligibilityOf(tx, row, tx.now);
    });
    return { eligibility: value, revision };
  }

  /**
   * Removes an eligibility (a live elevation runs on until it ends): allowed to whoever may give
   * its grant. NOT_FOUND when there is none the caller can see.
   */
  async remove(
    request: RequestContext,
    workspaceId: string,
    id: string,
  ): Promise<{ revision: number }> {
    const { revision } = await this.#core.write(request, workspaceId, async (tx) => {
      const record = { action: "eligibility.remove", target: `eligibility:${String(id)}` };
      await tx.requireMember(record);
      const row = await visibleEligibility(tx, id);
      requireDelegation(tx, row, { ...record, target: row.subject });
      await tx.trx
        .deleteFrom("eligibilities")
        .where("workspace_id", "=", tx.workspace.id)
        .where("id", "=", row.id)
        .execute();
      tx.audit({
        ...record,
        target: row.subject,
        details: { id: row.id, role: row.role, scope: row.scope },
      });
    });
    return { revision };
  }

  /**
   * The member elevates themself: an expiring grant of the eligible role, noted as elevated with
   * the reason. Only the eligible member (never someone else, never the system actor); at most the
   * eligibility's longest duration; a fresh authenticator code when it requires two-factor.
   * @example
   * await gatehouse.elevations.activate(asUser(ada), ws, id, { durationMs: 3_600_000, reason: "renew the certificate" });
   */
  async activate(
    request: RequestContext,
    workspaceId: string,
    id: string,
    input: ActivationInput,
  ): Promise<{ grant: Grant; revision: number }> {
    // A person elevates themself; never through an API key (nor the assistant acting through one).
    const actor = request.actor;
    const throughKey =
      actor.type === "api_key" || (actor.type === "assistant" && actor.keyId !== undefined);
    const person = throughKey ? undefined : personOf(actor);
    const reason = requireText(input?.reason, "reason", REASON_MAX_LENGTH);
    // The code is checked before the change; only the eligible member's own eligibility asks for it.
    const found = await this.#core.db
      .selectFrom("eligibilities")
      .select(["subject", "require_2fa"])
      .where("workspace_id", "=", String(workspaceId))
      .where("id", "=", String(id))
      .executeTakeFirst();
    if (found?.require_2fa === 1 && found.subject === `user:${person}`)
      await this.#requireFreshCode(person!, input?.totpCode);
    const { value, revision } = await this.#core.write(request, workspaceId, async (tx) => {
      const record = { action: "elevation.activate", target: `eligibility:${String(id)}` };
      await tx.requireMember(record);
      const row = await eligibilityRow(tx, id);
      if (row === undefined || person === undefined || row.subject !== `user:${person}`)
        throw notFound();
      if (row.require_2fa === 1 && found?.require_2fa !== 1)
        throw new GatehouseError(
          ErrorCode.CONFLICT,
          "the eligibility changed meanwhile; try again",
        );
      const durationMs = requireDuration(input?.durationMs, "durationMs", row.max_duration_ms);
      const subject = row.subject as `user:${string}`;
      const scope = row.scope as ResourceRef;
      const current = await storedGrant(tx, subject, scope);
      if (
        current?.expiresAt !== undefined &&
        current.expiresAt > tx.now &&
        isFrom(current, originOf(row.id))
      )
        throw new GatehouseError(
          ErrorCode.CONFLICT,
          `you are already elevated on ${scope} until ${new Date(current.expiresAt).toISOString()}`,
        );
      const until = tx.now + durationMs;
      const note = temporaryNote(originOf(row.id), until, "elevated", reason);
      // Over a standing role there, the grant falls back to it at `until`; an ended one makes way.
      const grant = await placeTemporaryGrant(tx, subject, { role: row.role, scope, until, note });
      tx.audit({
        action: "elevation.activate",
        target: subject,
        details: {
          eligibility: row.id,
          role: row.role,
          scope,
          until,
          reason,
          ...(grant.fallback === undefined ? {} : { fallback: grant.fallback }),
        },
      });
      // The engine takes the grant once the change commits.
      return grant;
    });
    return { grant: value, revision };
  }

  /**
   * Ends a live elevation before its time: by the elevated member, or by whoever may give its grant.
   * NOT_FOUND when the eligibility is not the caller's to see or is not active.
   */
  async deactivate(
    request: RequestContext,
    workspaceId: string,
    id: string,
  ): Promise<{ revision: number }> {
    const { revision } = await this.#core.write(request, workspaceId, async (tx) => {
      const record = { action: "elevation.end", target: `eligibility:${String(id)}` };
      await tx.requireMember(record);
      const row = await visibleEligibility(tx, id);
      const subject = row.subject as `user:${string}`;
      const caller = subjectOf(tx.request.actor);
      if (caller !== subject) requireDelegation(tx, row, { ...record, target: subject });
      const live = activeGrant(tx, row, tx.now);
      if (live === undefined)
        throw new GatehouseError(ErrorCode.NOT_FOUND, `${subject} is not elevated on ${row.scope}`);
      // The standing role it went over comes back; without one, the grant goes.
      const restored = await endTemporaryGrant(tx, subject, live.scope);
      tx.audit({
        action: "elevation.end",
        target: subject,
        details: {
          eligibility: row.id,
          role: row.role,
          scope: row.scope,
          until: live.expiresAt,
          fallback: restored ?? null,
        },
      });
    });
    return { revision };
  }

  async #requireFreshCode(userId: string, code: unknown): Promise<void> {
    if (code === undefined || code === null || code === "")
      throw new GatehouseError(
        ErrorCode.TOTP_REQUIRED,
        "this elevation needs the code from your authenticator app",
      );
    const status = await this.#twoFactor.status(userId);
    if (!status.enabled)
      throw new GatehouseError(
        ErrorCode.TOTP_ENROLLMENT_REQUIRED,
        "this elevation needs two-factor sign-in: set up an authenticator app first",
      );
    if (typeof code !== "string" || !(await this.#twoFactor.verify(userId, code)))
      throw new GatehouseError(ErrorCode.TOTP_INVALID, "that code is not valid; try the next one");
  }
}

/** The member's live elevation grant of this eligibility, if any. */
function activeGrant(
  reader: WorkspaceReader,
  row: EligibilitiesTable,
  now: number,
): Grant | undefined {
  const grant = reader.engine
    .grantsOf(row.subject as `user:${string}`)
    .find((candidate) => candidate.scope === row.scope && isFrom(candidate, originOf(row.id)));
  return grant?.expiresAt !== undefined && grant.expiresAt > now ? grant : undefined;
}

function eligibilityOf(reader: WorkspaceReader, row: EligibilitiesTable, now: number): Eligibility {
  const live = activeGrant(reader, row, now);
  return {
    id: row.id,
    subject: row.subject as `user:${string}`,
    role: row.role,
    scope: row.scope as ResourceRef,
    maxDurationMs: Number(row.max_duration_ms),
    require2fa: row.require_2fa === 1,
    createdAt: Number(row.created_at),
    createdBy: row.created_by,
    active: live === undefined ? null : { until: live.expiresAt ?? 0, note: live.note ?? "" },
  };
}

/** Own eligibilities, and those the caller could set; everything else answers as nonexistent. */
function isVisible(reader: WorkspaceReader, row: EligibilitiesTable): boolean {
  const caller = subjectOf(reader.request.actor);
  if (caller === undefined || caller === row.subject) return true;
  if (
    !reader.engine.hasResource(row.scope) ||
    !reader.engine.reaches(caller, row.scope as ResourceRef)
  )
    return false;
  return reader.engine.canGrant(caller, row.role, row.scope as ResourceRef, []).allowed;
}

async function eligibilityRow(
  tx: WorkspaceWriter,
  id: unknown,
): Promise<EligibilitiesTable | undefined> {
  if (typeof id !== "string") return undefined;
  return tx.trx
    .selectFrom("eligibilities")
    .selectAll()
    .where("workspace_id", "=", tx.workspace.id)
    .where("id", "=", id)
    .executeTakeFirst();
}

async function visibleEligibility(
  tx: WorkspaceWriter,
  id: unknown,
): Promise<EligibilitiesTable & { scope: ResourceRef }> {
  const row = await eligibilityRow(tx, id);
  const caller = subjectOf(tx.request.actor);
  // Someone else's eligibility out of the caller's reach answers exactly as a missing one.
  if (
    row === undefined ||
    (caller !== undefined &&
      caller !== row.subject &&
      !(tx.engine.hasResource(row.scope) && tx.engine.reaches(caller, row.scope as ResourceRef)))
  )
    throw notFound();
  return row as EligibilitiesTable & { scope: ResourceRef };
}

async function requireMemberSubject(tx: WorkspaceWriter, subject: string): Promise<void> {
  if (subject.startsWith("user:")) {
    const member = await tx.trx
      .selectFrom("members")
      .select("user_id")
      .where("workspace_id", "=", tx.workspace.id)
      .where("user_id", "=", subject.slice(5))
      .executeTakeFirst();
    if (member !== undefined) return;
  }
  throw new GatehouseError(
    ErrorCode.MEMBER_NOT_FOUND,
    'subject is a member of this workspace, as "user:<id>"',
  );
}
