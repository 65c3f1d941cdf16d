import { GatehouseError } from "@gatehouse/engine";
import type { Selectable } from "kysely";
import type { Origin, RequestContext } from "../actor.ts";
import { actorLabel } from "../audit/actor-label.ts";
import type { HostCredentialsTable } from "../database/schema.ts";
import type { ServiceCore } from "../service-core.ts";
import { hashSecret, isSameDigest, newId, randomSecret } from "../support/crypto.ts";
import { ErrorCode } from "../support/error-codes.ts";

export type HostCredentialStatus = "active" | "revoked";

/** A host credential as listed: everything but its secret, which is shown once, at creation. */
export interface HostCredentialInfo {
  readonly id: string;
  readonly name: string;
  /** The secret's public beginning (`ghh_` and 8 characters), to recognise it in a list. */
  readonly prefix: string;
  /** The only workspaces it reaches; `null` for every workspace. */
  readonly workspaces: readonly string[] | null;
  readonly createdAt: number;
  readonly revokedAt: number | null;
  readonly status: HostCredentialStatus;
}

export interface NewHostCredential {
  readonly name: string;
  /** Limit the credential to these workspaces; every workspace when absent or empty. */
  readonly workspaces?: readonly string[] | undefined;
}

type HostCredentialRow = Selectable<HostCredentialsTable>;

const ID_PREFIX = "hcr_";
/** A name an operator types: letters, digits, `.`, `_`, `-`; never shaped like an id. */
const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;
/** `ghh_`, 8 characters of the id, `_`, 32 random bytes in base64url (256 bits). */
const SECRET_PATTERN = /^ghh_[A-Za-z0-9_-]{8}_[A-Za-z0-9_-]{43}$/;
const MAX_WORKSPACES = 1000;

/** Whether a bearer token is shaped as a host credential (rather than an API key). */
export function isHostSecret(token: string): boolean {
  return token.startsWith("ghh_");
}

/** Only the instance operator (the CLI's system actor, not a host credential) manages credentials. */
function requireOperator(request: RequestContext): void {
  if (request.actor.type !== "system" || request.actor.host !== undefined)
    throw new GatehouseError(
      ErrorCode.PERMISSION_DENIED,
      "host credentials are managed by the instance operator (gatehouse host-credential)",
    );
}

function toInfo(row: HostCredentialRow): HostCredentialInfo {
  return {
    id: row.id,
    name: row.name,
    prefix: row.prefix,
    workspaces: row.workspaces === null ? null : (JSON.parse(row.workspaces) as string[]),
    createdAt: row.created_at,
    revokedAt: row.revoked_at,
    status: row.revoked_at === null ? "active" : "revoked",
  };
}

/** The same answer as for a wrong API key: nothing tells a wrong secret from a revoked one. */
function invalidCredentials(): GatehouseError {
  return new GatehouseError(ErrorCode.INVALID_CREDENTIALS, "invalid API key");
}

/**
 * Host credentials: the trusted host application's bearer secrets, created by the instance operator.
 * A request with one acts as the system actor named after the credential, within its workspaces.
 * The secret is shown once and stored hashed.
 */
export class HostCredentials {
  readonly #core: ServiceCore;

  constructor(core: ServiceCore) {
    this.#core = core;
  }

  /**
   * Creates a credential; the secret is in this answer only, the store keeps its hash.
   * @example
   * const { credential, secret } = await gatehouse.hostCredentials.create(systemActor("cli"), { name: "billing-panel" });
   */
  async create(
    request: RequestContext,
    input: NewHostCredential,
  ): Promise<{ credential: HostCredentialInfo; secret: string }> {
    requireOperator(request);
    const core = this.#core;
    const name = input?.name;
    if (typeof name !== "string" || !NAME.test(name) || name.startsWith(ID_PREFIX))
      throw new GatehouseError(
        ErrorCode.INVALID_INPUT,
        "a host credential's name is 1–100 letters, digits, `.`, `_` or `-`, not starting with hcr_",
      );
    const given = input.workspaces ?? [];
    if (
      !Array.isArray(given) ||
      given.length > MAX_WORKSPACES ||
      given.some((item) => typeof item !== "string" || item === "" || item.length > 100)
    )
      throw new GatehouseError(ErrorCode.INVALID_INPUT, "workspaces is a list of workspace ids");
    const workspaces = [...new Set(given)];
    const id = newId("hcr");
    const prefix = `ghh_${id.slice(ID_PREFIX.length, ID_PREFIX.length + 8)}`;
    const secret = `${prefix}_${randomSecret(32)}`;
    const row: HostCredentialRow = {
      id,
      name,
      prefix,
      secret_hash: hashSecret(secret),
      workspaces: workspaces.length === 0 ? null : JSON.stringify(workspaces),
      created_at: core.clock(),
      revoked_at: null,
    };
    await core.storage.transaction(async (trx) => {
      for (const workspaceId of workspaces) await core.workspace(trx, workspaceId);
      const taken = await trx
        .selectFrom("host_credentials")
        .select("id")
        .where("name", "=", name)
        .where("revoked_at", "is", null)
        .executeTakeFirst();
      if (taken !== undefined)
        throw new GatehouseError(
          ErrorCode.CONFLICT,
          `an active host credential is named "${name}"; revoke it first or pick another name`,
        );
      await trx.insertInto("host_credentials").values(row).execute();
      await core.appendInstanceLog(trx, {
        action: "host_credential.create",
        workspaceId: null,
        actor: actorLabel(request),
        details: { id, name, prefix, workspaces: workspaces.length === 0 ? null : workspaces },
      });
    });
    return { credential: toInfo(row), secret };
  }

  /**
   * Every host credential, revoked ones included, oldest first; secrets are never returned.
   * @example
   * const credentials = await gatehouse.hostCredentials.list(systemActor("cli"));
   */
  async list(request: RequestContext): Promise<HostCredentialInfo[]> {
    requireOperator(request);
    const rows = await this.#core.db
      .selectFrom("host_credentials")
      .selectAll()
      .orderBy("created_at")
      .orderBy("id")
      .execute();
    return rows.map(toInfo);
  }

  /**
   * Revokes a credential by id, or by the name of an active one; its next request gets 401.
   * Revoking a revoked credential changes nothing.
   * @example
   * await gatehouse.hostCredentials.revoke(systemActor("cli"), "billing-panel");
   */
  async revoke(request: RequestContext, nameOrId: string): Promise<HostCredentialInfo> {
    requireOperator(request);
    const core = this.#core;
    if (typeof nameOrId !== "string" || nameOrId === "" || nameOrId.length > 100)
      throw new GatehouseError(ErrorCode.HOST_CREDENTIAL_NOT_FOUND, "no such host credential");
    return core.storage.transaction(async (trx) => {
      const row =
        (await trx
          .selectFrom("host_credentials")
          .selectAll()
          .where("id", "=", nameOrId)
          .executeTakeFirst()) ??
        (await trx
          .selectFrom("host_credentials")
          .selectAll()
          .where("name", "=", nameOrId)
          .where("revoked_at", "is", null)
          .executeTakeFirst());
      if (row === undefined)
        throw new GatehouseError(ErrorCode.HOST_CREDENTIAL_NOT_FOUND, "no such host credential");
      if (row.revoked_at !== null) return toInfo(row);
      const now = core.clock();
      await trx
        .updateTable("host_credentials")
        .set({ revoked_at: now })
        .where("id", "=", row.id)
        .execute();
      await core.appendInstanceLog(trx, {
        action: "host_credential.revoke",
        workspaceId: null,
        actor: actorLabel(request),
        details: { id: row.id, name: row.name, prefix: row.prefix },
      });
      return toInfo({ ...row, revoked_at: now });
    });
  }

  /**
   * Resolves a secret to a request context acting as the host application, named after the
   * credential and limited to its workspaces. Unknown and revoked secrets get INVALID_CREDENTIALS,
   * as a wrong API key does. Checked against the store on every call, so revocation is immediate.
   * @example
   * const context = await gatehouse.hostCredentials.authenticate(bearerToken, { ip });
   */
  async authenticate(secret: string, origin?: Origin): Promise<RequestContext> {
    if (typeof secret !== "string" || !SECRET_PATTERN.test(secret)) throw invalidCredentials();
    const digest = hashSecret(secret);
    const row = await this.#core.db
      .selectFrom("host_credentials")
      .selectAll()
      .where("secret_hash", "=", digest)
      .executeTakeFirst();
    if (
      row === undefined ||
      !isSameDigest(row.secret_hash, digest) ||
      !secret.startsWith(`${row.prefix}_`) ||
      row.revoked_at !== null
    )
      throw invalidCredentials();
    const workspaces = toInfo(row).workspaces;
    const host = {
      credentialId: row.id,
      name: row.name,
      ...(workspaces === null ? {} : { workspaces }),
    };
    const actor = { type: "system", name: row.name, host } as const;
    return origin === undefined ? { actor } : { actor, origin };
  }
}
