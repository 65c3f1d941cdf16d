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
  const [resources, grants, groupMembers, apiKeys] = await Promise.all([
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
    liveKeys(db, workspaceId),
  ]);
  return {
    resources: resources as EngineState["resources"],
    groups: groupsOf(groupMembers),
    grants: grants.map(grantOf),
    apiKeys,
  };
}

const NO_EXTRAS = "[]";

function grantOf(row: {
  subject: string;
  role: string;
  scope: string;
  extras: string;
  expires_at: number | null;
}): GrantInput {
  return {
    subject: row.subject as GranteeRef,
    role: row.role,
    scope: row.scope as ResourceRef,
    // Most grants have none: skip a million JSON.parse calls on a cold start.
    extras: row.extras === NO_EXTRAS ? [] : (JSON.parse(row.extras) as string[]),
    expiresAt: row.expires_at ?? undefined,
  };
}

function groupsOf(
  rows: readonly { group_id: string; user_id: string }[],
): Map<`group:${string}`, `user:${string}`[]> {
  const groups = new Map<`group:${string}`, `user:${string}`[]>();
  for (const row of rows) {
    const group = `group:${row.group_id}` as const;
    const users = groups.get(group);
    if (users === undefined) groups.set(group, [`user:${row.user_id}`]);
    else users.push(`user:${row.user_id}`);
  }
  return groups;
}

async function liveKeys(db: Kysely<Database>, workspaceId: string): Promise<ApiKeyInput[]> {
  const rows = await db
    .selectFrom("api_keys")
    .select(["id", "owner_user_id", "scopes", "resources", "expires_at"])
    .where("workspace_id", "=", workspaceId)
    .where("revoked_at", "is", null)
    .execute();
  return rows.map((row) => ({
    id: row.id,
    owner: `user:${row.owner_user_id}` as const,
    scopes: JSON.parse(row.scopes) as string[],
    resources: JSON.parse(row.resources) as ResourceRef[],
    expiresAt: row.expires_at ?? undefined,
  }));
}

/** Grants are read in pages of this many, so a large workspace's rows never all live at once. */
const GRANT_PAGE = 20_000;

/**
 * Builds a workspace's engine from the store, reading its grants page by page straight into the
 * engine (a million grants never sit in memory twice). Call inside a transaction for a consistent
 * snapshot.
 */
export async function loadEngine(
  db: Kysely<Database>,
  model: Model,
  workspaceId: string,
  now: () => number,
): Promise<Engine> {
  const [resources, groupMembers, keys] = await Promise.all([
    db
      .selectFrom("resources")
      .select(["resource", "parent"])
      .where("workspace_id", "=", workspaceId)
      .execute(),
    db
      .selectFrom("group_members")
      .select(["group_id", "user_id"])
      .where("workspace_id", "=", workspaceId)
      .execute(),
    liveKeys(db, workspaceId),
  ]);
  const engine = createEngine(model, {
    workspace: workspaceId,
    clock: now,
    resources: resources as EngineState["resources"],
    groups: groupsOf(groupMembers),
  });
  let after: { subject: string; scope: string } | undefined;
  for (;;) {
    const from = after;
    const rows = await db
      .selectFrom("grants")
      .select(["subject", "role", "scope", "extras", "expires_at"])
      .where("workspace_id", "=", workspaceId)
      .$if(from !== undefined, (query) =>
        query.where((eb) =>
          eb(eb.refTuple("subject", "scope"), ">", eb.tuple(from!.subject, from!.scope)),
        ),
      )
      .orderBy("subject")
      .orderBy("scope")
      .limit(GRANT_PAGE)
      .execute();
    for (const row of rows) engine.addGrant(grantOf(row));
    if (rows.length < GRANT_PAGE) break;
    after = rows[rows.length - 1];
  }
  for (const key of keys) engine.addApiKey(key);
  return engine;
}
