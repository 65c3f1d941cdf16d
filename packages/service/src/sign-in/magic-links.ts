import { GatehouseError, isGatehouseError } from "@gatehouse/engine";
import type { Kysely } from "kysely";
import type { Origin } from "../actor.ts";
import type { Database } from "../database/schema.ts";
import type { ServiceCore } from "../service-core.ts";
import { hashSecret, isSameDigest, randomSecret } from "../support/crypto.ts";
import { ErrorCode } from "../support/error-codes.ts";
import { assertStrongPassword } from "../support/passwords.ts";
import {
  type Attempt,
  insertSession,
  ipKey,
  isCountedFailure,
  loginBuckets,
  type NewSession,
  type SessionPolicy,
  type SignInOptions,
  Throttle,
} from "./sessions.ts";
import type { MailQueue, SignInMail } from "./sign-in-mail.ts";
import { signUpLimitsOf } from "./sign-ups.ts";
import { requireSecondFactor, type TwoFactor } from "./two-factor.ts";
import { createAccountIn, normalizeEmail, toUser } from "./users.ts";

/** A sign-in link's secret, for the caller to mail; it works once, until `expiresAt`. */
export interface MagicLink {
  readonly token: string;
  readonly expiresAt: number;
}

/** How long a magic link works: 10 minutes. */
export const MAGIC_LINK_TTL_MS = 10 * 60 * 1000;
export const MAGIC_LINKS_PER_EMAIL = 5;
export const MAGIC_LINKS_PER_IP = 20;
/** `ghm_` and 32 random bytes in base64url (256 bits). */
const MAGIC_TOKEN = /^ghm_[A-Za-z0-9_-]{43}$/;

function invalidLink(): GatehouseError {
  return new GatehouseError(
    ErrorCode.MAGIC_LINK_INVALID,
    "this sign-in link is not valid: it expired or was used; ask for a new one",
  );
}

/**
 * Stores a new one-time link for the account with `email`, inside `trx`; only its hash is kept.
 * Host-issued sign-in links are magic links too, so the console consumes both the same way.
 */
export async function insertMagicLink(
  core: ServiceCore,
  trx: Kysely<Database>,
  input: {
    email: string;
    ttlMs: number;
    ip: string | null;
    /** A sign-up link: the name of the account it creates when followed. */
    signUpName?: string | undefined;
  },
): Promise<MagicLink> {
  const token = `ghm_${randomSecret(32)}`;
  const now = core.clock();
  const expiresAt = now + input.ttlMs;
  // Expired links are dead weight; used ones too, once expired.
  await trx.deleteFrom("magic_links").where("expires_at", "<=", now).execute();
  await trx
    .insertInto("magic_links")
    .values({
      token_hash: hashSecret(token),
      email: input.email,
      created_at: now,
      expires_at: expiresAt,
      used_at: null,
      ip: input.ip,
      signup_name: input.signUpName ?? null,
    })
    .execute();
  return { token, expiresAt };
}

/** What following a link may carry besides its token. */
export interface ConsumeOptions {
  /** Where the request came from: throttles and the activity log. */
  readonly origin?: Origin | undefined;
  /** The user's current TOTP code, where they have two-factor authentication. */
  readonly totpCode?: string | undefined;
  /** The password chosen for a new account: only with a sign-up link. */
  readonly password?: string | undefined;
}

/**
 * Password-less sign-in by a one-time link sent to the account's email. Requests never reveal
 * whether an account exists; links last 10 minutes, work once, and are stored hashed.
 */
export class MagicLinks {
  readonly #core: ServiceCore;
  readonly #twoFactor: TwoFactor;
  readonly #policy: SessionPolicy;
  readonly #throttle: Throttle;
  readonly #mail: SignInMail | undefined;
  readonly #queue: MailQueue;
  readonly #signUpLimits: { perIp: number; total: number };

  constructor(
    core: ServiceCore,
    twoFactor: TwoFactor,
    options: {
      policy: SessionPolicy;
      mail: SignInMail | undefined;
      queue: MailQueue;
      signUpLimits: SignInOptions["signUpLimits"];
    },
  ) {
    this.#core = core;
    this.#twoFactor = twoFactor;
    this.#policy = options.policy;
    this.#throttle = new Throttle(core);
    this.#mail = options.mail;
    this.#queue = options.queue;
    this.#signUpLimits = signUpLimitsOf(options.signUpLimits);
  }

  /**
   * Mails a new sign-in link to `email` when it has an account, through the `signInMail` port,
   * after answering; answers the same after the same work either way, so requests never reveal
   * whether an account exists. Throttled as `request` is. Without a `signInMail` port:
   * CONFIGURATION_REQUIRED.
   * @example
   * await gatehouse.magicLinks.send({ email: "ada@example.com", origin: { ip } });
   */
  async send(input: { email: string; origin?: Origin | undefined }): Promise<void> {
    const mail = this.#mail;
    if (mail === undefined) {
      throw new GatehouseError(
        ErrorCode.CONFIGURATION_REQUIRED,
        "sign-in links need a mail sender (the signInMail option)",
      );
    }
    const email = normalizeEmail(input?.email);
    const link = await this.request({ email, origin: input.origin });
    this.#queue.enqueue(link === undefined ? undefined : () => mail.sendMagicLink(email, link));
  }

  /**
   * A new link for the account with this email, or `undefined` when there is none — the caller
   * answers the same in both cases and mails the token only when there is one. At most
   * {@link MAGIC_LINKS_PER_EMAIL} requests per email and {@link MAGIC_LINKS_PER_IP} per address
   * in 15 minutes, whether the account exists or not (RATE_LIMITED). Unknown emails get a link
   * stored too, never returned and never usable (it names no account): the same writes either way.
   * @example
   * const link = await gatehouse.magicLinks.request({ email, origin: { ip } });
   * if (link) await mail(email, `https://panel.example/magic?token=${link.token}`);
   */
  async request(input: {
    email: string;
    origin?: Origin | undefined;
  }): Promise<MagicLink | undefined> {
    const core = this.#core;
    const email = normalizeEmail(input?.email);
    await this.#throttle.admit([
      { bucket: "magic.email", key: email, limit: MAGIC_LINKS_PER_EMAIL },
      { bucket: "magic.ip", key: ipKey(input.origin), limit: MAGIC_LINKS_PER_IP },
    ]);
    const user = await core.db
      .selectFrom("users")
      .select("id")
      .where("email", "=", email)
      .executeTakeFirst();
    const link = await core.storage.transaction((trx) =>
      insertMagicLink(core, trx, {
        email,
        ttlMs: MAGIC_LINK_TTL_MS,
        ip: ipKey(input.origin) || null,
      }),
    );
    return user === undefined ? undefined : link;
  }

  /**
   * Signs in with a link's token, once: a new session, as `login` gives. Expired, used and unknown
   * tokens get MAGIC_LINK_INVALID. Where the user has TOTP (or a workspace requires it), the code
   * is needed too (TOTP_REQUIRED leaves the link unused, to retry with the code).
   *
   * A sign-up link (`signUps.request`) creates the account with the `password` chosen now, by
   * whoever holds the mailbox: without one it answers PASSWORD_REQUIRED and a weak one
   * WEAK_PASSWORD, both leaving the link unused. A `password` with a sign-in link is INVALID_INPUT.
   * @example
   * const { token: session } = await gatehouse.magicLinks.consume(linkToken, { origin: { ip }, totpCode });
   * const { user } = await gatehouse.magicLinks.consume(signUpToken, { password: "a long passphrase" });
   */
  async consume(token: string, options: ConsumeOptions = {}): Promise<NewSession> {
    const { origin, totpCode, password } = options;
    if (typeof token !== "string" || !MAGIC_TOKEN.test(token)) throw invalidLink();
    const core = this.#core;
    const digest = hashSecret(token);
    const link = await core.db
      .selectFrom("magic_links")
      .selectAll()
      .where("token_hash", "=", digest)
      .executeTakeFirst();
    if (
      link === undefined ||
      !isSameDigest(link.token_hash, digest) ||
      link.used_at !== null ||
      link.expires_at <= core.clock()
    ) {
      throw invalidLink();
    }
    const row = await core.db
      .selectFrom("users")
      .select(["id", "email", "name", "created_at"])
      .where("email", "=", link.email)
      .executeTakeFirst();
    if (link.signup_name !== null) {
      if (row !== undefined) throw invalidLink();
      return this.#createAccount(
        { email: link.email, name: link.signup_name },
        digest,
        password,
        origin,
      );
    }
    if (row === undefined) throw invalidLink();
    if (password !== undefined) {
      throw new GatehouseError(
        ErrorCode.INVALID_INPUT,
        "a password is chosen only with a sign-up link; this one signs in",
      );
    }
    const user = toUser(row);
    // Guessing a TOTP code through links is throttled like guessing it at login.
    const buckets = loginBuckets(user.email, origin);
    const attempt: Attempt =
      totpCode === undefined ? { ids: [] } : await this.#throttle.admit(buckets);
    try {
      await requireSecondFactor(this.#twoFactor, user.id, totpCode);
    } catch (error) {
      if (!isCountedFailure(error)) await this.#throttle.release(attempt);
      throw error;
    }
    await this.#throttle.release(attempt);
    const session = await core.storage.transaction(async (trx) => {
      if (!(await spend(core, trx, digest))) throw invalidLink();
      return insertSession(trx, { policy: this.#policy, now: core.clock(), user, origin });
    });
    await this.#throttle.reset(buckets[0]!.bucket, buckets[0]!.key);
    return session;
  }

  /**
   * Follows a sign-up link: checks the password chosen now (length, not common), hashes it through
   * the shared hasher — counted against the sign-up limits per address and in all first, so
   * confirmations cannot flood the hasher — then creates the account (and personal workspace) and
   * signs in, in one transaction with spending the link. A link for an address registered
   * meanwhile — or when the link was made — is MAGIC_LINK_INVALID, like any spent link.
   */
  async #createAccount(
    link: { email: string; name: string },
    digest: string,
    password: string | undefined,
    origin: Origin | undefined,
  ): Promise<NewSession> {
    const core = this.#core;
    if (password === undefined) {
      throw new GatehouseError(
        ErrorCode.PASSWORD_REQUIRED,
        "choose a password for the new account to confirm it",
      );
    }
    // The strength check (zxcvbn, milliseconds of CPU each) and the limits run in the hashing
    // slot, before the hash: fifty confirmations at once do not stall the sign-ins for the length
    // of fifty checks, and a refused password costs neither a hash nor a counted attempt.
    const passwordHash = await core.passwords.hash(password, async () => {
      assertStrongPassword(password, [link.email, link.name]);
      await this.#throttle.admit([
        { bucket: "signup.confirm.ip", key: ipKey(origin), limit: this.#signUpLimits.perIp },
        { bucket: "signup.confirm.all", key: "*", limit: this.#signUpLimits.total },
      ]);
    });
    try {
      return await core.storage.transaction(async (trx) => {
        if (!(await spend(core, trx, digest))) throw invalidLink();
        const { user } = await createAccountIn(core, trx, {
          email: link.email,
          name: link.name,
          passwordHash,
        });
        return insertSession(trx, { policy: this.#policy, now: core.clock(), user, origin });
      });
    } catch (error) {
      if (isGatehouseError(error, ErrorCode.EMAIL_TAKEN)) throw invalidLink();
      throw error;
    }
  }
}

/** The one conditional update that spends a link: of concurrent uses, one wins. */
async function spend(core: ServiceCore, trx: Kysely<Database>, digest: string): Promise<boolean> {
  const now = core.clock();
  const spent = await trx
    .updateTable("magic_links")
    .set({ used_at: now })
    .where("token_hash", "=", digest)
    .where("used_at", "is", null)
    .where("expires_at", ">", now)
    .executeTakeFirst();
  return Number(spent.numUpdatedRows) === 1;
}
