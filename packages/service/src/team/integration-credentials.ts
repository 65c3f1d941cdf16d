import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import { GatehouseError } from "@gatehouse/engine";
import { personOf, type RequestContext } from "../actor.ts";
import { actorLabel } from "../audit/actor-label.ts";
import type { ServiceCore, WorkspaceReader } from "../service-core.ts";
import { ErrorCode } from "../support/error-codes.ts";

/** An integration credential as listed: its name and history, never its value. */
export interface CredentialInfo {
  readonly name: string;
  readonly createdAt: number;
  readonly updatedAt: number;
  /** `user:…` or `system:…`: who wrote the current value. */
  readonly updatedBy: string;
}

const KEY_BYTES = 32;
const IV_BYTES = 12;
const SEAL_VERSION = "v1";
const NAME = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,99}$/;
const MAX_VALUE_LENGTH = 16 * 1024;

function parseKey(key: Uint8Array | string): Buffer {
  let bytes: Buffer | undefined;
  if (key instanceof Uint8Array) bytes = Buffer.from(key);
  else if (typeof key === "string" && /^[0-9a-fA-F]{64}$/.test(key))
    bytes = Buffer.from(key, "hex");
  else if (typeof key === "string" && /^[A-Za-z0-9+/_-]{43}=?$/.test(key))
    bytes = Buffer.from(key, "base64");
  if (bytes?.length !== KEY_BYTES) {
    throw new GatehouseError(
      ErrorCode.INVALID_INPUT,
      "secretKey must be 32 bytes: a Uint8Array, 64 hex characters or base64",
    );
  }
  return bytes;
}

/**
 * Seals short secrets with AES-256-GCM under the instance's secret key. The context (e.g. the
 * workspace and credential name) is bound as associated data, so a sealed value copied to another
 * row does not open.
 */
export class SecretBox {
  readonly #key: Buffer;

  constructor(key: Uint8Array | string) {
    this.#key = parseKey(key);
  }

  /** `v1.<iv>.<ciphertext>.<tag>`, base64url parts. */
  seal(plaintext: string, context: string): string {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv("aes-256-gcm", this.#key, iv);
    cipher.setAAD(Buffer.from(context, "utf8"));
    const sealed = Buffer.concat([cipher.update(plaintext, "utf8"), cipher.final()]);
    return [SEAL_VERSION, iv, sealed, cipher.getAuthTag()]
      .map((part) => (typeof part === "string" ? part : part.toString("base64url")))
      .join(".");
  }

  /** The plaintext; throws when the value was sealed under another key or context, or altered. */
  open(sealed: string, context: string): string {
    const [version, iv, data, tag] = sealed.split(".");
    if (version !== SEAL_VERSION || iv === undefined || data === undefined || tag === undefined) {
      throw new GatehouseError(ErrorCode.DATABASE_ERROR, "a sealed value is malformed");
    }
    try {
      const decipher = createDecipheriv("aes-256-gcm", this.#key, Buffer.from(iv, "base64url"));
      decipher.setAAD(Buffer.from(context, "utf8"));
      decipher.setAuthTag(Buffer.from(tag, "base64url"));
      return Buffer.concat([
        decipher.update(Buffer.from(data, "base64url")),
        decipher.final(),
      ]).toString("utf8");
    } catch (error) {
      throw new GatehouseError(
        ErrorCode.CONFIGURATION_REQUIRED,
        "a sealed value does not open: it was sealed under another secretKey, or altered",
        { cause: error },
      );
    }
  }
}

/** The box for `GatehouseOptions.secretKey`; `undefined` when no key is configured. */
export function secretBoxOf(key: Uint8Array | string | undefined): SecretBox | undefined {
  return key === undefined ? undefined : new SecretBox(key);
}

function keyRequired(): GatehouseError {
  return new GatehouseError(
    ErrorCode.CONFIGURATION_REQUIRED,
    "integration credentials need a secretKey in the Gatehouse options to be sealed",
  );
}

function parseName(name: unknown): string {
  if (typeof name !== "string" || !NAME.test(name)) {
    throw new GatehouseError(
      ErrorCode.INVALID_INPUT,
      "a credential name is 1–100 letters, digits, and . _ : - (starting with a letter or digit)",
    );
  }
  return name;
}

/** What a credential is sealed for: its workspace and name. */
function contextOf(workspaceId: string, name: string): string {
  return `credential\n${workspaceId}\n${name}`;
}

/** The owner (or the system actor); API keys and the assistant never, as owner-only concerns are not delegable. */
function isOwner(reader: WorkspaceReader): boolean {
  const actor = reader.request.actor;
  if (actor.type === "system") return true;
  return actor.type === "user" && reader.engine.ownerGrant?.subject === `user:${actor.userId}`;
}

/**
 * Integration credentials (DNS tokens, AI keys, backup-destination secrets): owner-only and
 * write-only, even for the owner. People set, list (names only) and delete them; only the host application, as
 * the system actor, reads a value back to use it.
 */
export class Credentials {
  readonly #core: ServiceCore;
  readonly #box: SecretBox | undefined;

  constructor(core: ServiceCore, box: SecretBox | undefined) {
    this.#core = core;
    this.#box = box;
  }

  /**
   * Creates or replaces a credential (owner only). The value is sealed at once; the activity log
   * records the name, never the value.
   * @example
   * await gatehouse.credentials.set(asUser(owner.id), ws, { name: "cloudflare.token", value: token });
   */
  async set(
    request: RequestContext,
    workspaceId: string,
    input: { name: string; value: string },
  ): Promise<{ credential: CredentialInfo; revision: number }> {
    const box = this.#box;
    if (box === undefined) throw keyRequired();
    const name = parseName(input?.name);
    const value = input?.value;
    if (typeof value !== "string" || value === "" || value.length > MAX_VALUE_LENGTH) {
      throw new GatehouseError(
        ErrorCode.INVALID_INPUT,
        `a credential value is 1–${MAX_VALUE_LENGTH} characters`,
      );
    }
    const { value: credential, revision } = await this.#core.write(
      request,
      workspaceId,
      async (tx) => {
        const record = { action: "credential.set", target: tx.root, details: { name } };
        await tx.requireOwner(record);
        const ws = tx.workspace.id;
        const existing = await tx.trx
          .selectFrom("integration_credentials")
          .select("created_at")
          .where("workspace_id", "=", ws)
          .where("name", "=", name)
          .executeTakeFirst();
        const row = {
          workspace_id: ws,
          name,
          sealed_value: box.seal(value, contextOf(ws, name)),
          created_at: existing?.created_at ?? tx.now,
          updated_at: tx.now,
          updated_by: actorLabel(tx.request),
        };
        if (existing === undefined) {
          await tx.trx.insertInto("integration_credentials").values(row).execute();
        } else {
          await tx.trx
            .updateTable("integration_credentials")
            .set({
              sealed_value: row.sealed_value,
              updated_at: row.updated_at,
              updated_by: row.updated_by,
            })
            .where("workspace_id", "=", ws)
            .where("name", "=", name)
            .execute();
        }
        tx.audit({ ...record, details: { name, replaced: existing !== undefined } });
        return toInfo(row);
      },
    );
    return { credential, revision };
  }

  /**
   * The workspace's credentials by name, with when and by whom each was last set (owner only);
   * values are never returned.
   * @example
   * const names = (await gatehouse.credentials.list(asUser(owner.id), ws)).map((c) => c.name);
   */
  async list(request: RequestContext, workspaceId: string): Promise<CredentialInfo[]> {
    const core = this.#core;
    const reader = await core.read(request, workspaceId);
    if (!isOwner(reader)) {
      await core.recordDenial(request, reader.workspace.id, {
        action: "credential.list",
        target: reader.root,
      });
      throw new GatehouseError(
        ErrorCode.PERMISSION_DENIED,
        "only the workspace owner manages integration credentials",
      );
    }
    const rows = await reader.db
      .selectFrom("integration_credentials")
      .select(["name", "created_at", "updated_at", "updated_by"])
      .where("workspace_id", "=", reader.workspace.id)
      .orderBy("name")
      .execute();
    return rows.map(toInfo);
  }

  /**
   * Deletes a credential (owner only); CREDENTIAL_NOT_FOUND when there is none by that name.
   * @example
   * await gatehouse.credentials.delete(asUser(owner.id), ws, "cloudflare.token");
   */
  async delete(
    request: RequestContext,
    workspaceId: string,
    name: string,
  ): Promise<{ revision: number }> {
    const { revision } = await this.#core.write(request, workspaceId, async (tx) => {
      const record = {
        action: "credential.delete",
        target: tx.root,
        details: { name: String(name).slice(0, 100) },
      };
      await tx.requireOwner(record);
      const deleted = await tx.trx
        .deleteFrom("integration_credentials")
        .where("workspace_id", "=", tx.workspace.id)
        .where("name", "=", typeof name === "string" ? name : "")
        .executeTakeFirst();
      if (Number(deleted.numDeletedRows) === 0) {
        throw new GatehouseError(ErrorCode.CREDENTIAL_NOT_FOUND, "no such credential");
      }
      tx.audit(record);
    });
    return { revision };
  }

  /**
   * The plaintext of a credential, for the host application (the system actor) to use it. No
   * person reads a credential back, not even the owner: they are denied, and the attempt is
   * logged.
   * @example
   * const token = await gatehouse.credentials.reveal(systemActor(), ws, "cloudflare.token");
   */
  async reveal(request: RequestContext, workspaceId: string, name: string): Promise<string> {
    const core = this.#core;
    const reader = await core.read(request, workspaceId);
    if (personOf(request.actor) !== undefined) {
      await core.recordDenial(request, reader.workspace.id, {
        action: "credential.reveal",
        target: reader.root,
        details: { name: String(name).slice(0, 100) },
      });
      throw new GatehouseError(
        ErrorCode.PERMISSION_DENIED,
        "integration credentials are write-only: only the host application reads them",
      );
    }
    const row = await reader.db
      .selectFrom("integration_credentials")
      .select("sealed_value")
      .where("workspace_id", "=", reader.workspace.id)
      .where("name", "=", typeof name === "string" ? name : "")
      .executeTakeFirst();
    if (row === undefined)
      throw new GatehouseError(ErrorCode.CREDENTIAL_NOT_FOUND, "no such credential");
    if (this.#box === undefined) throw keyRequired();
    return this.#box.open(row.sealed_value, contextOf(reader.workspace.id, name));
  }
}

function toInfo(row: {
  name: string;
  created_at: number;
  updated_at: number;
  updated_by: string;
}): CredentialInfo {
  return {
    name: row.name,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    updatedBy: row.updated_by,
  };
}
