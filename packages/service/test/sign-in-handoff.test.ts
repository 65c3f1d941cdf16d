import { createLocalJWKSet, decodeProtectedHeader, type JSONWebKeySet } from "jose";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  createSignInVerifier,
  type SignInRefused,
} from "../../../docs/examples/sign-in-verifier.mjs";
import { asUser, systemActor } from "../src/actor.ts";
import type { Gatehouse } from "../src/gatehouse.ts";
import { backends, codeOf, openPeerServices, openService, signUpPerson } from "./backends.ts";

const SECRET_KEY = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
const ISSUER = "https://gatehouse.test";
const ADMIN = "https://shop.example/gatehouse/sign-in";
const SITE = "environment:shop-prod";
const MINUTE = 60_000;

describe.each(backends)("sign-in handoff on $name", { timeout: 30_000 }, (backend) => {
  let gatehouse: Gatehouse;
  let clock: { now: number };

  beforeEach(async () => {
    ({ gatehouse, clock } = await openService(backend, { secretKey: SECRET_KEY, issuer: ISSUER }));
  });
  afterEach(async () => {
    await gatehouse.close();
  });

  /** A managed.dev team (the `managed` preset): Sam runs the shop site, Oscar observes, the shop's admin app is named. */
  async function team(service: Gatehouse = gatehouse) {
    const olivia = await signUpPerson(service, "olivia");
    const ws = await service.workspaces.create(asUser(olivia.id), {
      name: "Agency",
      preset: "managed",
    });
    const host = systemActor();
    for (const [resource, parent] of [
      ["project:p1", `workspace:${ws.id}`],
      ["site:shop", "project:p1"],
      ["environment:shop-prod", "site:shop"],
    ] as const)
      await service.resources.upsert(host, ws.id, { resource, parent });
    const sam = await signUpPerson(service, "sam");
    const oscar = await signUpPerson(service, "oscar");
    await service.members.add(host, ws.id, {
      userId: sam.id,
      grants: [{ role: "site_manager", scope: "site:shop" }],
    });
    await service.members.add(host, ws.id, {
      userId: oscar.id,
      grants: [{ role: "observer", scope: `workspace:${ws.id}` }],
    });
    await service.signIn.setTarget(host, ws.id, { resource: SITE, url: ADMIN });
    return { ws: ws.id, olivia, sam, oscar };
  }

  /** A link asked for and used at once: the assertion the browser carries. */
  async function assertionFor(userId: string, ws: string, service: Gatehouse = gatehouse) {
    const { link } = await service.signIn.createLink(asUser(userId), ws, SITE);
    return (await service.signIn.consumeLink(link.token)).assertion;
  }

  const verifierWith = (keys: JSONWebKeySet) =>
    createSignInVerifier({
      issuer: ISSUER,
      audience: ADMIN,
      site: SITE,
      jwks: createLocalJWKSet(keys),
      now: () => clock.now,
    });

  async function refusal(promise: Promise<unknown>): Promise<string> {
    try {
      await promise;
    } catch (error) {
      return (error as SignInRefused).reason;
    }
    return "accepted";
  }

  it("signs a site manager's assertion with their identity, role and site, valid 60 seconds", async () => {
    const { ws, sam } = await team();
    const assertion = await assertionFor(sam.id, ws);
    const verify = verifierWith(await gatehouse.signingKeys.jwks());
    expect(await verify(assertion)).toEqual({
      userId: sam.id,
      email: "sam@example.com",
      name: "sam",
      role: "site_manager",
      site: SITE,
      workspace: ws,
      permissions: expect.arrayContaining(["sso.login", "deploy.run"]),
    });
    expect(decodeProtectedHeader(assertion)).toMatchObject({
      alg: "ES256",
      typ: "gatehouse-sign-in+jwt",
    });
  });

  it("checks the permission again when the link is used: a demotion in between ends it", async () => {
    const { ws, olivia, sam } = await team();
    const { link } = await gatehouse.signIn.createLink(asUser(sam.id), ws, SITE);
    await gatehouse.members.setGrants(asUser(olivia.id), ws, sam.id, [
      { role: "observer", scope: `workspace:${ws}` },
    ]);
    expect(await codeOf(gatehouse.signIn.consumeLink(link.token))).toBe("PERMISSION_DENIED");
    const { entries } = await gatehouse.activityLog.list(asUser(olivia.id), ws, { limit: 1 });
    expect(entries[0]).toMatchObject({
      actor: { type: "user", id: sam.id },
      action: "sign_in.assertion",
      target: SITE,
      result: "denied",
    });
    // Burnt all the same: a link never works twice, allowed or not.
    expect(await codeOf(gatehouse.signIn.consumeLink(link.token))).toBe("SIGN_IN_LINK_INVALID");
  });

  it("refuses unknown, malformed and expired links alike", async () => {
    const { ws, sam } = await team();
    const { link } = await gatehouse.signIn.createLink(asUser(sam.id), ws, SITE);
    clock.now += MINUTE + 1;
    for (const token of [link.token, "x".repeat(43), "short", ""])
      expect(await codeOf(gatehouse.signIn.consumeLink(token))).toBe("SIGN_IN_LINK_INVALID");
  });

  it("ends a link asked for with an API key when the key is revoked", async () => {
    const { ws, sam } = await team();
    const { key, secret } = await gatehouse.apiKeys.create(asUser(sam.id), ws, {
      name: "panel",
      scopes: ["sso.login"],
    });
    const viaKey = (await gatehouse.apiKeys.authenticate(secret)).context;
    const { link } = await gatehouse.signIn.createLink(viaKey, ws, SITE);
    await gatehouse.apiKeys.revoke(asUser(sam.id), ws, key.id);
    expect(await codeOf(gatehouse.signIn.consumeLink(link.token))).toBe("WORKSPACE_NOT_FOUND");
  });

  it("keeps assertions in flight valid across a key rotation, publishing the successor before it signs", async () => {
    const { ws, sam } = await team();
    await gatehouse.signingKeys.prepare();
    const before = await gatehouse.signingKeys.jwks();
    expect(before.keys).toHaveLength(1);
    const oldKid = before.keys[0]!.kid;
    const { link: inFlight } = await gatehouse.signIn.createLink(asUser(sam.id), ws, SITE);

    const { kid: newKid, activatesAt } = await gatehouse.signingKeys.rotate(systemActor());
    expect(activatesAt).toBe(clock.now + 15 * MINUTE);
    const during = await gatehouse.signingKeys.jwks();
    expect(during.keys.map((key) => key.kid)).toEqual([newKid, oldKid]);

    // The link asked for before the rotation, used after it: signed by the old key, which a
    // verifier that cached the old key set still accepts.
    const inFlightAssertion = (await gatehouse.signIn.consumeLink(inFlight.token)).assertion;
    expect(decodeProtectedHeader(inFlightAssertion).kid).toBe(oldKid);
    expect((await verifierWith(before)(inFlightAssertion)).userId).toBe(sam.id);

    // Once the successor signs, a verifier that cached the set during prepublication knows it.
    clock.now = activatesAt;
    const fresh = await assertionFor(sam.id, ws);
    expect(decodeProtectedHeader(fresh).kid).toBe(newKid);
    expect((await verifierWith(during)(fresh)).userId).toBe(sam.id);

    // The old key stays published until its last assertion has expired, then goes.
    clock.now = activatesAt + MINUTE;
    expect((await gatehouse.signingKeys.jwks()).keys.map((key) => key.kid)).toContain(oldKid);
    clock.now = activatesAt + 3 * MINUTE;
    expect((await gatehouse.signingKeys.jwks()).keys.map((key) => key.kid)).toEqual([newKid]);
    expect(
      await refusal(verifierWith(await gatehouse.signingKeys.jwks())(inFlightAssertion)),
    ).not.toBe("accepted");
  });

  it("rotates at once when asked (a leaked key), and only for the instance operator", async () => {
    const { ws, sam } = await team();
    const first = decodeProtectedHeader(await assertionFor(sam.id, ws)).kid;
    const { kid } = await gatehouse.signingKeys.rotate(systemActor("operator"), {
      prepublishMs: 0,
    });
    expect(decodeProtectedHeader(await assertionFor(sam.id, ws)).kid).toBe(kid);
    expect(kid).not.toBe(first);
    expect(await codeOf(gatehouse.signingKeys.rotate(asUser(sam.id)))).toBe("PERMISSION_DENIED");
  });

  it("starts a successor by itself once the signing key is past its lifetime", async () => {
    const { ws, sam } = await team();
    const first = decodeProtectedHeader(await assertionFor(sam.id, ws)).kid;
    clock.now += 31 * 24 * 60 * MINUTE;
    // Past its lifetime the key still signs while its successor is prepublished …
    expect(decodeProtectedHeader(await assertionFor(sam.id, ws)).kid).toBe(first);
    const published = (await gatehouse.signingKeys.jwks()).keys.map((key) => key.kid);
    expect(published).toHaveLength(2);
    // … and the successor takes over after the prepublication.
    clock.now += 15 * MINUTE;
    expect(decodeProtectedHeader(await assertionFor(sam.id, ws)).kid).toBe(published[0]);
  });

  it("never keeps a private key in the clear, and publishes none", async () => {
    const { ws, sam } = await team();
    await assertionFor(sam.id, ws);
    const rows = await gatehouse.storage.db.selectFrom("signing_keys").selectAll().execute();
    expect(rows).toHaveLength(1);
    expect(rows[0]!.sealed_private_jwk).toMatch(/^v1\./);
    expect(rows[0]!.sealed_private_jwk).not.toContain('"d"');
    expect(JSON.stringify(await gatehouse.signingKeys.jwks())).not.toContain('"d"');
  });

  it("names admin apps only for types the model gives a sign-in, at HTTPS or loopback URLs", async () => {
    const { ws, sam, oscar } = await team();
    const host = systemActor();
    expect(
      await codeOf(gatehouse.signIn.setTarget(host, ws, { resource: "site:shop", url: ADMIN })),
    ).toBe("INVALID_INPUT");
    expect(
      await codeOf(
        gatehouse.signIn.setTarget(host, ws, { resource: SITE, url: "http://shop.example/in" }),
      ),
    ).toBe("INVALID_INPUT");
    expect(
      await codeOf(
        gatehouse.signIn.setTarget(host, ws, { resource: "environment:none", url: ADMIN }),
      ),
    ).toBe("RESOURCE_NOT_FOUND");
    expect(
      await codeOf(
        gatehouse.signIn.setTarget(asUser(oscar.id), ws, { resource: SITE, url: ADMIN }),
      ),
    ).toBe("PERMISSION_DENIED");
    expect((await gatehouse.signIn.targets(host, ws)).map((target) => target.url)).toEqual([ADMIN]);
    await gatehouse.signIn.removeTarget(host, ws, SITE);
    expect(await codeOf(gatehouse.signIn.createLink(asUser(sam.id), ws, SITE))).toBe(
      "SIGN_IN_NOT_CONFIGURED",
    );
  });

  it("honours a link once even when two instances are asked at the same moment", async () => {
    const peers = await openPeerServices(backend, 2, clock, {
      secretKey: SECRET_KEY,
      issuer: ISSUER,
    });
    try {
      const [first, second] = peers.instances as [Gatehouse, Gatehouse];
      const { ws, sam } = await team(first);
      for (let round = 0; round < 5; round++) {
        const { link } = await first.signIn.createLink(asUser(sam.id), ws, SITE);
        const outcomes = await Promise.allSettled([
          first.signIn.consumeLink(link.token),
          second.signIn.consumeLink(link.token),
        ]);
        expect(outcomes.filter((outcome) => outcome.status === "fulfilled")).toHaveLength(1);
        const failed = outcomes.find((outcome) => outcome.status === "rejected");
        expect((failed as PromiseRejectedResult).reason).toMatchObject({
          code: "SIGN_IN_LINK_INVALID",
        });
      }
    } finally {
      await peers.close();
    }
  });
});
