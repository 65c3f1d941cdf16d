import { randomBytes } from "node:crypto";
import { GatehouseError, type ResourceRef } from "@gatehouse/engine";
import type { Actor, Origin, RequestContext } from "../actor.ts";
import { subjectOf } from "../actor.ts";
import { actorLabel } from "../audit/actor-label.ts";
import type { ServiceCore, WorkspaceReader, WorkspaceWriter } from "../service-core.ts";
import { hashSecret, randomSecret } from "../support/crypto.ts";
import { ErrorCode } from "../support/error-codes.ts";
import { parseServiceUrl } from "../support/urls.ts";
import { requireResourceName, typeOf } from "../support/validation.ts";
import { holdsSettingsGate } from "../team/gates.ts";
import { MAX_ASSERTION_TTL_MS, type SigningKeys } from "./signing-keys.ts";

/** The `typ` of a sign-in assertion (RFC 8725 explicit typing); verifiers require it. */
export const SIGN_IN_TYPE = "gatehouse-sign-in+jwt";
/** A sign-in link works once, within this time: sign-in links are short-lived. */
export const SIGN_IN_LINK_TTL_MS = 60_000;
const TOKEN_PATTERN = /^[A-Za-z0-9_-]{43}$/;

export interface SignInTarget {
  readonly resource: string;
  /** Where the browser posts the assertion; also the assertion's audience. */
  readonly url: string;
  readonly updatedAt: number;
  readonly updatedBy: string;
}

/** A one-time link: the token goes into `/v1/sign-in/<token>` on the server. */
export interface SignInLink {
  readonly token: string;
  readonly resource: string;
  readonly expiresAt: number;
}

/** What a used link gives the browser to carry to the admin app: the target and the assertion. */
export interface SignInAssertion {
  readonly url: string;
  readonly assertion: string;
  readonly resource: string;
  readonly expiresAt: number;
}

function invalidLink(): GatehouseError {
  return new GatehouseError(
    ErrorCode.SIGN_IN_LINK_INVALID,
    "this sign-in link was used, has expired or never existed; ask for a new one",
  );
}

/** The permission the model's `gates.signIn` names for the resource's type, if any. */
function signInPermission(reader: WorkspaceReader, resource: string): string | undefined {
  return reader.model.definition.gates?.signIn?.[typeOf(resource)];
}

/**
 * A resource outside the caller's reach answers exactly like one that does not exist; the
 * attempt on an existing one is logged as denied.
 */
function requireVisible(tx: WorkspaceWriter, resource: ResourceRef, record: AuditLike): void {
  const missing = `no resource ${resource} in this workspace`;
  if (!tx.engine.hasResource(resource))
    throw new GatehouseError(ErrorCode.RESOURCE_NOT_FOUND, missing);
  const subject = subjectOf(tx.request.actor);
  if (subject !== undefined && !tx.engine.reaches(subject, resource))
    tx.deny(record, missing, ErrorCode.RESOURCE_NOT_FOUND);
}

interface AuditLike {
  action: string;
  target: string;
  details?: Record<string, unknown>;
}

/**
 * Sign-in handoff: a member allowed on a site gets a one-time link into the site's own
 * admin app (wp-admin, say) without a shared password. Used, the link is burnt in the database
 * (single use across instances), the member's permission is checked again, and the browser
 * carries a signed assertion (ES256 JWT, 60 s, its `jti` for the admin app to refuse replays) to
 * the admin app, which verifies it against the published JWKS.
 */
export class SignInHandoff {
  readonly #core: ServiceCore;
  readonly #keys: SigningKeys;

  constructor(core: ServiceCore, keys: SigningKeys) {
    this.#core = core;
    this.#keys = keys;
  }

  /**
   * Names the admin app of a resource: the HTTPS URL (loopback HTTP in development) its sign-in
   * assertions are posted to, and their audience. The host app always may; a member needs the
   * model's settings gate (the owner by default). The type must have a sign-in gate in the model.
   * @example
   * await gatehouse.signIn.setTarget(systemActor(), ws, { resource: "site:shop", url: "https://shop.example/gatehouse/sign-in" });
   */
  async setTarget(
    request: RequestContext,
    workspaceId: string,
    input: { resource: string; url: string },
  ): Promise<{ target: SignInTarget; revision: number }> {
    const resource = requireResourceName(input?.resource, "resource");
    const url = parseServiceUrl(input?.url, "url");
    const { value, revision } = await this.#core.write(request, workspaceId, async (tx) => {
      const record = { action: "sign_in.target.set", target: resource, details: { url } };
      await requireSettingsGate(tx, record);
      requireVisible(tx, resource, record);
      if (signInPermission(tx, resource) === undefined)
        throw new GatehouseError(
          ErrorCode.INVALID_INPUT,
          `the model gives ${typeOf(resource)} resources no sign-in (gates.signIn)`,
        );
      const ws = tx.workspace.id;
      const existing = await tx.trx
        .selectFrom("sign_in_targets")
        .select("created_at")
        .where("workspace_id", "=", ws)
        .where("resource", "=", resource)
        .executeTakeFirst();
      const row = {
        workspace_id: ws,
        resource,
        url,
        created_at: existing?.created_at ?? tx.now,
        updated_at: tx.now,
        updated_by: actorLabel(tx.request),
      };
      if (existing === undefined) await tx.trx.insertInto("sign_in_targets").values(row).execute();
      else
        await tx.trx
          .updateTable("sign_in_targets")
          .set({ url, updated_at: row.updated_at, updated_by: row.updated_by })
          .where("workspace_id", "=", ws)
          .where("resource", "=", resource)
          .execute();
      tx.audit({ ...record, details: { url, replaced: existing !== undefined } });
      return { resource, url, updatedAt: row.updated_at, updatedBy: row.updated_by };
    });
    return { target: value, revision };
  }

  /**
   * Removes a resource's admin app; its links stop working. SIGN_IN_NOT_CONFIGURED when it had none.
   * @example
   * await gatehouse.signIn.removeTarget(systemActor(), ws, "site:shop");
   */
  async removeTarget(
    request: RequestContext,
    workspaceId: string,
    resource: string,
  ): Promise<{ revision: number }> {
    const name = requireResourceName(resource, "resource");
    const { revision } = await this.#core.write(request, workspaceId, async (tx) => {
      const record = { action: "sign_in.target.remove", target: name };
      await requireSettingsGate(tx, record);
      requireVisible(tx, name, record);
      const deleted = await tx.trx
        .deleteFrom("sign_in_targets")
        .where("workspace_id", "=", tx.workspace.id)
        .where("resource", "=", name)
        .executeTakeFirst();
      if (Number(deleted.numDeletedRows) === 0)
        throw new GatehouseError(ErrorCode.SIGN_IN_NOT_CONFIGURED, `${name} has no admin app`);
      tx.audit(record);
    });
    return { revision };
  }

  /**
   * A one-time link into the resource's admin app for the caller (a member, or their API key),
   * valid 60 seconds. Needs the permission the model's `gates.signIn` names for the resource's
   * type; a resource outside the caller's reach answers RESOURCE_NOT_FOUND. Refusals are logged.
   * @example
   * const { token } = await gatehouse.signIn.createLink(asUser(carol), ws, "site:shop");
   */
  async createLink(
    request: RequestContext,
    workspaceId: string,
    resource: string,
  ): Promise<{ link: SignInLink; revision: number }> {
    const name = requireResourceName(resource, "resource");
    const actor = request.actor;
    if (actor.type !== "user" && actor.type !== "api_key")
      throw new GatehouseError(
        ErrorCode.INVALID_INPUT,
        "a sign-in link is for a person: ask as the member or with their API key",
      );
    const token = randomSecret(32);
    const { value, revision } = await this.#core.write(request, workspaceId, async (tx) => {
      const record = { action: "sign_in.link.create", target: name };
      const target = await authorize(tx, name, record);
      const expiresAt = tx.now + SIGN_IN_LINK_TTL_MS;
      // Links past their minute are useless; the table keeps only a day of history.
      await tx.trx
        .deleteFrom("sign_in_links")
        .where("expires_at", "<", tx.now - 24 * 60 * 60_000)
        .execute();
      await tx.trx
        .insertInto("sign_in_links")
        .values({
          token_hash: hashSecret(token),
          workspace_id: tx.workspace.id,
          resource: name,
          user_id: actor.userId,
          key_id: actor.type === "api_key" ? actor.keyId : null,
          created_at: tx.now,
          expires_at: expiresAt,
          used_at: null,
        })
        .execute();
      tx.audit({ ...record, details: { audience: target, expiresAt } });
      return { token, resource: name, expiresAt };
    });
    return { link: value, revision };
  }

  /**
   * Uses a link, once: it is burnt atomically in the shared database (so two instances cannot both
   * honour it), the member's permission is checked again (so a demotion since the link was made
   * ends it), and a signed assertion for the admin app is answered — `iss`, `aud` (the admin app's
   * URL), `sub` (the user), `email`, `name`, `workspace`, `site`, `role`, `scope`, `permissions`,
   * `jti`, valid 60 seconds.
   * @example
   * const { url, assertion } = await gatehouse.signIn.consumeLink(token, { ip });
   */
  async consumeLink(token: string, origin?: Origin): Promise<SignInAssertion> {
    if (typeof token !== "string" || !TOKEN_PATTERN.test(token)) throw invalidLink();
    const core = this.#core;
    const digest = hashSecret(token);
    const row = await core.db
      .selectFrom("sign_in_links")
      .selectAll()
      .where("token_hash", "=", digest)
      .executeTakeFirst();
    if (row === undefined) throw invalidLink();
    const burnt = await core.db
      .updateTable("sign_in_links")
      .set({ used_at: core.clock() })
      .where("token_hash", "=", digest)
      .where("used_at", "is", null)
      .where("expires_at", ">", core.clock())
      .executeTakeFirst();
    if (Number(burnt.numUpdatedRows) !== 1) throw invalidLink();

    const actor: Actor =
      row.key_id === null
        ? { type: "user", userId: row.user_id }
        : { type: "api_key", keyId: row.key_id, userId: row.user_id };
    const request: RequestContext = origin === undefined ? { actor } : { actor, origin };
    const jti = randomBytes(16).toString("base64url");
    const { value: claims } = await core.write(request, row.workspace_id, async (tx) => {
      const resource = row.resource as ResourceRef;
      const record = { action: "sign_in.assertion", target: resource };
      const audience = await authorize(tx, resource, record);
      const subject = subjectOf(tx.request.actor)!;
      const decision = tx.engine.check(subject, signInPermission(tx, resource)!, resource);
      const user = await tx.trx
        .selectFrom("users")
        .select(["email", "name"])
        .where("id", "=", row.user_id)
        .executeTakeFirstOrThrow();
      const via = decision.allowed ? decision.via : undefined;
      tx.audit({
        ...record,
        details: { jti, audience, role: via?.role ?? null, linkCreatedAt: row.created_at },
      });
      return {
        audience,
        claims: {
          workspace: tx.workspace.id,
          site: resource,
          role: via?.role ?? null,
          scope: via?.scope ?? null,
          email: user.email,
          name: user.name,
          permissions: [...tx.engine.permissionsOn(subject, resource)],
        },
      };
    });
    const assertion = await this.#keys.sign({
      type: SIGN_IN_TYPE,
      audience: claims.audience,
      subject: row.user_id,
      jti,
      ttlMs: MAX_ASSERTION_TTL_MS,
      claims: claims.claims,
    });
    return {
      url: claims.audience,
      assertion,
      resource: row.resource,
      expiresAt: core.clock() + MAX_ASSERTION_TTL_MS,
    };
  }

  /**
   * The admin apps of the workspace's resources (host app or settings gate).
   * @example
   * const targets = await gatehouse.signIn.targets(systemActor(), ws);
   */
  async targets(request: RequestContext, workspaceId: string): Promise<SignInTarget[]> {
    const reader = await this.#core.read(request, workspaceId);
    if (!holdsSettingsGate(reader)) {
      await this.#core.recordDenial(request, reader.workspace.id, {
        action: "sign_in.target.list",
        target: reader.root,
      });
      throw new GatehouseError(
        ErrorCode.PERMISSION_DENIED,
        "admin apps are named by the host app and those who may change the settings",
      );
    }
    const rows = await reader.db
      .selectFrom("sign_in_targets")
      .select(["resource", "url", "updated_at", "updated_by"])
      .where("workspace_id", "=", reader.workspace.id)
      .orderBy("resource")
      .execute();
    return rows.map((row) => ({
      resource: row.resource,
      url: row.url,
      updatedAt: row.updated_at,
      updatedBy: row.updated_by,
    }));
  }
}

/**
 * The caller may sign in at `resource`: a member who reaches it and holds the model's sign-in
 * permission there, and the resource has an admin app. Answers the admin app's URL.
 */
async function authorize(
  tx: WorkspaceWriter,
  resource: ResourceRef,
  record: AuditLike,
): Promise<string> {
  await tx.requireMember(record);
  requireVisible(tx, resource, record);
  const permission = signInPermission(tx, resource);
  if (permission === undefined)
    throw new GatehouseError(
      ErrorCode.SIGN_IN_NOT_CONFIGURED,
      `${typeOf(resource)} resources have no admin app to sign in to in this workspace's model`,
    );
  const subject = subjectOf(tx.request.actor)!;
  const decision = tx.engine.check(subject, permission, resource);
  if (!decision.allowed)
    tx.deny(
      { ...record, details: { permission, reason: decision.reason } },
      tx.engine.explain(subject, permission, resource).summary,
    );
  const target = await tx.trx
    .selectFrom("sign_in_targets")
    .select("url")
    .where("workspace_id", "=", tx.workspace.id)
    .where("resource", "=", resource)
    .executeTakeFirst();
  if (target === undefined)
    throw new GatehouseError(
      ErrorCode.SIGN_IN_NOT_CONFIGURED,
      `${resource} has no admin app to sign in to; the host app names it first`,
    );
  return target.url;
}

async function requireSettingsGate(tx: WorkspaceWriter, record: AuditLike): Promise<void> {
  await tx.requireMember(record);
  if (!holdsSettingsGate(tx))
    tx.deny(record, "admin apps are named by the host app and those who may change the settings");
}
