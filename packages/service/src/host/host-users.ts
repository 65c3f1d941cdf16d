import { GatehouseError } from "@gatehouse/engine";
import type { Kysely } from "kysely";
import { type RequestContext, reachesWorkspace } from "../actor.ts";
import { actorLabel } from "../audit/actor-label.ts";
import type { Database } from "../database/schema.ts";
import type { ServiceCore } from "../service-core.ts";
import { insertMagicLink } from "../sign-in/magic-links.ts";
import { normalizeEmail, toUser, type User } from "../sign-in/users.ts";
import { ErrorCode } from "../support/error-codes.ts";
import { requireText } from "../support/validation.ts";
import type { Members } from "../team/members.ts";

/** A user the host application provisioned by its own id. */
export interface HostUser extends User {
  /** The name of the host credential that provisioned (or last updated) the user. */
  readonly provisionedBy: string;
}

/** A host-issued sign-in link's secret: it works once, until `expiresAt`. */
export interface HostSignInLink {
  readonly token: string;
  readonly expiresAt: number;
}

/**
 * The host's own ids: 1–100 letters, digits and `._@:-`, starting with a letter or digit. Ids
 * starting with `usr_` are Gatehouse's own and refused, so the two never collide.
 */
const HOST_USER_ID = /^[A-Za-z0-9][A-Za-z0-9._@:-]{0,99}$/;
const GENERATED_PREFIX = "usr_";
/** How long a host-issued sign-in link works: 5 minutes. */
export const HOST_SIGN_IN_LINK_TTL_MS = 5 * 60 * 1000;

/** Whether `id` is one the host may give a user (its own id, never shaped like Gatehouse's). */
function isHostUserId(id: unknown): id is string {
  return (
    typeof id === "string" &&
    HOST_USER_ID.test(id) &&
    !id.toLowerCase().startsWith(GENERATED_PREFIX)
  );
}

/** The host application behind a request, or HOST_CREDENTIAL_REQUIRED. */
function requireHost(request: RequestContext): string {
  if (request.actor.type !== "system")
    throw new GatehouseError(
      ErrorCode.HOST_CREDENTIAL_REQUIRED,
      "only the host application (a host credential) manages the panel's users",
    );
  return request.actor.host?.name ?? request.actor.name;
}

function requireHostUserId(id: unknown): string {
  if (!isHostUserId(id))
    throw new GatehouseError(
      ErrorCode.INVALID_INPUT,
      "a user id is 1–100 letters, digits or ._@:- starting with a letter or digit, and not usr_…",
    );
  return id;
}

function toHostUser(row: {
  id: string;
  email: string;
  name: string;
  created_at: number;
  provisioned_by: string | null;
}): HostUser {
  return { ...toUser(row), provisionedBy: row.provisioned_by ?? "" };
}

/**
 * The panel's own users, by the panel's own ids: provisioned (create-or-update), read and deleted
 * by the host application, and signed into the console by a host-issued one-time link. A
 * provisioned user's Gatehouse id is the host's id, so `check` takes `user:<host id>` as is.
 */
export class HostUsers {
  readonly #core: ServiceCore;
  readonly #members: Members;

  constructor(core: ServiceCore, members: Members) {
    this.#core = core;
    this.#members = members;
  }

  /**
   * Creates or updates the user with the host's id `id` (no password: they sign in through the
   * host's links, a magic link or OpenID Connect). Sending the same again changes nothing.
   * @example
   * const { user, created } = await gatehouse.hostUsers.put(host, "42", { email: "ada@example.com", name: "Ada" });
   */
  async put(
    request: RequestContext,
    id: string,
    input: { email: string; name: string },
  ): Promise<{ user: HostUser; created: boolean }> {
    const host = requireHost(request);
    const userId = requireHostUserId(id);
    const email = normalizeEmail(input?.email);
    const name = requireText(input?.name, "name");
    const core = this.#core;
    // A credential limited to some workspaces never changes someone who reaches beyond them.
    await this.#reachableWorkspaces(request, userId);
    return core.storage.transaction(async (trx) => {
      const existing = await trx
        .selectFrom("users")
        .selectAll()
        .where("id", "=", userId)
        .$if(core.storage.locksRows, (query) => query.forUpdate())
        .executeTakeFirst();
      if (existing !== undefined && existing.provisioned_by === null)
        throw new GatehouseError(
          ErrorCode.CONFLICT,
          "this id belongs to a user the host did not provision",
        );
      if (existing?.email === email && existing.name === name)
        return { user: toHostUser(existing), created: false };
      const holder = await trx
        .selectFrom("users")
        .select("id")
        .where("email", "=", email)
        .executeTakeFirst();
      if (holder !== undefined && holder.id !== userId)
        throw new GatehouseError(ErrorCode.EMAIL_TAKEN, "another user has this email");
      const now = core.clock();
      try {
        if (existing === undefined) {
          await trx
            .insertInto("users")
            .values({
              id: userId,
              email,
              name,
              password_hash: null,
              created_at: now,
              provisioned_by: host,
            })
            .execute();
        } else {
          await trx
            .updateTable("users")
            .set({ email, name, provisioned_by: host })
            .where("id", "=", userId)
            .execute();
        }
      } catch (error) {
        if (core.storage.isUniqueViolation(error))
          throw new GatehouseError(
            ErrorCode.CONFLICT,
            "a concurrent change took this value; try again",
            {
              cause: error,
            },
          );
        throw error;
      }
      await core.appendInstanceLog(trx, {
        action: existing === undefined ? "user.provision" : "user.update",
        workspaceId: null,
        actor: actorLabel(request),
        details: { userId, email, name },
      });
      const row = {
        id: userId,
        email,
        name,
        created_at: existing?.created_at ?? now,
        provisioned_by: host,
      };
      return { user: toHostUser(row), created: existing === undefined };
    });
  }

  /**
   * A user the host provisioned; USER_NOT_FOUND for any other id.
   * @example
   * const user = await gatehouse.hostUsers.get(host, "42");
   */
  async get(request: RequestContext, id: string): Promise<HostUser> {
    requireHost(request);
    return toHostUser(await provisioned(this.#core.db, id));
  }

  /**
   * Deletes a provisioned user: removed from every workspace (their API keys die with it), their
   * sessions and links ended, their account row gone; the activity log keeps their entries. A user
   * who owns a workspace stays (LAST_OWNER): transfer ownership first.
   * @example
   * await gatehouse.hostUsers.delete(host, "42");
   */
  async delete(request: RequestContext, id: string): Promise<void> {
    requireHost(request);
    const core = this.#core;
    const user = await provisioned(core.db, id);
    const workspaces = await this.#reachableWorkspaces(request, user.id);
    for (const workspaceId of workspaces) {
      const { engine } = await core.current(workspaceId);
      if (engine.ownerGrant?.subject === `user:${user.id}`)
        throw new GatehouseError(
          ErrorCode.LAST_OWNER,
          `${user.id} owns workspace ${workspaceId}; transfer its ownership first`,
        );
    }
    for (const workspaceId of workspaces) await this.#members.remove(request, workspaceId, user.id);
    await core.storage.transaction(async (trx) => {
      await trx.deleteFrom("sessions").where("user_id", "=", user.id).execute();
      await trx.deleteFrom("magic_links").where("email", "=", user.email).execute();
      await trx.deleteFrom("users").where("id", "=", user.id).execute();
      await core.appendInstanceLog(trx, {
        action: "user.delete",
        workspaceId: null,
        actor: actorLabel(request),
        details: { userId: user.id, email: user.email, workspaces },
      });
    });
  }

  /**
   * A one-time link that signs a provisioned user into the console (the panel's "Manage team"
   * button): it works once, for {@link HOST_SIGN_IN_LINK_TTL_MS}, is stored hashed and logged.
   * The console consumes it like a magic link (`/sign-in/magic#<token>`).
   * @example
   * const { token } = await gatehouse.hostUsers.signInLink(host, "42");
   */
  async signInLink(request: RequestContext, id: string): Promise<HostSignInLink> {
    requireHost(request);
    const core = this.#core;
    const user = await provisioned(core.db, id);
    // A credential limited to some workspaces never signs in someone who reaches beyond them.
    await this.#reachableWorkspaces(request, user.id);
    return core.storage.transaction(async (trx) => {
      const link = await insertMagicLink(core, trx, {
        email: user.email,
        ttlMs: HOST_SIGN_IN_LINK_TTL_MS,
        ip: request.origin?.ip ?? null,
      });
      await core.appendInstanceLog(trx, {
        action: "user.sign_in_link",
        workspaceId: null,
        actor: actorLabel(request),
        details: { userId: user.id, expiresAt: link.expiresAt },
      });
      return link;
    });
  }

  /** The user's open workspaces; PERMISSION_DENIED when one is beyond the credential's reach. */
  async #reachableWorkspaces(request: RequestContext, userId: string): Promise<string[]> {
    const rows = await this.#core.db
      .selectFrom("members")
      .innerJoin("workspaces", "workspaces.id", "members.workspace_id")
      .select("workspaces.id")
      .where("members.user_id", "=", userId)
      .where("workspaces.closed_at", "is", null)
      .orderBy("workspaces.id")
      .execute();
    const ids = rows.map((row) => row.id);
    if (ids.some((workspaceId) => !reachesWorkspace(request.actor, workspaceId)))
      throw new GatehouseError(
        ErrorCode.PERMISSION_DENIED,
        "this user is a member of workspaces this host credential does not reach",
      );
    return ids;
  }
}

async function provisioned(db: Kysely<Database>, id: string) {
  const row = isHostUserId(id)
    ? await db.selectFrom("users").selectAll().where("id", "=", id).executeTakeFirst()
    : undefined;
  if (row === undefined || row.provisioned_by === null)
    throw new GatehouseError(ErrorCode.USER_NOT_FOUND, "no user the host provisioned has this id");
  return row;
}
