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
import type { Database } from "./database/schema.ts";

/** One engine change; the ops of a revision are stored with it and replayed by every instance. */
export type ChangeOp =
  | { readonly op: "resource.upsert"; readonly resource: ResourceRef; readonly parent: ResourceRef }
  | { readonly op: "resource.delete"; readonly resource: ResourceRef }
  | { readonly op: "grant.add"; readonly grant: GrantInput }
  | { readonly op: "grant.remove"; readonly subject: GranteeRef; readonly scope: ResourceRef }
  | { readonly op: "subject.remove"; readonly subject: GranteeRef }
  | {
      readonly op: "group.add_member";
      readonly group: `group:${string}`;
      readonly user: `user:${string}`;
    }
  | {
      readonly op: "group.remove_member";
      readonly group: `group:${string}`;
      readonly user: `user:${string}`;
    }
  | { readonly op: "key.add"; readonly key: ApiKeyInput }
  | { readonly op: "key.remove"; readonly id: string }
  | { readonly op: "workspace.close" };

/** Applies ops in order; throws if one does not apply (the caller then reloads). */
export function applyOps(engine: Engine, ops: readonly ChangeOp[]): void {
  for (const change of ops) {
    switch (change.op) {
      case "resource.upsert":
        engine.upsertResource(change.resource, change.parent);
        break;
      case "resource.delete":
        if (engine.hasResource(change.resource)) engine.deleteResource(change.resource);
        break;
      case "grant.add":
        engine.addGrant(change.grant);
        break;
      case "grant.remove":
        engine.removeGrant(change.subject, change.scope);
        break;
      case "subject.remove":
        engine.removeSubject(change.subject);
        break;
      case "group.add_member":
        engine.addGroupMember(change.group, change.user);
        break;
      case "group.remove_member":
        engine.removeGroupMember(change.group, change.user);
        break;
      case "key.add":
        engine.addApiKey(change.key);
        break;
      case "key.remove":
        engine.removeApiKey(change.id);
        break;
      case "workspace.close":
        throw new Error("a closed workspace has no engine");
    }
  }
}

/** Builds a workspace's engine from the store. Call inside a transaction for a consistent snapshot. */
export async function loadEngine(
  db: Kysely<Database>,
  model: Model,
  workspaceId: string,
  now: () => number,
): Promise<Engine> {
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
    groups.set(group, [...(groups.get(group) ?? []), `user:${row.user_id}`]);
  }
  return createEngine(model, {
    workspace: workspaceId,
    clock: now,
    resources: resources.map((row) => ({
      resource: row.resource as ResourceRef,
      parent: row.parent as ResourceRef,
    })),
    groups,
    grants: grants.map((row) => ({
      subject: row.subject as GranteeRef,
      role: row.role,
      scope: row.scope as ResourceRef,
      extras: JSON.parse(row.extras) as string[],
      expiresAt: row.expires_at ?? undefined,
    })),
    apiKeys: keys.map((row) => ({
      id: row.id,
      owner: `user:${row.owner_user_id}`,
      scopes: JSON.parse(row.scopes) as string[],
      resources: JSON.parse(row.resources) as ResourceRef[],
      expiresAt: row.expires_at ?? undefined,
    })),
  });
}

interface Cached {
  readonly engine: Engine;
  /** The store revision the engine reflects. */
  revision: number;
}

/**
 * The engines of recently used workspaces, each tagged with the store revision it reflects and
 * advanced by replaying committed ops in revision order; anything else evicts and reloads.
 */
export class EngineCache {
  readonly #entries = new Map<string, Cached>();
  readonly #limit: number;

  constructor(limit = 10_000) {
    this.#limit = limit;
  }

  /** The cached engine if it reflects exactly `revision`. */
  at(workspaceId: string, revision: number): Engine | undefined {
    const entry = this.#entries.get(workspaceId);
    return entry !== undefined && entry.revision === revision ? entry.engine : undefined;
  }

  /** The cached engine and its revision, whatever it is. */
  peek(workspaceId: string): { engine: Engine; revision: number } | undefined {
    return this.#entries.get(workspaceId);
  }

  store(workspaceId: string, engine: Engine, revision: number): void {
    const current = this.#entries.get(workspaceId);
    if (current !== undefined && current.revision >= revision) return;
    this.#entries.delete(workspaceId);
    this.#entries.set(workspaceId, { engine, revision });
    if (this.#entries.size > this.#limit) {
      const oldest = this.#entries.keys().next().value;
      if (oldest !== undefined) this.#entries.delete(oldest);
    }
  }

  /** Advances a cached engine by one committed revision, or evicts it when that is not possible. */
  committed(workspaceId: string, revision: number, ops: readonly ChangeOp[]): void {
    const entry = this.#entries.get(workspaceId);
    if (entry === undefined || entry.revision >= revision) return;
    if (entry.revision !== revision - 1) {
      this.#entries.delete(workspaceId);
      return;
    }
    try {
      applyOps(entry.engine, ops);
      entry.revision = revision;
    } catch {
      this.#entries.delete(workspaceId);
    }
  }

  evict(workspaceId: string): void {
    this.#entries.delete(workspaceId);
  }
}
