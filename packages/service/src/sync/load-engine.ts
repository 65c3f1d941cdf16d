import {
  type ApiKeyInput,
  createEngine,
  type Engine,
  type GranteeRef,
  type GrantInput,
  type Model,
  type ResourceRef,
} from "@gatehouse/engine";
import { type Kysely, sql } from "kysely";
import type { Database } from "../database/schema.ts";
import type { Storage } from "../database/storage.ts";

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

/** A page of grants as one JSON array of `[subject, scope, role, extras, expires_at]`. */
function grantPage(
  dialect: Storage["dialect"],
  workspaceId: string,
  after: readonly [string, string] | undefined,
) {
  const [subject, scope] = after ?? ["", ""];
  const page = sql`select subject, scope, role, extras, expires_at from grants
    where workspace_id = ${workspaceId} and (subject, scope) > (${subject}, ${scope})
    order by subject, scope limit ${GRANT_PAGE}`;
  return dialect === "postgres"
    ? sql<{ rows: unknown }>`select coalesce(json_agg(json_build_array(subject, scope, role,
        extras, expires_at) order by subject, scope), '[]') as rows from (${page}) as page`
    : sql<{ rows: unknown }>`select json_group_array(json_array(subject, scope, role, extras,
        expires_at) order by subject, scope) as rows from (${page}) as page`;
}

type GrantTuple = [string, string, string, string, number | null];

/**
 * Builds a workspace's engine from the store. Grants come page by page as one JSON value each,
 * straight into the engine: a million rows never become a million row objects (a cold start
 * reads 1M grants in about a second). Call inside a transaction for a consistent snapshot.
 */
export async function loadEngine(
  db: Kysely<Database>,
  dialect: Storage["dialect"],
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
  let after: [string, string] | undefined;
  for (;;) {
    const { rows } = await grantPage(dialect, workspaceId, after).execute(db);
    const value = rows[0]?.rows;
    // SQLite answers the JSON as text; the pg driver parses it.
    const page = (typeof value === "string" ? JSON.parse(value) : (value ?? [])) as GrantTuple[];
    engine.addGrants(
      page.map(([subject, scope, role, extras, expiresAt]) =>
        grantOf({ subject, scope, role, extras, expires_at: expiresAt }),
      ),
    );
    if (page.length < GRANT_PAGE) break;
    const last = page[page.length - 1]!;
    after = [last[0], last[1]];
  }
  for (const key of keys) engine.addApiKey(key);
  return engine;
}
