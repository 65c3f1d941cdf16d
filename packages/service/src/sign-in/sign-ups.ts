import { GatehouseError } from "@gatehouse/engine";
import type { Origin } from "../actor.ts";
import type { ServiceCore } from "../service-core.ts";
import { ErrorCode } from "../support/error-codes.ts";
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

/** The sign-up limits with their defaults filled in; INVALID_INPUT for one below 1. */
export function signUpLimitsOf(limits: SignInOptions["signUpLimits"]): {
  perIp: number;
  total: number;
} {
  return {
    perIp: limitOf(limits?.perIp, SIGN_UPS_PER_IP, "perIp"),
    total: limitOf(limits?.total, SIGN_UPS_TOTAL, "total"),
  };
}

/**
 * Public sign-up by confirmed address. `request` answers the same, after the same work, whether
 * the address has an account or not: a new address is mailed a link that creates the account when
 * followed (`magicLinks.consume` with the password its follower chooses); a registered one is
 * mailed a notice to sign in instead. The request carries no password: whoever asks for the link
 * is not yet known to own the address, so the password is chosen by whoever confirms it.
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
    const limits = signUpLimitsOf(options.limits);
    this.#perIp = limits.perIp;
    this.#total = limits.total;
  }

  /**
   * Asks for an account: stores a sign-up link carrying the name and mails it after answering —
   * or, when the address is registered, mails its owner that someone tried. Throttled per address,
   * per email and in all (RATE_LIMITED with `details.retryAfterMs`). No password here: the one who
   * follows the link chooses it (`magicLinks.consume`), so asking for someone else's address
   * cannot plant a password on their account.
   * @example
   * await gatehouse.signUps.request({ email: "ada@example.com", name: "Ada", origin: { ip } });
   */
  async request(input: {
    email: string;
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
    if ((input as { password?: unknown }).password !== undefined) {
      throw new GatehouseError(
        ErrorCode.INVALID_INPUT,
        "a sign-up request carries no password: it is chosen when following the mailed link",
      );
    }
    const name = requireText(input.name ?? email.split("@")[0], "name");
    const ip = ipKey(input.origin);
    await this.#throttle.admit([
      { bucket: "signup.ip", key: ip, limit: this.#perIp },
      { bucket: "signup.email", key: email, limit: MAGIC_LINKS_PER_EMAIL },
      { bucket: "signup.all", key: "*", limit: this.#total },
    ]);
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
        signUpName: name,
      }),
    );
    this.#queue.enqueue(
      registered === undefined
        ? () => mail.sendSignUpLink(email, link)
        : () => mail.sendAccountExists(email),
    );
  }
}
