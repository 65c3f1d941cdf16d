import { createHash } from "node:crypto";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { asUser, systemActor } from "../src/actor.ts";
import type { Gatehouse } from "../src/gatehouse.ts";
import { totpCode } from "../src/sign-in/two-factor.ts";
import { backends, codeOf, openService, signUpPerson } from "./backends.ts";

const MINUTE = 60 * 1000;

describe.each(backends)("magic links on $name", (backend) => {
  let gatehouse: Gatehouse;
  let clock: { now: number };

  beforeEach(async () => {
    ({ gatehouse, clock } = await openService(backend));
  });
  afterEach(async () => {
    await gatehouse.close();
  });

  const person = (name: string) => signUpPerson(gatehouse, name);
  const request = (email: string, ip = "198.51.100.7") =>
    gatehouse.magicLinks.request({ email, origin: { ip } });

  it("sends a link through the signInMail port for a known email only, after answering", async () => {
    expect(await codeOf(gatehouse.magicLinks.send({ email: "ada@example.com" }))).toBe(
      "CONFIGURATION_REQUIRED",
    );
    const sent: { to: string; token: string }[] = [];
    const mailing = await openService(backend, {
      signInMail: {
        sendMagicLink: async (to, link) => void sent.push({ to, token: link.token }),
        sendSignUpLink: async () => undefined,
        sendAccountExists: async () => undefined,
        sendEmailChangeLink: async () => undefined,
        sendEmailInUse: async () => undefined,
        sendEmailChanged: async () => undefined,
      },
    });
    try {
      await signUpPerson(mailing.gatehouse, "ada");
      await mailing.gatehouse.magicLinks.send({ email: "nobody@example.com" });
      await mailing.gatehouse.mailSettled();
      expect(sent).toEqual([]);
      await mailing.gatehouse.magicLinks.send({ email: "ada@example.com" });
      // Queued, not sent within the request: its time and failures never show in the answer.
      expect(sent).toEqual([]);
      await mailing.gatehouse.mailSettled();
      expect(sent).toEqual([{ to: "ada@example.com", token: expect.stringMatching(/^ghm_/) }]);
      const session = await mailing.gatehouse.magicLinks.consume(sent[0]!.token);
      expect(session.user.email).toBe("ada@example.com");
    } finally {
      await mailing.gatehouse.close();
    }
  });

  it("gives a 10-minute link for a known email, stored as its SHA-256", async () => {
    await person("ada");
    const link = await request(" Ada@Example.com ");
    expect(link?.token).toMatch(/^ghm_[A-Za-z0-9_-]{43}$/);
    expect(link?.expiresAt).toBe(clock.now + 10 * MINUTE);
    const rows = await gatehouse.storage.db.selectFrom("magic_links").selectAll().execute();
    expect(rows).toHaveLength(1);
    const random = link!.token.slice(4);
    for (const value of Object.values(rows[0]!)) expect(String(value)).not.toContain(random);
    expect(rows[0]).toEqual({
      token_hash: createHash("sha256").update(link!.token).digest("hex"),
      email: "ada@example.com",
      created_at: clock.now,
      expires_at: clock.now + 10 * MINUTE,
      used_at: null,
      ip: "198.51.100.7",
      signup_name: null,
    });
  });

  it("answers nothing for an unknown email, after the same write as for a known one", async () => {
    expect(await request("nobody@example.com")).toBeUndefined();
    const rows = await gatehouse.storage.db.selectFrom("magic_links").selectAll().execute();
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ email: "nobody@example.com", used_at: null });
    expect(await codeOf(request("not an email"))).toBe("INVALID_INPUT");
  });

  it("signs in once: a new session, then MAGIC_LINK_INVALID", async () => {
    const ada = await person("ada");
    const link = await request("ada@example.com");
    const session = await gatehouse.magicLinks.consume(link!.token, {
      origin: { ip: "203.0.113.1" },
    });
    expect(session.user).toEqual(ada);
    expect(session.token).toMatch(/^ghs_/);
    const { context } = await gatehouse.sessions.authenticate(session.token);
    expect(context.actor).toEqual({ type: "user", userId: ada.id });
    expect((await gatehouse.sessions.list(ada.id))[0]?.ip).toBe("203.0.113.1");
    expect(await codeOf(gatehouse.magicLinks.consume(link!.token))).toBe("MAGIC_LINK_INVALID");
  });

  it("expires after 10 minutes", async () => {
    await person("ada");
    const early = await request("ada@example.com");
    const late = await request("ada@example.com");
    clock.now += 10 * MINUTE - 1;
    await gatehouse.magicLinks.consume(early!.token);
    clock.now += 1;
    expect(await codeOf(gatehouse.magicLinks.consume(late!.token))).toBe("MAGIC_LINK_INVALID");
  });

  it("lets exactly one of concurrent uses of a link through", async () => {
    await person("ada");
    const link = await request("ada@example.com");
    const codes = await Promise.all(
      Array.from({ length: 6 }, () => codeOf(gatehouse.magicLinks.consume(link!.token))),
    );
    expect(codes.filter((code) => code === undefined)).toHaveLength(1);
    expect(codes.filter((code) => code === "MAGIC_LINK_INVALID")).toHaveLength(5);
  });

  it("refuses unknown, malformed and near-miss tokens alike", async () => {
    await person("ada");
    const link = await request("ada@example.com");
    const token = link!.token;
    const nearMiss = `${token.slice(0, -1)}${token.endsWith("A") ? "B" : "A"}`;
    for (const bad of [nearMiss, "", "ghm_short", token.slice(4), `ghs_${token.slice(4)}`]) {
      expect(await codeOf(gatehouse.magicLinks.consume(bad))).toBe("MAGIC_LINK_INVALID");
    }
    await gatehouse.magicLinks.consume(token);
  });

  it("throttles requests per email, whether or not it has an account", async () => {
    await person("ada");
    for (const email of ["ada@example.com", "nobody@example.com"]) {
      for (let attempt = 0; attempt < 5; attempt++) {
        await request(email, `10.0.0.${attempt}`);
      }
      expect(await codeOf(request(email, "10.0.1.1"))).toBe("RATE_LIMITED");
    }
    clock.now += 15 * MINUTE;
    expect(await request("ada@example.com")).toBeDefined();
  });

  it("throttles requests per address", async () => {
    await person("ada");
    for (let attempt = 0; attempt < 20; attempt++) {
      await request(`someone${attempt}@example.com`, "192.0.2.66");
    }
    expect(await codeOf(request("ada@example.com", "192.0.2.66"))).toBe("RATE_LIMITED");
    expect(await request("ada@example.com", "192.0.2.67")).toBeDefined();
  });

  it("still asks for the TOTP code, keeping the link for the retry", async () => {
    const ada = await person("ada");
    const { secret } = await gatehouse.twoFactor.enroll(ada.id);
    await gatehouse.twoFactor.confirm(ada.id, totpCode(secret, clock.now));
    clock.now += 30 * 1000;
    const link = await request("ada@example.com");
    expect(await codeOf(gatehouse.magicLinks.consume(link!.token))).toBe("TOTP_REQUIRED");
    expect(await codeOf(gatehouse.magicLinks.consume(link!.token, { totpCode: "000000" }))).toBe(
      "TOTP_INVALID",
    );
    const session = await gatehouse.magicLinks.consume(link!.token, {
      totpCode: totpCode(secret, clock.now),
    });
    expect(session.user.id).toBe(ada.id);
    expect(await codeOf(gatehouse.magicLinks.consume(link!.token))).toBe("MAGIC_LINK_INVALID");
  });

  it("counts wrong TOTP codes given with links against the account's sign-in throttle", async () => {
    const ada = await person("ada");
    const { secret } = await gatehouse.twoFactor.enroll(ada.id);
    await gatehouse.twoFactor.confirm(ada.id, totpCode(secret, clock.now));
    clock.now += 30 * 1000;
    const link = await request("ada@example.com");
    for (let attempt = 0; attempt < 5; attempt++) {
      expect(
        await codeOf(
          gatehouse.magicLinks.consume(link!.token, {
            origin: { ip: "10.0.0.1" },
            totpCode: "000000",
          }),
        ),
      ).toBe("TOTP_INVALID");
    }
    expect(
      await codeOf(
        gatehouse.magicLinks.consume(link!.token, {
          origin: { ip: "10.0.0.1" },
          totpCode: totpCode(secret, clock.now),
        }),
      ),
    ).toBe("RATE_LIMITED");
  });

  it("enforces a workspace's require-2FA policy on links too", async () => {
    const ada = await person("ada");
    await person("olivia");
    const ws = await gatehouse.workspaces.create(asUser(ada.id), {
      name: "Acme",
      preset: "company",
    });
    await gatehouse.workspaces.updateSettings(systemActor(), ws.id, { require2fa: true });
    const link = await request("ada@example.com");
    expect(await codeOf(gatehouse.magicLinks.consume(link!.token))).toBe(
      "TOTP_ENROLLMENT_REQUIRED",
    );
    // Olivia is not in that workspace.
    const other = await request("olivia@example.com");
    await gatehouse.magicLinks.consume(other!.token);
  });
});
