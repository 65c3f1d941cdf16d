import { GatehouseError } from "@gatehouse/engine";
import { Secret, TOTP } from "otpauth";
import type { ServiceCore } from "../service-core.ts";
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
      .select("workspaces.id")
      .where("members.user_id", "=", user.id)
      .where("workspaces.require_2fa", "=", 1)
      .where("workspaces.closed_at", "is", null)
      .limit(1)
      .executeTakeFirst();
    return {
      enabled: user.totp_enabled_at !== null,
      pending: user.totp_enabled_at === null && user.totp_secret !== null,
      required: requiring !== undefined,
    };
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

/**
 * The second factor at sign-in: a valid code when TOTP is enabled (TOTP_REQUIRED without one,
 * TOTP_INVALID when wrong). A code given with an enrolment pending confirms it. A user without
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
    if (typeof given !== "string" || !(await twoFactor.verify(userId, given))) throw invalidCode();
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
