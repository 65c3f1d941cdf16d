import { GatehouseError } from "@gatehouse/engine";
import {
  type CryptoKey,
  calculateJwkThumbprint,
  exportJWK,
  generateKeyPair,
  importJWK,
  type JWK,
  SignJWT,
} from "jose";
import type { Kysely } from "kysely";
import type { RequestContext } from "../actor.ts";
import { actorLabel } from "../audit/actor-label.ts";
import type { Database } from "../database/schema.ts";
import type { ServiceCore } from "../service-core.ts";
import { ErrorCode } from "../support/error-codes.ts";
import { DAY_MS } from "../support/time.ts";
import type { SecretBox } from "../team/integration-credentials.ts";

/** ES256: every JOSE library of every language a site's admin app is written in verifies it. */
export const ASSERTION_ALG = "ES256";
/** No assertion lives longer than this: sign-in assertions are short-lived. */
export const MAX_ASSERTION_TTL_MS = 60_000;
/** A retired key stays published this long after its last assertion could have been signed. */
const RETENTION_MS = MAX_ASSERTION_TTL_MS + 60_000;

export interface SigningKeyOptions {
  /** `iss` of every assertion: Gatehouse's public URL, which serves `/.well-known/jwks.json`. */
  readonly issuer?: string | undefined;
  /** How long a key signs before the next one is made (automatic rotation); 30 days by default. */
  readonly keyLifetimeMs?: number;
  /**
   * How long a new key is published before it signs, so that verifiers' cached key sets already
   * hold it when the first assertion signed with it arrives; 15 minutes by default.
   */
  readonly keyPrepublishMs?: number;
}

/** A public key as published in the JWKS. */
export interface PublishedKey {
  readonly kid: string;
  readonly kty: string;
  readonly crv: string;
  readonly x: string;
  readonly y: string;
  readonly alg: typeof ASSERTION_ALG;
  readonly use: "sig";
}

/** What an assertion says, besides the registered claims set by `sign`. */
export interface AssertionInput {
  /** The explicit JWT type (`typ` header, RFC 8725 §3.11), so one kind is never taken for another. */
  readonly type: string;
  readonly audience: string;
  readonly subject: string;
  readonly jti: string;
  readonly ttlMs: number;
  readonly claims: Readonly<Record<string, unknown>>;
}

interface KeyRow {
  kid: string;
  created_at: number;
  activates_at: number;
  published_until: number | null;
}

/**
 * The keys that sign Gatehouse's assertions (sign-in handoff, forwarded tool calls), shared by
 * every instance through the database. Private keys are sealed with the service's secret box.
 * A new key is published before it signs; a retired one stays published until every assertion it
 * signed has expired, so rotation never breaks a link in flight.
 */
export class SigningKeys {
  readonly #core: ServiceCore;
  readonly #box: SecretBox | undefined;
  readonly #issuer: string | undefined;
  readonly #lifetimeMs: number;
  readonly #prepublishMs: number;
  /** Imported private keys by kid; which key signs is read from the rows on every signature. */
  readonly #imported = new Map<string, CryptoKey>();

  constructor(core: ServiceCore, box: SecretBox | undefined, options: SigningKeyOptions = {}) {
    this.#core = core;
    this.#box = box;
    this.#issuer = options.issuer?.replace(/\/+$/, "");
    this.#lifetimeMs = options.keyLifetimeMs ?? 30 * DAY_MS;
    this.#prepublishMs = options.keyPrepublishMs ?? 15 * 60_000;
    if (!(this.#lifetimeMs > 0) || !(this.#prepublishMs >= 0))
      throw new GatehouseError(ErrorCode.INVALID_INPUT, "key lifetime and prepublication are ≥ 0");
  }

  /** The issuer, or CONFIGURATION_REQUIRED. */
  get issuer(): string {
    if (this.#issuer === undefined)
      throw new GatehouseError(
        ErrorCode.CONFIGURATION_REQUIRED,
        "signed assertions need an issuer (the server's public URL) in the Gatehouse options",
      );
    return this.#issuer;
  }

  /**
   * Creates the first key, or a successor that is due, now rather than on the next signature —
   * at start-up, so the published set is never empty when a verifier first fetches it.
   * @example
   * await gatehouse.signingKeys.prepare();
   */
  async prepare(): Promise<void> {
    await this.#ensure();
  }

  /**
   * The published keys: the signing key, a prepublished successor and retired keys whose
   * assertions may still be in flight. Reading them changes nothing.
   * @example
   * const { keys } = await gatehouse.signingKeys.jwks(); // serve at /.well-known/jwks.json
   */
  async jwks(): Promise<{ keys: PublishedKey[] }> {
    const now = this.#core.clock();
    const rows = await this.#core.db
      .selectFrom("signing_keys")
      .select("public_jwk")
      .where("created_at", "<=", now)
      .where((eb) => eb.or([eb("published_until", "is", null), eb("published_until", ">", now)]))
      .orderBy("activates_at", "desc")
      .orderBy("generation", "desc")
      .execute();
    return { keys: rows.map((row) => JSON.parse(row.public_jwk) as PublishedKey) };
  }

  /**
   * Signs an assertion with the current key: `iss`, `aud`, `sub`, `iat`, `nbf`, `exp` (at most
   * 60 s later) and `jti`, plus `claims`. A key past its lifetime gets a successor first.
   */
  async sign(input: AssertionInput): Promise<string> {
    if (!(input.ttlMs > 0 && input.ttlMs <= MAX_ASSERTION_TTL_MS))
      throw new GatehouseError(ErrorCode.INVALID_INPUT, "an assertion lives at most 60 seconds");
    const issuer = this.issuer;
    const { kid } = await this.#ensure();
    const privateKey = await this.#privateKey(kid);
    const now = Math.floor(this.#core.clock() / 1000);
    return new SignJWT({ ...input.claims })
      .setProtectedHeader({ alg: ASSERTION_ALG, kid, typ: input.type })
      .setIssuer(issuer)
      .setAudience(input.audience)
      .setSubject(input.subject)
      .setIssuedAt(now)
      .setNotBefore(now)
      .setExpirationTime(now + Math.floor(input.ttlMs / 1000))
      .setJti(input.jti)
      .sign(privateKey);
  }

  /**
   * Starts a new key (instance operator only): published at once, signing after `prepublishMs`
   * (the configured prepublication by default; 0 to switch at once, e.g. after a leak). The
   * previous key stays published until its last assertion has expired.
   * @example
   * await gatehouse.signingKeys.rotate(systemActor("operator"));
   */
  async rotate(
    request: RequestContext,
    options: { prepublishMs?: number } = {},
  ): Promise<{ kid: string; activatesAt: number }> {
    if (request.actor.type !== "system")
      throw new GatehouseError(
        ErrorCode.PERMISSION_DENIED,
        "signing keys are rotated by the instance operator",
      );
    const prepublishMs = options.prepublishMs ?? this.#prepublishMs;
    if (!(Number.isSafeInteger(prepublishMs) && prepublishMs >= 0))
      throw new GatehouseError(ErrorCode.INVALID_INPUT, "prepublishMs is milliseconds ≥ 0");
    return this.#core.storage.transaction(async (trx) => {
      await this.#lockInstance(trx);
      return this.#addKey(trx, this.#core.clock() + prepublishMs, actorLabel(request));
    });
  }

  /** The signing key, creating the first one or a successor when due (under the instance lock). */
  async #ensure(): Promise<{ kid: string }> {
    const now = this.#core.clock();
    const decided = this.#decide(await this.#rows(this.#core.db, now), now);
    if (decided.kid !== undefined && !decided.due) return { kid: decided.kid };
    return this.#core.storage.transaction(async (trx) => {
      await this.#lockInstance(trx);
      const again = this.#decide(await this.#rows(trx, now), now);
      if (again.kid === undefined) return this.#addKey(trx, now, "system:gatehouse");
      if (again.due) await this.#addKey(trx, now + this.#prepublishMs, "system:gatehouse");
      return { kid: again.kid };
    });
  }

  /** The key signing now, and whether its successor is due (past its lifetime, none pending). */
  #decide(rows: readonly KeyRow[], now: number): { kid: string | undefined; due: boolean } {
    const active = rows.find((row) => row.activates_at <= now);
    const pending = rows.some((row) => row.activates_at > now);
    if (active === undefined) return { kid: undefined, due: true };
    return { kid: active.kid, due: !pending && now - active.activates_at >= this.#lifetimeMs };
  }

  /** Keys still published, newest activation first: a retired key signs until its successor activates. */
  async #rows(db: Kysely<Database>, now: number): Promise<KeyRow[]> {
    return db
      .selectFrom("signing_keys")
      .select(["kid", "created_at", "activates_at", "published_until"])
      .where((eb) => eb.or([eb("published_until", "is", null), eb("published_until", ">", now)]))
      .orderBy("activates_at", "desc")
      .orderBy("generation", "desc")
      .execute();
  }

  /** Serializes key changes across instances: the instance row (PostgreSQL), the write lock (SQLite). */
  async #lockInstance(trx: Kysely<Database>): Promise<void> {
    await trx
      .selectFrom("instance")
      .select("id")
      .where("id", "=", 1)
      .$if(this.#core.storage.locksRows, (query) => query.forUpdate())
      .executeTakeFirstOrThrow();
  }

  async #addKey(
    trx: Kysely<Database>,
    activatesAt: number,
    actor: string,
  ): Promise<{ kid: string; activatesAt: number }> {
    const box = this.#box;
    if (box === undefined)
      throw new GatehouseError(
        ErrorCode.CONFIGURATION_REQUIRED,
        "signing keys need a secretKey in the Gatehouse options to be sealed",
      );
    const now = this.#core.clock();
    const { publicKey, privateKey } = await generateKeyPair(ASSERTION_ALG, { extractable: true });
    const publicJwk = await exportJWK(publicKey);
    const kid = await calculateJwkThumbprint(publicJwk);
    const published: PublishedKey = {
      kid,
      kty: String(publicJwk.kty),
      crv: String(publicJwk.crv),
      x: String(publicJwk.x),
      y: String(publicJwk.y),
      alg: ASSERTION_ALG,
      use: "sig",
    };
    const privateJwk: JWK = await exportJWK(privateKey);
    // Generations order keys that activate at the same millisecond: the newer one signs.
    const latest = await trx
      .selectFrom("signing_keys")
      .select((eb) => eb.fn.max("generation").as("generation"))
      .executeTakeFirst();
    const generation = Number(latest?.generation ?? 0) + 1;
    // Keys still unretired stop being published once their last assertion expired.
    await trx
      .updateTable("signing_keys")
      .set({ published_until: activatesAt + RETENTION_MS })
      .where("published_until", "is", null)
      .execute();
    await trx
      .deleteFrom("signing_keys")
      .where("published_until", "<", now - DAY_MS)
      .execute();
    await trx
      .insertInto("signing_keys")
      .values({
        kid,
        generation,
        alg: ASSERTION_ALG,
        public_jwk: JSON.stringify(published),
        sealed_private_jwk: box.seal(JSON.stringify(privateJwk), contextOf(kid)),
        created_at: now,
        activates_at: activatesAt,
        published_until: null,
      })
      .execute();
    await this.#core.appendInstanceLog(trx, {
      action: "signing_key.create",
      workspaceId: null,
      actor,
      details: { kid, alg: ASSERTION_ALG, activatesAt },
    });
    return { kid, activatesAt };
  }

  async #privateKey(kid: string): Promise<CryptoKey> {
    const cached = this.#imported.get(kid);
    if (cached !== undefined) return cached;
    const key = await this.#load(kid);
    this.#imported.set(kid, key);
    return key;
  }

  async #load(kid: string): Promise<CryptoKey> {
    const box = this.#box;
    if (box === undefined)
      throw new GatehouseError(
        ErrorCode.CONFIGURATION_REQUIRED,
        "signing keys need a secretKey in the Gatehouse options",
      );
    const row = await this.#core.db
      .selectFrom("signing_keys")
      .select("sealed_private_jwk")
      .where("kid", "=", kid)
      .executeTakeFirstOrThrow();
    const jwk = JSON.parse(box.open(row.sealed_private_jwk, contextOf(kid))) as JWK;
    const key = await importJWK(jwk, ASSERTION_ALG);
    if (key instanceof Uint8Array)
      throw new GatehouseError(ErrorCode.DATABASE_ERROR, "a signing key is not an EC key");
    return key;
  }
}

/** What a private key is sealed for: its kid, so a sealed key copied to another row does not open. */
function contextOf(kid: string): string {
  return `signing-key\n${kid}`;
}
