import type { EmailChangeLink } from "./email-changes.ts";
import type { MagicLink } from "./magic-links.ts";

/**
 * The port through which the service has sign-in mail sent; the host renders the mail and
 * delivers it (the server: SMTP, or its development outbox). The service calls it after the
 * request has been answered (see {@link MailQueue}), so how long delivery takes never shows.
 * @example
 * createGatehouse({ storage, signInMail: {
 *   sendMagicLink: async (to, link) => smtp.send(to, `Sign in: https://panel.example/sign-in/magic#${link.token}`),
 *   sendSignUpLink: async (to, link) => smtp.send(to, `Confirm: https://panel.example/sign-in/magic#${link.token}`),
 *   sendAccountExists: async (to) => smtp.send(to, "You already have an account: sign in instead"),
 *   sendEmailChangeLink: async (to, link) => smtp.send(to, `Confirm: https://panel.example/account/email#${link.token}`),
 *   sendEmailInUse: async (to) => smtp.send(to, "Someone tried to move another account to this address"),
 *   sendEmailChanged: async (to, change) => smtp.send(to, `Your address is now ${change.email}`),
 * } });
 */
export interface SignInMail {
  /** Mails `to` a one-time sign-in link carrying `link.token`, valid until `link.expiresAt`. */
  sendMagicLink(to: string, link: MagicLink): Promise<void>;
  /**
   * Mails `to` the link confirming a sign-up with this address; it is consumed as a magic link
   * is, and creates the account and signs in.
   */
  sendSignUpLink(to: string, link: MagicLink): Promise<void>;
  /**
   * Tells the owner of `to` that someone tried to sign up with it, though it has an account: sign
   * in (or ask for a sign-in link) instead; nothing was changed.
   */
  sendAccountExists(to: string): Promise<void>;
  /**
   * Mails the new address `to` the link confirming it as the account's email (`emailChanges.confirm`,
   * signed in as that account); `link.name` is the account's name, so the mail can say whose.
   */
  sendEmailChangeLink(to: string, link: EmailChangeLink): Promise<void>;
  /**
   * Tells the owner of `to` that someone tried to make it another account's email, though it has
   * an account of its own; nothing was changed.
   */
  sendEmailInUse(to: string): Promise<void>;
  /** Tells the account's old address `to` that its email is now `change.email`. */
  sendEmailChanged(
    to: string,
    change: { readonly email: string; readonly name: string },
  ): Promise<void>;
}

/** Mail not yet handed to the port beyond this is dropped (and logged): memory stays bounded. */
const QUEUE_LIMIT = 1000;

/**
 * Sends sign-in mail after the request that asked for it has been answered: `enqueue` only
 * queues, for known and unknown accounts alike, so neither the answer's timing nor its errors
 * tell whether a mail went out. Failures are logged by their kind only — never the address, the
 * mail or the token.
 */
export class MailQueue {
  readonly #pending = new Set<Promise<void>>();
  readonly #log: (message: string) => void;

  constructor(log: (message: string) => void) {
    this.#log = log;
  }

  /** Queues one mail (`send`), or nothing (`undefined`) — the caller's work is the same. */
  enqueue(send: (() => Promise<void>) | undefined): void {
    if (this.#pending.size >= QUEUE_LIMIT) {
      this.#log("sign-in mail dropped: too many mails waiting to be sent");
      return;
    }
    const sent = new Promise<void>((resolve) => setImmediate(resolve))
      .then(send)
      .catch((error: unknown) => this.#log(`a sign-in mail could not be sent (${kindOf(error)})`))
      .finally(() => this.#pending.delete(sent));
    this.#pending.add(sent);
  }

  /** Resolves once every queued mail has been handed to the port (or failed). */
  async settled(): Promise<void> {
    while (this.#pending.size > 0) await Promise.all(this.#pending);
  }
}

/** An error's kind — its code or class name — never its message, which may name the address. */
function kindOf(error: unknown): string {
  if (typeof error === "object" && error !== null) {
    const code = (error as { code?: unknown }).code;
    if (typeof code === "string" && /^[A-Z0-9_]{1,40}$/i.test(code)) return code;
    const name = (error as { name?: unknown }).name;
    if (typeof name === "string" && /^[A-Za-z]{1,40}$/.test(name)) return name;
  }
  return "unknown error";
}
