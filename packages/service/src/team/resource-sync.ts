import {
  type ChangeOp,
  createEngine,
  GatehouseError,
  Issues,
  type ResourceRef,
} from "@gatehouse/engine";
import type { WorkspaceWriter } from "../service-core.ts";
import { ErrorCode } from "../support/error-codes.ts";
import { isResourceName, typeOf } from "../support/validation.ts";
import { removeMemberRows } from "./membership.ts";

/** At most this many resources (and deletions) in one sync: one transaction, one revision. */
export const MAX_SYNC_RESOURCES = 250_000;

/** What the host app sends: its tree (or part of it), deletions, and what to reconcile. */
export interface SyncInput {
  /** Resources with their parents, in any order: added, moved, or already where they are. */
  readonly resources: readonly { readonly resource: string; readonly parent: string }[];
  /** Resources to delete with their subtrees; one that does not exist is already deleted. */
  readonly delete?: readonly string[];
  /**
   * Makes `resources` the truth for one type: every resource of `type` at or below `under` (the
   * workspace root by default) that is not among them is deleted with its subtree.
   */
  readonly reconcile?: { readonly type: string; readonly under?: string };
  /** Answers the difference and changes nothing. */
  readonly dryRun?: boolean;
}

/** The difference a sync makes (or would make, in a dry run). */
export interface SyncResult {
  readonly dryRun: boolean;
  readonly added: number;
  readonly unchanged: number;
  readonly moved: readonly {
    readonly resource: string;
    readonly from: string;
    readonly to: string;
  }[];
  /** The deleted resources, each with its whole subtree. */
  readonly deleted: readonly string[];
  /** Grants on deleted resources, which go with them. */
  readonly droppedGrants: readonly {
    readonly subject: string;
    readonly role: string;
    readonly scope: string;
  }[];
}

/** Resources ordered so that each parent named in the batch comes before its children. */
function parentsFirst(
  items: readonly { resource: ResourceRef; parent: ResourceRef; index: number }[],
  issues: Issues,
): typeof items {
  const byName = new Map(items.map((item) => [item.resource as string, item]));
  const ordered: (typeof items)[number][] = [];
  const state = new Map<string, "visiting" | "done">();
  for (const start of items) {
    // Walk up through parents in the batch, then place them from the top down.
    const chain: (typeof items)[number][] = [];
    let item: (typeof items)[number] | undefined = start;
    while (item !== undefined && state.get(item.resource) === undefined) {
      state.set(item.resource, "visiting");
      chain.push(item);
      item = byName.get(item.parent);
    }
    if (item !== undefined && state.get(item.resource) === "visiting") {
      issues.push({
        path: `resources[${item.index}]`,
        message: `${item.resource} is its own ancestor through the batch (a cycle)`,
      });
    }
    for (let index = chain.length - 1; index >= 0; index--) {
      state.set(chain[index]!.resource, "done");
      ordered.push(chain[index]!);
    }
  }
  return ordered;
}

/** The problem in `error`, for an issue; anything but a Gatehouse error is a bug and rethrown. */
function messageOf(error: unknown): string {
  if (error instanceof GatehouseError) return error.message;
  throw error;
}

/**
 * Plans a sync against the workspace as it is, validating it as a whole on a scratch copy of the
 * tree with the engine's own rules, and — unless a dry run — writes it: rows in chunks, one audit
 * entry, engine ops applied after commit. All or nothing: any problem throws with every issue.
 */
export async function syncResources(tx: WorkspaceWriter, input: SyncInput): Promise<SyncResult> {
  const issues = new Issues();
  const engine = tx.engine;
  const items: { resource: ResourceRef; parent: ResourceRef; index: number }[] = [];
  const seen = new Map<string, number>();
  input.resources.forEach((entry, index) => {
    const { resource, parent } = entry;
    if (!isResourceName(resource) || !isResourceName(parent)) {
      issues.push({
        path: `resources[${index}]`,
        message: "resources and parents are named type:id",
      });
      return;
    }
    const first = seen.get(resource);
    if (first !== undefined) {
      issues.push({
        path: `resources[${index}]`,
        message: `${resource} is listed twice (first at resources[${first}])`,
      });
      return;
    }
    seen.set(resource, index);
    items.push({ resource: resource as ResourceRef, parent: parent as ResourceRef, index });
  });
  // Rows already where they are need nothing: only the others are ordered and validated.
  const pending = items.filter((item) => engine.parentOf(item.resource) !== item.parent);
  const unchanged = items.length - pending.length;
  const ordered = parentsFirst(pending, issues);

  // A scratch tree of the workspace as it is, to apply the changes to with the engine's rules (the
  // live tree itself when nothing moves or arrives: it is only read then).
  const root = tx.root;
  const scratch =
    pending.length === 0
      ? engine
      : createEngine(tx.model, {
          workspace: tx.workspace.id,
          resources: engine
            .subtreeOf(root)
            .filter((resource) => resource !== root)
            .map((resource) => ({ resource, parent: engine.parentOf(resource)! })),
        });
  let added = 0;
  const moved: { resource: string; from: string; to: string }[] = [];
  const upserts: ChangeOp[] = [];
  for (const item of ordered) {
    const previous = scratch.parentOf(item.resource);
    try {
      scratch.upsertResource(item.resource, item.parent);
    } catch (error) {
      issues.push({ path: `resources[${item.index}]`, message: messageOf(error) });
      continue;
    }
    if (previous === undefined) added++;
    else moved.push({ resource: item.resource, from: previous, to: item.parent });
    upserts.push({ op: "resource.upsert", resource: item.resource, parent: item.parent });
  }

  // Deletions: those named, and for a reconcile every resource of the type not in the batch.
  const doomed = new Set<ResourceRef>();
  (input.delete ?? []).forEach((resource, index) => {
    if (seen.has(resource)) {
      issues.push({
        path: `delete[${index}]`,
        message: `${resource} is also among the resources to keep`,
      });
    } else if (resource === root) {
      issues.push({
        path: `delete[${index}]`,
        message: "the workspace root is removed by closing the workspace",
      });
    } else if (scratch.hasResource(resource)) doomed.add(resource as ResourceRef);
  });
  if (input.reconcile !== undefined) {
    const { type, under = root } = input.reconcile;
    if (!tx.model.types.includes(type)) {
      issues.push({ path: "reconcile.type", message: `unknown resource type "${type}"` });
    } else if (!scratch.hasResource(under)) {
      issues.push({ path: "reconcile.under", message: `no resource ${under} in this workspace` });
    } else {
      for (const resource of scratch.subtreeOf(under as ResourceRef)) {
        if (typeOf(resource) === type && !seen.has(resource) && resource !== root)
          doomed.add(resource);
      }
    }
  }
  issues.throwIfAny(ErrorCode.INVALID_INPUT, "the sync was refused, nothing changed");
  // Delete whole subtrees once: skip a doomed resource below another doomed one.
  const deletions = [...doomed].filter((resource) => {
    for (
      let parent = scratch.parentOf(resource);
      parent !== undefined;
      parent = scratch.parentOf(parent)
    )
      if (doomed.has(parent)) return false;
    return true;
  });
  const deleted: ResourceRef[] = [];
  for (const resource of deletions) deleted.push(...scratch.subtreeOf(resource));
  // Every resource of the batch must survive the deletions (not be below a deleted one).
  const gone = new Set<string>(deleted);
  for (const item of items) {
    if (gone.has(item.resource)) {
      issues.push({
        path: `resources[${item.index}]`,
        message: `${item.resource} would be deleted with an ancestor`,
      });
    }
  }
  issues.throwIfAny(ErrorCode.INVALID_INPUT, "the sync was refused, nothing changed");
  const owner = engine.ownerGrant;
  if (owner !== undefined && gone.has(owner.scope))
    throw new GatehouseError(ErrorCode.LAST_OWNER, "the owner's scope cannot be deleted");
  const droppedGrants: SyncResult["droppedGrants"][number][] = [];
  if (gone.size > 0) {
    for (const grant of engine.grants())
      if (gone.has(grant.scope))
        droppedGrants.push({ subject: grant.subject, role: grant.role, scope: grant.scope });
  }
  const result: SyncResult = {
    dryRun: input.dryRun === true,
    added,
    unchanged,
    moved,
    deleted,
    droppedGrants,
  };
  if (input.dryRun === true || (upserts.length === 0 && deleted.length === 0)) return result;

  const ws = tx.workspace.id;
  const trx = tx.trx;
  const fresh = upserts.filter(
    (op) => op.op === "resource.upsert" && !engine.hasResource(op.resource),
  );
  for (let start = 0; start < fresh.length; start += 500) {
    await trx
      .insertInto("resources")
      .values(
        fresh.slice(start, start + 500).map((op) => {
          const upsert = op as Extract<ChangeOp, { op: "resource.upsert" }>;
          return {
            workspace_id: ws,
            resource: upsert.resource,
            parent: upsert.parent,
            created_at: tx.now,
          };
        }),
      )
      .execute();
  }
  for (const move of moved) {
    await trx
      .updateTable("resources")
      .set({ parent: move.to })
      .where("workspace_id", "=", ws)
      .where("resource", "=", move.resource)
      .execute();
  }
  for (let start = 0; start < deleted.length; start += 500) {
    const chunk = deleted.slice(start, start + 500);
    await trx
      .deleteFrom("grants")
      .where("workspace_id", "=", ws)
      .where("scope", "in", chunk)
      .execute();
    await trx
      .deleteFrom("resources")
      .where("workspace_id", "=", ws)
      .where("resource", "in", chunk)
      .execute();
  }
  for (const op of upserts) tx.apply(op);
  for (const resource of deletions) tx.apply({ op: "resource.delete", resource });
  const membersRemoved = await removeStrandedMembers(tx, gone);
  tx.audit({
    action: "resource.sync",
    target: input.reconcile?.under ?? root,
    details: {
      added,
      moved: moved.length,
      deleted: deleted.length,
      droppedGrants: droppedGrants.length,
      membersRemoved,
      ...(input.reconcile === undefined ? {} : { reconcile: input.reconcile.type }),
    },
  });
  return result;
}

/**
 * A member is a user with a grant: those whose every grant was on deleted resources, and who are in
 * no group, leave the workspace with them (their API keys die too). Answers who left.
 */
export async function removeStrandedMembers(
  tx: WorkspaceWriter,
  deletedScopes: ReadonlySet<string>,
): Promise<string[]> {
  if (deletedScopes.size === 0) return [];
  const affected = new Set<string>();
  for (const grant of tx.engine.grants()) {
    if (deletedScopes.has(grant.scope) && grant.subject.startsWith("user:"))
      affected.add(grant.subject.slice(5));
  }
  const leaving: string[] = [];
  for (const userId of affected) {
    const keeps = tx.engine
      .grantsOf(`user:${userId}`)
      .some((grant) => !deletedScopes.has(grant.scope));
    const grouped = await tx.trx
      .selectFrom("group_members")
      .select("user_id")
      .where("workspace_id", "=", tx.workspace.id)
      .where("user_id", "=", userId)
      .executeTakeFirst();
    if (!keeps && grouped === undefined) {
      await removeMemberRows(tx, userId);
      leaving.push(userId);
    }
  }
  return leaving;
}
