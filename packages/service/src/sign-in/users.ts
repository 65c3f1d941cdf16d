import { GatehouseError } from "@gatehouse/engine";
import type { Kysely } from "kysely";
import type { RequestContext } from "../actor.ts";
import type { Database } from "../database/schema.ts";
import type { ServiceCore } from "../service-core.ts";
import { newId } from "../support/crypto.ts";
import { ErrorCode } from "../support/error-codes.ts";
import { assertStrongPassword } from "../support/passwords.ts";
import { requireText } from "../support/validation.ts";
import { createWorkspaceIn, type Workspace } from "../team/workspaces.ts";

export interface User {
  readonly id: string;
  readonly email: string;
  readonly name: string;
  readonly createdAt: number;
}

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

/** Lower-cased, trimmed, and checked; throws INVALID_INPUT for anything that is not an address. */
export function normalizeEmail(email: unknown): string {
  if (typeof email !== "string" || email.length > 254 || !EMAIL.test(email.trim())) {
    throw new GatehouseError(ErrorCode.INVALID_INPUT, "a valid email address is required", {
      issues: [{ path: "email", message: "is not a valid email address" }],
    });
  }
  return email.trim().toLowerCase();
}

export function toUser(row: { id: string; email: string; name: string; created_at: number }): User {
  return { id: row.id, email: row.email, name: row.name, createdAt: row.created_at };
}

/** Creates a user row; EMAIL_TAKEN when the address is registered. */
export async function insertUser(
  core: ServiceCore,
  trx: Kysely<Database>,
  input: { email: string; name: string; passwordHash: string | null },
): Promise<User> {
  const row = {
    id: newId("usr"),
    email: input.email,
    name: input.name,
    password_hash: input.passwordHash,
    created_at: core.clock(),
  };
  try {
    await trx.insertInto("users").values(row).execute();
  } catch (error) {
    if (core.storage.isUniqueViolation(error)) {
      throw new GatehouseError(
        ErrorCode.EMAIL_TAKEN,
        "an account with this email exists; sign in instead",
      );
    }
    throw error;
  }
  return toUser(row);
}

/**
 * Creates a user in `trx`, with a personal workspace they own when the personal preset's policy
 * asks for one (as on MZPanel and the hosting-customer panel); EMAIL_TAKEN when registered.
 */
export async function createAccountIn(
  core: ServiceCore,
  trx: Kysely<Database>,
  input: { email: string; name: string; passwordHash: string },
): Promise<{ user: User; personalWorkspace: Workspace | undefined }> {
  const model = core.personalPreset === null ? undefined : core.modelOf(core.personalPreset);
  const user = await insertUser(core, trx, input);
  const personalWorkspace =
    model?.policy.personalWorkspace === true
      ? await createWorkspaceIn(core, trx, {
          name: `${input.name}'s workspace`,
          preset: model.name,
          ownerId: user.id,
          personal: true,
        })
      : undefined;
  return { user, personalWorkspace };
}

/** Accounts: sign-up with a personal workspace where the model asks for one, and password checks. */
export class Users {
  readonly #core: ServiceCore;

  constructor(core: ServiceCore) {
    this.#core = core;
  }

  /**
   * Registers a user with email and password (scrypt) at once. When the personal preset's policy
   * says so, the user also gets a personal workspace they own (as on MZPanel and the hosting-customer
   * panel). For hosts that confirmed the address themselves: it answers EMAIL_TAKEN for a
   * registered address. Public sign-up forms use `signUps.request`, whose answer never tells.
   * @example
   * const { user } = await gatehouse.users.signUp({ email: "ada@example.com", password: "correct horse battery", name: "Ada" });
   */
  async signUp(input: {
    email: string;
    password: string;
    name?: string;
  }): Promise<{ user: User; personalWorkspace: Workspace | undefined }> {
    const core = this.#core;
    const email = normalizeEmail(input.email);
    const name = requireText(input.name ?? email.split("@")[0], "name");
    assertStrongPassword(input.password, [email, name]);
    const passwordHash = await core.passwords.hash(input.password);
    return core.storage.transaction((trx) =>
      createAccountIn(core, trx, { email, name, passwordHash }),
    );
  }

  /**
   * The instance operator's first-run path (`gatehouse create-owner`): a user with a password and
   * a workspace of `preset` they own, created together in one transaction (no personal workspace
   * besides). Only the system actor may create accounts for others.
   * @example
   * const { user, workspace } = await gatehouse.users.createOwner(systemActor("cli"), {
   *   email: "olivia@example.com", password: "a long passphrase", workspace: { name: "Acme", preset: "company", plan: "premium" },
   * });
   */
  async createOwner(
    request: RequestContext,
    input: {
      email: string;
      password: string;
      name?: string | undefined;
      workspace: { name: string; preset: string; plan?: string | undefined };
    },
  ): Promise<{ user: User; workspace: Workspace }> {
    const core = this.#core;
    if (request.actor.type !== "system") {
      throw new GatehouseError(
        ErrorCode.PERMISSION_DENIED,
        "only the instance operator creates accounts for others",
      );
    }
    const email = normalizeEmail(input.email);
    const name = requireText(input.name ?? email.split("@")[0], "name");
    assertStrongPassword(input.password, [email, name]);
    // Unknown presets and plans fail before the (slow) password hash.
    core.modelOf(input.workspace?.preset);
    const passwordHash = await core.passwords.hash(input.password);
    return core.storage.transaction(async (trx) => {
      const user = await insertUser(core, trx, { email, name, passwordHash });
      const workspace = await createWorkspaceIn(core, trx, {
        name: input.workspace.name,
        preset: input.workspace.preset,
        plan: input.workspace.plan,
        ownerId: user.id,
        personal: false,
        request,
      });
      return { user, workspace };
    });
  }

  /**
   * The user with this email and password; INVALID_CREDENTIALS otherwise. Unknown emails and
   * accounts without a password are checked against a dummy hash: the same answer after the same
   * work (one scrypt run) as a wrong password.
   */
  async authenticate(input: { email: string; password: string }): Promise<User> {
    const row = await this.#core.db
      .selectFrom("users")
      .selectAll()
      .where("email", "=", typeof input.email === "string" ? input.email.trim().toLowerCase() : "")
      .executeTakeFirst();
    const valid = await this.#core.passwords.verify(input.password, row?.password_hash);
    if (row === undefined || row.password_hash === null || !valid) {
      throw new GatehouseError(ErrorCode.INVALID_CREDENTIALS, "wrong email or password");
    }
    return toUser(row);
  }

  /**
   * Renames the user (the name others see in their workspaces); the email changes only by a
   * confirmed address, which this does not do.
   * @example
   * const user = await gatehouse.users.rename(ada.id, "Ada Lovelace");
   */
  async rename(userId: string, name: string): Promise<User> {
    const checked = requireText(name, "name");
    await this.#core.db
      .updateTable("users")
      .set({ name: checked })
      .where("id", "=", userId)
      .execute();
    return this.get(userId);
  }

  /**
   * Changes the user's password after checking the current one (INVALID_CREDENTIALS otherwise);
   * the new one passes the same strength check as at sign-up. The caller ends the other sessions.
   * @example
   * await gatehouse.users.changePassword(ada.id, { current: "old passphrase", next: "a new long passphrase" });
   */
  async changePassword(userId: string, input: { current: string; next: string }): Promise<void> {
    const core = this.#core;
    const row = await core.db
      .selectFrom("users")
      .select(["email", "name", "password_hash"])
      .where("id", "=", userId)
      .executeTakeFirst();
    if (row === undefined) throw new GatehouseError(ErrorCode.USER_NOT_FOUND, "no such user");
    const valid = await core.passwords.verify(input?.current, row.password_hash);
    if (!valid)
      throw new GatehouseError(ErrorCode.INVALID_CREDENTIALS, "the current password is wrong");
    const next = input.next;
    const passwordHash = await core.passwords.hash(next, () =>
      assertStrongPassword(next, [row.email, row.name]),
    );
    await core.db
      .updateTable("users")
      .set({ password_hash: passwordHash })
      .where("id", "=", userId)
      .execute();
  }

  async get(userId: string): Promise<User> {
    const row = await this.#core.db
      .selectFrom("users")
      .selectAll()
      .where("id", "=", userId)
      .executeTakeFirst();
    if (row === undefined) throw new GatehouseError(ErrorCode.USER_NOT_FOUND, "no such user");
    return toUser(row);
  }

  async findByEmail(email: string): Promise<User | undefined> {
    const row = await this.#core.db
      .selectFrom("users")
      .selectAll()
      .where("email", "=", normalizeEmail(email))
      .executeTakeFirst();
    return row === undefined ? undefined : toUser(row);
  }
}
