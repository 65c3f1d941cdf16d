import { type Engine, GatehouseError, type Grant, type ResourceRef } from "@gatehouse/engine";
import type { WorkspaceWriter } from "../service-core.ts";
import { ErrorCode } from "../support/error-codes.ts";
import { parseExtras } from "../sync/load-engine.ts";
import { deleteGrant, insertGrant } from "./members.ts";

/**
 * Where a temporary grant came from: an eligibility's activation (an elevation), or an approved
 * access request (support access included). Its note names it, and it is found again by it.
 */
export interface GrantOrigin {
  readonly kind: "eligibility" | "request";
  readonly id: string;
}

/** The role (and extras) a temporary grant falls back to: the member's standing role there. */
export interface StandingRole {
  readonly role: string;
  readonly extras: readonly string[];
}

/**
 * The note a temporary grant carries — what `explain` names — in one format for every origin.
 * @example
 * temporaryNote({ kind: "request", id }, until, "requested by user:cara, approved by user:ada", reason);
 * // "requested by user:cara, approved by user:ada until 2026-12-07T15:00:00.000Z (request arq_1): reason"
 */
export function temporaryNote(
  origin: GrantOrigin,
  until: number,
  lead: string,
  reason: string,
): string {
  return `${lead} until ${new Date(until).toISOString()} (${origin.kind} ${origin.id}): ${reason}`;
}

/** Whether a grant's note names this origin. */
export function isFrom(
  grant: { readonly note?: string | undefined },
  origin: GrantOrigin,
): boolean {
  return grant.note?.includes(`(${origin.kind} ${origin.id})`) === true;
}

/** A grant as stored: a temporary one with its fallback, even past its end. */
export interface StoredGrant {
  readonly role: string;
  readonly extras: readonly string[];
  readonly expiresAt: number | undefined;
  readonly note: string | undefined;
  readonly fallback: StandingRole | undefined;
}

/** The grant `subject` holds at `scope` as stored, inside the write. */
export async function storedGrant(
  tx: WorkspaceWriter,
  subject: string,
  scope: string,
): Promise<StoredGrant | undefined> {
  const row = await tx.trx
    .selectFrom("grants")
    .select(["role", "extras", "expires_at", "note", "fallback_role", "fallback_extras"])
    .where("workspace_id", "=", tx.workspace.id)
    .where("subject", "=", subject)
    .where("scope", "=", scope)
    .executeTakeFirst();
  if (row === undefined) return undefined;
  return {
    role: row.role,
    extras: parseExtras(row.extras),
    expiresAt: row.expires_at ?? undefined,
    note: row.note ?? undefined,
    fallback:
      row.fallback_role === null
        ? undefined
        : { role: row.fallback_role, extras: parseExtras(row.fallback_extras) },
  };
}

/** The permissions a role gives; `undefined` for an unknown role or the owner's (never given). */
export function permissionsOfRole(engine: Engine, role: string): readonly string[] | undefined {
  const definition = engine.model.definition.roles[role];
  return definition === undefined || definition.owner === true
    ? undefined
    : (definition.permissions ?? []);
}

/**
 * Refuses a temporary `role` over what `held` gives at `scope` now: ROLE_CONFLICT while another
 * temporary grant lasts there; ROLE_NOT_ABOVE_STANDING when the standing role already gives
 * every permission of `role` (an elevation to it would change nothing). Answers the standing role
 * the temporary one will fall back to, if any.
 */
export function requireRoomFor(
  engine: Engine,
  held: Pick<Grant, "role" | "extras" | "expiresAt"> | undefined,
  wanted: { readonly role: string; readonly scope: string; readonly subject: string },
  now: number,
): StandingRole | undefined {
  if (held === undefined || (held.expiresAt !== undefined && held.expiresAt <= now))
    return undefined;
  if (held.expiresAt !== undefined)
    throw new GatehouseError(
      ErrorCode.ROLE_CONFLICT,
      `${wanted.subject} already holds role "${held.role}" on ${wanted.scope} until ${new Date(held.expiresAt).toISOString()}; end it first`,
      { details: { currentRole: held.role } },
    );
  const standing = permissionsOfRole(engine, held.role);
  if (
    standing === undefined ||
    (permissionsOfRole(engine, wanted.role) ?? []).every(
      (permission) => standing.includes(permission) || held.extras.includes(permission),
    )
  )
    throw new GatehouseError(
      ErrorCode.ROLE_NOT_ABOVE_STANDING,
      `${wanted.subject} already holds role "${held.role}" on ${wanted.scope}, which gives everything "${wanted.role}" gives`,
      { details: { currentRole: held.role } },
    );
  return { role: held.role, extras: [...held.extras] };
}

/**
 * Gives `subject` a temporary `role` at `scope` until `until`, noted with its origin. Where they
 * hold a standing role, one grant replaces it — the temporary role, keeping the standing extras,
 * then the standing role again from `until` on — so one role per member per resource holds at
 * every instant; a temporary grant that already ended there makes way (its fallback is the
 * standing role). Answers the grant as the engine will hold it once the change commits.
 */
export async function placeTemporaryGrant(
  tx: WorkspaceWriter,
  subject: `user:${string}`,
  wanted: {
    readonly role: string;
    readonly scope: ResourceRef;
    readonly until: number;
    readonly note: string;
  },
): Promise<Grant> {
  const stored = await storedGrant(tx, subject, wanted.scope);
  let standing: StandingRole | undefined;
  if (stored !== undefined) {
    const ended = stored.expiresAt !== undefined && stored.expiresAt <= tx.now;
    const held = ended ? stored.fallback && { ...stored.fallback, expiresAt: undefined } : stored;
    standing = requireRoomFor(tx.engine, held, { ...wanted, subject }, tx.now);
    await deleteGrant(tx, subject, wanted.scope);
  }
  const grant = {
    role: wanted.role,
    scope: wanted.scope,
    extras: standing?.extras ?? [],
    expiresAt: wanted.until,
    note: wanted.note,
    ...(standing === undefined ? {} : { fallback: standing }),
  };
  await insertGrant(tx, subject, grant);
  return { subject, ...grant };
}

/**
 * Ends the temporary grant `subject` holds at `scope` now: its fallback (the standing role) takes
 * its place, or it goes. `onlyIfExpiresAt` makes it conditional on the stored end (the sweeper:
 * of two racing, one ends it). Answers what it fell back to (`null` for nothing), or `undefined`
 * when there was no such grant.
 */
export async function endTemporaryGrant(
  tx: WorkspaceWriter,
  subject: `user:${string}` | `group:${string}`,
  scope: ResourceRef,
  onlyIfExpiresAt?: number,
): Promise<StandingRole | null | undefined> {
  const stored = await storedGrant(tx, subject, scope);
  if (
    stored === undefined ||
    stored.expiresAt === undefined ||
    (onlyIfExpiresAt !== undefined && stored.expiresAt !== onlyIfExpiresAt)
  )
    return undefined;
  const matching = tx.trx
    .updateTable("grants")
    .where("workspace_id", "=", tx.workspace.id)
    .where("subject", "=", subject)
    .where("scope", "=", scope)
    .where("expires_at", "=", stored.expiresAt);
  if (stored.fallback === undefined) {
    const result = await tx.trx
      .deleteFrom("grants")
      .where("workspace_id", "=", tx.workspace.id)
      .where("subject", "=", subject)
      .where("scope", "=", scope)
      .where("expires_at", "=", stored.expiresAt)
      .executeTakeFirst();
    if (Number(result.numDeletedRows) !== 1) return undefined;
    tx.apply({ op: "grant.remove", subject, scope });
    return null;
  }
  const fallback = stored.fallback;
  const result = await matching
    .set({
      role: fallback.role,
      extras: JSON.stringify(fallback.extras),
      expires_at: null,
      note: null,
      fallback_role: null,
      fallback_extras: null,
    })
    .executeTakeFirst();
  if (Number(result.numUpdatedRows) !== 1) return undefined;
  tx.apply({ op: "grant.remove", subject, scope });
  tx.apply({
    op: "grant.add",
    grant: { subject, scope, role: fallback.role, extras: [...fallback.extras] },
  });
  return fallback;
}
