import {
  type ApiKeyInput,
  GatehouseError,
  type GrantInput,
  type ResourceRef,
} from "@gatehouse/engine";
import type { RequestContext } from "../actor.ts";
import type { ServiceCore, WorkspaceReader } from "../service-core.ts";
import { ErrorCode } from "../support/error-codes.ts";
import { loadEngineState, readChanges, type StoredChange } from "../sync/load-engine.ts";
import { readWorkspaceRoles, type WorkspaceRole } from "../team/workspace-roles.ts";

/** One committed revision of a workspace with the engine ops it applied. */
export type Change = StoredChange;

export interface ChangePage {
  /** In revision order, after the revision asked for. */
  readonly changes: readonly Change[];
  /** The workspace's revision when the page was read. */
  readonly revision: number;
}

/**
 * Everything a workspace's engine is built from, at one revision: load it into an engine, then
 * apply the changes after `revision` to stay current (what the client SDK's local cache does).
 */
export interface WorkspaceSnapshot {
  readonly workspaceId: string;
  readonly preset: string;
  readonly revision: number;
  readonly resources: readonly { readonly resource: ResourceRef; readonly parent: ResourceRef }[];
  readonly grants: readonly GrantInput[];
  readonly groups: readonly {
    readonly group: `group:${string}`;
    readonly members: readonly `user:${string}`[];
  }[];
  /** The live keys: ids, owners, permission patterns and resources — never secrets. */
  readonly apiKeys: readonly ApiKeyInput[];
  /** The workspace's own roles (docs/workspace-roles.md): its model is the preset's plus these. */
  readonly roles: readonly WorkspaceRole[];
}

const MAX_PAGE = 1_000;

/**
 * The change stream of a workspace: its committed revisions with their engine ops, and a
 * snapshot to start from. Both reveal every grant, so both need the team gate.
 */
export class Changes {
  readonly #core: ServiceCore;

  constructor(core: ServiceCore) {
    this.#core = core;
  }

  /**
   * The changes after revision `after` (at most `limit`, 1000 by default), in order. A revision
   * the workspace has not reached is INVALID_INPUT.
   * @example
   * const { changes, revision } = await gatehouse.changes.list(asUser(admin), ws, { after: 41 });
   */
  async list(
    request: RequestContext,
    workspaceId: string,
    query: { after: number; limit?: number },
  ): Promise<ChangePage> {
    const limit = query.limit ?? MAX_PAGE;
    if (!Number.isSafeInteger(query.after) || query.after < 0)
      throw new GatehouseError(ErrorCode.INVALID_INPUT, "after is a revision: a whole number ≥ 0");
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE)
      throw new GatehouseError(ErrorCode.INVALID_INPUT, `limit is 1–${MAX_PAGE}`);
    const reader = await this.#gated(request, workspaceId);
    // Reading through to `after` refuses a revision the workspace has not reached.
    const { revision } =
      query.after > reader.workspace.revision
        ? await this.#core.current(workspaceId, { atLeastRevision: query.after })
        : reader.workspace;
    const changes = await readChanges(this.#core.db, workspaceId, { after: query.after, limit });
    return { changes, revision: Math.max(revision, changes.at(-1)?.revision ?? 0) };
  }

  /**
   * The workspace's engine state at its current revision, from one database snapshot.
   * @example
   * const snapshot = await gatehouse.changes.snapshot(asUser(admin), ws);
   * const engine = createEngine(presets[snapshot.preset], { workspace: ws, ...snapshot, groups: … });
   */
  async snapshot(request: RequestContext, workspaceId: string): Promise<WorkspaceSnapshot> {
    await this.#gated(request, workspaceId);
    return this.#core.storage.snapshot(async (trx) => {
      const row = await this.#core.workspace(trx, workspaceId);
      const [state, roles] = await Promise.all([
        loadEngineState(trx, this.#core.storage.dialect, workspaceId),
        readWorkspaceRoles(trx, workspaceId),
      ]);
      return {
        workspaceId,
        preset: row.preset,
        revision: row.revision,
        resources: state.resources,
        grants: state.grants,
        groups: [...state.groups].map(([group, members]) => ({ group, members })),
        apiKeys: state.apiKeys,
        roles,
      };
    });
  }

  /** Keeps `workspaceId` followed by this instance (polled and caught up) until the returned call. */
  watch(workspaceId: string): () => void {
    return this.#core.follower.watch(workspaceId);
  }

  async #gated(request: RequestContext, workspaceId: string): Promise<WorkspaceReader> {
    const reader = await this.#core.read(request, workspaceId);
    await reader.requireGate("teamView", "you may not follow this workspace's changes");
    return reader;
  }
}
