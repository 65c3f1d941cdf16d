import { createHash } from "node:crypto";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { asUser, systemActor } from "../src/actor.ts";
import type { Gatehouse } from "../src/gatehouse.ts";
import { EMAIL_CHANGE_TTL_MS, FRESH_SIGN_IN_MS } from "../src/sign-in/email-changes.ts";
import type { SignInMail } from "../src/sign-in/sign-in-mail.ts";
import { backends, codeOf, openService, PASSWORD, signUpPerson } from "./backends.ts";

type Sent =
  | { kind: "change"; to: string; token: string; name: string }
  | { kind: "in-use"; to: string }
  | { kind: "changed"; to: string; email: string }
  | { kind: "other"; to: string; token: string };

/** Changing a user's email by a link mailed to the new address (#16). */
describe.each(backends)("email changes on $name", (backend) => {
  let gatehouse: Gatehouse;
  let clock: { now: number };
  let sent: Sent[];

  beforeEach(async () => {
    sent = [];
    const mail: SignInMail = {
      sendMagicLink: async (to, link) => void sent.push({ kind: "other", to, token: link.token }),
      sendSignUpLink: async (to, link) => void sent.push({ kind: "other", to, token: link.token }),
      sendAccountExists: async () => undefined,
      sendEmailChangeLink: async (to, link) =>
        void sent.push({ kind: "change", to, token: link.token, name: link.name }),
      sendEmailInUse: async (to) => void sent.push({ kind: "in-use", to }),
      sendEmailChanged: async (to, change) =>
        void sent.push({ kind: "changed", to, email: change.email }),
    };
    ({ gatehouse, clock } = await openService(backend, { signInMail: mail }));
  });
  afterEach(async () => {
    await gatehouse.close();
  });

  /** A change request with Ada's password, another one, or (null) none. */
  const ask = (userId: string, email: string, currentPassword: string | null = PASSWORD) =>
    gatehouse.emailChanges.request(userId, {
      email,
      currentPassword: currentPassword ?? undefined,
      origin: { ip: "192.0.2.9" },
    });
  /** The mail sent since the last call, once the queue has handed it over. */
  async function mailed(): Promise<Sent[]> {
    await gatehouse.mailSettled();
    const out = sent;
    sent = [];
    return out;
  }
  async function changeToken(): Promise<string> {
    const mail = (await mailed()).find((candidate) => candidate.kind === "change");
    if (mail?.kind !== "change") throw new Error("no change link was mailed");
    return mail.token;
  }
  const log = () =>
    gatehouse.storage.db
      .selectFrom("instance_log")
      .selectAll()
      .where("action", "=", "user.email_change")
      .execute();

  it("mails a one-hour link to the new address, stored hashed, and changes nothing until it is followed", async () => {
    const ada = await signUpPerson(gatehouse, "ada");
    await ask(ada.id, " Ada@New.Example ");
    const mail = await mailed();
    expect(mail).toEqual([
      { kind: "change", to: "ada@new.example", token: expect.stringMatching(/^ghe_/), name: "ada" },
    ]);
    const token = (mail[0] as { token: string }).token;
    const rows = await gatehouse.storage.db.selectFrom("email_changes").selectAll().execute();
    expect(rows).toEqual([
      {
        token_hash: createHash("sha256").update(token).digest("hex"),
        user_id: ada.id,
        email: "ada@new.example",
        created_at: clock.now,
        expires_at: clock.now + EMAIL_CHANGE_TTL_MS,
        used_at: null,
        ip: "192.0.2.9",
      },
    ]);
    expect((await gatehouse.users.get(ada.id)).email).toBe("ada@example.com");

    const user = await gatehouse.emailChanges.confirm(ada.id, token);
    expect(user).toMatchObject({ id: ada.id, email: "ada@new.example", name: "ada" });
    expect((await gatehouse.users.get(ada.id)).email).toBe("ada@new.example");
    // The old address is told, after the change.
    expect(await mailed()).toEqual([
      { kind: "changed", to: "ada@example.com", email: "ada@new.example" },
    ]);
    // The new address signs in; the old one no longer does.
    expect(
      (await gatehouse.sessions.login({ email: "ada@new.example", password: PASSWORD })).user.id,
    ).toBe(ada.id);
    expect(
      await codeOf(gatehouse.sessions.login({ email: "ada@example.com", password: PASSWORD })),
    ).toBe("INVALID_CREDENTIALS");
    const entries = await log();
    expect(entries).toHaveLength(1);
    expect(entries[0]).toMatchObject({ actor: `user:${ada.id}` });
    expect(JSON.parse(entries[0]!.details)).toEqual({
      userId: ada.id,
      from: "ada@example.com",
      to: "ada@new.example",
      ip: null,
    });
    expect(entries[0]!.details).not.toContain(token.slice(4));
  });

  it("works once, for an hour by the clock, and only the newest link of an account works", async () => {
    const ada = await signUpPerson(gatehouse, "ada");
    await ask(ada.id, "first@example.net");
    const first = await changeToken();
    await ask(ada.id, "second@example.net");
    const second = await changeToken();
    // A newer request replaces the older link.
    expect(await codeOf(gatehouse.emailChanges.confirm(ada.id, first))).toBe(
      "EMAIL_CHANGE_LINK_INVALID",
    );
    clock.now += EMAIL_CHANGE_TTL_MS;
    expect(await codeOf(gatehouse.emailChanges.confirm(ada.id, second))).toBe(
      "EMAIL_CHANGE_LINK_INVALID",
    );
    clock.now += 60 * 60 * 1000;
    await ask(ada.id, "third@example.net");
    const third = await changeToken();
    clock.now += EMAIL_CHANGE_TTL_MS - 1;
    await gatehouse.emailChanges.confirm(ada.id, third);
    expect(await codeOf(gatehouse.emailChanges.confirm(ada.id, third))).toBe(
      "EMAIL_CHANGE_LINK_INVALID",
    );
    expect((await gatehouse.users.get(ada.id)).email).toBe("third@example.net");
    for (const token of ["", "ghe_short", `ghm_${"a".repeat(43)}`, `ghe_${"a".repeat(43)}`]) {
      expect(await codeOf(gatehouse.emailChanges.confirm(ada.id, token))).toBe(
        "EMAIL_CHANGE_LINK_INVALID",
      );
    }
  });

  it("of two uses at once, one wins", async () => {
    const ada = await signUpPerson(gatehouse, "ada");
    await ask(ada.id, "ada@new.example");
    const token = await changeToken();
    const codes = await Promise.all([
      codeOf(gatehouse.emailChanges.confirm(ada.id, token)),
      codeOf(gatehouse.emailChanges.confirm(ada.id, token)),
    ]);
    expect(codes.sort()).toEqual(["EMAIL_CHANGE_LINK_INVALID", undefined]);
    expect(await log()).toHaveLength(1);
    expect(await mailed()).toHaveLength(1);
  });

  it("works only for the account that asked: another account's session cannot follow it", async () => {
    const ada = await signUpPerson(gatehouse, "ada");
    const eve = await signUpPerson(gatehouse, "eve");
    await ask(ada.id, "ada@new.example");
    const token = await changeToken();
    expect(await codeOf(gatehouse.emailChanges.confirm(eve.id, token))).toBe(
      "EMAIL_CHANGE_LINK_INVALID",
    );
    expect((await gatehouse.users.get(eve.id)).email).toBe("eve@example.com");
    await gatehouse.emailChanges.confirm(ada.id, token);
  });

  it("answers a taken address as a free one, after the same writes, and mails its owner a notice", async () => {
    const ada = await signUpPerson(gatehouse, "ada");
    await signUpPerson(gatehouse, "bob");
    const count = async () =>
      (await gatehouse.storage.db.selectFrom("email_changes").selectAll().execute()).length;
    expect(await ask(ada.id, "bob@example.com")).toBeUndefined();
    expect(await count()).toBe(1);
    expect(await mailed()).toEqual([{ kind: "in-use", to: "bob@example.com" }]);
    expect(await ask(ada.id, "free@example.com")).toBeUndefined();
    expect(await count()).toBe(1);
    expect(await mailed()).toEqual([
      { kind: "change", to: "free@example.com", token: expect.any(String), name: "ada" },
    ]);
    expect((await gatehouse.users.get(ada.id)).email).toBe("ada@example.com");
  });

  it("refuses to confirm an address another account took meanwhile, leaving the link unused", async () => {
    const ada = await signUpPerson(gatehouse, "ada");
    await ask(ada.id, "carol@example.com");
    const token = await changeToken();
    const carol = await signUpPerson(gatehouse, "carol");
    expect(await codeOf(gatehouse.emailChanges.confirm(ada.id, token))).toBe("EMAIL_TAKEN");
    expect((await gatehouse.users.get(ada.id)).email).toBe("ada@example.com");
    expect(await mailed()).toEqual([]);
    expect(await log()).toEqual([]);
    // Once the address is free again, the same link still works.
    await gatehouse.storage.db
      .updateTable("users")
      .set({ email: "carol@elsewhere.example" })
      .where("id", "=", carol.id)
      .execute();
    expect((await gatehouse.emailChanges.confirm(ada.id, token)).email).toBe("carol@example.com");
  });

  it("needs the current password, and counts every request against the account's limit", async () => {
    const ada = await signUpPerson(gatehouse, "ada");
    expect(await codeOf(ask(ada.id, "ada@new.example", "not my password"))).toBe(
      "INVALID_CREDENTIALS",
    );
    expect(await codeOf(ask(ada.id, "ada@new.example", null))).toBe("INVALID_CREDENTIALS");
    expect(await mailed()).toEqual([]);
    expect(await gatehouse.storage.db.selectFrom("email_changes").selectAll().execute()).toEqual(
      [],
    );
    expect(await codeOf(ask(ada.id, "ada@example.com"))).toBe("INVALID_INPUT");
    expect(await codeOf(ask(ada.id, "not an address"))).toBe("INVALID_INPUT");
    for (let i = 0; i < 3; i++) await ask(ada.id, `ada${i}@new.example`);
    // Five requests in 15 minutes (two refused for the password): the sixth waits.
    expect(await codeOf(ask(ada.id, "ada9@new.example"))).toBe("RATE_LIMITED");
    clock.now += 15 * 60 * 1000;
    await ask(ada.id, "ada9@new.example");
  });

  it("asks an account without a password to have signed in within 10 minutes", async () => {
    const ada = await signUpPerson(gatehouse, "ada");
    const session = await gatehouse.sessions.login({ email: ada.email, password: PASSWORD });
    await gatehouse.storage.db
      .updateTable("users")
      .set({ password_hash: null })
      .where("id", "=", ada.id)
      .execute();
    const request = (sessionId: string | undefined) =>
      gatehouse.emailChanges.request(ada.id, { email: "ada@new.example", sessionId });
    expect(await codeOf(request(undefined))).toBe("SIGN_IN_AGAIN");
    clock.now += FRESH_SIGN_IN_MS;
    expect(await codeOf(request(session.sessionId))).toBe("SIGN_IN_AGAIN");
    clock.now -= 1;
    await request(session.sessionId);
    expect((await mailed())[0]).toMatchObject({ kind: "change", to: "ada@new.example" });
  });

  it("refuses users the host provisioned: the host (or its identity provider) owns the address", async () => {
    const { user } = await gatehouse.hostUsers.put(systemActor(), "42", {
      email: "ida@host.example",
      name: "Ida",
    });
    expect(
      await codeOf(gatehouse.emailChanges.request(user.id, { email: "ida@new.example" })),
    ).toBe("EMAIL_MANAGED_BY_HOST");
    expect(await mailed()).toEqual([]);
  });

  it("keeps the user id, memberships and grants; invitations to the old address stay with it", async () => {
    const ada = await signUpPerson(gatehouse, "ada");
    const olivia = await signUpPerson(gatehouse, "olivia");
    const ws = await gatehouse.workspaces.create(asUser(olivia.id), {
      name: "Acme",
      preset: "company",
    });
    const first = await gatehouse.invitations.create(asUser(olivia.id), ws.id, {
      email: "ada@example.com",
      role: "manager",
    });
    const other = await gatehouse.workspaces.create(asUser(olivia.id), {
      name: "Beta",
      preset: "msp",
    });
    const pending = await gatehouse.invitations.create(asUser(olivia.id), other.id, {
      email: "ada@example.com",
      role: "msp_admin",
    });
    await gatehouse.invitations.accept({ token: first.token, userId: ada.id });
    // A sign-in link to the old address, unused.
    await gatehouse.magicLinks.send({ email: "ada@example.com" });
    const magic = (await mailed()).find((mail) => mail.kind === "other");

    await ask(ada.id, "ada@new.example");
    await gatehouse.emailChanges.confirm(ada.id, await changeToken());

    const own = await gatehouse.members.own(asUser(ada.id), ws.id);
    expect(own.grants.map((grant) => grant.role)).toEqual(["manager"]);
    expect((await gatehouse.workspaces.listForUser(ada.id)).map((w) => w.id)).toContain(ws.id);
    expect(
      await codeOf(gatehouse.invitations.accept({ token: pending.token, userId: ada.id })),
    ).toBe("INVITATION_EMAIL_MISMATCH");
    // The old address's sign-in link died with the change.
    expect(magic?.kind).toBe("other");
    expect(await codeOf(gatehouse.magicLinks.consume((magic as { token: string }).token))).toBe(
      "MAGIC_LINK_INVALID",
    );
  });

  it("needs a mail sender", async () => {
    const bare = await openService(backend);
    try {
      const ada = await signUpPerson(bare.gatehouse, "ada");
      expect(
        await codeOf(
          bare.gatehouse.emailChanges.request(ada.id, {
            email: "ada@new.example",
            currentPassword: PASSWORD,
          }),
        ),
      ).toBe("CONFIGURATION_REQUIRED");
    } finally {
      await bare.gatehouse.close();
    }
  });
});
