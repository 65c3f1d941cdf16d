import { GatehouseError } from "@gatehouse/engine";
import type { Origin } from "../actor.ts";
import type { ServiceCore } from "../service-core.ts";
import { ErrorCode } from "../support/error-codes.ts";
import { insertMagicLink, type MagicLink } from "./magic-links.ts";
import { ipKey } from "./sessions.ts";

/** How long the console has to spend the link an OpenID Connect sign-in hands it: 5 minutes. */
export const OIDC_HANDOFF_TTL_MS = 5 * 60 * 1000;

/**
 * OpenID Connect sign-in for the host's users: once the server has verified an ID token from the
 * configured provider, the subject (the host's user id) is signed in — if the host provisioned
 * that user; nobody else, and no account is ever created here. The sign-in goes on as a one-time
 * link the console spends, so a session starts exactly as with a magic link or a host-issued link
 * (two-factor sign-in included).
 */
export class OidcSignIn {
  readonly #core: ServiceCore;

  constructor(core: ServiceCore) {
    this.#core = core;
  }

  /**
   * A one-time console sign-in link for the provisioned user whose host id is `subject`, as
   * verified by the provider `issuer`; logged as `user.oidc_sign_in`. USER_NOT_FOUND when the
   * host provisioned no user with this id.
   * @example
   * const { token } = await gatehouse.oidc.signIn({ issuer, subject: claims.sub, origin: { ip } });
   */
  async signIn(input: {
    issuer: string;
    subject: string;
    origin?: Origin | undefined;
  }): Promise<MagicLink> {
    const core = this.#core;
    const subject = input.subject;
    const user =
      typeof subject === "string" && subject !== "" && subject.length <= 100
        ? await core.db
            .selectFrom("users")
            .select(["id", "email", "provisioned_by"])
            .where("id", "=", subject)
            .executeTakeFirst()
        : undefined;
    if (user === undefined || user.provisioned_by === null)
      throw new GatehouseError(
        ErrorCode.USER_NOT_FOUND,
        "the identity provider's user is not one the host provisioned",
      );
    return core.storage.transaction(async (trx) => {
      const link = await insertMagicLink(core, trx, {
        email: user.email,
        ttlMs: OIDC_HANDOFF_TTL_MS,
        ip: ipKey(input.origin) || null,
      });
      await core.appendInstanceLog(trx, {
        action: "user.oidc_sign_in",
        workspaceId: null,
        actor: `user:${user.id}`,
        details: { userId: user.id, issuer: input.issuer, ip: ipKey(input.origin) || null },
      });
      return link;
    });
  }
}
