import { createHash } from "node:crypto";
import { isGatehouseError } from "@gatehouse/engine";
import { afterEach, describe, expect, it } from "vitest";
import { asUser, systemActor } from "../src/actor.ts";
import { createGatehouse, type Gatehouse } from "../src/gatehouse.ts";
import type { SignInOptions } from "../src/sign-in/sessions.ts";
import {
  type Backend,
  backends,
  codeOf,
  PASSWORD,
  signUpPerson,
  TEST_PASSWORD_COST,
} from "./backends.ts";

const MINUTE = 60 * 1000;
const DAY = 24 * 60 * MINUTE;

/** The error `promise` rejects with. */
async function errorOf(promise: Promise<unknown>) {
  try {
    await promise;
  } catch (error) {
    if (isGatehouseError(error)) return error;
    throw error;
  }
  throw new Error("expected a rejection");
}

describe.each(backends)("sessions on $name", (backend: Backend) => {
  let gatehouse: Gatehouse;
  let clock: { now: number };
  const opened: Gatehouse[] = [];

  /** A service with a controllable clock; sign-in options (session lifetimes) as given. */
  async function open(options: SignInOptions = {}) {
    clock = { now: Date.UTC(2026, 10, 23, 12, 0, 0) };
    gatehouse = createGatehouse({
      storage: await backend.open(),
      clock: () => clock.now,
      passwordCost: TEST_PASSWORD_COST,
      ...options,
    });
    opened.push(gatehouse);
    return gatehouse;
  }

  afterEach(async () => {
    for (const service of opened.splice(0)) await service.close();
  });

  const person = (name: string) => signUpPerson(gatehouse, name);
  const login = (name: string, extra: { password?: string; ip?: string; agent?: string } = {}) =>
    gatehouse.sessions.login({
      email: `${name}@example.com`,
      password: extra.password ?? PASSWORD,
      origin: { ip: extra.ip ?? "198.51.100.7", agent: extra.agent },
    });

  it("signs in with email and password: a token shown once, stored as its SHA-256", async () => {
    await open();
    const ada = await person("ada");
    const session = await gatehouse.sessions.login({
      email: " ADA@example.com ",
      password: PASSWORD,
      origin: { ip: "198.51.100.7", agent: "Firefox" },
    });
    expect(session.token).toMatch(/^ghs_[A-Za-z0-9_-]{43}$/);
    expect(session.user).toEqual(ada);
    expect(session.expiresAt).toBe(clock.now + 30 * DAY);

    const rows = await gatehouse.storage.db.selectFrom("sessions").selectAll().execute();
    expect(rows).toHaveLength(1);
    const random = session.token.slice(4);
    for (const value of Object.values(rows[0]!)) expect(String(value)).not.toContain(random);
    expect(rows[0]).toMatchObject({
      id: session.sessionId,
      user_id: ada.id,
      token_hash: createHash("sha256").update(session.token).digest("hex"),
      ip: "198.51.100.7",
      agent: "Firefox",
      revoked_at: null,
    });

    const credentials = await gatehouse.sessions.authenticate(session.token, { ip: "203.0.113.9" });
    expect(credentials).toEqual({
      user: ada,
      sessionId: session.sessionId,
      context: { actor: { type: "user", userId: ada.id }, origin: { ip: "203.0.113.9" } },
    });
  });

  it("answers INVALID_CREDENTIALS for a wrong password, an unknown email and bad tokens alike", async () => {
    await open();
    await person("ada");
    expect(await codeOf(login("ada", { password: "not the password" }))).toBe(
      "INVALID_CREDENTIALS",
    );
    expect(await codeOf(login("nobody"))).toBe("INVALID_CREDENTIALS");
    const { token } = await login("ada");
    const nearMiss = `${token.slice(0, -1)}${token.endsWith("A") ? "B" : "A"}`;
    for (const bad of [nearMiss, "ghs_short", "", token.slice(4), 42 as unknown as string]) {
      expect(await codeOf(gatehouse.sessions.authenticate(bad))).toBe("INVALID_CREDENTIALS");
    }
  });

  it("checks every call against current grants: a removed member's session reaches nothing there", async () => {
    await open();
    const olivia = await person("olivia");
    const bob = await person("bob");
    const ws = await gatehouse.workspaces.create(asUser(olivia.id), {
      name: "Acme",
      preset: "mzpanel",
    });
    await gatehouse.members.add(systemActor(), ws.id, {
      userId: bob.id,
      grants: [{ role: "admin", scope: `workspace:${ws.id}` }],
    });
    const { token } = await login("bob");
    const { context } = await gatehouse.sessions.authenticate(token);
    expect((await gatehouse.workspaces.get(context, ws.id)).name).toBe("Acme");

    await gatehouse.members.remove(asUser(olivia.id), ws.id, bob.id);
    const after = await gatehouse.sessions.authenticate(token);
    expect(await codeOf(gatehouse.workspaces.get(after.context, ws.id))).toBe(
      "WORKSPACE_NOT_FOUND",
    );
  });

  it("logs out on the server: the token stops working, other sessions go on", async () => {
    await open();
    await person("ada");
    const laptop = await login("ada");
    const phone = await login("ada");
    await gatehouse.sessions.logout(laptop.token);
    expect(await codeOf(gatehouse.sessions.authenticate(laptop.token))).toBe("INVALID_CREDENTIALS");
    expect((await gatehouse.sessions.authenticate(phone.token)).sessionId).toBe(phone.sessionId);
    // Logging out twice, or with garbage, is quietly nothing.
    await gatehouse.sessions.logout(laptop.token);
    await gatehouse.sessions.logout("nonsense");
  });

  it("ends a session after 7 idle days, sliding with use, and after 30 days in any case", async () => {
    await open();
    await person("ada");
    const start = clock.now;
    const idle = await login("ada");
    const busy = await login("ada");
    clock.now = start + 6 * DAY;
    await gatehouse.sessions.authenticate(busy.token);
    clock.now = start + 7 * DAY;
    expect(await codeOf(gatehouse.sessions.authenticate(idle.token))).toBe("INVALID_CREDENTIALS");
    // Each use pushes the idle end further, up to the absolute lifetime.
    for (const day of [7, 12, 18, 24]) {
      clock.now = start + day * DAY;
      await gatehouse.sessions.authenticate(busy.token);
    }
    clock.now = busy.expiresAt - MINUTE;
    await gatehouse.sessions.authenticate(busy.token);
    clock.now = busy.expiresAt;
    expect(await codeOf(gatehouse.sessions.authenticate(busy.token))).toBe("INVALID_CREDENTIALS");
  });

  it("takes session lifetimes from the options", async () => {
    await open({ sessionLifetimeMs: 2 * 60 * MINUTE, sessionIdleMs: 30 * MINUTE });
    await person("ada");
    const session = await login("ada");
    expect(session.expiresAt).toBe(clock.now + 2 * 60 * MINUTE);
    clock.now += 29 * MINUTE;
    await gatehouse.sessions.authenticate(session.token);
    clock.now += 29 * MINUTE;
    await gatehouse.sessions.authenticate(session.token);
    clock.now += 30 * MINUTE;
    expect(await codeOf(gatehouse.sessions.authenticate(session.token))).toBe(
      "INVALID_CREDENTIALS",
    );
    expect(() => createGatehouse({ storage: gatehouse.storage, sessionIdleMs: -1 })).toThrowError(
      /sessionIdleMs/,
    );
  });

  it("lists a user's live sessions without tokens, and revokes one or all", async () => {
    await open();
    const ada = await person("ada");
    const bob = await person("bob");
    const laptop = await login("ada", { agent: "Firefox" });
    clock.now += MINUTE;
    const phone = await login("ada", { ip: "203.0.113.5", agent: "Safari" });
    clock.now += MINUTE;
    const tablet = await login("ada");
    const bobs = await login("bob");

    const listed = await gatehouse.sessions.list(ada.id);
    expect(listed.map((session) => session.id)).toEqual([
      tablet.sessionId,
      phone.sessionId,
      laptop.sessionId,
    ]);
    expect(listed[1]).toEqual({
      id: phone.sessionId,
      createdAt: clock.now - MINUTE,
      lastSeenAt: clock.now - MINUTE,
      expiresAt: clock.now - MINUTE + 7 * DAY,
      ip: "203.0.113.5",
      agent: "Safari",
    });
    expect(JSON.stringify(listed)).not.toContain(laptop.token.slice(4));

    await gatehouse.sessions.revoke(ada.id, phone.sessionId);
    expect(await codeOf(gatehouse.sessions.authenticate(phone.token))).toBe("INVALID_CREDENTIALS");
    expect(await codeOf(gatehouse.sessions.revoke(ada.id, phone.sessionId))).toBe(
      "SESSION_NOT_FOUND",
    );
    // Nobody ends another user's session by its id.
    expect(await codeOf(gatehouse.sessions.revoke(ada.id, bobs.sessionId))).toBe(
      "SESSION_NOT_FOUND",
    );
    expect(await codeOf(gatehouse.sessions.revoke(ada.id, "ses_unknown"))).toBe(
      "SESSION_NOT_FOUND",
    );
    await gatehouse.sessions.authenticate(bobs.token);

    expect(await gatehouse.sessions.revokeAllFor(ada.id, { except: tablet.sessionId })).toBe(1);
    expect(await codeOf(gatehouse.sessions.authenticate(laptop.token))).toBe("INVALID_CREDENTIALS");
    expect((await gatehouse.sessions.list(ada.id)).map((session) => session.id)).toEqual([
      tablet.sessionId,
    ]);
    expect(await gatehouse.sessions.revokeAllFor(ada.id)).toBe(1);
    expect(await gatehouse.sessions.list(ada.id)).toEqual([]);
    expect(await gatehouse.sessions.list(bob.id)).toHaveLength(1);
  });

  it("locks out only the guessing address: after five failures from one address, the owner still signs in from another", async () => {
    await open();
    await person("ada");
    for (let attempt = 0; attempt < 5; attempt++) {
      expect(await codeOf(login("ada", { password: "wrong password", ip: "192.0.2.66" }))).toBe(
        "INVALID_CREDENTIALS",
      );
      clock.now += MINUTE;
    }
    // The attacker's address waits, even with the right password...
    const error = await errorOf(login("ada", { ip: "192.0.2.66" }));
    expect(error.code).toBe("RATE_LIMITED");
    // (the first failure leaves the window 15 minutes after it was made)
    expect(error.details["retryAfterMs"]).toBe(10 * MINUTE);
    // ...and refused attempts do not count: the lock does not grow while it holds.
    expect(await codeOf(login("ada", { ip: "192.0.2.66" }))).toBe("RATE_LIMITED");
    // The owner, elsewhere, is not locked out.
    expect((await login("ada", { ip: "203.0.113.5" })).user.email).toBe("ada@example.com");
    clock.now += 10 * MINUTE;
    expect((await login("ada", { ip: "192.0.2.66" })).user.email).toBe("ada@example.com");
  });

  it("bounds guessing one account from many addresses: the password path locks, a sign-in link still works", async () => {
    await open();
    await person("ada");
    await person("bob");
    // 50 addresses, one guess each: under every per-address limit, at the account's bound.
    for (let attempt = 0; attempt < 50; attempt++) {
      expect(
        await codeOf(login("ada", { password: "wrong password", ip: `10.0.${attempt}.1` })),
      ).toBe("INVALID_CREDENTIALS");
    }
    expect(await codeOf(login("ada", { password: "wrong password", ip: "10.1.0.1" }))).toBe(
      "RATE_LIMITED",
    );
    expect(await codeOf(login("ada", { ip: "203.0.113.5" }))).toBe("RATE_LIMITED");
    // Another account is not affected, and ada signs in by link meanwhile.
    await login("bob", { ip: "10.0.0.1" });
    const link = await gatehouse.magicLinks.request({ email: "ada@example.com" });
    expect((await gatehouse.magicLinks.consume(link!.token)).user.email).toBe("ada@example.com");
    clock.now += 15 * MINUTE;
    await login("ada", { ip: "203.0.113.5" });
  });

  it("resets the account's count on a successful sign-in", async () => {
    await open();
    await person("ada");
    for (let attempt = 0; attempt < 4; attempt++) {
      await codeOf(login("ada", { password: "wrong password" }));
    }
    await login("ada");
    for (let attempt = 0; attempt < 4; attempt++) {
      expect(await codeOf(login("ada", { password: "wrong password" }))).toBe(
        "INVALID_CREDENTIALS",
      );
    }
    await login("ada");
  });

  it("throttles failures per address: the 21st in 15 minutes is refused for any account", async () => {
    await open();
    await person("ada");
    for (let attempt = 0; attempt < 20; attempt++) {
      expect(await codeOf(login(`guess${attempt}`, { ip: "192.0.2.66" }))).toBe(
        "INVALID_CREDENTIALS",
      );
    }
    expect(await codeOf(login("ada", { ip: "192.0.2.66" }))).toBe("RATE_LIMITED");
    expect((await login("ada", { ip: "192.0.2.67" })).user.email).toBe("ada@example.com");
    clock.now += 15 * MINUTE;
    await login("ada", { ip: "192.0.2.66" });
  });

  it("lets no more than the limit through when failures arrive at once", async () => {
    await open();
    await person("ada");
    const codes = await Promise.all(
      Array.from({ length: 12 }, () => codeOf(login("ada", { password: "wrong password" }))),
    );
    // Each attempt is recorded before it is counted: a burst may be refused whole, never let past.
    const tried = codes.filter((code) => code === "INVALID_CREDENTIALS").length;
    expect(tried).toBeLessThanOrEqual(5);
    expect(codes.filter((code) => code === "RATE_LIMITED")).toHaveLength(12 - tried);
  });

  it("throttles together with other instances sharing the database", async () => {
    const [first, second] = await backend.openPeers(2);
    clock = { now: Date.UTC(2026, 10, 23, 12, 0, 0) };
    const options = { clock: () => clock.now, passwordCost: TEST_PASSWORD_COST };
    const one = createGatehouse({ storage: second!, ...options });
    gatehouse = createGatehouse({ storage: first!, ...options });
    opened.push(one, gatehouse);
    await person("ada");
    for (const service of [gatehouse, one, gatehouse, one, gatehouse]) {
      await codeOf(
        service.sessions.login({ email: "ada@example.com", password: "wrong password" }),
      );
    }
    expect(await codeOf(one.sessions.login({ email: "ada@example.com", password: PASSWORD }))).toBe(
      "RATE_LIMITED",
    );
  });

  it("keeps the attempts table small and free of passwords", async () => {
    await open();
    await person("ada");
    await codeOf(login("ada", { password: "hunter2 hunter2" }));
    const rows = await gatehouse.storage.db.selectFrom("login_attempts").selectAll().execute();
    expect(rows.map((row) => [row.bucket, row.key]).sort()).toEqual([
      ["login.account", "ada@example.com"],
      ["login.account-ip", "ada@example.com 198.51.100.7"],
      ["login.ip", "198.51.100.7"],
    ]);
    expect(JSON.stringify(rows)).not.toContain("hunter2");
    clock.now += 16 * MINUTE;
    await login("ada");
    expect(await gatehouse.storage.db.selectFrom("login_attempts").selectAll().execute()).toEqual(
      [],
    );
  });
});
