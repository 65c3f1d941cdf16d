import { systemActor } from "@gatehouse/service";
import { TOTP } from "otpauth";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  backends,
  call,
  expectProblem,
  mailedToken,
  openServer,
  PASSWORD,
  signIn,
  signUp,
  signUpLinkOf,
  type TestServer,
} from "./harness.ts";

describe.each(backends)("sign-in over HTTP on $name", (backend) => {
  let server: TestServer;

  beforeEach(async () => {
    server = await openServer(backend, { mailSignUpLinks: true });
  });
  afterEach(async () => {
    await server.close();
  });

  it("signs up by the mailed link, signs in with an HttpOnly SameSite cookie, and shows the caller's workspaces with their grants", async () => {
    const signup = await server.app.inject({
      method: "POST",
      url: "/v1/auth/signup",
      payload: { email: "ada@example.com", name: "Ada" },
    });
    expect(signup.statusCode).toBe(202);
    expect(signup.json()).toEqual({ status: "confirmation-sent" });
    // No account until the link is followed.
    const early = await server.app.inject({
      method: "POST",
      url: "/v1/auth/login",
      payload: { email: "ada@example.com", password: PASSWORD },
    });
    expect(early.json().code).toBe("INVALID_CREDENTIALS");
    const token = await mailedToken(
      server.app,
      "ada@example.com",
      "Confirm your Gatehouse account",
    );
    const consume = (payload: object) =>
      server.app.inject({
        method: "POST",
        url: "/v1/auth/magic-link/consume",
        payload: { token, ...payload },
      });
    // The link's follower chooses the password: without one, or with a common one, it stays unused.
    expectProblem(await consume({}), 400, "PASSWORD_REQUIRED");
    expectProblem(await consume({ password: "password1234" }), 400, "WEAK_PASSWORD");
    const confirmed = await consume({ password: PASSWORD });
    expect(confirmed.statusCode).toBe(200);
    expect(confirmed.json().user.name).toBe("Ada");
    const login = await server.app.inject({
      method: "POST",
      url: "/v1/auth/login",
      payload: { email: "ada@example.com", password: PASSWORD },
    });
    expect(login.statusCode).toBe(200);
    const cookie = login.cookies.find((candidate) => candidate.name === "gatehouse_session")!;
    expect(cookie).toMatchObject({ httpOnly: true, sameSite: "Lax", path: "/" });
    const session = await signIn(server.app, "ada@example.com");
    const me = (await call(server.app, session, "GET", "/v1/me")).json();
    expect(me.user.email).toBe("ada@example.com");
    expect(me.workspaces).toHaveLength(1);
    expect(me.workspaces[0].grants.map((grant: { role: string }) => grant.role)).toEqual(["owner"]);
  });

  it("refuses a wrong password with 401, unknown fields with 400, and throttles with 429 and Retry-After", async () => {
    await signUp(server.app, "ada");
    const wrong = { email: "ada@example.com", password: "not the password" };
    expect(
      (await server.app.inject({ method: "POST", url: "/v1/auth/login", payload: wrong }))
        .statusCode,
    ).toBe(401);
    const extra = await server.app.inject({
      method: "POST",
      url: "/v1/auth/login",
      payload: { ...wrong, admin: true },
    });
    expect(extra.statusCode).toBe(400);
    expect(extra.json().code).toBe("INVALID_INPUT");
    let last = 0;
    let retryAfter: string | string[] | undefined;
    for (let attempt = 0; attempt < 8 && last !== 429; attempt++) {
      const response = await server.app.inject({
        method: "POST",
        url: "/v1/auth/login",
        payload: wrong,
      });
      last = response.statusCode;
      retryAfter = response.headers["retry-after"];
    }
    expect(last).toBe(429);
    expect(Number(retryAfter)).toBeGreaterThan(0);
  });

  it("requires the CSRF echo on cookie-authenticated writes", async () => {
    const session = await signUp(server.app, "ada");
    const withoutCsrf = await server.app.inject({
      method: "POST",
      url: "/v1/auth/logout",
      headers: { cookie: session.headers["cookie"]! },
    });
    expect(withoutCsrf.statusCode).toBe(403);
    expect((await call(server.app, session, "POST", "/v1/auth/logout")).statusCode).toBe(204);
    expect((await call(server.app, session, "GET", "/v1/me")).statusCode).toBe(401);
  });

  it("lists and ends sessions; an ended session is refused at once", async () => {
    const first = await signUp(server.app, "ada");
    const second = await signIn(server.app, "ada@example.com");
    const { sessions } = (await call(server.app, first, "GET", "/v1/me/sessions")).json();
    expect(sessions).toHaveLength(2);
    expect(JSON.stringify(sessions)).not.toContain(
      first.headers["cookie"]!.split(";")[0]!.split("=")[1]!,
    );
    const secondId = (await call(server.app, second, "GET", "/v1/me/sessions")).json().current;
    expect(
      (await call(server.app, first, "DELETE", `/v1/me/sessions/${secondId}`)).statusCode,
    ).toBe(204);
    expect((await call(server.app, second, "GET", "/v1/me")).statusCode).toBe(401);
    expect((await call(server.app, first, "GET", "/v1/me")).statusCode).toBe(200);
    // The ended session's cookies stay in that browser: signing in again still works (#16).
    const again = await call(server.app, second, "POST", "/v1/auth/login", {
      email: "ada@example.com",
      password: PASSWORD,
    });
    expect(again.statusCode).toBe(200);
  });

  it("enrolls TOTP; sign-in then needs a fresh code, and a code works once only", async () => {
    const session = await signUp(server.app, "ada");
    const { secret } = (await call(server.app, session, "POST", "/v1/auth/totp/enroll")).json();
    const totp = new TOTP({ secret, digits: 6, period: 30, algorithm: "SHA1" });
    const code = totp.generate({ timestamp: server.clock.now });
    expect(
      (await call(server.app, session, "POST", "/v1/auth/totp/confirm", { code })).statusCode,
    ).toBe(204);
    const noCode = await server.app.inject({
      method: "POST",
      url: "/v1/auth/login",
      payload: { email: "ada@example.com", password: PASSWORD },
    });
    expect(noCode.json().code).toBe("TOTP_REQUIRED");
    server.clock.now += 30_000;
    const next = totp.generate({ timestamp: server.clock.now });
    const payload = { email: "ada@example.com", password: PASSWORD, totpCode: next };
    expect(
      (await server.app.inject({ method: "POST", url: "/v1/auth/login", payload })).statusCode,
    ).toBe(200);
    const replay = await server.app.inject({ method: "POST", url: "/v1/auth/login", payload });
    expect(replay.json().code).toBe("TOTP_INVALID");
  });

  it("shows recovery codes once and signs in with each one once in place of the authenticator (#14 finding 12)", async () => {
    const session = await signUp(server.app, "ada");
    expectProblem(
      await call(server.app, session, "POST", "/v1/auth/totp/recovery-codes"),
      409,
      "TOTP_NOT_ENABLED",
    );
    const { secret } = (await call(server.app, session, "POST", "/v1/auth/totp/enroll")).json();
    const totp = new TOTP({ secret, digits: 6, period: 30, algorithm: "SHA1" });
    const code = totp.generate({ timestamp: server.clock.now });
    await call(server.app, session, "POST", "/v1/auth/totp/confirm", { code });
    const made = await call(server.app, session, "POST", "/v1/auth/totp/recovery-codes");
    expect(made.statusCode).toBe(200);
    const { codes } = made.json() as { codes: string[] };
    expect(codes).toHaveLength(10);
    const me = await call(server.app, session, "GET", "/v1/me");
    expect(me.json().twoFactor.recoveryCodesLeft).toBe(10);
    expect(me.body).not.toContain(codes[0]);
    const payload = { email: "ada@example.com", password: PASSWORD, totpCode: codes[0] };
    expect(
      (await server.app.inject({ method: "POST", url: "/v1/auth/login", payload })).statusCode,
    ).toBe(200);
    const replay = await server.app.inject({ method: "POST", url: "/v1/auth/login", payload });
    expectProblem(replay, 401, "TOTP_INVALID");
  });

  it("mails a magic link that signs in once, and answers the same for unknown emails", async () => {
    await signUp(server.app, "ada");
    const request = (email: string) =>
      server.app.inject({ method: "POST", url: "/v1/auth/magic-link", payload: { email } });
    const mailed = server.mailer.outbox!.length;
    expect((await request("nobody@example.com")).statusCode).toBe(202);
    await server.gatehouse.mailSettled();
    expect(server.mailer.outbox).toHaveLength(mailed);
    expect((await request("ada@example.com")).statusCode).toBe(202);
    await server.gatehouse.mailSettled();
    const mail = server.mailer.outbox!.at(-1)!;
    expect(mail.to).toBe("ada@example.com");
    const token = /#(\S+)/.exec(mail.text)![1]!;
    const consume = () =>
      server.app.inject({ method: "POST", url: "/v1/auth/magic-link/consume", payload: { token } });
    const first = await consume();
    expect(first.statusCode).toBe(200);
    expect(first.cookies.some((cookie) => cookie.name === "gatehouse_session")).toBe(true);
    expect((await consume()).json().code).toBe("MAGIC_LINK_INVALID");
  });

  it("lets a member of a require-2FA workspace enrol with their password, then sign in with a code", async () => {
    const owner = await signUp(server.app, "olivia");
    const member = await signUp(server.app, "mia");
    const { gatehouse } = server;
    const [workspace] = await gatehouse.workspaces.listForUser(owner.userId);
    await gatehouse.members.add(systemActor(), workspace!.id, {
      userId: member.userId,
      grants: [{ role: "admin", scope: `workspace:${workspace!.id}` }],
    });
    await gatehouse.workspaces.updateSettings(systemActor(), workspace!.id, { require2fa: true });
    const credentials = { email: "mia@example.com", password: PASSWORD };
    const refused = await server.app.inject({
      method: "POST",
      url: "/v1/auth/login",
      payload: credentials,
    });
    expect(refused.statusCode).toBe(403);
    expect(refused.json().code).toBe("TOTP_ENROLLMENT_REQUIRED");
    const enrol = await server.app.inject({
      method: "POST",
      url: "/v1/auth/totp/enroll-with-password",
      payload: credentials,
    });
    expect(enrol.statusCode).toBe(200);
    const totp = new TOTP({
      secret: enrol.json().secret,
      digits: 6,
      period: 30,
      algorithm: "SHA1",
    });
    const login = await server.app.inject({
      method: "POST",
      url: "/v1/auth/login",
      payload: { ...credentials, totpCode: totp.generate({ timestamp: server.clock.now }) },
    });
    expect(login.statusCode).toBe(200);
  });
});

describe.each(backends)("sign-in hardening over HTTP on $name", (backend) => {
  let server: TestServer;

  afterEach(async () => {
    await server.close();
  });

  const signupFrom = (remoteAddress: string, email: string) =>
    server.app.inject({
      method: "POST",
      url: "/v1/auth/signup",
      remoteAddress,
      payload: { email },
    });
  const confirmFrom = async (remoteAddress: string, email: string, password = PASSWORD) =>
    server.app.inject({
      method: "POST",
      url: "/v1/auth/magic-link/consume",
      remoteAddress,
      payload: { token: await signUpLinkOf(server.app, email), password },
    });
  const loginFrom = (remoteAddress: string, password: string) =>
    server.app.inject({
      method: "POST",
      url: "/v1/auth/login",
      remoteAddress,
      payload: { email: "ada@example.com", password },
    });

  it("answers a sign-up of a registered address exactly as a new one, and mails its owner a notice", async () => {
    server = await openServer(backend, { mailSignUpLinks: true });
    await signUp(server.app, "ada");
    const registered = await signupFrom("192.0.2.1", "ada@example.com");
    const fresh = await signupFrom("192.0.2.1", "bea@example.com");
    expect([registered.statusCode, registered.body]).toEqual([fresh.statusCode, fresh.body]);
    expect(registered.statusCode).toBe(202);
    await server.gatehouse.mailSettled();
    const mails = server.mailer.outbox!.slice(-2).map((mail) => [mail.to, mail.subject]);
    expect(mails).toEqual([
      ["ada@example.com", "You already have a Gatehouse account"],
      ["bea@example.com", "Confirm your Gatehouse account"],
    ]);
    // Ada's password still works; the attempt changed nothing.
    expect((await loginFrom("192.0.2.9", PASSWORD)).statusCode).toBe(200);
  });

  it("a sign-up link confirmed by the address's owner takes the password chosen at confirmation, never one chosen by whoever asked for the link", async () => {
    server = await openServer(backend, { mailSignUpLinks: true });
    const planted = { email: "victim@example.com", password: "attacker knows this one" };
    // A password in the request is refused outright (the body allows no other fields)…
    const withPassword = await server.app.inject({
      method: "POST",
      url: "/v1/auth/signup",
      remoteAddress: "198.51.100.66",
      payload: planted,
    });
    expectProblem(withPassword, 400, "INVALID_INPUT");
    expect(withPassword.json().issues).toEqual([
      { path: "body.password", message: "must NOT have additional properties" },
    ]);
    // …so the attacker can only ask for the link, which goes to the victim's mailbox.
    expect((await signupFrom("198.51.100.66", planted.email)).statusCode).toBe(202);
    const token = await mailedToken(server.app, planted.email, "Confirm your Gatehouse account");
    const confirmed = await server.app.inject({
      method: "POST",
      url: "/v1/auth/magic-link/consume",
      remoteAddress: "203.0.113.5",
      payload: { token, password: PASSWORD },
    });
    expect(confirmed.statusCode).toBe(200);
    expectProblem(
      await server.app.inject({ method: "POST", url: "/v1/auth/login", payload: planted }),
      401,
      "INVALID_CREDENTIALS",
    );
    const owner = { email: planted.email, password: PASSWORD };
    expect(
      (await server.app.inject({ method: "POST", url: "/v1/auth/login", payload: owner }))
        .statusCode,
    ).toBe(200);
  });

  it("refuses common passwords at confirmation with 400 WEAK_PASSWORD, leaving the link usable", async () => {
    server = await openServer(backend);
    expect((await signupFrom("192.0.2.1", "ada@example.com")).statusCode).toBe(202);
    expectProblem(
      await confirmFrom("192.0.2.1", "ada@example.com", "password1234"),
      400,
      "WEAK_PASSWORD",
    );
    expect((await confirmFrom("192.0.2.1", "ada@example.com")).statusCode).toBe(200);
  });

  it("stops a sign-up flood from one address with 429, requests and confirmations alike, while others still sign up", async () => {
    server = await openServer(backend, { service: { signUpLimits: { perIp: 3 } } });
    for (let n = 0; n < 3; n++)
      expect((await signupFrom("192.0.2.66", `flood${n}@example.com`)).statusCode).toBe(202);
    const refused = await signupFrom("192.0.2.66", "flood3@example.com");
    expectProblem(refused, 429, "RATE_LIMITED");
    expect(Number(refused.headers["retry-after"])).toBeGreaterThan(0);
    expect((await signupFrom("192.0.2.67", "someone@example.com")).statusCode).toBe(202);
    // Confirming (which hashes) is counted per address too.
    for (let n = 0; n < 3; n++)
      expect((await confirmFrom("192.0.2.68", `flood${n}@example.com`)).statusCode).toBe(200);
    const refusedConfirm = await confirmFrom("192.0.2.68", "someone@example.com");
    expectProblem(refusedConfirm, 429, "RATE_LIMITED");
    expect(Number(refusedConfirm.headers["retry-after"])).toBeGreaterThan(0);
    expect((await confirmFrom("192.0.2.69", "someone@example.com")).statusCode).toBe(200);
  });

  it("answers 503 SIGN_IN_BUSY with Retry-After when password hashing is at its limit, and keeps serving sign-ins", async () => {
    server = await openServer(backend, {
      service: {
        // One hash at a time, one waiting, each a few milliseconds: a burst of 20 overflows it.
        passwordCost: { N: 2 ** 14, r: 8, p: 1 },
        passwordHashing: { concurrency: 1, queueLimit: 1 },
        signUpLimits: { perIp: 100 },
      },
    });
    await signUp(server.app, "ada");
    for (let n = 0; n < 20; n++)
      expect((await signupFrom(`192.0.2.${n}`, `flood${n}@example.com`)).statusCode).toBe(202);
    const flood = await Promise.all(
      Array.from({ length: 20 }, (_, n) => confirmFrom(`192.0.2.${n}`, `flood${n}@example.com`)),
    );
    const busy = flood.filter((response) => response.statusCode === 503);
    expect(busy.length).toBeGreaterThan(0);
    expectProblem(busy[0]!, 503, "SIGN_IN_BUSY");
    expect(Number(busy[0]!.headers["retry-after"])).toBeGreaterThan(0);
    expect(flood.filter((response) => response.statusCode === 200).length).toBeGreaterThan(0);
    expect((await loginFrom("192.0.2.200", PASSWORD)).statusCode).toBe(200);
  });

  it("keeps the owner able to sign in from another address while an attacker's address is locked out", async () => {
    server = await openServer(backend);
    await signUp(server.app, "ada");
    for (let attempt = 0; attempt < 5; attempt++)
      expect((await loginFrom("192.0.2.66", "wrong password")).statusCode).toBe(401);
    expectProblem(await loginFrom("192.0.2.66", PASSWORD), 429, "RATE_LIMITED");
    expect((await loginFrom("203.0.113.5", PASSWORD)).statusCode).toBe(200);
  });
});
