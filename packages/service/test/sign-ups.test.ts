import { afterEach, describe, expect, it } from "vitest";
import type { Gatehouse } from "../src/gatehouse.ts";
import type { SignInMail } from "../src/sign-in/sign-in-mail.ts";
import { PasswordHasher } from "../src/support/passwords.ts";
import {
  backends,
  codeOf,
  openService,
  PASSWORD,
  signUpPerson,
  TEST_PASSWORD_COST,
} from "./backends.ts";

interface Sent {
  readonly kind: "magic" | "sign-up" | "exists";
  readonly to: string;
  readonly token?: string;
}

describe.each(backends)("sign-up and equal answers on $name", (backend) => {
  let gatehouse: Gatehouse;
  let clock: { now: number };
  let hasher: PasswordHasher;
  let sent: Sent[];

  async function open(options: Parameters<typeof openService>[1] = {}) {
    sent = [];
    hasher = new PasswordHasher(TEST_PASSWORD_COST);
    const mail: SignInMail = {
      sendMagicLink: async (to, link) => void sent.push({ kind: "magic", to, token: link.token }),
      sendSignUpLink: async (to, link) =>
        void sent.push({ kind: "sign-up", to, token: link.token }),
      sendAccountExists: async (to) => void sent.push({ kind: "exists", to }),
      sendEmailChangeLink: async () => undefined,
      sendEmailInUse: async () => undefined,
      sendEmailChanged: async () => undefined,
    };
    ({ gatehouse, clock } = await openService(backend, {
      signInMail: mail,
      passwordHasher: hasher,
      ...options,
    }));
  }

  afterEach(async () => {
    await gatehouse.close();
  });

  /** What a call did: its answer, its scrypt runs, the rows it wrote per table. */
  async function workOf(call: () => Promise<unknown>) {
    const count = async () => ({
      magicLinks: (await gatehouse.storage.db.selectFrom("magic_links").selectAll().execute())
        .length,
      attempts: (await gatehouse.storage.db.selectFrom("login_attempts").selectAll().execute())
        .length,
    });
    const before = { runs: hasher.runs, ...(await count()) };
    const answer = await call().then(
      (value) => ({ value }),
      (error: { code?: string }) => ({ code: error.code }),
    );
    const after = await count();
    return {
      answer,
      runs: hasher.runs - before.runs,
      magicLinks: after.magicLinks - before.magicLinks,
      attempts: after.attempts - before.attempts,
    };
  }

  it("creates the account only when the mailed sign-up link is followed with a password, then signs in", async () => {
    await open();
    await gatehouse.signUps.request({ email: "Ada@Example.com", name: "Ada" });
    expect(await gatehouse.users.findByEmail("ada@example.com")).toBeUndefined();
    await gatehouse.mailSettled();
    expect(sent).toEqual([{ kind: "sign-up", to: "ada@example.com", token: expect.any(String) }]);
    const token = sent[0]!.token!;
    // Following the link asks for a password first; the link stays unused until one is chosen.
    expect(await workOf(() => gatehouse.magicLinks.consume(token))).toEqual({
      answer: { code: "PASSWORD_REQUIRED" },
      runs: 0,
      magicLinks: 0,
      attempts: 0,
    });
    expect(
      await workOf(() => gatehouse.magicLinks.consume(token, { password: "password1234" })),
    ).toEqual({ answer: { code: "WEAK_PASSWORD" }, runs: 0, magicLinks: 0, attempts: 0 });
    const session = await gatehouse.magicLinks.consume(token, { password: PASSWORD });
    expect(session.user).toMatchObject({ email: "ada@example.com", name: "Ada" });
    expect(await gatehouse.workspaces.listForUser(session.user.id)).toHaveLength(1);
    await gatehouse.sessions.login({ email: "ada@example.com", password: PASSWORD });
    // The link works once.
    expect(await codeOf(gatehouse.magicLinks.consume(token, { password: PASSWORD }))).toBe(
      "MAGIC_LINK_INVALID",
    );
  });

  it("a sign-up link confirmed by the address's owner takes the password chosen at confirmation, never one chosen by whoever asked for the link", async () => {
    await open();
    // The attacker asks for an account at the victim's address, and tries to set a password.
    const planted = { email: "victim@example.com", password: "attacker knows this one" };
    expect(await codeOf(gatehouse.signUps.request(planted as { email: string }))).toBe(
      "INVALID_INPUT",
    );
    await gatehouse.signUps.request({ email: planted.email });
    await gatehouse.mailSettled();
    // The owner follows the mailed link and chooses their own password.
    const session = await gatehouse.magicLinks.consume(sent[0]!.token!, { password: PASSWORD });
    expect(session.user.email).toBe("victim@example.com");
    expect(await codeOf(gatehouse.sessions.login(planted))).toBe("INVALID_CREDENTIALS");
    await gatehouse.sessions.login({ email: planted.email, password: PASSWORD });
  });

  it("refuses a password with a sign-in link", async () => {
    await open();
    await signUpPerson(gatehouse, "ada");
    const link = await gatehouse.magicLinks.request({ email: "ada@example.com" });
    expect(await codeOf(gatehouse.magicLinks.consume(link!.token, { password: PASSWORD }))).toBe(
      "INVALID_INPUT",
    );
    // Still unused.
    await gatehouse.magicLinks.consume(link!.token);
  });

  it("answers a sign-up of a registered address as a new one, after the same work, and mails its owner instead", async () => {
    await open();
    await signUpPerson(gatehouse, "ada");
    const request = (email: string) => workOf(() => gatehouse.signUps.request({ email }));
    const registered = await request("ada@example.com");
    const unknown = await request("newcomer@example.com");
    expect(registered).toEqual(unknown);
    // Attempts: one per email and one in all (no address given). No hash: the request has no password.
    expect(registered).toEqual({
      answer: { value: undefined },
      runs: 0,
      magicLinks: 1,
      attempts: 2,
    });
    await gatehouse.mailSettled();
    expect(sent.map(({ kind, to }) => [kind, to])).toEqual([
      ["exists", "ada@example.com"],
      ["sign-up", "newcomer@example.com"],
    ]);
    // The owner's password is unchanged, and no link can create a second account.
    await gatehouse.sessions.login({ email: "ada@example.com", password: PASSWORD });
    const stored = await gatehouse.storage.db
      .selectFrom("magic_links")
      .select("token_hash")
      .where("email", "=", "ada@example.com")
      .execute();
    expect(stored).toHaveLength(1);
  });

  it("does the same work for a wrong password, an unknown email and an account without a password", async () => {
    await open();
    await signUpPerson(gatehouse, "ada");
    // As the host provisions its users: an account that signs in by link only.
    await gatehouse.storage.db
      .insertInto("users")
      .values({
        id: "usr_nopass",
        email: "nopass@example.com",
        name: "No Password",
        password_hash: null,
        created_at: 0,
      })
      .execute();
    const login = (email: string) =>
      workOf(() =>
        gatehouse.sessions.login({
          email,
          password: "wrong password",
          origin: { ip: `192.0.2.${email.length}` },
        }),
      );
    const known = await login("ada@example.com");
    const unknown = await login("nobody@example.com");
    const passwordless = await login("nopass@example.com");
    expect(known).toEqual(unknown);
    expect(passwordless).toEqual(unknown);
    expect(known).toEqual({
      answer: { code: "INVALID_CREDENTIALS" },
      runs: 1,
      magicLinks: 0,
      attempts: 3,
    });
  });

  it("does the same work for magic-link requests of known and unknown emails, and mails after answering", async () => {
    await open();
    await signUpPerson(gatehouse, "ada");
    const send = (email: string) =>
      workOf(() => gatehouse.magicLinks.send({ email, origin: { ip: "198.51.100.7" } }));
    const known = await send("ada@example.com");
    const unknown = await send("nobody@example.com");
    expect(known).toEqual(unknown);
    expect(known).toEqual({ answer: { value: undefined }, runs: 0, magicLinks: 1, attempts: 2 });
    await gatehouse.mailSettled();
    expect(sent.map(({ kind, to }) => [kind, to])).toEqual([["magic", "ada@example.com"]]);
  });

  it("never lets a failing mail sender change the answer, and logs no address or token", async () => {
    const logged: string[] = [];
    await open({
      onMailError: (message) => void logged.push(message),
      signInMail: {
        sendMagicLink: async () => {
          throw Object.assign(new Error("550 mailbox ada@example.com unavailable"), {
            code: "EENVELOPE",
          });
        },
        sendSignUpLink: async () => undefined,
        sendAccountExists: async () => undefined,
        sendEmailChangeLink: async () => undefined,
        sendEmailInUse: async () => undefined,
        sendEmailChanged: async () => undefined,
      },
    });
    await signUpPerson(gatehouse, "ada");
    await gatehouse.magicLinks.send({ email: "ada@example.com" });
    await gatehouse.mailSettled();
    expect(logged).toEqual(["a sign-in mail could not be sent (EENVELOPE)"]);
  });

  it("throttles sign-up requests per address and in all", async () => {
    await open({ signUpLimits: { perIp: 3, total: 5 } });
    const request = (n: number, ip: string) =>
      workOf(() => gatehouse.signUps.request({ email: `person${n}@example.com`, origin: { ip } }));
    for (let n = 0; n < 3; n++) expect((await request(n, "192.0.2.1")).magicLinks).toBe(1);
    expect(await request(3, "192.0.2.1")).toMatchObject({
      answer: { code: "RATE_LIMITED" },
      magicLinks: 0,
    });
    for (let n = 4; n < 6; n++) expect((await request(n, "192.0.2.2")).magicLinks).toBe(1);
    // Five in all: a sixth address is refused too.
    expect(await request(6, "192.0.2.3")).toMatchObject({
      answer: { code: "RATE_LIMITED" },
      magicLinks: 0,
    });
  });

  it("throttles sign-up confirmations per address and in all before hashing", async () => {
    await open({ signUpLimits: { perIp: 3, total: 5 } });
    const tokens: string[] = [];
    for (let n = 0; n < 7; n++) {
      if (n === 5) clock.now += 16 * 60 * 1000;
      await gatehouse.signUps.request({
        email: `person${n}@example.com`,
        origin: { ip: `10.0.0.${n}` },
      });
    }
    await gatehouse.mailSettled();
    for (const mail of sent) tokens.push(mail.token!);
    // Past the requests' window (the links last a day): confirmations are counted on their own.
    clock.now += 16 * 60 * 1000;
    const confirm = (n: number, ip: string) =>
      workOf(() =>
        gatehouse.magicLinks.consume(tokens[n]!, { origin: { ip }, password: PASSWORD }),
      );
    for (let n = 0; n < 3; n++) expect((await confirm(n, "192.0.2.1")).runs).toBe(1);
    expect(await confirm(3, "192.0.2.1")).toMatchObject({
      answer: { code: "RATE_LIMITED" },
      runs: 0,
    });
    for (let n = 4; n < 6; n++) expect((await confirm(n, "192.0.2.2")).runs).toBe(1);
    expect(await confirm(6, "192.0.2.3")).toMatchObject({
      answer: { code: "RATE_LIMITED" },
      runs: 0,
    });
    // A refused confirmation leaves its link usable later.
    expect(await gatehouse.users.findByEmail("person6@example.com")).toBeUndefined();
  });

  it("refuses common passwords at confirmation, before any work", async () => {
    await open();
    await gatehouse.signUps.request({ email: "ada@example.com" });
    await gatehouse.mailSettled();
    const weak = await workOf(() =>
      gatehouse.magicLinks.consume(sent[0]!.token!, { password: "password1234" }),
    );
    expect(weak).toEqual({
      answer: { code: "WEAK_PASSWORD" },
      runs: 0,
      magicLinks: 0,
      attempts: 0,
    });
  });
});
