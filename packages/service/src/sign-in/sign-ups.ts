import { GatehouseError } from "@gatehouse/engine";
import type { Origin } from "../actor.ts";
import type { ServiceCore } from "../service-core.ts";
import { ErrorCode } from "../support/error-codes.ts";
import { assertStrongPassword } from "../support/passwords.ts";
import { requireText } from "../support/validation.ts";
import { insertMagicLink, MAGIC_LINKS_PER_EMAIL } from "./magic-links.ts";
import { ipKey, type SignInOptions, Throttle } from "./sessions.ts";
import type { MailQueue, SignInMail } from "./sign-in-mail.ts";
import { normalizeEmail } from "./users.ts";

/** How long a sign-up link works: 24 hours. */
export const SIGN_UP_LINK_TTL_MS = 24 * 60 * 60 * 1000;
/** Sign-ups per address in 15 minutes, by default. */
export const SIGN_UPS_PER_IP = 10;
/** Sign-ups in all in 15 minutes, by default (shared by every instance on one database). */
export const SIGN_UPS_TOTAL = 300;

function limitOf(value: number | undefined, fallback: number, what: string): number {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new GatehouseError(ErrorCode.INVALID_INPUT, `signUpLimits.${what} is at least 1`);
  }
  return value;
}

/**
 * Public sign-up by confirmed address. `request` answers the same, after the same work, whether
 * the address has an account or not: a new address is mailed a link that creates the account when
 * followed (`magicLinks.consume`); a registered one is mailed a notice to sign in instead.
 */
export class SignUps {
  readonly #core: ServiceCore;
  readonly #throttle: Throttle;
  readonly #mail: SignInMail | undefined;
  readonly #queue: MailQueue;
  readonly #perIp: number;
  readonly #total: number;

  constructor(
    core: ServiceCore,
    options: {
      mail: SignInMail | undefined;
      queue: MailQueue;
      limits: SignInOptions["signUpLimits"];
    },
  ) {
    this.#core = core;
    this.#throttle = new Throttle(core);
    this.#mail = options.mail;
    this.#queue = options.queue;
    this.#perIp = limitOf(options.limits?.perIp, SIGN_UPS_PER_IP, "perIp");
    this.#total = limitOf(options.limits?.total, SIGN_UPS_TOTAL, "total");
  }

  /**
   * Asks for an account: checks the password (length, not common), hashes it, stores a sign-up
   * link carrying the hash, and mails it after answering — or, when the address is registered,
   * mails its owner that someone tried. Throttled per address, per email and in all (RATE_LIMITED
   * with `details.retryAfterMs`) before the hash; a full hashing queue answers SIGN_IN_BUSY.
   * @example
   * await gatehouse.signUps.request({ email: "ada@example.com", password: "correct horse battery staple", name: "Ada", origin: { ip } });
   */
  async request(input: {
    email: string;
    password: string;
    name?: string | undefined;
    origin?: Origin | undefined;
  }): Promise<void> {
    const core = this.#core;
    const mail = this.#mail;
    if (mail === undefined) {
      throw new GatehouseError(
        ErrorCode.CONFIGURATION_REQUIRED,
        "sign-up needs a mail sender (the signInMail option)",
      );
    }
    const email = normalizeEmail(input?.email);
    const name = requireText(input.name ?? email.split("@")[0], "name");
    assertStrongPassword(input.password, [email, name]);
    const ip = ipKey(input.origin);
    await this.#throttle.admit([
      { bucket: "signup.ip", key: ip, limit: this.#perIp },
      { bucket: "signup.email", key: email, limit: MAGIC_LINKS_PER_EMAIL },
      { bucket: "signup.all", key: "*", limit: this.#total },
    ]);
    // One hash whether or not the address is registered: the same work, the same time.
    const passwordHash = await core.passwords.hash(input.password);
    const registered = await core.db
      .selectFrom("users")
      .select("id")
      .where("email", "=", email)
      .executeTakeFirst();
    // Stored either way (the same writes); for a registered address it is never mailed, and
    // following it could not create an account anyway.
    const link = await core.storage.transaction((trx) =>
      insertMagicLink(core, trx, {
        email,
        ttlMs: SIGN_UP_LINK_TTL_MS,
        ip: ip || null,
        signUp: { name, passwordHash },
      }),
    );
    this.#queue.enqueue(
      registered === undefined
        ? () => mail.sendSignUpLink(email, link)
        : () => mail.sendAccountExists(email),
    );
  }
}
