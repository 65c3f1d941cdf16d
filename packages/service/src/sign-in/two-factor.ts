import { randomBytes } from "node:crypto";
import { GatehouseError } from "@gatehouse/engine";
import type { Kysely } from "kysely";
import { Secret, TOTP } from "otpauth";
import type { RequestContext } from "../actor.ts";
import { actorLabel } from "../audit/actor-label.ts";
import type { Database } from "../database/schema.ts";
import type { ServiceCore } from "../service-core.ts";
import { hashSecret, isSameDigest, newId } from "../support/crypto.ts";
import { ErrorCode } from "../support/error-codes.ts";
import type { SecretBox } from "../team/integration-credentials.ts";

/** RFC 6238 as authenticator apps implement it: HMAC-SHA-1, 6 digits, 30-second steps. */
export const TOTP_DIGITS = 6;
export const TOTP_PERIOD_SECONDS = 30;
/** Codes of the step before and after the current one are accepted too (clock drift). */
export const TOTP_WINDOW = 1;
/** 160-bit secrets, the HMAC-SHA-1 key length RFC 4226 recommends. */
const SECRET_BYTES = 20;
const PLAIN_PREFIX = "plain:";
/** Recovery codes a user holds at a time. */
export const RECOVERY_CODE_COUNT = 10;
/** 128 random bits each, as every other secret of Gatehouse: 26 base32 letters and digits. */
const RECOVERY_CODE_BYTES = 16;
const BASE32 = "abcdefghijklmnopqrstuvwxyz234567";

/** A fresh recovery code: 128 random bits in lowercase base32, in groups of five for reading out. */
function newRecoveryCode(): string {
  const bytes = randomBytes(RECOVERY_CODE_BYTES);
  let bits = 0;
  let value = 0;
  let text = "";
  for (const byte of bytes) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      text += BASE32[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) text += BASE32[(value << (5 - bits)) & 31];
  return text.match(/.{1,5}/g)!.join("-");
}

/** A code as typed: case, spaces and dashes do not matter. */
function normalizeRecoveryCode(code: string): string {
  return code.toLowerCase().replaceAll(/[\s-]/g, "");
}

/** What a user adds to their authenticator app; shown once, when enrolling. */
export interface TotpEnrollment {
  /** The base32 secret, for typing in by hand. */
  readonly secret: string;
  /** `otpauth://totp/…`, for a QR code. */
  readonly otpauthUri: string;
}

export interface TwoFactorStatus {
  /** TOTP is confirmed and asked for at every sign-in. */
  readonly enabled: boolean;
  /** An enrolment waits for its first code. */
  readonly pending: boolean;
  /** A workspace the user belongs to requires two-factor sign-in. */
  readonly required: boolean;
  /** The names of the workspaces that require it, for people to know who asks (#16). */
  readonly requiredBy: readonly string[];
  /** Unused recovery codes left. */
  readonly recoveryCodesLeft: number;
}

/**
 * The code of a base32 `secret` at `timestamp` (epoch milliseconds).
 * @example
 * totpCode("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ", 59_000, 8); // "94287082" (RFC 6238, appendix B)
 */
export function totpCode(secret: string, timestamp: number, digits = TOTP_DIGITS): string {
  return TOTP.generate({
    secret: Secret.fromBase32(secret),
    algorithm: "SHA1",
    digits,
    period: TOTP_PERIOD_SECONDS,
    timestamp,
  });
}

/**
 * The time step whose code `code` is, within {@link TOTP_WINDOW} steps of `timestamp`;
 * `undefined` when it matches none. Codes are compared in constant time.
 * @example
 * totpStep("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ", "94287082", 59_000, 8); // 1
 */
export function totpStep(
  secret: string,
  code: unknown,
  timestamp: number,
  digits = TOTP_DIGITS,
): number | undefined {
  if (typeof code !== "string") return undefined;
  const token = code.replaceAll(" ", "");
  if (!/^\d+$/.test(token)) return undefined;
  const delta = TOTP.validate({
    token,
    secret: Secret.fromBase32(secret),
    algorithm: "SHA1",
    digits,
    period: TOTP_PERIOD_SECONDS,
    timestamp,
    window: TOTP_WINDOW,
  });
  return delta === null
    ? undefined
    : TOTP.counter({ period: TOTP_PERIOD_SECONDS, timestamp }) + delta;
}

function invalidCode(): GatehouseError {
  return new GatehouseError(ErrorCode.TOTP_INVALID, "the two-factor code is wrong or was used");
}

/**
 * Per-user two-factor sign-in with TOTP. The secret is sealed with the instance's secret
 * key when one is configured and is never returned after enrolment; each time step's code is
 * accepted once.
 */
export class TwoFactor {
  readonly #core: ServiceCore;
  readonly #box: SecretBox | undefined;
  readonly #issuer: string;

  constructor(core: ServiceCore, options: { box: SecretBox | undefined; issuer: string }) {
    this.#core = core;
    this.#box = options.box;
    this.#issuer = options.issuer;
  }

  /**
   * Starts (or restarts) an enrolment with a fresh secret; it takes effect once `confirm`ed.
   * TOTP_ALREADY_ENABLED when the user has confirmed TOTP.
   * @example
   * const { otpauthUri } = await gatehouse.twoFactor.enroll(user.id);
   */
  async enroll(userId: string): Promise<TotpEnrollment> {
    const core = this.#core;
    const user = await this.#user(userId);
    if (user.totp_enabled_at !== null) {
      throw new GatehouseError(
        ErrorCode.TOTP_ALREADY_ENABLED,
        "two-factor sign-in is already enabled for this account",
      );
    }
    const secret = new Secret({ size: SECRET_BYTES }).base32;
    const updated = await core.storage.transaction((trx) =>
      trx
        .updateTable("users")
        .set({ totp_secret: this.#seal(user.id, secret), totp_last_step: null })
        .where("id", "=", user.id)
        .where("totp_enabled_at", "is", null)
        .executeTakeFirst(),
    );
    if (Number(updated.numUpdatedRows) !== 1) {
      throw new GatehouseError(
        ErrorCode.TOTP_ALREADY_ENABLED,
        "two-factor sign-in was enabled meanwhile",
      );
    }
    const totp = new TOTP({
      issuer: this.#issuer,
      label: user.email,
      secret: Secret.fromBase32(secret),
      algorithm: "SHA1",
      digits: TOTP_DIGITS,
      period: TOTP_PERIOD_SECONDS,
    });
    return { secret, otpauthUri: totp.toString() };
  }

  /**
   * Enables the pending enrolment with a code from the app (TOTP_INVALID when wrong;
   * TOTP_NOT_ENABLED when nothing is pending). The code's step counts as used.
   * @example
   * await gatehouse.twoFactor.confirm(user.id, "492039");
   */
  async confirm(userId: string, code: string): Promise<void> {
    const core = this.#core;
    const user = await this.#user(userId);
    if (user.totp_enabled_at !== null) {
      throw new GatehouseError(
        ErrorCode.TOTP_ALREADY_ENABLED,
        "two-factor sign-in is already enabled for this account",
      );
    }
    if (user.totp_secret === null) {
      throw new GatehouseError(
        ErrorCode.TOTP_NOT_ENABLED,
        "no two-factor enrolment to confirm; enrol first",
      );
    }
    const now = core.clock();
    const step = totpStep(this.#open(user.id, user.totp_secret), code, now);
    if (step === undefined) throw invalidCode();
    const updated = await core.storage.transaction((trx) =>
      trx
        .updateTable("users")
        .set({ totp_enabled_at: now, totp_last_step: step })
        .where("id", "=", user.id)
        .where("totp_enabled_at", "is", null)
        // A concurrent re-enrolment replaced the secret this code was checked against.
        .where("totp_secret", "=", user.totp_secret)
        .executeTakeFirst(),
    );
    if (Number(updated.numUpdatedRows) !== 1) throw invalidCode();
  }

  /**
   * Whether `code` is the user's current code (±1 step) and its step was not used yet; the step is
   * then marked used, atomically, so a code works once. TOTP_NOT_ENABLED without confirmed TOTP.
   * @example
   * if (!(await gatehouse.twoFactor.verify(user.id, code))) throw new Error("wrong code");
   */
  async verify(userId: string, code: string): Promise<boolean> {
    const core = this.#core;
    const user = await this.#user(userId);
    if (user.totp_enabled_at === null || user.totp_secret === null) {
      throw new GatehouseError(
        ErrorCode.TOTP_NOT_ENABLED,
        "two-factor sign-in is not enabled for this account",
      );
    }
    const step = totpStep(this.#open(user.id, user.totp_secret), code, core.clock());
    if (step === undefined) return false;
    const updated = await core.storage.transaction((trx) =>
      trx
        .updateTable("users")
        .set({ totp_last_step: step })
        .where("id", "=", user.id)
        .where("totp_enabled_at", "is not", null)
        .where((eb) => eb.or([eb("totp_last_step", "is", null), eb("totp_last_step", "<", step)]))
        .executeTakeFirst(),
    );
    return Number(updated.numUpdatedRows) === 1;
  }

  /**
   * Whether the user has TOTP, an enrolment pending, and a workspace requiring two-factor sign-in.
   * @example
   * const { enabled, required } = await gatehouse.twoFactor.status(user.id);
   */
  async status(userId: string): Promise<TwoFactorStatus> {
    const user = await this.#user(userId);
    const requiring = await this.#core.db
      .selectFrom("members")
      .innerJoin("workspaces", "workspaces.id", "members.workspace_id")
      .select("workspaces.name")
      .where("members.user_id", "=", user.id)
      .where("workspaces.require_2fa", "=", 1)
      .where("workspaces.closed_at", "is", null)
      .orderBy("workspaces.name")
      .limit(20)
      .execute();
    const codes = await this.#core.db
      .selectFrom("recovery_codes")
      .select((eb) => eb.fn.countAll<number>().as("count"))
      .where("user_id", "=", user.id)
      .where("used_at", "is", null)
      .executeTakeFirstOrThrow();
    return {
      enabled: user.totp_enabled_at !== null,
      pending: user.totp_enabled_at === null && user.totp_secret !== null,
      required: requiring.length > 0,
      requiredBy: requiring.map((row) => row.name),
      recoveryCodesLeft: Number(codes.count),
    };
  }

  /**
   * Makes {@link RECOVERY_CODE_COUNT} new recovery codes for a user with TOTP enabled and answers
   * them — the only time they are shown; only their hashes are kept, and the old codes stop working.
   * Each code signs in once in place of an authenticator code. TOTP_NOT_ENABLED without TOTP.
   * @example
   * const { codes } = await gatehouse.twoFactor.newRecoveryCodes(asUser(user.id));
   */
  async newRecoveryCodes(request: RequestContext): Promise<{ codes: readonly string[] }> {
    const core = this.#core;
    if (request.actor.type !== "user" || request.actor.host !== undefined)
      throw new GatehouseError(
        ErrorCode.PERMISSION_DENIED,
        "recovery codes are made by the signed-in person themselves",
      );
    const user = await this.#user(request.actor.userId);
    if (user.totp_enabled_at === null)
      throw new GatehouseError(
        ErrorCode.TOTP_NOT_ENABLED,
        "turn on two-factor sign-in before making recovery codes",
      );
    const codes = Array.from({ length: RECOVERY_CODE_COUNT }, newRecoveryCode);
    const now = core.clock();
    await core.storage.transaction(async (trx) => {
      await trx.deleteFrom("recovery_codes").where("user_id", "=", user.id).execute();
      await trx
        .insertInto("recovery_codes")
        .values(
          codes.map((code) => ({
            id: newId("rcc"),
            user_id: user.id,
            code_hash: hashSecret(normalizeRecoveryCode(code)),
            created_at: now,
            used_at: null,
          })),
        )
        .execute();
      await logAccountEvent(core, trx, request, "two_factor.recovery_codes.create", user.id, {
        count: codes.length,
      });
    });
    return { codes };
  }

  /**
   * Signs in with a recovery code in place of the authenticator code: true when `code` is one of the
   * user's unused codes, which is then used up (atomically; once). Compared in constant time.
   * @example
   * if (!(await gatehouse.twoFactor.useRecoveryCode(user.id, "abcde-…"))) throw new Error("wrong code");
   */
  async useRecoveryCode(userId: string, code: string): Promise<boolean> {
    const core = this.#core;
    if (typeof code !== "string" || code.length > 100) return false;
    const digest = hashSecret(normalizeRecoveryCode(code));
    const unused = await core.db
      .selectFrom("recovery_codes")
      .select(["id", "code_hash"])
      .where("user_id", "=", typeof userId === "string" ? userId : "")
      .where("used_at", "is", null)
      .execute();
    // Every candidate is compared, so the time taken does not depend on which one matches.
    let match: string | undefined;
    for (const row of unused) if (isSameDigest(row.code_hash, digest)) match = row.id;
    if (match === undefined) return false;
    const now = core.clock();
    return core.storage.transaction(async (trx) => {
      const used = await trx
        .updateTable("recovery_codes")
        .set({ used_at: now })
        .where("id", "=", match)
        .where("used_at", "is", null)
        .executeTakeFirst();
      if (Number(used.numUpdatedRows) !== 1) return false;
      const left = unused.length - 1;
      await logAccountEvent(
        core,
        trx,
        { actor: { type: "user", userId } },
        "two_factor.recovery_code.use",
        userId,
        { left },
      );
      return true;
    });
  }

  /**
   * The operator's reset for a user who lost their authenticator: TOTP, a pending enrolment and the
   * recovery codes are removed and every session of theirs ends; they sign in with their password
   * and enrol again (at once, where a workspace requires two-factor sign-in). Logged.
   * @example
   * await gatehouse.twoFactor.reset(systemActor("cli"), user.id);
   */
  async reset(request: RequestContext, userId: string): Promise<{ sessionsEnded: number }> {
    const core = this.#core;
    if (request.actor.type !== "system" || request.actor.host !== undefined)
      throw new GatehouseError(
        ErrorCode.PERMISSION_DENIED,
        "only the instance operator resets a user's two-factor sign-in",
      );
    const user = await this.#user(userId);
    const now = core.clock();
    return core.storage.transaction(async (trx) => {
      await trx
        .updateTable("users")
        .set({ totp_secret: null, totp_enabled_at: null, totp_last_step: null })
        .where("id", "=", user.id)
        .execute();
      await trx.deleteFrom("recovery_codes").where("user_id", "=", user.id).execute();
      const ended = await trx
        .updateTable("sessions")
        .set({ revoked_at: now })
        .where("user_id", "=", user.id)
        .where("revoked_at", "is", null)
        .executeTakeFirst();
      const sessionsEnded = Number(ended.numUpdatedRows);
      await logAccountEvent(core, trx, request, "two_factor.reset", user.id, {
        hadTotp: user.totp_enabled_at !== null,
        sessionsEnded,
      });
      return { sessionsEnded };
    });
  }

  async #user(userId: string): Promise<{
    id: string;
    email: string;
    totp_secret: string | null;
    totp_enabled_at: number | null;
  }> {
    const row =
      typeof userId === "string"
        ? await this.#core.db
            .selectFrom("users")
            .select(["id", "email", "totp_secret", "totp_enabled_at"])
            .where("id", "=", userId)
            .executeTakeFirst()
        : undefined;
    if (row === undefined) throw new GatehouseError(ErrorCode.USER_NOT_FOUND, "no such user");
    return row;
  }

  /** Sealed under the secret key when there is one; otherwise kept as is, and never returned. */
  #seal(userId: string, secret: string): string {
    return this.#box === undefined
      ? `${PLAIN_PREFIX}${secret}`
      : this.#box.seal(secret, `totp\n${userId}`);
  }

  #open(userId: string, stored: string): string {
    if (stored.startsWith(PLAIN_PREFIX)) return stored.slice(PLAIN_PREFIX.length);
    if (this.#box === undefined) {
      throw new GatehouseError(
        ErrorCode.CONFIGURATION_REQUIRED,
        "this TOTP secret was sealed with a secretKey that is not configured",
      );
    }
    return this.#box.open(stored, `totp\n${userId}`);
  }
}

/** An account's own security event, in the instance's activity log (it belongs to no workspace). */
async function logAccountEvent(
  core: ServiceCore,
  trx: Kysely<Database>,
  request: RequestContext,
  action: string,
  userId: string,
  details: Record<string, unknown>,
): Promise<void> {
  await core.appendInstanceLog(trx, {
    action,
    workspaceId: null,
    actor: actorLabel(request),
    details: { user: userId, ...details },
  });
}

/**
 * The second factor at sign-in: a valid code when TOTP is enabled (TOTP_REQUIRED without one,
 * TOTP_INVALID when wrong) — or one of the user's recovery codes, which is then used up. A code given with an enrolment pending confirms it. A user without
 * TOTP in a workspace that requires it gets TOTP_ENROLLMENT_REQUIRED.
 */
export async function requireSecondFactor(
  twoFactor: TwoFactor,
  userId: string,
  code: unknown,
): Promise<void> {
  const status = await twoFactor.status(userId);
  const given = code === undefined || code === null ? undefined : code;
  if (status.enabled) {
    if (given === undefined) {
      throw new GatehouseError(
        ErrorCode.TOTP_REQUIRED,
        "enter the code from your authenticator app",
      );
    }
    if (typeof given !== "string") throw invalidCode();
    // Authenticator codes are digits; anything else can only be a recovery code.
    const isTotpCode = /^[\d\s]+$/.test(given);
    const accepted = isTotpCode
      ? await twoFactor.verify(userId, given)
      : await twoFactor.useRecoveryCode(userId, given);
    if (!accepted) throw invalidCode();
    return;
  }
  if (given !== undefined && status.pending) {
    if (typeof given !== "string") throw invalidCode();
    await twoFactor.confirm(userId, given);
    return;
  }
  if (status.required) {
    throw new GatehouseError(
      ErrorCode.TOTP_ENROLLMENT_REQUIRED,
      "a workspace you belong to requires two-factor sign-in: set up an authenticator app " +
        "(enrol with your password), then sign in with its code",
    );
  }
}
