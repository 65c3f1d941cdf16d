import type { SignInMail } from "@gatehouse/service";
import type { ServerConfig } from "../config.ts";
import type { Mailer } from "./mailer.ts";

/**
 * The service's sign-in mail port over the server's mailer: the magic-link and sign-up mails,
 * both pointing at the console's link page (`publicUrl` read when sending), and the notice to the
 * owner of a registered address that someone tried to sign up with it.
 * @example
 * const gatehouse = createGatehouse({ storage, signInMail: signInMail(mailer, config) });
 */
export function signInMail(mailer: Mailer, config: Pick<ServerConfig, "publicUrl">): SignInMail {
  return {
    sendMagicLink: (to, link) =>
      mailer.send({
        to,
        subject: "Your Gatehouse sign-in link",
        text: `Sign in to Gatehouse (the link works once, for 10 minutes):\n\n${config.publicUrl}/sign-in/magic#${link.token}\n`,
      }),
    sendSignUpLink: (to, link) =>
      mailer.send({
        to,
        subject: "Confirm your Gatehouse account",
        text: `Someone — probably you — asked for a Gatehouse account with this address. Follow the link to create it and sign in (it works once, for 24 hours):\n\n${config.publicUrl}/sign-in/magic#${link.token}\n\nIf it was not you, ignore this mail: no account is created.\n`,
      }),
    sendAccountExists: (to) =>
      mailer.send({
        to,
        subject: "You already have a Gatehouse account",
        text: `Someone — probably you — tried to sign up for Gatehouse with this address, which already has an account. Nothing was changed.\n\nSign in at ${config.publicUrl}/sign-in (or ask for a sign-in link there if you forgot your password).\n\nIf it was not you, you can ignore this mail.\n`,
      }),
  };
}
