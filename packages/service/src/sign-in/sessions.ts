import { GatehouseError, isGatehouseError } from "@gatehouse/engine";
import type { Kysely } from "kysely";
import type { Origin, RequestContext } from "../actor.ts";
import type { Database } from "../database/schema.ts";
import type { ServiceCore } from "../service-core.ts";
import { hashSecret, isSameDigest, newId, randomSecret } from "../support/crypto.ts";
import { ErrorCode } from "../support/error-codes.ts";
import { DAY_MS } from "../support/time.ts";
import type { SignInMail } from "./sign-in-mail.ts";
import { requireSecondFactor, type TotpEnrollment, type TwoFactor } from "./two-factor.ts";
import { type User, Users } from "./users.ts";

/** Sign-in settings, given to `createGatehouse` along with the other options. */
export interface SignInOptions {
  /** The longest a session lasts, however active; 30 days by default. */
  readonly sessionLifetimeMs?: number;
  /** A session unused this long ends; 7 days by default (tracked to the minute). */
  readonly sessionIdleMs?: number;
  /** The issuer shown in authenticator apps; "Gatehouse" by default. */
  readonly totpIssuer?: string;
  /**
   * Sends magic links, sign-up links and account-exists notices (`magicLinks.send`,
   * `signUps.request`); without it, those answer CONFIGURATION_REQUIRED.
   */
  readonly signInMail?: SignInMail;
  /** Where failures to send sign-in mail are reported (their kind only); `console.error` by default. */
  readonly onMailError?: (message: string) => void;
  /** Sign-ups per 15 minutes: per address (10 by default) and in all (300 by default). */
  readonly signUpLimits?: { readonly perIp?: number; readonly total?: number };
}

/** How long sessions last, resolved from {@link SignInOptions}. */
export interface SessionPolicy {
  readonly lifetimeMs: number;
  readonly idleMs: number;
}

/** A new session: the token is in this answer only; the store keeps its SHA-256. */
export interface NewSession {
  readonly token: string;
  readonly sessionId: string;
  readonly user: User;
  /** The absolute end of the session; unused for the idle time, it ends sooner. */
  readonly expiresAt: number;
}

/** A session as listed to its user: never its token. */
export interface SessionInfo {
  readonly id: string;
  readonly createdAt: number;
  readonly lastSeenAt: number;
  /** When it ends if unused from now on: the idle timeout, capped by the absolute lifetime. */
  readonly expiresAt: number;
  readonly ip: string | null;
  readonly agent: string | null;
}

/** What `authenticate` answers for a live session token. */
export interface SessionCredentials {
  readonly user: User;
  readonly sessionId: string;
  /** Acts as the user; every call is checked against their current grants, so changes apply at once. */
  readonly context: RequestContext;
}

export const DEFAULT_SESSION_LIFETIME_MS = 30 * DAY_MS;
export const DEFAULT_SESSION_IDLE_MS = 7 * DAY_MS;
/** `last_seen_at` is written at most this often per session, not on every request. */
const TOUCH_INTERVAL_MS = 60_000;
/** Attempts are counted over this sliding window. */
export const THROTTLE_WINDOW_MS = 15 * 60 * 1000;
/** Failed sign-ins of one account from one address; then that address waits, no one else. */
export const LOGIN_FAILURES_PER_ACCOUNT_AND_IP = 5;
/**
 * Failed sign-ins of one account from all addresses together: the bound on guessing one password
 * from many addresses. Reached, it stops password sign-in of that account; sign-in links still work.
 */
export const LOGIN_FAILURES_PER_ACCOUNT = 50;
export const LOGIN_FAILURES_PER_IP = 20;
/** `ghs_` and 32 random bytes in base64url (256 bits). */
const SESSION_TOKEN = /^ghs_[A-Za-z0-9_-]{43}$/;

function positiveDuration(value: number | undefined, fallback: number, what: string): number {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value <= 0) {
    throw new GatehouseError(ErrorCode.INVALID_INPUT, `${what} is a positive number of ms`);
  }
  return value;
}

/** The session policy of `options`, with the defaults filled in. */
export function sessionPolicyOf(options: SignInOptions): SessionPolicy {
  return {
    lifetimeMs: positiveDuration(
      options.sessionLifetimeMs,
      DEFAULT_SESSION_LIFETIME_MS,
      "sessionLifetimeMs",
    ),
    idleMs: positiveDuration(options.sessionIdleMs, DEFAULT_SESSION_IDLE_MS, "sessionIdleMs"),
  };
}

/** The client's address as a throttling key; empty (not counted) when unknown. */
export function ipKey(origin: Origin | undefined): string {
  return typeof origin?.ip === "string" ? origin.ip.trim().slice(0, 100) : "";
}

function emailKey(email: unknown): string {
  return typeof email === "string" ? email.trim().toLowerCase().slice(0, 320) : "";
}

/** One throttling bucket an attempt counts in, e.g. failed logins of one account. */
export interface ThrottleBucket {
  readonly bucket: string;
  /** The account or address; an empty key is not counted. */
  readonly key: string;
  readonly limit: number;
}

/** The rows an admitted attempt added, to take back when it turns out not to count. */
export interface Attempt {
  readonly ids: readonly string[];
}

/**
 * Counts attempts per bucket and key over a sliding window, in the database, so every instance
 * sharing it throttles together. An attempt is recorded before it is checked: of concurrent
 * attempts, never more than the limit get through.
 */
export class Throttle {
  readonly #core: ServiceCore;

  constructor(core: ServiceCore) {
    this.#core = core;
  }

  /**
   * Records one attempt in each bucket; RATE_LIMITED (with `details.retryAfterMs`) when a bucket
   * already holds its limit in the window — the refused attempt is then not counted.
   */
  async admit(buckets: readonly ThrottleBucket[]): Promise<Attempt> {
    const core = this.#core;
    const now = core.clock();
    const since = now - THROTTLE_WINDOW_MS;
    const counted = buckets.filter((bucket) => bucket.key !== "");
    const rows = counted.map((bucket) => ({
      id: newId("att"),
      bucket: bucket.bucket,
      key: bucket.key,
      at: now,
    }));
    // Committed before counting, so concurrent attempts see each other.
    await core.storage.transaction(async (trx) => {
      await trx.deleteFrom("login_attempts").where("at", "<=", since).execute();
      if (rows.length > 0) await trx.insertInto("login_attempts").values(rows).execute();
    });
    const attempt = { ids: rows.map((row) => row.id) };
    let retryAfterMs = 0;
    for (const bucket of counted) {
      const others = (
        await core.db
          .selectFrom("login_attempts")
          .select(["id", "at"])
          .where("bucket", "=", bucket.bucket)
          .where("key", "=", bucket.key)
          .where("at", ">", since)
          .orderBy("at")
          .execute()
      ).filter((row) => !attempt.ids.includes(row.id));
      if (others.length >= bucket.limit) {
        // Allowed again once enough of the window's attempts are older than the window.
        const freesUp = others[others.length - bucket.limit]!.at + THROTTLE_WINDOW_MS;
        retryAfterMs = Math.max(retryAfterMs, freesUp - now, 1);
      }
    }
    if (retryAfterMs > 0) {
      await this.release(attempt);
      throw new GatehouseError(
        ErrorCode.RATE_LIMITED,
        "too many attempts; wait before trying again",
        { details: { retryAfterMs } },
      );
    }
    return attempt;
  }

  /** Takes an attempt back: it did not count (it succeeded, or never got to the check). */
  async release(attempt: Attempt): Promise<void> {
    if (attempt.ids.length === 0) return;
    await this.#core.storage.transaction((trx) =>
      trx.deleteFrom("login_attempts").where("id", "in", attempt.ids).execute(),
    );
  }

  /** Forgets every attempt of one key in one bucket (a success resets the account's count). */
  async reset(bucket: string, key: string): Promise<void> {
    if (key === "") return;
    await this.#core.storage.transaction((trx) =>
      trx
        .deleteFrom("login_attempts")
        .where("bucket", "=", bucket)
        .where("key", "=", key)
        .execute(),
    );
  }
}

/**
 * The login buckets of an attempt: failures per account from this address (so an attacker locks
 * out their own address, not the account's owner), per account from everywhere (a higher bound
 * on guessing with many addresses), and per address across accounts.
 */
export function loginBuckets(email: unknown, origin: Origin | undefined): ThrottleBucket[] {
  const account = emailKey(email);
  return [
    {
      bucket: "login.account-ip",
      key: account === "" ? "" : `${account} ${ipKey(origin)}`,
      limit: LOGIN_FAILURES_PER_ACCOUNT_AND_IP,
    },
    { bucket: "login.account", key: account, limit: LOGIN_FAILURES_PER_ACCOUNT },
    { bucket: "login.ip", key: ipKey(origin), limit: LOGIN_FAILURES_PER_IP },
  ];
}

/** Failures that count against the throttle: a wrong password or a wrong code. */
export function isCountedFailure(error: unknown): boolean {
  return (
    isGatehouseError(error, ErrorCode.INVALID_CREDENTIALS) ||
    isGatehouseError(error, ErrorCode.TOTP_INVALID)
  );
}

/**
 * Starts a session for `user` in `trx` with a fresh token, and clears the user's ended sessions.
 */
export async function insertSession(
  trx: Kysely<Database>,
  input: {
    readonly policy: SessionPolicy;
    readonly now: number;
    readonly user: User;
    readonly origin: Origin | undefined;
  },
): Promise<NewSession> {
  const { policy, now, user, origin } = input;
  const token = `ghs_${randomSecret(32)}`;
  const row = {
    id: newId("ses"),
    token_hash: hashSecret(token),
    user_id: user.id,
    created_at: now,
    expires_at: now + policy.lifetimeMs,
    last_seen_at: now,
    ip: ipKey(origin) || null,
    agent: typeof origin?.agent === "string" ? origin.agent.slice(0, 300) : null,
    revoked_at: null,
  };
  await trx
    .deleteFrom("sessions")
    .where("user_id", "=", user.id)
    .where((eb) =>
      eb.or([
        eb("revoked_at", "is not", null),
        eb("expires_at", "<=", now),
        eb("last_seen_at", "<=", now - policy.idleMs),
      ]),
    )
    .execute();
  await trx.insertInto("sessions").values(row).execute();
  return { token, sessionId: row.id, user, expiresAt: row.expires_at };
}

function invalidSession(): GatehouseError {
  return new GatehouseError(
    ErrorCode.INVALID_CREDENTIALS,
    "the session ended or is not valid; sign in again",
  );
}

/**
 * Sign-in sessions: password login (with TOTP where enabled or required), throttled per account
 * and per address; opaque tokens stored hashed, checked on every request, revocable at once.
 * Sessions last 30 days at most and end after 7 idle days by default ({@link SignInOptions}).
 */
export class Sessions {
  readonly #core: ServiceCore;
  readonly #users: Users;
  readonly #twoFactor: TwoFactor;
  readonly #policy: SessionPolicy;
  readonly #throttle: Throttle;

  constructor(core: ServiceCore, twoFactor: TwoFactor, policy: SessionPolicy) {
    this.#core = core;
    this.#users = new Users(core);
    this.#twoFactor = twoFactor;
    this.#policy = policy;
    this.#throttle = new Throttle(core);
  }

  /**
   * Signs in with email and password, plus a TOTP code when the user has two-factor sign-in or a
   * workspace of theirs requires it. At most {@link LOGIN_FAILURES_PER_ACCOUNT} failures per
   * account and {@link LOGIN_FAILURES_PER_IP} per address in {@link THROTTLE_WINDOW_MS}
   * (RATE_LIMITED with `details.retryAfterMs`); a successful sign-in resets the account's count.
   * @example
   * const { token, expiresAt } = await gatehouse.sessions.login({ email, password, totpCode, origin: { ip } });
   */
  async login(input: {
    email: string;
    password: string;
    totpCode?: string | undefined;
    origin?: Origin | undefined;
  }): Promise<NewSession> {
    const core = this.#core;
    const buckets = loginBuckets(input?.email, input?.origin);
    const attempt = await this.#throttle.admit(buckets);
    let session: NewSession;
    try {
      const user = await this.#users.authenticate({ email: input.email, password: input.password });
      await requireSecondFactor(this.#twoFactor, user.id, input.totpCode);
      session = await core.storage.transaction((trx) =>
        insertSession(trx, {
          policy: this.#policy,
          now: core.clock(),
          user,
          origin: input.origin,
        }),
      );
    } catch (error) {
      if (!isCountedFailure(error)) await this.#throttle.release(attempt);
      throw error;
    }
    await this.#throttle.release(attempt);
    // The owner's success clears this address's failures; the account-wide bound keeps counting.
    await this.#throttle.reset(buckets[0]!.bucket, buckets[0]!.key);
    return session;
  }

  /**
   * Starts a TOTP enrolment with email and password, for a user who cannot sign in yet because a
   * workspace requires two-factor sign-in (TOTP_ENROLLMENT_REQUIRED); `login` with a code from the
   * app then confirms it. Throttled like `login`.
   * @example
   * const { otpauthUri } = await gatehouse.sessions.enrollTwoFactor({ email, password, origin: { ip } });
   */
  async enrollTwoFactor(input: {
    email: string;
    password: string;
    origin?: Origin | undefined;
  }): Promise<TotpEnrollment & { readonly requiredBy: readonly string[] }> {
    const attempt = await this.#throttle.admit(loginBuckets(input?.email, input?.origin));
    try {
      const user = await this.#users.authenticate({ email: input.email, password: input.password });
      const enrollment = await this.#twoFactor.enroll(user.id);
      const { requiredBy } = await this.#twoFactor.status(user.id);
      await this.#throttle.release(attempt);
      return { ...enrollment, requiredBy };
    } catch (error) {
      if (!isCountedFailure(error)) await this.#throttle.release(attempt);
      throw error;
    }
  }

  /**
   * The user and a request context for a live session token; INVALID_CREDENTIALS for unknown,
   * signed-out, expired and idle-expired sessions alike. Keeps the session alive (idle timeout).
   * @example
   * const { context } = await gatehouse.sessions.authenticate(cookieToken, { ip });
   */
  async authenticate(token: string, origin?: Origin): Promise<SessionCredentials> {
    if (typeof token !== "string" || !SESSION_TOKEN.test(token)) throw invalidSession();
    const core = this.#core;
    const digest = hashSecret(token);
    const row = await core.db
      .selectFrom("sessions")
      .innerJoin("users", "users.id", "sessions.user_id")
      .select([
        "sessions.id as session_id",
        "sessions.token_hash",
        "sessions.expires_at",
        "sessions.last_seen_at",
        "sessions.revoked_at",
        "users.id",
        "users.email",
        "users.name",
        "users.created_at",
      ])
      .where("sessions.token_hash", "=", digest)
      .executeTakeFirst();
    const now = core.clock();
    if (
      row === undefined ||
      !isSameDigest(row.token_hash, digest) ||
      row.revoked_at !== null ||
      row.expires_at <= now ||
      row.last_seen_at + this.#policy.idleMs <= now
    ) {
      throw invalidSession();
    }
    if (now - row.last_seen_at >= TOUCH_INTERVAL_MS) {
      await core.storage.transaction((trx) =>
        trx
          .updateTable("sessions")
          .set({ last_seen_at: now })
          .where("id", "=", row.session_id)
          .where("last_seen_at", "<", now)
          .execute(),
      );
    }
    const actor = { type: "user", userId: row.id } as const;
    return {
      user: { id: row.id, email: row.email, name: row.name, createdAt: row.created_at },
      sessionId: row.session_id,
      context: origin === undefined ? { actor } : { actor, origin },
    };
  }

  /**
   * Ends the session of `token` at once, on every instance. Unknown or ended tokens are ignored.
   * @example
   * await gatehouse.sessions.logout(cookieToken);
   */
  async logout(token: string): Promise<void> {
    if (typeof token !== "string" || !SESSION_TOKEN.test(token)) return;
    const now = this.#core.clock();
    await this.#core.storage.transaction((trx) =>
      trx
        .updateTable("sessions")
        .set({ revoked_at: now })
        .where("token_hash", "=", hashSecret(token))
        .where("revoked_at", "is", null)
        .execute(),
    );
  }

  /**
   * The user's live sessions, most recently used first; tokens are never returned.
   * @example
   * const sessions = await gatehouse.sessions.list(user.id);
   */
  async list(userId: string): Promise<SessionInfo[]> {
    const now = this.#core.clock();
    const idleMs = this.#policy.idleMs;
    const rows = await this.#core.db
      .selectFrom("sessions")
      .select(["id", "created_at", "last_seen_at", "expires_at", "ip", "agent"])
      .where("user_id", "=", typeof userId === "string" ? userId : "")
      .where("revoked_at", "is", null)
      .where("expires_at", ">", now)
      .where("last_seen_at", ">", now - idleMs)
      .orderBy("last_seen_at", "desc")
      .orderBy("id")
      .execute();
    return rows.map((row) => ({
      id: row.id,
      createdAt: row.created_at,
      lastSeenAt: row.last_seen_at,
      expiresAt: Math.min(row.expires_at, row.last_seen_at + idleMs),
      ip: row.ip,
      agent: row.agent,
    }));
  }

  /**
   * Ends one of the user's sessions; SESSION_NOT_FOUND when they have no live session by that id.
   * @example
   * await gatehouse.sessions.revoke(user.id, sessionId);
   */
  async revoke(userId: string, sessionId: string): Promise<void> {
    const now = this.#core.clock();
    const updated = await this.#core.storage.transaction((trx) =>
      trx
        .updateTable("sessions")
        .set({ revoked_at: now })
        .where("id", "=", typeof sessionId === "string" ? sessionId : "")
        .where("user_id", "=", typeof userId === "string" ? userId : "")
        .where("revoked_at", "is", null)
        .where("expires_at", ">", now)
        .where("last_seen_at", ">", now - this.#policy.idleMs)
        .executeTakeFirst(),
    );
    if (Number(updated.numUpdatedRows) !== 1) {
      throw new GatehouseError(ErrorCode.SESSION_NOT_FOUND, "no such session");
    }
  }

  /**
   * Ends all of the user's sessions, but `except` (e.g. the caller's own); answers how many ended.
   * @example
   * await gatehouse.sessions.revokeAllFor(user.id, { except: currentSessionId });
   */
  async revokeAllFor(userId: string, options: { except?: string } = {}): Promise<number> {
    const now = this.#core.clock();
    const updated = await this.#core.storage.transaction((trx) =>
      trx
        .updateTable("sessions")
        .set({ revoked_at: now })
        .where("user_id", "=", typeof userId === "string" ? userId : "")
        .where("revoked_at", "is", null)
        .$if(typeof options.except === "string", (query) =>
          query.where("id", "!=", options.except ?? ""),
        )
        .executeTakeFirst(),
    );
    return Number(updated.numUpdatedRows);
  }
}
