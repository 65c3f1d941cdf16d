import {
  type ApiKeyInput,
  type ChangeOp,
  createEngine,
  type Engine,
  type GranteeRef,
  type GrantInput,
  type GrantRow,
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
  dialect: Storage["dialect"],
  workspaceId: string,
): Promise<EngineState> {
  const base = await readTreeGroupsAndKeys(db, workspaceId);
  const grants: GrantInput[] = [];
  for await (const rows of grantRows(db, dialect, workspaceId)) {
    for (const [subject, scope, role, extras, expiresAt, note, fallback] of rows) {
      grants.push({
        subject: subject as GranteeRef,
        scope: scope as ResourceRef,
        role,
        extras: extras ?? [],
        expiresAt: expiresAt ?? undefined,
        note: note ?? undefined,
        ...(fallback == null ? {} : { fallback }),
      });
    }
  }
  return { ...base, grants };
}

/**
 * Builds a workspace's engine from the store, its grants page by page straight into the engine.
 * Call inside a transaction for a consistent snapshot.
 */
export async function loadEngine(
  db: Kysely<Database>,
  dialect: Storage["dialect"],
  model: Model,
  workspaceId: string,
  now: () => number,
): Promise<Engine> {
  const { resources, groups, apiKeys } = await readTreeGroupsAndKeys(db, workspaceId);
  const engine = createEngine(model, { workspace: workspaceId, clock: now, resources, groups });
  // Rows were checked when written: the bulk path builds no GrantInput per grant.
  for await (const rows of grantRows(db, dialect, workspaceId)) engine.loadGrants(rows);
  for (const key of apiKeys) engine.addApiKey(key);
  return engine;
}

/** A committed revision with its engine ops, as stored in `changes`. */
export interface StoredChange {
  readonly revision: number;
  /** Epoch milliseconds. */
  readonly at: number;
  readonly ops: readonly ChangeOp[];
}

/** The stored changes of a workspace after revision `after`, in order: up to `upTo`, at most `limit`. */
export async function readChanges(
  db: Kysely<Database>,
  workspaceId: string,
  range: { after: number; upTo?: number; limit?: number },
): Promise<StoredChange[]> {
  const rows = await db
    .selectFrom("changes")
    .select(["revision", "at", "ops"])
    .where("workspace_id", "=", workspaceId)
    .where("revision", ">", range.after)
    .$if(range.upTo !== undefined, (query) => query.where("revision", "<=", range.upTo!))
    .orderBy("revision")
    .$if(range.limit !== undefined, (query) => query.limit(range.limit!))
    .execute();
  return rows.map((row) => ({
    revision: row.revision,
    at: row.at,
    ops: JSON.parse(row.ops) as ChangeOp[],
  }));
}

async function readTreeGroupsAndKeys(
  db: Kysely<Database>,
  workspaceId: string,
): Promise<Omit<EngineState, "grants">> {
  const [resources, groupMembers, apiKeys] = await Promise.all([
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
  const groups = new Map<`group:${string}`, `user:${string}`[]>();
  for (const row of groupMembers) {
    const group = `group:${row.group_id}` as const;
    const users = groups.get(group);
    if (users === undefined) groups.set(group, [`user:${row.user_id}`]);
    else users.push(`user:${row.user_id}`);
  }
  return { resources: resources as EngineState["resources"], groups, apiKeys };
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

/** A stored extras column (a JSON list) as a list; none for null. */
export function parseExtras(value: string | null): string[] {
  return value === null || value === NO_EXTRAS ? [] : (JSON.parse(value) as string[]);
}

/** Grants are read in pages of this many, so a large workspace's rows never all live at once. */
const GRANT_PAGE = 20_000;
const NO_EXTRAS = "[]";

type GrantTuple = [
  subject: string,
  scope: string,
  role: string,
  extras: string | readonly string[] | null,
  expiresAt: number | null,
  note: string | null,
  fallbackRole: string | null,
  fallbackExtras: string | null,
];

/**
 * A workspace's grants as rows for `Engine.loadGrants`, page by page in primary-key order, each page
 * read as one JSON array of tuples: a million rows never become a million row objects.
 */
async function* grantRows(
  db: Kysely<Database>,
  dialect: Storage["dialect"],
  workspaceId: string,
): AsyncGenerator<GrantRow[]> {
  let after: readonly [string, string] = ["", ""];
  for (;;) {
    const page = sql`select subject, scope, role, extras, expires_at, note, fallback_role,
      fallback_extras from grants
      where workspace_id = ${workspaceId} and (subject, scope) > (${after[0]}, ${after[1]})
      order by subject, scope limit ${GRANT_PAGE}`;
    const query =
      dialect === "postgres"
        ? sql<{ rows: unknown }>`select coalesce(json_agg(json_build_array(subject, scope, role,
            extras, expires_at, note, fallback_role, fallback_extras) order by subject, scope),
            '[]') as rows from (${page}) as page`
        : sql<{ rows: unknown }>`select json_group_array(json_array(subject, scope, role, extras,
            expires_at, note, fallback_role, fallback_extras) order by subject, scope) as rows
            from (${page}) as page`;
    const value = (await query.execute(db)).rows[0]?.rows;
    // SQLite answers the JSON as text; the pg driver parses it.
    const tuples = (typeof value === "string" ? JSON.parse(value) : (value ?? [])) as GrantTuple[];
    // Most grants have no extras: skip a million JSON.parse calls on a cold start.
    for (const tuple of tuples) {
      tuple[3] = tuple[3] === NO_EXTRAS ? null : (JSON.parse(tuple[3] as string) as string[]);
      // In place, as `GrantRow`: the fallback's two columns become its one element.
      const row = tuple as unknown as unknown[];
      row[6] = tuple[6] === null ? null : { role: tuple[6], extras: parseExtras(tuple[7]) };
      row.length = 7;
    }
    yield tuples as unknown as GrantRow[];
    if (tuples.length < GRANT_PAGE) return;
    const last = tuples[tuples.length - 1]!;
    after = [last[0], last[1]];
  }
}
