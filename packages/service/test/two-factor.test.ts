import { randomBytes } from "node:crypto";
import { Secret } from "otpauth";
import { afterEach, describe, expect, it } from "vitest";
import { asUser, systemActor } from "../src/actor.ts";
import type { Gatehouse } from "../src/gatehouse.ts";
import { totpCode, totpStep } from "../src/sign-in/two-factor.ts";
import { backends, codeOf, openService, PASSWORD, signUpPerson } from "./backends.ts";

const STEP = 30 * 1000;

describe("TOTP codes (RFC 6238)", () => {
  // Appendix B: the SHA-1 seed is the ASCII string "12345678901234567890".
  const seed = Secret.fromLatin1("12345678901234567890").base32;
  const vectors = [
    [59, "94287082"],
    [1111111109, "07081804"],
    [1111111111, "14050471"],
    [1234567890, "89005924"],
    [2000000000, "69279037"],
    [20000000000, "65353130"],
  ] as const;

  it("matches the test vectors of appendix B (SHA-1, 8 digits)", () => {
    expect(seed).toBe("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
    for (const [seconds, code] of vectors) {
      expect(totpCode(seed, seconds * 1000, 8)).toBe(code);
      expect(totpStep(seed, code, seconds * 1000, 8)).toBe(Math.floor(seconds / 30));
      // Six digits are the same number, truncated: what authenticator apps show.
      expect(totpCode(seed, seconds * 1000)).toBe(code.slice(2));
      expect(totpStep(seed, code.slice(2), seconds * 1000)).toBe(Math.floor(seconds / 30));
    }
  });

  it("accepts the step before and after the current one, and nothing further", () => {
    const now = 1111111111 * 1000;
    const step = Math.floor(now / STEP);
    for (const offset of [-1, 0, 1]) {
      expect(totpStep(seed, totpCode(seed, now + offset * STEP), now)).toBe(step + offset);
    }
    for (const offset of [-2, 2]) {
      expect(totpStep(seed, totpCode(seed, now + offset * STEP), now)).toBeUndefined();
    }
    const code = totpCode(seed, now);
    for (const bad of ["", "12345", "1234567", "abcdef", `${code}0`, 123456, null]) {
      expect(totpStep(seed, bad, now)).toBeUndefined();
    }
    expect(totpStep(seed, `${code.slice(0, 3)} ${code.slice(3)}`, now)).toBe(step);
  });
});

describe.each(backends)("two-factor sign-in on $name", (backend) => {
  let gatehouse: Gatehouse;
  let clock: { now: number };
  const secretKey = randomBytes(32);
  const opened: Gatehouse[] = [];

  async function open(options: { secretKey?: Uint8Array } = { secretKey }) {
    ({ gatehouse, clock } = await openService(backend, options));
    opened.push(gatehouse);
  }

  afterEach(async () => {
    for (const service of opened.splice(0)) await service.close();
  });

  const person = (name: string) => signUpPerson(gatehouse, name);
  const login = (name: string, totpCode?: string) =>
    gatehouse.sessions.login({
      email: `${name}@example.com`,
      password: PASSWORD,
      totpCode,
      origin: { ip: "198.51.100.7" },
    });

  /** Ada, with TOTP enrolled and confirmed; her secret. */
  async function adaWithTotp() {
    const ada = await person("ada");
    const { secret } = await gatehouse.twoFactor.enroll(ada.id);
    await gatehouse.twoFactor.confirm(ada.id, totpCode(secret, clock.now));
    clock.now += STEP;
    return { ada, secret };
  }

  it("enrols with a fresh secret, pending until a code confirms it", async () => {
    await open();
    const ada = await person("ada");
    const enrollment = await gatehouse.twoFactor.enroll(ada.id);
    expect(enrollment.secret).toMatch(/^[A-Z2-7]{32}$/);
    const uri = new URL(enrollment.otpauthUri);
    expect(`${uri.protocol}//${uri.host}`).toBe("otpauth://totp");
    expect(decodeURIComponent(uri.pathname)).toBe("/Gatehouse:ada@example.com");
    expect(Object.fromEntries(uri.searchParams)).toEqual({
      issuer: "Gatehouse",
      secret: enrollment.secret,
      algorithm: "SHA1",
      digits: "6",
      period: "30",
    });
    expect(await gatehouse.twoFactor.status(ada.id)).toEqual({
      enabled: false,
      pending: true,
      required: false,
      requiredBy: [],
      recoveryCodesLeft: 0,
    });
    // Pending: sign-in does not ask for it yet.
    await login("ada");

    expect(await codeOf(gatehouse.twoFactor.confirm(ada.id, "000000"))).toBe("TOTP_INVALID");
    await gatehouse.twoFactor.confirm(ada.id, totpCode(enrollment.secret, clock.now));
    expect((await gatehouse.twoFactor.status(ada.id)).enabled).toBe(true);
    expect(await codeOf(gatehouse.twoFactor.enroll(ada.id))).toBe("TOTP_ALREADY_ENABLED");
    expect(
      await codeOf(gatehouse.twoFactor.confirm(ada.id, totpCode(enrollment.secret, clock.now))),
    ).toBe("TOTP_ALREADY_ENABLED");
  });

  it("gives the newest enrolment's secret only: re-enrolling replaces a pending one", async () => {
    await open();
    const ada = await person("ada");
    const first = await gatehouse.twoFactor.enroll(ada.id);
    const second = await gatehouse.twoFactor.enroll(ada.id);
    expect(second.secret).not.toBe(first.secret);
    expect(
      await codeOf(gatehouse.twoFactor.confirm(ada.id, totpCode(first.secret, clock.now))),
    ).toBe("TOTP_INVALID");
    await gatehouse.twoFactor.confirm(ada.id, totpCode(second.secret, clock.now));
  });

  it("answers TOTP_NOT_ENABLED and USER_NOT_FOUND where there is nothing to check", async () => {
    await open();
    const ada = await person("ada");
    expect(await codeOf(gatehouse.twoFactor.confirm(ada.id, "123456"))).toBe("TOTP_NOT_ENABLED");
    expect(await codeOf(gatehouse.twoFactor.verify(ada.id, "123456"))).toBe("TOTP_NOT_ENABLED");
    expect(await codeOf(gatehouse.twoFactor.enroll("usr_nobody"))).toBe("USER_NOT_FOUND");
    expect(await codeOf(gatehouse.twoFactor.status("usr_nobody"))).toBe("USER_NOT_FOUND");
  });

  it("keeps the secret sealed in the store and returns it from no call after enrolment", async () => {
    await open();
    const ada = await person("ada");
    const { secret } = await gatehouse.twoFactor.enroll(ada.id);
    const row = await gatehouse.storage.db
      .selectFrom("users")
      .selectAll()
      .where("id", "=", ada.id)
      .executeTakeFirstOrThrow();
    expect(row.totp_secret).not.toContain(secret);
    expect(row.totp_secret).toMatch(/^v1\./);
    await gatehouse.twoFactor.confirm(ada.id, totpCode(secret, clock.now));
    clock.now += STEP;
    const answers = [
      await gatehouse.twoFactor.status(ada.id),
      await gatehouse.users.get(ada.id),
      await login("ada", totpCode(secret, clock.now)),
    ];
    expect(JSON.stringify(answers)).not.toContain(secret);

    // Another secret key does not open it.
    const other = await openService(backend, { secretKey: randomBytes(32) });
    opened.push(other.gatehouse);
    const moved = await signUpPerson(other.gatehouse, "ada");
    await other.gatehouse.storage.db
      .updateTable("users")
      .set({ totp_secret: row.totp_secret, totp_enabled_at: clock.now })
      .where("id", "=", moved.id)
      .execute();
    expect(await codeOf(other.gatehouse.twoFactor.verify(moved.id, "123456"))).toBe(
      "CONFIGURATION_REQUIRED",
    );
  });

  it("works without a secret key, keeping the secret unsealed but never returned", async () => {
    await open({});
    const { ada, secret } = await adaWithTotp();
    const row = await gatehouse.storage.db
      .selectFrom("users")
      .select("totp_secret")
      .where("id", "=", ada.id)
      .executeTakeFirstOrThrow();
    expect(row.totp_secret).toBe(`plain:${secret}`);
    expect(await codeOf(login("ada"))).toBe("TOTP_REQUIRED");
    await login("ada", totpCode(secret, clock.now));
  });

  it("asks for the code at sign-in once enabled, and refuses a wrong one", async () => {
    await open();
    const { ada, secret } = await adaWithTotp();
    expect(await codeOf(login("ada"))).toBe("TOTP_REQUIRED");
    expect(await codeOf(login("ada", "000000"))).toBe("TOTP_INVALID");
    expect(await codeOf(login("ada", 123456 as unknown as string))).toBe("TOTP_INVALID");
    const session = await login("ada", totpCode(secret, clock.now));
    expect(session.user.id).toBe(ada.id);
  });

  it("accepts a code once: the same step, or an earlier one, is refused afterwards", async () => {
    await open();
    const { ada, secret } = await adaWithTotp();
    const code = totpCode(secret, clock.now);
    await login("ada", code);
    clock.now += 10 * 1000;
    expect(await codeOf(login("ada", code))).toBe("TOTP_INVALID");
    expect(await gatehouse.twoFactor.verify(ada.id, code)).toBe(false);
    // The next step's code (within the window) is fine; the previous step's is spent with it.
    const previous = totpCode(secret, clock.now - STEP);
    expect(await gatehouse.twoFactor.verify(ada.id, totpCode(secret, clock.now + STEP))).toBe(true);
    expect(await gatehouse.twoFactor.verify(ada.id, previous)).toBe(false);
    clock.now += 2 * STEP;
    expect(await gatehouse.twoFactor.verify(ada.id, totpCode(secret, clock.now))).toBe(true);
  });

  it("accepts the confirming code's step once: it cannot sign in afterwards", async () => {
    await open();
    const ada = await person("ada");
    const { secret } = await gatehouse.twoFactor.enroll(ada.id);
    const code = totpCode(secret, clock.now);
    await gatehouse.twoFactor.confirm(ada.id, code);
    expect(await codeOf(login("ada", code))).toBe("TOTP_INVALID");
  });

  it("lets exactly one of concurrent uses of a code through", async () => {
    await open();
    const { ada, secret } = await adaWithTotp();
    const code = totpCode(secret, clock.now);
    const results = await Promise.all(
      Array.from({ length: 6 }, () => gatehouse.twoFactor.verify(ada.id, code)),
    );
    expect(results.filter(Boolean)).toHaveLength(1);
  });

  it("counts wrong codes against the sign-in throttle, but not a missing one", async () => {
    await open();
    const { secret } = await adaWithTotp();
    for (let attempt = 0; attempt < 8; attempt++) {
      expect(await codeOf(login("ada"))).toBe("TOTP_REQUIRED");
    }
    for (let attempt = 0; attempt < 5; attempt++) {
      expect(await codeOf(login("ada", "000000"))).toBe("TOTP_INVALID");
    }
    expect(await codeOf(login("ada", totpCode(secret, clock.now)))).toBe("RATE_LIMITED");
    clock.now += 15 * 60 * 1000;
    await login("ada", totpCode(secret, clock.now));
  });

  async function instanceLogOf(action: string) {
    const rows = await gatehouse.storage.db
      .selectFrom("instance_log")
      .select(["action", "actor", "details"])
      .where("action", "=", action)
      .orderBy("seq")
      .execute();
    return rows.map((row) => ({ ...row, details: JSON.parse(row.details) }));
  }

  it("signs in once with each recovery code after the authenticator is lost, keeping only their hashes (#14 finding 12)", async () => {
    await open();
    const { ada } = await adaWithTotp();
    const { codes } = await gatehouse.twoFactor.newRecoveryCodes(asUser(ada.id));
    expect(codes).toHaveLength(10);
    expect(new Set(codes).size).toBe(10);
    // 128 random bits each: 26 base32 characters, in groups of five.
    for (const code of codes) expect(code.replaceAll("-", "")).toMatch(/^[a-z2-7]{26}$/);
    const stored = await gatehouse.storage.db
      .selectFrom("recovery_codes")
      .selectAll()
      .where("user_id", "=", ada.id)
      .execute();
    expect(stored).toHaveLength(10);
    for (const code of codes)
      expect(JSON.stringify(stored)).not.toContain(code.replaceAll("-", "").slice(0, 10));
    expect((await gatehouse.twoFactor.status(ada.id)).recoveryCodesLeft).toBe(10);

    // Typed in upper case with spaces: it still works, once.
    const typed = codes[0]!.toUpperCase().replaceAll("-", " ");
    expect((await login("ada", typed)).user.id).toBe(ada.id);
    expect(await codeOf(login("ada", codes[0]!))).toBe("TOTP_INVALID");
    expect(await codeOf(login("ada", "aaaaa-aaaaa-aaaaa-aaaaa-aaaaa-a"))).toBe("TOTP_INVALID");
    expect((await gatehouse.twoFactor.status(ada.id)).recoveryCodesLeft).toBe(9);

    // New codes replace the old ones: an unused old code stops working.
    const renewed = await gatehouse.twoFactor.newRecoveryCodes(asUser(ada.id));
    expect(await codeOf(login("ada", codes[1]!))).toBe("TOTP_INVALID");
    expect((await login("ada", renewed.codes[1]!)).user.id).toBe(ada.id);

    // Making codes needs TOTP on, and the person themselves.
    const bob = await person("bob");
    expect(await codeOf(gatehouse.twoFactor.newRecoveryCodes(asUser(bob.id)))).toBe(
      "TOTP_NOT_ENABLED",
    );
    expect(await codeOf(gatehouse.twoFactor.newRecoveryCodes(systemActor()))).toBe(
      "PERMISSION_DENIED",
    );
    // In the activity log: both sets made, both codes used — never the codes themselves.
    expect(await instanceLogOf("two_factor.recovery_codes.create")).toMatchObject([
      { actor: `user:${ada.id}`, details: { user: ada.id, count: 10 } },
      { actor: `user:${ada.id}`, details: { user: ada.id, count: 10 } },
    ]);
    expect(await instanceLogOf("two_factor.recovery_code.use")).toMatchObject([
      { details: { user: ada.id, left: 9 } },
      { details: { user: ada.id, left: 9 } },
    ]);
    const log = JSON.stringify(
      await gatehouse.storage.db.selectFrom("instance_log").selectAll().execute(),
    );
    for (const code of [...codes, ...renewed.codes]) expect(log).not.toContain(code);
  });

  it("ends the sessions of members without two-factor sign-in when a workspace starts requiring it (#14 finding 12)", async () => {
    await open();
    const olivia = await person("olivia");
    const bob = await person("bob");
    const { ada, secret } = await adaWithTotp();
    const ws = await gatehouse.workspaces.create(asUser(olivia.id), {
      name: "Acme",
      preset: "company",
    });
    for (const member of [bob, ada])
      await gatehouse.members.add(systemActor(), ws.id, {
        userId: member.id,
        grants: [{ role: "technical", scope: `workspace:${ws.id}` }],
      });
    const bobs = await login("bob");
    const adas = await login("ada", totpCode(secret, clock.now));
    const olivias = await login("olivia");
    // The host app turns the policy on: Olivia has no second factor to require it herself (#16).
    await gatehouse.workspaces.updateSettings(systemActor(), ws.id, { require2fa: true });
    // Bob has no second factor: his session ends, and he must enrol before he signs in again.
    expect(await codeOf(gatehouse.sessions.authenticate(bobs.token))).toBe("INVALID_CREDENTIALS");
    expect(await codeOf(login("bob"))).toBe("TOTP_ENROLLMENT_REQUIRED");
    // Ada has TOTP and keeps her session; Olivia, the owner, has none and enrols too.
    expect((await gatehouse.sessions.authenticate(adas.token)).context.actor).toMatchObject({
      userId: ada.id,
    });
    expect(await codeOf(gatehouse.sessions.authenticate(olivias.token))).toBe(
      "INVALID_CREDENTIALS",
    );
    expect(await codeOf(login("olivia"))).toBe("TOTP_ENROLLMENT_REQUIRED");
    const log = await gatehouse.activityLog.list(asUser(olivia.id), ws.id, {});
    expect(log.entries.map((entry) => entry.action)).toContain(
      "workspace.require_2fa.sessions_end",
    );
  });

  it("lets the operator reset a user's two-factor sign-in, ending their sessions, in the activity log (#14 finding 12)", async () => {
    await open();
    const { ada, secret } = await adaWithTotp();
    await gatehouse.twoFactor.newRecoveryCodes(asUser(ada.id));
    const session = await login("ada", totpCode(secret, clock.now));
    expect(await codeOf(gatehouse.twoFactor.reset(asUser(ada.id), ada.id))).toBe(
      "PERMISSION_DENIED",
    );
    expect(await gatehouse.twoFactor.reset(systemActor("cli"), ada.id)).toEqual({
      sessionsEnded: 1,
    });
    expect(await codeOf(gatehouse.sessions.authenticate(session.token))).toBe(
      "INVALID_CREDENTIALS",
    );
    expect(await gatehouse.twoFactor.status(ada.id)).toMatchObject({
      enabled: false,
      pending: false,
      recoveryCodesLeft: 0,
    });
    // The password alone signs in again, and she can enrol a new authenticator.
    expect((await login("ada")).user.id).toBe(ada.id);
    await gatehouse.twoFactor.enroll(ada.id);
    expect(await instanceLogOf("two_factor.reset")).toMatchObject([
      { actor: "system:cli", details: { user: ada.id, hadTotp: true, sessionsEnded: 1 } },
    ]);
    expect(await codeOf(gatehouse.twoFactor.reset(systemActor("cli"), "usr_nobody"))).toBe(
      "USER_NOT_FOUND",
    );
  });

  it("enforces a workspace's require-2FA policy at sign-in, with enrolment by password", async () => {
    await open();
    const olivia = await person("olivia");
    const bob = await person("bob");
    await person("carol");
    const ws = await gatehouse.workspaces.create(asUser(olivia.id), {
      name: "Acme",
      preset: "company",
    });
    await gatehouse.members.add(systemActor(), ws.id, {
      userId: bob.id,
      grants: [{ role: "technical", scope: `workspace:${ws.id}` }],
    });
    await login("bob");
    await gatehouse.workspaces.updateSettings(systemActor(), ws.id, { require2fa: true });
    expect(await gatehouse.twoFactor.status(bob.id)).toMatchObject({
      required: true,
      requiredBy: ["Acme"],
    });

    expect(await codeOf(login("bob"))).toBe("TOTP_ENROLLMENT_REQUIRED");
    expect(await codeOf(login("bob", "123456"))).toBe("TOTP_ENROLLMENT_REQUIRED");
    expect(await codeOf(login("olivia"))).toBe("TOTP_ENROLLMENT_REQUIRED");
    // Someone outside the workspace is not concerned.
    await login("carol");

    expect(
      await codeOf(
        gatehouse.sessions.enrollTwoFactor({
          email: "bob@example.com",
          password: "wrong password",
        }),
      ),
    ).toBe("INVALID_CREDENTIALS");
    const { secret } = await gatehouse.sessions.enrollTwoFactor({
      email: "bob@example.com",
      password: PASSWORD,
      origin: { ip: "198.51.100.7" },
    });
    expect(await codeOf(login("bob"))).toBe("TOTP_ENROLLMENT_REQUIRED");
    expect(await codeOf(login("bob", "000000"))).toBe("TOTP_INVALID");
    // The first sign-in with a code confirms the enrolment.
    const session = await login("bob", totpCode(secret, clock.now));
    expect(session.user.id).toBe(bob.id);
    expect((await gatehouse.twoFactor.status(bob.id)).enabled).toBe(true);
    clock.now += STEP;
    expect(await codeOf(login("bob"))).toBe("TOTP_REQUIRED");
    expect(
      await codeOf(
        gatehouse.sessions.enrollTwoFactor({ email: "bob@example.com", password: PASSWORD }),
      ),
    ).toBe("TOTP_ALREADY_ENABLED");

    // Turned off again, the policy asks nothing more of Olivia; Bob keeps his own 2FA.
    await gatehouse.workspaces.updateSettings(systemActor("operator"), ws.id, {
      require2fa: false,
    });
    await login("olivia");
    expect(await codeOf(login("bob"))).toBe("TOTP_REQUIRED");
  });

  it("lets a person require two-factor sign-in only once they have it (#16)", async () => {
    await open();
    const olivia = await person("olivia");
    const { ada, secret } = await adaWithTotp();
    const acme = await gatehouse.workspaces.create(asUser(olivia.id), {
      name: "Acme",
      preset: "company",
    });
    expect(
      await codeOf(
        gatehouse.workspaces.updateSettings(asUser(olivia.id), acme.id, { require2fa: true }),
      ),
    ).toBe("TOTP_NOT_ENABLED");
    expect((await gatehouse.workspaces.get(asUser(olivia.id), acme.id)).settings).toMatchObject({
      require2fa: false,
    });
    const own = await gatehouse.workspaces.create(asUser(ada.id), {
      name: "Ada GmbH",
      preset: "company",
    });
    const session = await login("ada", totpCode(secret, clock.now));
    await gatehouse.workspaces.updateSettings(asUser(ada.id), own.id, { require2fa: true });
    expect((await gatehouse.sessions.authenticate(session.token)).context.actor).toMatchObject({
      userId: ada.id,
    });
    expect(await gatehouse.twoFactor.status(ada.id)).toMatchObject({ requiredBy: ["Ada GmbH"] });
  });

  it("ignores the policy of a closed workspace", async () => {
    await open();
    const olivia = await person("olivia");
    const ws = await gatehouse.workspaces.create(asUser(olivia.id), {
      name: "Acme",
      preset: "company",
    });
    await gatehouse.workspaces.updateSettings(systemActor(), ws.id, { require2fa: true });
    expect(await codeOf(login("olivia"))).toBe("TOTP_ENROLLMENT_REQUIRED");
    await gatehouse.workspaces.close(asUser(olivia.id), ws.id, { confirmName: "Acme" });
    await login("olivia");
  });
});
