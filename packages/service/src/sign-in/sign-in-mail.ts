import type { MagicLink } from "./magic-links.ts";

/**
 * The port through which the service has sign-in mail sent; the host renders the mail and
 * delivers it (the server: SMTP, or its development outbox).
 * @example
 * createGatehouse({ storage, signInMail: { sendMagicLink: async (to, link) => smtp.send(to, link.token) } });
 */
export interface SignInMail {
  /** Mails `to` a one-time sign-in link carrying `link.token`, valid until `link.expiresAt`. */
  sendMagicLink(to: string, link: MagicLink): Promise<void>;
}
