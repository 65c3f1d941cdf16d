import { GatehouseError, type GranteeRef, type Model, type ResourceRef } from "@gatehouse/engine";
import type { Kysely } from "kysely";
import { systemActor } from "../actor.ts";
import { actorLabel } from "../audit/actor-label.ts";
import type { Database } from "../database/schema.ts";
import type { ServiceCore, WorkspaceRow, WorkspaceWriter } from "../service-core.ts";
import { ErrorCode } from "../support/error-codes.ts";

/** The policy switch in force: the workspace's own setting, else the model's. */
export function isOneWorkspacePerEmail(core: ServiceCore, row: WorkspaceRow): boolean {
  return row.one_workspace_per_email === null
    ? core.modelOf(row.preset).policy.oneWorkspacePerEmail
    : row.one_workspace_per_email === 1;
}

/**
 * The refusal of a grant, invitation or approval of the owner role, pointing to the path this
 * model has: the owner's self-service transfer, or the host's support where transfer is not
 * self-service.
 */
export function ownerRoleNotGranted(model: Model): GatehouseError {
  return new GatehouseError(
    ErrorCode.OWNER_ROLE_NOT_GRANTED,
    model.policy.selfServiceTransfer
      ? `the owner role "${model.ownerRole}" is not granted: there is one owner, who hands it over with "Transfer ownership" (POST /v1/workspaces/{ws}/transfer-ownership)`
      : `the owner role "${model.ownerRole}" is not granted: there is one owner, and in this workspace ownership is handed over only through the host's support`,
  );
}

/**
 * Refuses another person in a personal workspace its model keeps to its owner (policy
 * `personalShareable: false`, e.g. the hosting-customer personal team): invitations, join requests
 * and every join answer PERSONAL_WORKSPACE_NOT_SHAREABLE.
 */
export function assertShareable(core: ServiceCore, row: WorkspaceRow): void {
  if (row.personal === 1 && !core.modelOf(row.preset).policy.personalShareable)
    throw new GatehouseError(
      ErrorCode.PERSONAL_WORKSPACE_NOT_SHAREABLE,
      "this is a personal workspace, which cannot be shared with other users; create a workspace to work with others",
    );
}

/** The member limit of a plan; `null` for none. */
export function memberLimit(model: Model, plan: string | null): number | null {
  if (plan === null) return null;
  return model.definition.plans?.[plan]?.maxMembers ?? null;
}

/**
 * Members plus pending, unexpired invitations: what the plan's member limit counts. A support
 * person there through support access (docs/support-access.md) takes no seat.
 */
export async function seatsTaken(
  trx: Kysely<Database>,
  workspaceId: string,
  now: number,
): Promise<number> {
  const members = await trx
    .selectFrom("members")
    .select((eb) => eb.fn.countAll<number>().as("count"))
    .where("workspace_id", "=", workspaceId)
    .where("support_until", "is", null)
    .executeTakeFirstOrThrow();
  const pending = await trx
    .selectFrom("invitations")
    .select((eb) => eb.fn.countAll<number>().as("count"))
    .where("workspace_id", "=", workspaceId)
    .where("accepted_at", "is", null)
    .where("revoked_at", "is", null)
    .where("expires_at", ">", now)
    .executeTakeFirstOrThrow();
  return Number(members.count) + Number(pending.count);
}

/**
 * Refuses a new member where the plan is full or, under the one-workspace-per-email policy,
 * where the user is already active in another such workspace. Locks the user's row so that
 * concurrent joins of one user serialize. A direct join (`countingSelf`, not by accepting an
 * invitation) fulfils any pending invitation to the user's email, which gives its seat back.
 */
export async function assertMayJoin(
  tx: WorkspaceWriter,
  userId: string,
  { countingSelf }: { countingSelf: boolean },
): Promise<{ releasedInvitations: number }> {
  const core = tx.core;
  const row = tx.workspace;
  assertShareable(core, row);
  const user = await tx.trx
    .selectFrom("users")
    .select(["id", "email"])
    .where("id", "=", userId)
    .$if(core.storage.locksRows, (query) => query.forUpdate())
    .executeTakeFirst();
  if (user === undefined) throw new GatehouseError(ErrorCode.USER_NOT_FOUND, "no such user");
  const already = await tx.trx
    .selectFrom("members")
    .select(["user_id", "support_until"])
    .where("workspace_id", "=", row.id)
    .where("user_id", "=", userId)
    .executeTakeFirst();
  if (already !== undefined && !(await endSupportIfOver(tx, already)))
    throw new GatehouseError(ErrorCode.ALREADY_MEMBER, "already a member of this workspace");
  let releasedInvitations = 0;
  if (countingSelf) {
    const released = await tx.trx
      .updateTable("invitations")
      .set({ revoked_at: tx.now })
      .where("workspace_id", "=", row.id)
      .where("email", "=", user.email)
      .where("accepted_at", "is", null)
      .where("revoked_at", "is", null)
      .where("expires_at", ">", tx.now)
      .executeTakeFirst();
    releasedInvitations = Number(released.numUpdatedRows);
  }
  const limit = memberLimit(tx.model, row.plan);
  if (
    limit !== null &&
    (await seatsTaken(tx.trx, row.id, tx.now)) + (countingSelf ? 1 : 0) > limit
  ) {
    throw new GatehouseError(
      ErrorCode.MEMBER_LIMIT_REACHED,
      `the ${row.plan} plan allows ${limit} members; upgrade the plan to add more`,
    );
  }
  if (isOneWorkspacePerEmail(core, row)) {
    const others = await tx.trx
      .selectFrom("members")
      .innerJoin("workspaces", "workspaces.id", "members.workspace_id")
      .selectAll("workspaces")
      .where("members.user_id", "=", userId)
      .where("workspaces.id", "!=", row.id)
      .where("workspaces.closed_at", "is", null)
      .execute();
    if (others.some((other) => isOneWorkspacePerEmail(core, other))) {
      throw new GatehouseError(
        ErrorCode.ONE_WORKSPACE_PER_EMAIL,
        "this email is already an active member of another workspace, and may be active in only one",
      );
    }
  }
  return { releasedInvitations };
}

/** Adds a member with their first grants, in the caller's transaction. */
export async function addMember(
  tx: WorkspaceWriter,
  userId: string,
  grants: readonly { role: string; scope: ResourceRef; extras?: readonly string[] }[],
): Promise<void> {
  await tx.trx
    .insertInto("members")
    .values({ workspace_id: tx.workspace.id, user_id: userId, joined_at: tx.now })
    .execute();
  for (const grant of grants) {
    const input = {
      subject: `user:${userId}` as GranteeRef,
      role: grant.role,
      scope: grant.scope,
      extras: grant.extras ?? [],
    };
    tx.engine.validateGrant(input);
    await tx.trx
      .insertInto("grants")
      .values({
        workspace_id: tx.workspace.id,
        subject: input.subject,
        scope: input.scope,
        role: input.role,
        extras: JSON.stringify(input.extras),
        expires_at: null,
        created_at: tx.now,
        created_by: actorLabel(tx.request),
      })
      .execute();
    tx.apply({ op: "grant.add", grant: input });
  }
}

/** The actor that entries of ends by the clock name (the sweeper's, and the same tidy-up elsewhere). */
export const EXPIRY_SWEEPER = systemActor("expiry-sweeper");

/**
 * Removes a support person whose support access ended (`support_until` passed), with the
 * `support_access.end` entry the expiry sweeper writes — by the sweeper, whoever's change found it.
 * The sweep calls it for every such member; a change that is about to refuse someone as "already a
 * member" calls it first, so that the person counts as gone from their end on, not from the next
 * sweep. Answers whether the member was removed.
 */
export async function endSupportIfOver(
  tx: WorkspaceWriter,
  member: { readonly user_id: string; readonly support_until: number | null },
): Promise<boolean> {
  if (member.support_until === null || member.support_until > tx.now) return false;
  await removeMemberRows(tx, member.user_id);
  tx.audit({
    action: "support_access.end",
    target: `user:${member.user_id}`,
    details: { until: member.support_until },
    by: EXPIRY_SWEEPER,
  });
  return true;
}

/**
 * Removes a member's rows — membership, direct grants, group memberships — and revokes the API
 * keys they own: access ends at once. Their records and the activity log stay.
 */
export async function removeMemberRows(tx: WorkspaceWriter, userId: string): Promise<void> {
  const ws = tx.workspace.id;
  const subject = `user:${userId}` as const;
  await tx.trx
    .deleteFrom("members")
    .where("workspace_id", "=", ws)
    .where("user_id", "=", userId)
    .execute();
  await tx.trx
    .deleteFrom("grants")
    .where("workspace_id", "=", ws)
    .where("subject", "=", subject)
    .execute();
  await tx.trx
    .deleteFrom("group_members")
    .where("workspace_id", "=", ws)
    .where("user_id", "=", userId)
    .execute();
  // Eligibilities (#18) go with the membership: rejoining never revives them.
  await tx.trx
    .deleteFrom("eligibilities")
    .where("workspace_id", "=", ws)
    .where("subject", "=", subject)
    .execute();
  await tx.trx
    .updateTable("api_keys")
    .set({ revoked_at: tx.now })
    .where("workspace_id", "=", ws)
    .where("owner_user_id", "=", userId)
    .where("revoked_at", "is", null)
    .execute();
  tx.apply({ op: "subject.remove", subject });
}
