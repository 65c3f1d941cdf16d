import { isGatehouseError, type ResourceRef } from "@gatehouse/engine";
import type { ServiceCore, WorkspaceWriter } from "../service-core.ts";
import { ErrorCode } from "../support/error-codes.ts";
import { EXPIRY_SWEEPER, endSupportIfOver } from "./membership.ts";
import { endTemporaryGrant } from "./temporary-grants.ts";

/** What one sweep did. */
export interface SweepResult {
  /** Grants past their end replaced by their fallback or removed, one activity entry each. */
  readonly grantsEnded: number;
  /** Support-only members whose support access ended, removed. */
  readonly supportEnded: number;
  /** Workspaces whose sweep failed (a database fault); the next sweep tries them again. */
  readonly failed: number;
}

/**
 * Tidies what ended by the clock (#18): a temporary grant past its `expiresAt` (an elevation, an
 * approved access request, support access, any expiring grant) is replaced by its fallback — the
 * standing role it went over — or removed, with a `grant.expire` entry in the activity log; a
 * support person who was a member only through support access stops being one. Decisions never
 * wait for it: the engine applies an expiry by its clock. One write per workspace, each end
 * conditional on the stored grant, so sweepers on several instances write each entry once.
 */
export class Expiries {
  readonly #core: ServiceCore;

  constructor(core: ServiceCore) {
    this.#core = core;
  }

  /**
   * Sweeps every workspace with something past its end. A workspace whose write fails is counted
   * in `failed` and left for the next sweep; the others go on.
   * @example
   * const { grantsEnded } = await gatehouse.expiries.sweep();
   */
  async sweep(): Promise<SweepResult> {
    const now = this.#core.clock();
    const db = this.#core.db;
    const [grants, members] = await Promise.all([
      db
        .selectFrom("grants")
        .select("workspace_id")
        .distinct()
        .where("expires_at", "is not", null)
        .where("expires_at", "<=", now)
        .execute(),
      db
        .selectFrom("members")
        .select("workspace_id")
        .distinct()
        .where("support_until", "is not", null)
        .where("support_until", "<=", now)
        .execute(),
    ]);
    const workspaces = [...new Set([...grants, ...members].map((row) => row.workspace_id))].sort();
    let grantsEnded = 0;
    let supportEnded = 0;
    let failed = 0;
    for (const workspaceId of workspaces) {
      try {
        const { value } = await this.#core.write(EXPIRY_SWEEPER, workspaceId, (tx) =>
          sweepWorkspace(tx),
        );
        grantsEnded += value.grantsEnded;
        supportEnded += value.supportEnded;
      } catch (error) {
        // A closed workspace keeps its rows as they were; anything else is tried again next time.
        if (isGatehouseError(error) && error.code === ErrorCode.WORKSPACE_CLOSED) continue;
        if (isGatehouseError(error) && error.code === ErrorCode.WORKSPACE_NOT_FOUND) continue;
        failed++;
      }
    }
    return { grantsEnded, supportEnded, failed };
  }
}

async function sweepWorkspace(
  tx: WorkspaceWriter,
): Promise<{ grantsEnded: number; supportEnded: number }> {
  const ended = await tx.trx
    .selectFrom("grants")
    .select(["subject", "scope", "role", "expires_at", "note"])
    .where("workspace_id", "=", tx.workspace.id)
    .where("expires_at", "is not", null)
    .where("expires_at", "<=", tx.now)
    .orderBy("subject")
    .orderBy("scope")
    .execute();
  let grantsEnded = 0;
  for (const row of ended) {
    const subject = row.subject as `user:${string}` | `group:${string}`;
    const scope = row.scope as ResourceRef;
    // Conditional on the stored end: a grant renewed or ended meanwhile is not this one.
    const fallback = await endTemporaryGrant(tx, subject, scope, row.expires_at!);
    if (fallback === undefined) continue;
    grantsEnded++;
    tx.audit({
      action: "grant.expire",
      target: subject,
      details: {
        role: row.role,
        scope,
        until: row.expires_at,
        ...(row.note === null ? {} : { note: row.note }),
        fallback,
      },
    });
  }
  const support = await tx.trx
    .selectFrom("members")
    .select(["user_id", "support_until"])
    .where("workspace_id", "=", tx.workspace.id)
    .where("support_until", "is not", null)
    .where("support_until", "<=", tx.now)
    .orderBy("user_id")
    .execute();
  for (const member of support) await endSupportIfOver(tx, member);
  return { grantsEnded, supportEnded: support.length };
}
