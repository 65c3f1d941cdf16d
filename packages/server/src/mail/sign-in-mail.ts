import type { SignInMail } from "@gatehouse/service";
import type { ServerConfig } from "../config.ts";
import type { Mailer } from "./mailer.ts";

/**
 * The service's sign-in mail port over the server's mailer: the magic-link and sign-up mails,
 * both pointing at the console's link page (`publicUrl` read when sending), and the notice to the
 * owner of a registered address that someone tried to sign up with it; and the email change's:
 * the link to the new address (the console's `/account/email`), the notice to a taken address,
 * and the notice to the old address once the change is made.
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
    sendEmailChangeLink: (to, link) =>
      mailer.send({
        to,
        subject: "Confirm your new Gatehouse email address",
        text: `Someone signed in to the Gatehouse account of ${link.name} — probably you — asked to make this address the account's email. Follow the link, signed in to that account, to confirm it (it works once, for 1 hour):\n\n${config.publicUrl}/account/email#${link.token}\n\nIf it was not you, ignore this mail: nothing changes.\n`,
      }),
    sendEmailInUse: (to) =>
      mailer.send({
        to,
        subject: "Someone tried to use your address for Gatehouse",
        text: `Someone tried to make this address the email of another Gatehouse account, though it already belongs to yours. Nothing was changed.\n\nIf it was you, sign in to the account that has this address at ${config.publicUrl}/sign-in instead. If it was not, you can ignore this mail.\n`,
      }),
    sendEmailChanged: (to, change) =>
      mailer.send({
        to,
        subject: "Your Gatehouse email address was changed",
        text: `The email of the Gatehouse account of ${change.name} was changed from this address to ${change.email}. Sign in with the new address from now on.\n\nIf you did not do this, someone else may be signed in to your account: contact your provider's support at once.\n`,
      }),
  };
}
