import { type Engine, GatehouseError, type ResourceRef } from "@gatehouse/engine";
import type { Selectable } from "kysely";
import { type Origin, personOf, type RequestContext } from "../actor.ts";
import type { ApiKeysTable } from "../database/schema.ts";
import type { ServiceCore, WorkspaceWriter } from "../service-core.ts";
import { hashSecret, isSameDigest, newId, randomSecret } from "../support/crypto.ts";
import { ErrorCode } from "../support/error-codes.ts";
import { requireText } from "../support/validation.ts";
import { gate } from "./gates.ts";

export type ApiKeyStatus = "active" | "expired" | "revoked";

/** An API key as listed: everything but its secret, which is shown once, at creation. */
export interface ApiKeyInfo {
  readonly id: string;
  readonly name: string;
  /** The secret's public beginning (`gh_` and 8 characters), to recognise a key in a list. */
  readonly prefix: string;
  readonly ownerUserId: string;
  /** As given at creation: permission names, `area.*` patterns or `*`. */
  readonly scopes: readonly string[];
  /**
   * The permission names the permission patterns resolve to (never owner-only ones); the key uses each only
   * while its owner holds it, so it never exceeds them. Empty once revoked.
   */
  readonly permissions: readonly string[];
  /** The key works only at these resources and below; empty for the whole workspace. */
  readonly resources: readonly string[];
  readonly expiresAt: number | null;
  readonly createdAt: number;
  readonly revokedAt: number | null;
  readonly status: ApiKeyStatus;
}

/** What `authenticate` answers for a valid secret: the key's workspace and a context to call with. */
export interface ApiKeyCredentials {
  readonly workspaceId: string;
  readonly keyId: string;
  readonly userId: string;
  readonly context: RequestContext;
}

export interface NewApiKey {
  readonly name: string;
  readonly scopes: readonly string[];
  readonly resources?: readonly string[] | undefined;
  /** Epoch milliseconds, in the future; none for a key that does not expire. */
  readonly expiresAt?: number | null | undefined;
}

type ApiKeyRow = Selectable<ApiKeysTable>;

const KEY_FIELDS = ["name", "scopes", "resources", "expiresAt"];
const MAX_LIST = 100;
const ID_PREFIX = "key_";
/** `gh_`, 8 characters of the id, `_`, 32 random bytes in base64url. */
const SECRET_PATTERN = /^gh_[A-Za-z0-9_-]{8}_[A-Za-z0-9_-]{43}$/;
const SECRET_LENGTH = 55;

function parseNames(value: unknown, what: string): string[] {
  if (
    !Array.isArray(value) ||
    value.length > MAX_LIST ||
    value.some((item) => typeof item !== "string" || item === "" || item.length > 300)
  ) {
    throw new GatehouseError(
      ErrorCode.INVALID_INPUT,
      `${what} is a list of at most ${MAX_LIST} names`,
    );
  }
  return [...new Set(value as string[])];
}

/** Parses a create request; unknown fields are refused (no mass assignment). */
function parseNewKey(input: unknown): {
  name: string;
  scopes: string[];
  resources: ResourceRef[];
  expiresAt: number | undefined;
} {
  if (typeof input !== "object" || input === null || Array.isArray(input)) {
    throw new GatehouseError(ErrorCode.INVALID_INPUT, "an API key needs a name and scopes");
  }
  const record = input as Record<string, unknown>;
  const unknown = Object.keys(record).filter((key) => !KEY_FIELDS.includes(key));
  if (unknown.length > 0) {
    throw new GatehouseError(ErrorCode.INVALID_INPUT, `unknown fields: ${unknown.join(", ")}`);
  }
  const scopes = parseNames(record["scopes"], "scopes");
  if (scopes.length === 0)
    throw new GatehouseError(ErrorCode.INVALID_INPUT, "an API key needs at least one scope");
  const expiresAt = record["expiresAt"];
  if (
    expiresAt !== undefined &&
    expiresAt !== null &&
    (typeof expiresAt !== "number" || !Number.isSafeInteger(expiresAt))
  ) {
    throw new GatehouseError(ErrorCode.INVALID_INPUT, "expiresAt is epoch milliseconds");
  }
  return {
    name: requireText(record["name"], "key name", 100),
    scopes,
    resources: parseNames(record["resources"] ?? [], "resources") as ResourceRef[],
    expiresAt: typeof expiresAt === "number" ? expiresAt : undefined,
  };
}

/**
 * Whether the key's owner may name `resource` as a constraint: it exists and they hold something
 * there or above. Anything else answers as if it did not exist.
 */
function isVisibleTo(tx: WorkspaceWriter, owner: `user:${string}`, resource: ResourceRef): boolean {
  if (!tx.engine.hasResource(resource)) return false;
  return tx.model.permissions.some(
    (permission) => tx.engine.holds(owner, permission, resource).allowed,
  );
}

function statusOf(row: ApiKeyRow, now: number): ApiKeyStatus {
  if (row.revoked_at !== null) return "revoked";
  return row.expires_at !== null && row.expires_at <= now ? "expired" : "active";
}

function toInfo(row: ApiKeyRow, engine: Engine | undefined, now: number): ApiKeyInfo {
  return {
    id: row.id,
    name: row.name,
    prefix: row.prefix,
    ownerUserId: row.owner_user_id,
    scopes: JSON.parse(row.scopes) as string[],
    permissions: row.revoked_at === null ? [...(engine?.apiKey(row.id)?.permissions ?? [])] : [],
    resources: JSON.parse(row.resources) as string[],
    expiresAt: row.expires_at,
    createdAt: row.created_at,
    revokedAt: row.revoked_at,
    status: statusOf(row, now),
  };
}

function invalidCredentials(): GatehouseError {
  return new GatehouseError(ErrorCode.INVALID_CREDENTIALS, "invalid API key");
}

/** How many authenticated keys are remembered (by secret digest) to skip the store. */
const KNOWN_KEYS = 10_000;

/** Every permission `user` holds somewhere in the workspace: their roles' and extras, directly or through groups. */
async function heldPermissions(tx: WorkspaceWriter, userId: string): Promise<Set<string>> {
  const held = new Set<string>();
  const roles = tx.model.compiled.roles;
  const groups = await tx.trx
    .selectFrom("group_members")
    .select("group_id")
    .where("workspace_id", "=", tx.workspace.id)
    .where("user_id", "=", userId)
    .execute();
  const grants = [
    ...tx.engine.grantsOf(`user:${userId}`),
    ...groups.flatMap((group) => tx.engine.grantsOf(`group:${group.group_id}`)),
  ];
  for (const grant of grants) {
    for (const permission of roles.get(grant.role)?.permissions ?? []) held.add(permission);
    for (const permission of grant.extras) held.add(permission);
  }
  return held;
}

/** Whether a key's permission pattern (`*`, `area.*` or a name) matches a held permission. */
function matchesAnyHeld(pattern: string, held: ReadonlySet<string>): boolean {
  if (pattern === "*") return held.size > 0;
  if (!pattern.endsWith(".*")) return held.has(pattern);
  const prefix = pattern.slice(0, -1);
  for (const permission of held) if (permission.startsWith(prefix)) return true;
  return false;
}

/**
 * API keys: owned by a member, they act with the owner's current permissions ∩ their
 * permission patterns ∩ their resource constraint — so they shrink when the owner is demoted
 * and die when the owner is removed. The secret is shown once and stored hashed.
 */
export class ApiKeys {
  readonly #core: ServiceCore;
  /**
   * SHA-256 of a secret (never the secret) → the key it authenticated, valid only while the live
   * engine still holds that key for its owner, unexpired; least recently used first out.
   */
  readonly #known = new Map<string, KnownKey>();
  /** The digest last moved to the end of `#known`: asked again, it has nowhere to move. */
  #newest: string | undefined;

  constructor(core: ServiceCore) {
    this.#core = core;
  }

  /**
   * Creates a key owned by the calling person (signed in directly, not through a key or the
   * assistant). The secret is in this answer only; the store keeps its hash.
   * @example
   * const { key, secret } = await gatehouse.apiKeys.create(asUser(ada.id), ws, { name: "CI", scopes: ["deploy.run"], resources: ["project:p1"] });
   */
  async create(
    request: RequestContext,
    workspaceId: string,
    input: NewApiKey,
  ): Promise<{ key: ApiKeyInfo; secret: string; revision: number }> {
    const core = this.#core;
    const spec = parseNewKey(input);
    if (request.actor.type === "system") {
      throw new GatehouseError(
        ErrorCode.INVALID_INPUT,
        "an API key belongs to a person; the host application cannot own one",
      );
    }
    const id = newId("key");
    const prefix = `gh_${id.slice(ID_PREFIX.length, ID_PREFIX.length + 8)}`;
    const secret = `${prefix}_${randomSecret(32)}`;
    const { value: row, revision } = await core.write(request, workspaceId, async (tx) => {
      const record = {
        action: "api_key.create",
        target: `apikey:${id}`,
        details: {
          name: spec.name,
          prefix,
          scopes: spec.scopes,
          resources: spec.resources,
          expiresAt: spec.expiresAt ?? null,
        },
      };
      await tx.requireMember(record);
      const actor = tx.request.actor;
      if (actor.type !== "user" || actor.host !== undefined) {
        return tx.deny(
          record,
          "API keys are created by a person signed in directly, not by a key, the assistant or the host app",
        );
      }
      // A support person (docs/support-access.md) is a member for a while; a key would outlive that.
      const support = await tx.trx
        .selectFrom("members")
        .select("support_until")
        .where("workspace_id", "=", tx.workspace.id)
        .where("user_id", "=", actor.userId)
        .executeTakeFirst();
      if (support?.support_until !== null && support?.support_until !== undefined)
        return tx.deny(record, "support access creates no API keys");
      if (spec.expiresAt !== undefined && spec.expiresAt <= tx.now) {
        throw new GatehouseError(ErrorCode.INVALID_INPUT, "expiresAt must be in the future");
      }
      const owner = `user:${actor.userId}` as const;
      tx.engine.validateApiKey({
        id,
        owner,
        scopes: spec.scopes,
        resources: spec.resources,
        expiresAt: spec.expiresAt,
      });
      // A pattern that matches nothing the creator holds would give the key nothing today, and
      // more than they were given the day they are promoted: refused, so the key lists what it does.
      const held = await heldPermissions(tx, actor.userId);
      const outside = spec.scopes.filter((pattern) => !matchesAnyHeld(pattern, held));
      if (outside.length > 0) {
        throw new GatehouseError(
          ErrorCode.API_KEY_SCOPE_NOT_HELD,
          `you hold no permission matching ${outside.join(", ")}; a key never carries more than its owner holds`,
          { details: { scopes: outside } },
        );
      }
      for (const resource of spec.resources) {
        if (!isVisibleTo(tx, owner, resource)) {
          throw new GatehouseError(
            ErrorCode.RESOURCE_NOT_FOUND,
            `no resource ${resource} in this workspace`,
          );
        }
      }
      const values: ApiKeyRow = {
        id,
        workspace_id: tx.workspace.id,
        owner_user_id: actor.userId,
        name: spec.name,
        prefix,
        secret_hash: hashSecret(secret),
        scopes: JSON.stringify(spec.scopes),
        resources: JSON.stringify(spec.resources),
        expires_at: spec.expiresAt ?? null,
        created_at: tx.now,
        revoked_at: null,
      };
      await tx.trx.insertInto("api_keys").values(values).execute();
      tx.apply({
        op: "key.add",
        key: {
          id,
          owner,
          scopes: spec.scopes,
          resources: spec.resources,
          expiresAt: spec.expiresAt,
        },
      });
      tx.audit(record);
      return values;
    });
    // The engine learns the key on commit; read its resolved permissions from there.
    const { engine } = await core.current(workspaceId, { atLeastRevision: revision });
    return { key: toInfo(row, engine, core.clock()), secret, revision };
  }

  /**
   * The workspace's keys, revoked and expired ones included: a member sees their own, those who
   * may see the team (its gate, held at the root) see everyone's. Secrets are never returned.
   * @example
   * const keys = await gatehouse.apiKeys.list(asUser(ada.id), ws);
   */
  async list(request: RequestContext, workspaceId: string): Promise<ApiKeyInfo[]> {
    const reader = await this.#core.read(request, workspaceId);
    const seesAll = reader.holds(gate(reader.model, "teamView"), reader.root);
    const person = personOf(request.actor) ?? "";
    const rows = await reader.db
      .selectFrom("api_keys")
      .selectAll()
      .where("workspace_id", "=", reader.workspace.id)
      .$if(!seesAll, (query) => query.where("owner_user_id", "=", person))
      .orderBy("created_at")
      .orderBy("id")
      .execute();
    const now = this.#core.clock();
    return rows.map((row) => toInfo(row, reader.engine, now));
  }

  /**
   * Revokes a key at once, by its owner, the key itself, or whoever holds the model's delegation
   * permission at the root. Revoking a revoked key changes nothing.
   * @example
   * await gatehouse.apiKeys.revoke(asUser(ada.id), ws, key.id);
   */
  async revoke(
    request: RequestContext,
    workspaceId: string,
    keyId: string,
  ): Promise<{ key: ApiKeyInfo; revision: number }> {
    const { value, revision } = await this.#core.write(request, workspaceId, async (tx) => {
      const record = { action: "api_key.revoke", target: `apikey:${String(keyId)}` };
      await tx.requireMember(record);
      const row =
        typeof keyId === "string"
          ? await tx.trx
              .selectFrom("api_keys")
              .selectAll()
              .where("workspace_id", "=", tx.workspace.id)
              .where("id", "=", keyId)
              .executeTakeFirst()
          : undefined;
      if (row === undefined)
        throw new GatehouseError(ErrorCode.API_KEY_NOT_FOUND, "no such API key");
      const actor = tx.request.actor;
      const isOwnKey =
        (actor.type === "user" && actor.userId === row.owner_user_id) ||
        (actor.type === "api_key" && actor.keyId === row.id);
      if (!isOwnKey && !tx.holds(tx.model.definition.delegation, tx.root)) {
        // Someone who cannot even see the key is answered as if it did not exist.
        const seesKey = tx.holds(gate(tx.model, "teamView"), tx.root);
        tx.deny(
          { ...record, details: { owner: row.owner_user_id } },
          seesKey ? "you may revoke only your own API keys" : "no such API key",
          seesKey ? ErrorCode.PERMISSION_DENIED : ErrorCode.API_KEY_NOT_FOUND,
        );
      }
      if (row.revoked_at !== null) return row;
      await tx.trx
        .updateTable("api_keys")
        .set({ revoked_at: tx.now })
        .where("workspace_id", "=", tx.workspace.id)
        .where("id", "=", row.id)
        .execute();
      tx.apply({ op: "key.remove", id: row.id });
      tx.audit({
        ...record,
        details: { name: row.name, prefix: row.prefix, owner: row.owner_user_id },
      });
      return { ...row, revoked_at: tx.now };
    });
    return { key: toInfo(value, undefined, this.#core.clock()), revision };
  }

  /**
   * Resolves a secret to its key and a request context acting as that key. Unknown, revoked and
   * expired keys, and keys whose owner is no longer a member, all get INVALID_CREDENTIALS.
   * @example
   * const { workspaceId, context } = await gatehouse.apiKeys.authenticate(bearerToken);
   */
  async authenticate(secret: string, origin?: Origin): Promise<ApiKeyCredentials> {
    if (typeof secret !== "string" || secret.length !== SECRET_LENGTH) throw invalidCredentials();
    const core = this.#core;
    const digest = hashSecret(secret);
    const known = this.#known.get(digest);
    if (known !== undefined) {
      // The same digest is the same secret, checked when it was first remembered. Revocation,
      // expiry, the owner's removal and closing all reach the engine at once (on this instance
      // at commit, on others through the change feed, as every decision does).
      const key = core.cached(known.workspaceId)?.engine.apiKey(known.keyId);
      if (
        key?.owner === known.owner &&
        (key.expiresAt === undefined || key.expiresAt > core.clock())
      ) {
        // Least recently used first: a Map keeps insertion order.
        if (digest !== this.#newest) {
          this.#known.delete(digest);
          this.#known.set(digest, known);
          this.#newest = digest;
        }
        return credentialsOf(known, origin);
      }
      this.#known.delete(digest);
    }
    if (!SECRET_PATTERN.test(secret)) throw invalidCredentials();
    const row = await core.db
      .selectFrom("api_keys")
      .innerJoin("workspaces", "workspaces.id", "api_keys.workspace_id")
      .innerJoin("members", (join) =>
        join
          .onRef("members.workspace_id", "=", "api_keys.workspace_id")
          .onRef("members.user_id", "=", "api_keys.owner_user_id"),
      )
      .select([
        "api_keys.id",
        "api_keys.workspace_id",
        "api_keys.owner_user_id",
        "api_keys.prefix",
        "api_keys.secret_hash",
        "api_keys.expires_at",
        "api_keys.revoked_at",
        "workspaces.closed_at",
      ])
      .where("api_keys.secret_hash", "=", digest)
      .executeTakeFirst();
    if (
      row === undefined ||
      !isSameDigest(row.secret_hash, digest) ||
      !secret.startsWith(`${row.prefix}_`) ||
      row.revoked_at !== null ||
      row.closed_at !== null ||
      (row.expires_at !== null && row.expires_at <= core.clock())
    ) {
      throw invalidCredentials();
    }
    const found: KnownKey = {
      workspaceId: row.workspace_id,
      keyId: row.id,
      userId: row.owner_user_id,
      owner: `user:${row.owner_user_id}`,
      actor: { type: "api_key", keyId: row.id, userId: row.owner_user_id },
    };
    if (this.#known.size >= KNOWN_KEYS) this.#known.delete(this.#known.keys().next().value!);
    this.#known.set(digest, found);
    this.#newest = digest;
    return credentialsOf(found, origin);
  }
}

/** A remembered key: its ids, and the actor every request with it acts as (built once). */
interface KnownKey {
  readonly workspaceId: string;
  readonly keyId: string;
  readonly userId: string;
  readonly owner: `user:${string}`;
  readonly actor: { readonly type: "api_key"; readonly keyId: string; readonly userId: string };
}

function credentialsOf(key: KnownKey, origin: Origin | undefined): ApiKeyCredentials {
  const { workspaceId, keyId, userId, actor } = key;
  return {
    workspaceId,
    keyId,
    userId,
    context: origin === undefined ? { actor } : { actor, origin },
  };
}
