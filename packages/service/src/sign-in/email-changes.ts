import { GatehouseError } from "@gatehouse/engine";
import type { Kysely } from "kysely";
import type { Origin } from "../actor.ts";
import type { Database } from "../database/schema.ts";
import type { ServiceCore } from "../service-core.ts";
import { hashSecret, isSameDigest, randomSecret } from "../support/crypto.ts";
import { ErrorCode } from "../support/error-codes.ts";
import { MAGIC_LINKS_PER_EMAIL } from "./magic-links.ts";
import { ipKey, Throttle } from "./sessions.ts";
import type { MailQueue, SignInMail } from "./sign-in-mail.ts";
import { normalizeEmail, toUser, type User } from "./users.ts";

/** An email-change link's secret, for the mail to the new address; it works once, until `expiresAt`. */
export interface EmailChangeLink {
  readonly token: string;
  readonly expiresAt: number;
  /** The new address. */
  readonly email: string;
  /** The account's name, so the mail can say which account moves to the address. */
  readonly name: string;
}

/** How long an email-change link works: 1 hour. */
export const EMAIL_CHANGE_TTL_MS = 60 * 60 * 1000;
/** Change requests per account in 15 minutes (each may mail an address). */
export const EMAIL_CHANGES_PER_USER = 5;
/** An account without a password changes its email only this soon after signing in: 10 minutes. */
export const FRESH_SIGN_IN_MS = 10 * 60 * 1000;
/** `ghe_` and 32 random bytes in base64url (256 bits). */
const CHANGE_TOKEN = /^ghe_[A-Za-z0-9_-]{43}$/;

function invalidLink(): GatehouseError {
  return new GatehouseError(
    ErrorCode.EMAIL_CHANGE_LINK_INVALID,
    "this email-change link is not valid: it expired, was used or replaced, or is for another account",
  );
}

function managedByHost(): GatehouseError {
  return new GatehouseError(
    ErrorCode.EMAIL_MANAGED_BY_HOST,
    "this account's email is managed by the host application; change it there",
  );
}

/**
 * Changing an account's email by a confirmed address, as careful identity products do: the
 * request (reauthenticated) mails a one-time link to the new address, and only following it —
 * signed in as the same account — moves the account; the old address is then told. The request
 * answers the same, after the same work, whether the new address is free or another account's: a
 * taken address is mailed a notice instead of a link, so the answer never tells who has an account.
 * The user id, grants and memberships stay; pending invitations to the old address stay with it.
 */
export class EmailChanges {
  readonly #core: ServiceCore;
  readonly #throttle: Throttle;
  readonly #mail: SignInMail | undefined;
  readonly #queue: MailQueue;

  constructor(core: ServiceCore, options: { mail: SignInMail | undefined; queue: MailQueue }) {
    this.#core = core;
    this.#throttle = new Throttle(core);
    this.#mail = options.mail;
    this.#queue = options.queue;
  }

  /**
   * Asks to move the account to `email`: mails the new address a link that works once, for
   * {@link EMAIL_CHANGE_TTL_MS}, and replaces any earlier one; nothing changes until it is
   * followed (`confirm`). Reauthenticates as changing the password does: `currentPassword` where
   * the account has one (INVALID_CREDENTIALS), otherwise a session (`sessionId`) started within
   * {@link FRESH_SIGN_IN_MS} (SIGN_IN_AGAIN). A user the host provisioned: EMAIL_MANAGED_BY_HOST
   * (the host, or its identity provider, owns the address). Throttled per account and per new
   * address (RATE_LIMITED). The caller's own address is INVALID_INPUT; another account's is
   * answered as a free one is, and its owner mailed a notice instead of a link.
   * @example
   * await gatehouse.emailChanges.request(ada.id, { email: "ada@new.example", currentPassword, sessionId, origin: { ip } });
   */
  async request(
    userId: string,
    input: {
      email: string;
      currentPassword?: string | undefined;
      sessionId?: string | undefined;
      origin?: Origin | undefined;
    },
  ): Promise<void> {
    const core = this.#core;
    const mail = this.#mail;
    if (mail === undefined) {
      throw new GatehouseError(
        ErrorCode.CONFIGURATION_REQUIRED,
        "changing an email needs a mail sender (the signInMail option)",
      );
    }
    const email = normalizeEmail(input?.email);
    const user = await core.db
      .selectFrom("users")
      .select(["id", "email", "name", "password_hash", "provisioned_by"])
      .where("id", "=", userId)
      .executeTakeFirst();
    if (user === undefined) throw new GatehouseError(ErrorCode.USER_NOT_FOUND, "no such user");
    if (user.provisioned_by !== null) throw managedByHost();
    if (email === user.email) {
      throw new GatehouseError(ErrorCode.INVALID_INPUT, "this is already the account's email", {
        issues: [{ path: "email", message: "is already your email" }],
      });
    }
    const ip = ipKey(input.origin);
    // Every request counts, before the password check: guessing it here is bounded too.
    await this.#throttle.admit([
      { bucket: "email-change.user", key: user.id, limit: EMAIL_CHANGES_PER_USER },
      { bucket: "email-change.email", key: email, limit: MAGIC_LINKS_PER_EMAIL },
    ]);
    if (user.password_hash !== null) {
      if (!(await core.passwords.verify(input.currentPassword, user.password_hash)))
        throw new GatehouseError(ErrorCode.INVALID_CREDENTIALS, "the current password is wrong");
    } else {
      await this.#requireFreshSession(user.id, input.sessionId);
    }
    const taken = await core.db
      .selectFrom("users")
      .select("id")
      .where("email", "=", email)
      .executeTakeFirst();
    // Stored either way (the same writes); for a taken address it is never mailed.
    const link = await core.storage.transaction((trx) =>
      insertChangeLink(core, trx, { userId: user.id, email, ip: ip || null }),
    );
    this.#queue.enqueue(
      taken === undefined
        ? () => mail.sendEmailChangeLink(email, { ...link, email, name: user.name })
        : () => mail.sendEmailInUse(email),
    );
  }

  /**
   * Follows an email-change link, signed in as the account that asked for it: the account's email
   * becomes the new address (one conditional update spends the link; of concurrent uses, one
   * wins), its unused sign-in links to the old address die, the change is logged as
   * `user.email_change`, and the old address is told. Expired, used, replaced, unknown and other
   * accounts' links: EMAIL_CHANGE_LINK_INVALID. An address another account took meanwhile:
   * EMAIL_TAKEN, the link left unused.
   * @example
   * const user = await gatehouse.emailChanges.confirm(ada.id, token, { origin: { ip } });
   */
  async confirm(
    userId: string,
    token: string,
    options: { origin?: Origin | undefined } = {},
  ): Promise<User> {
    if (typeof token !== "string" || !CHANGE_TOKEN.test(token)) throw invalidLink();
    const core = this.#core;
    const digest = hashSecret(token);
    const link = await core.db
      .selectFrom("email_changes")
      .selectAll()
      .where("token_hash", "=", digest)
      .executeTakeFirst();
    if (
      link === undefined ||
      !isSameDigest(link.token_hash, digest) ||
      link.user_id !== userId ||
      link.used_at !== null ||
      link.expires_at <= core.clock()
    ) {
      throw invalidLink();
    }
    const user = await core.db
      .selectFrom("users")
      .select(["id", "email", "name", "created_at", "provisioned_by"])
      .where("id", "=", userId)
      .executeTakeFirst();
    if (user === undefined) throw invalidLink();
    if (user.provisioned_by !== null) throw managedByHost();
    const previous = user.email;
    try {
      await core.storage.transaction(async (trx) => {
        const now = core.clock();
        const spent = await trx
          .updateTable("email_changes")
          .set({ used_at: now })
          .where("token_hash", "=", digest)
          .where("used_at", "is", null)
          .where("expires_at", ">", now)
          .executeTakeFirst();
        if (Number(spent.numUpdatedRows) !== 1) throw invalidLink();
        const moved = await trx
          .updateTable("users")
          .set({ email: link.email })
          .where("id", "=", userId)
          .where("email", "=", previous)
          .executeTakeFirst();
        if (Number(moved.numUpdatedRows) !== 1) throw invalidLink();
        // A sign-in link to the old address must not sign in whoever registers it next.
        await trx.deleteFrom("magic_links").where("email", "=", previous).execute();
        await trx
          .deleteFrom("email_changes")
          .where("user_id", "=", userId)
          .where("used_at", "is", null)
          .execute();
        await core.appendInstanceLog(trx, {
          action: "user.email_change",
          workspaceId: null,
          actor: `user:${userId}`,
          details: {
            userId,
            from: previous,
            to: link.email,
            ip: ipKey(options.origin) || null,
          },
        });
      });
    } catch (error) {
      if (core.storage.isUniqueViolation(error)) {
        throw new GatehouseError(
          ErrorCode.EMAIL_TAKEN,
          "another account has this email now; nothing was changed",
        );
      }
      throw error;
    }
    const mail = this.#mail;
    this.#queue.enqueue(
      mail === undefined
        ? undefined
        : () => mail.sendEmailChanged(previous, { email: link.email, name: user.name }),
    );
    return toUser({ ...user, email: link.email });
  }

  /** A session of this user, not ended, started within {@link FRESH_SIGN_IN_MS}; SIGN_IN_AGAIN otherwise. */
  async #requireFreshSession(userId: string, sessionId: string | undefined): Promise<void> {
    const core = this.#core;
    const session =
      typeof sessionId === "string"
        ? await core.db
            .selectFrom("sessions")
            .select(["created_at", "revoked_at"])
            .where("id", "=", sessionId)
            .where("user_id", "=", userId)
            .executeTakeFirst()
        : undefined;
    if (
      session === undefined ||
      session.revoked_at !== null ||
      session.created_at <= core.clock() - FRESH_SIGN_IN_MS
    ) {
      throw new GatehouseError(
        ErrorCode.SIGN_IN_AGAIN,
        "sign in again (a sign-in link works), then change the email within 10 minutes",
      );
    }
  }
}

/** Stores a new change link for `userId` in `trx`, replacing their unused ones; only its hash is kept. */
async function insertChangeLink(
  core: ServiceCore,
  trx: Kysely<Database>,
  input: { userId: string; email: string; ip: string | null },
): Promise<{ token: string; expiresAt: number }> {
  const token = `ghe_${randomSecret(32)}`;
  const now = core.clock();
  const expiresAt = now + EMAIL_CHANGE_TTL_MS;
  await trx.deleteFrom("email_changes").where("expires_at", "<=", now).execute();
  await trx
    .deleteFrom("email_changes")
    .where("user_id", "=", input.userId)
    .where("used_at", "is", null)
    .execute();
  await trx
    .insertInto("email_changes")
    .values({
      token_hash: hashSecret(token),
      user_id: input.userId,
      email: input.email,
      created_at: now,
      expires_at: expiresAt,
      used_at: null,
      ip: input.ip,
    })
    .execute();
  return { token, expiresAt };
}
