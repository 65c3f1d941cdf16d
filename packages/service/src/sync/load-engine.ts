import {
  type ApiKeyInput,
  createEngine,
  type Engine,
  type GranteeRef,
  type GrantInput,
  type Model,
  type ResourceRef,
} from "@gatehouse/engine";
import type { Kysely } from "kysely";
import type { Database } from "../database/schema.ts";

/** Everything a workspace's engine is built from: resources, grants, groups and live API keys. */
export interface EngineState {
  readonly resources: readonly { readonly resource: ResourceRef; readonly parent: ResourceRef }[];
  readonly grants: readonly GrantInput[];
  /** Group → its users. */
  readonly groups: ReadonlyMap<`group:${string}`, readonly `user:${string}`[]>;
  readonly apiKeys: readonly ApiKeyInput[];
}

/** Reads a workspace's engine state. Call inside a transaction for a consistent snapshot. */
export async function loadEngineState(
  db: Kysely<Database>,
  workspaceId: string,
): Promise<EngineState> {
  const [resources, grants, groupMembers, keys] = await Promise.all([
    db
      .selectFrom("resources")
      .select(["resource", "parent"])
      .where("workspace_id", "=", workspaceId)
      .execute(),
    db
      .selectFrom("grants")
      .select(["subject", "role", "scope", "extras", "expires_at"])
      .where("workspace_id", "=", workspaceId)
      .execute(),
    db
      .selectFrom("group_members")
      .select(["group_id", "user_id"])
      .where("workspace_id", "=", workspaceId)
      .execute(),
    db
      .selectFrom("api_keys")
      .select(["id", "owner_user_id", "scopes", "resources", "expires_at"])
      .where("workspace_id", "=", workspaceId)
      .where("revoked_at", "is", null)
      .execute(),
  ]);
  const groups = new Map<`group:${string}`, `user:${string}`[]>();
  for (const row of groupMembers) {
    const group = `group:${row.group_id}` as const;
    const users = groups.get(group);
    if (users === undefined) groups.set(group, [`user:${row.user_id}`]);
    else users.push(`user:${row.user_id}`);
  }
  const NO_EXTRAS = "[]";
  return {
    resources: resources as EngineState["resources"],
    groups,
    grants: grants.map((row) => ({
      subject: row.subject as GranteeRef,
      role: row.role,
      scope: row.scope as ResourceRef,
      // Most grants have none: skip a million JSON.parse calls on a cold start.
      extras: row.extras === NO_EXTRAS ? [] : (JSON.parse(row.extras) as string[]),
      expiresAt: row.expires_at ?? undefined,
    })),
    apiKeys: keys.map((row) => ({
      id: row.id,
      owner: `user:${row.owner_user_id}` as const,
      scopes: JSON.parse(row.scopes) as string[],
      resources: JSON.parse(row.resources) as ResourceRef[],
      expiresAt: row.expires_at ?? undefined,
    })),
  };
}

/** Builds a workspace's engine from the store. Call inside a transaction for a consistent snapshot. */
export async function loadEngine(
  db: Kysely<Database>,
  model: Model,
  workspaceId: string,
  now: () => number,
): Promise<Engine> {
  const state = await loadEngineState(db, workspaceId);
  return createEngine(model, { workspace: workspaceId, clock: now, ...state });
}
