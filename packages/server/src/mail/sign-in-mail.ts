import type { SignInMail } from "@gatehouse/service";
import type { ServerConfig } from "../config.ts";
import type { Mailer } from "./mailer.ts";

/**
 * The service's sign-in mail port over the server's mailer: the magic-link mail, pointing at the
 * console's sign-in page (`publicUrl` read when sending).
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
  };
}
