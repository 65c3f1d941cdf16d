import { createHash } from "node:crypto";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { asUser, type RequestContext, systemActor } from "../src/actor.ts";
import { createGatehouse, type Gatehouse } from "../src/gatehouse.ts";
import { backends, codeOf, openService, signUpPerson, TEST_PASSWORD_COST } from "./backends.ts";

const HOUR = 60 * 60 * 1000;

describe.each(backends)("API keys on $name", (backend) => {
  let gatehouse: Gatehouse;
  let clock: { now: number };

  beforeEach(async () => {
    ({ gatehouse, clock } = await openService(backend));
  });
  afterEach(async () => {
    await gatehouse.close();
  });

  const person = (name: string) => signUpPerson(gatehouse, name);

  /**
   * An mzpanel workspace owned by Olivia: server s1 with sites a and b, server s2 with site c;
   * Otto operates s1, Carol is the customer of site a, Adam is admin.
   */
  async function panel() {
    const olivia = await person("olivia");
    const ws = await gatehouse.workspaces.create(asUser(olivia.id), {
      name: "Acme hosting",
      preset: "mzpanel",
    });
    const root = `workspace:${ws.id}`;
    const host = systemActor();
    for (const [resource, parent] of [
      ["server:s1", root],
      ["site:a", "server:s1"],
      ["site:b", "server:s1"],
      ["server:s2", root],
      ["site:c", "server:s2"],
    ] as const) {
      await gatehouse.resources.upsert(host, ws.id, { resource, parent });
    }
    const otto = await person("otto");
    const carol = await person("carol");
    const adam = await person("adam");
    for (const [user, role, scope] of [
      [otto, "operator", "server:s1"],
      [carol, "customer", "site:a"],
      [adam, "admin", root],
    ] as const) {
      await gatehouse.members.add(systemActor(), ws.id, {
        userId: user.id,
        grants: [{ role, scope }],
      });
    }
    return { ws: ws.id, root, olivia, otto, carol, adam };
  }

  async function allowed(
    context: RequestContext,
    ws: string,
    permission: string,
    resource: string,
  ): Promise<boolean> {
    return (await gatehouse.decisions.check(context, ws, { permission, resource })).allowed;
  }

  it("shows the secret once, keeps only its SHA-256 and a visible prefix", async () => {
    const { ws, olivia } = await panel();
    const { key, secret } = await gatehouse.apiKeys.create(asUser(olivia.id), ws, {
      name: "deploy bot",
      scopes: ["site.*"],
    });
    expect(secret).toMatch(/^gh_[A-Za-z0-9_-]{8}_[A-Za-z0-9_-]{43}$/);
    expect(key.prefix).toBe(secret.slice(0, 11));
    expect(key).toMatchObject({
      name: "deploy bot",
      ownerUserId: olivia.id,
      scopes: ["site.*"],
      resources: [],
      expiresAt: null,
      revokedAt: null,
      status: "active",
    });
    expect(key.permissions).toContain("site.deploy");
    expect(key.permissions).not.toContain("server.restart");

    const rows = await gatehouse.storage.db.selectFrom("api_keys").selectAll().execute();
    expect(rows).toHaveLength(1);
    const random = secret.slice(12);
    for (const value of Object.values(rows[0]!)) {
      expect(String(value)).not.toContain(random);
    }
    expect(rows[0]!.secret_hash).toBe(createHash("sha256").update(secret).digest("hex"));
    expect(rows[0]!.prefix).toBe(key.prefix);

    const listed = await gatehouse.apiKeys.list(asUser(olivia.id), ws);
    expect(listed).toEqual([key]);
    expect(JSON.stringify(listed)).not.toContain(random);
    const log = await gatehouse.storage.db
      .selectFrom("audit_log")
      .selectAll()
      .where("action", "=", "api_key.create")
      .execute();
    expect(log).toHaveLength(1);
    expect(JSON.stringify(log)).not.toContain(random);
    expect(JSON.parse(log[0]!.details)).toMatchObject({ name: "deploy bot", scopes: ["site.*"] });

    const credentials = await gatehouse.apiKeys.authenticate(secret, { ip: "198.51.100.7" });
    expect(credentials).toEqual({
      workspaceId: ws,
      keyId: key.id,
      userId: olivia.id,
      context: {
        actor: { type: "api_key", keyId: key.id, userId: olivia.id },
        origin: { ip: "198.51.100.7" },
      },
    });
    expect(await allowed(credentials.context, ws, "site.deploy", "site:c")).toBe(true);
  });

  it("refuses malformed, unknown and near-miss secrets alike", async () => {
    const { ws, olivia } = await panel();
    const { secret } = await gatehouse.apiKeys.create(asUser(olivia.id), ws, {
      name: "k",
      scopes: ["site.view"],
    });
    const nearMiss = `${secret.slice(0, -1)}${secret.endsWith("A") ? "B" : "A"}`;
    const forged = `gh_AAAAAAAA_${"A".repeat(43)}`;
    for (const attempt of ["", "gh_", secret.slice(0, 20), `${secret} `, nearMiss, forged, 42]) {
      expect(await codeOf(gatehouse.apiKeys.authenticate(attempt as string))).toBe(
        "INVALID_CREDENTIALS",
      );
    }
  });

  it("never exceeds its owner: an operator's `*` key acts only on the operator's server", async () => {
    const { ws, root, otto } = await panel();
    const { key, secret } = await gatehouse.apiKeys.create(asUser(otto.id), ws, {
      name: "everything",
      scopes: ["*"],
    });
    // `*` takes every delegable permission, never an owner-only one.
    expect(key.permissions).toContain("team.manage");
    expect(key.permissions).not.toContain("billing.manage");
    expect(key.permissions).not.toContain("server.delete");
    const { context } = await gatehouse.apiKeys.authenticate(secret);
    expect(await allowed(context, ws, "site.deploy", "site:a")).toBe(true);
    expect(await allowed(context, ws, "server.restart", "server:s1")).toBe(true);
    expect(await allowed(context, ws, "site.deploy", "site:c")).toBe(false);
    expect(await allowed(context, ws, "server.restart", "server:s2")).toBe(false);
    expect(await allowed(context, ws, "team.manage", root)).toBe(false);
    expect(await allowed(context, ws, "team.view", root)).toBe(false);
  });

  it("refuses at creation a permission pattern that matches nothing the creator holds, so a later promotion widens no key", async () => {
    const { ws, otto } = await panel();
    const operator = asUser(otto.id);
    const refused = await gatehouse.apiKeys
      .create(operator, ws, { name: "k", scopes: ["site.view", "team.manage"] })
      .catch((error: unknown) => error);
    expect(refused).toMatchObject({
      code: "API_KEY_SCOPE_NOT_HELD",
      details: { scopes: ["team.manage"] },
    });
    expect(
      await codeOf(gatehouse.apiKeys.create(operator, ws, { name: "k", scopes: ["team.*"] })),
    ).toBe("API_KEY_SCOPE_NOT_HELD");
    expect(await gatehouse.apiKeys.list(operator, ws)).toEqual([]);
    const { key } = await gatehouse.apiKeys.create(operator, ws, {
      name: "ok",
      scopes: ["server.*", "*"],
    });
    expect(key.scopes).toEqual(["server.*", "*"]);
  });

  it("acts with the owner's permissions ∩ the key's permission patterns", async () => {
    const { ws, otto } = await panel();
    const { secret } = await gatehouse.apiKeys.create(asUser(otto.id), ws, {
      name: "read only",
      scopes: ["site.view", "server.view"],
    });
    const { context } = await gatehouse.apiKeys.authenticate(secret);
    expect(await allowed(context, ws, "site.view", "site:a")).toBe(true);
    expect(await allowed(context, ws, "server.view", "server:s1")).toBe(true);
    expect(await allowed(context, ws, "site.deploy", "site:a")).toBe(false);
    expect(await allowed(context, ws, "site.view", "site:c")).toBe(false);
  });

  it("keeps the owner's owner-only powers out of a key, even the workspace owner's", async () => {
    const { ws, root, olivia } = await panel();
    const owner = asUser(olivia.id);
    for (const scopes of [["billing.manage"], ["workspace.*"], ["site.view", "server.delete"]]) {
      expect(await codeOf(gatehouse.apiKeys.create(owner, ws, { name: "k", scopes }))).toBe(
        "OWNER_ONLY_PERMISSION",
      );
    }
    const { secret } = await gatehouse.apiKeys.create(owner, ws, { name: "all", scopes: ["*"] });
    const { context } = await gatehouse.apiKeys.authenticate(secret);
    expect(await allowed(asUser(olivia.id), ws, "billing.manage", root)).toBe(true);
    expect(await allowed(context, ws, "billing.manage", root)).toBe(false);
    expect(await allowed(context, ws, "server.delete", "server:s1")).toBe(false);
    expect(await allowed(context, ws, "team.manage", root)).toBe(true);
  });

  it("refuses unknown permissions and malformed requests, persisting nothing", async () => {
    const { ws, olivia } = await panel();
    const owner = asUser(olivia.id);
    const create = (input: unknown) =>
      codeOf(gatehouse.apiKeys.create(owner, ws, input as { name: string; scopes: string[] }));
    expect(await create({ name: "k", scopes: ["site.fly"] })).toBe("UNKNOWN_PERMISSION");
    expect(await create({ name: "k", scopes: ["rocket.*"] })).toBe("UNKNOWN_PERMISSION");
    expect(await create({ name: "k", scopes: [] })).toBe("INVALID_INPUT");
    expect(await create({ name: "k", scopes: "site.view" })).toBe("INVALID_INPUT");
    expect(await create({ name: "k", scopes: [7] })).toBe("INVALID_INPUT");
    expect(await create({ name: " ", scopes: ["site.view"] })).toBe("INVALID_INPUT");
    expect(await create({ scopes: ["site.view"] })).toBe("INVALID_INPUT");
    expect(await create({ name: "k", scopes: ["site.view"], owner: "someone" })).toBe(
      "INVALID_INPUT",
    );
    expect(await create({ name: "k", scopes: ["site.view"], expiresAt: "tomorrow" })).toBe(
      "INVALID_INPUT",
    );
    expect(await create(null)).toBe("INVALID_INPUT");
    expect(await gatehouse.storage.db.selectFrom("api_keys").selectAll().execute()).toEqual([]);
  });

  it("is created only by a member signed in directly", async () => {
    const { ws, olivia } = await panel();
    const mallory = await person("mallory");
    const { secret } = await gatehouse.apiKeys.create(asUser(olivia.id), ws, {
      name: "k",
      scopes: ["*"],
    });
    const { context } = await gatehouse.apiKeys.authenticate(secret);
    const input = { name: "child", scopes: ["site.view"] };
    expect(await codeOf(gatehouse.apiKeys.create(context, ws, input))).toBe("PERMISSION_DENIED");
    expect(
      await codeOf(
        gatehouse.apiKeys.create({ actor: { type: "assistant", userId: olivia.id } }, ws, input),
      ),
    ).toBe("PERMISSION_DENIED");
    expect(await codeOf(gatehouse.apiKeys.create(systemActor(), ws, input))).toBe("INVALID_INPUT");
    expect(await codeOf(gatehouse.apiKeys.create(asUser(mallory.id), ws, input))).toBe(
      "WORKSPACE_NOT_FOUND",
    );
    const denied = await gatehouse.activityLog.list(asUser(olivia.id), ws, {
      action: "api_key.create",
      result: "denied",
    });
    expect(denied.entries.map((entry) => entry.actor)).toEqual([
      { type: "user", id: mallory.id, onBehalfOf: null },
      { type: "assistant", id: olivia.id, onBehalfOf: olivia.id },
      { type: "api_key", id: expect.any(String), onBehalfOf: olivia.id },
    ]);
    expect(await gatehouse.storage.db.selectFrom("api_keys").selectAll().execute()).toHaveLength(1);
  });

  it("shrinks when the owner is demoted", async () => {
    const { ws, olivia, otto } = await panel();
    const { secret } = await gatehouse.apiKeys.create(asUser(otto.id), ws, {
      name: "ops",
      scopes: ["*"],
    });
    const { context } = await gatehouse.apiKeys.authenticate(secret);
    expect(await allowed(context, ws, "site.deploy", "site:b")).toBe(true);
    expect(await allowed(context, ws, "server.restart", "server:s1")).toBe(true);
    await gatehouse.members.setGrants(asUser(olivia.id), ws, otto.id, [
      { role: "customer", scope: "site:a" },
    ]);
    expect(await allowed(context, ws, "site.deploy", "site:a")).toBe(true);
    expect(await allowed(context, ws, "site.deploy", "site:b")).toBe(false);
    expect(await allowed(context, ws, "server.restart", "server:s1")).toBe(false);
    // Promoting the owner again widens it again, within its permission patterns: the key follows the owner.
    await gatehouse.members.setGrants(asUser(olivia.id), ws, otto.id, [
      { role: "operator", scope: "server:s2" },
    ]);
    expect(await allowed(context, ws, "site.deploy", "site:a")).toBe(false);
    expect(await allowed(context, ws, "site.deploy", "site:c")).toBe(true);
  });

  it("dies when the owner is removed, and stays dead if they come back", async () => {
    const { ws, olivia, otto } = await panel();
    const owner = asUser(olivia.id);
    const { key, secret } = await gatehouse.apiKeys.create(asUser(otto.id), ws, {
      name: "ops",
      scopes: ["site.*"],
    });
    const { context } = await gatehouse.apiKeys.authenticate(secret);
    expect(await allowed(context, ws, "site.deploy", "site:a")).toBe(true);
    await gatehouse.members.remove(owner, ws, otto.id);
    expect(await codeOf(gatehouse.apiKeys.authenticate(secret))).toBe("INVALID_CREDENTIALS");
    expect(
      await codeOf(
        gatehouse.decisions.check(context, ws, { permission: "site.deploy", resource: "site:a" }),
      ),
    ).toBe("WORKSPACE_NOT_FOUND");
    const listed = (await gatehouse.apiKeys.list(owner, ws)).find((item) => item.id === key.id);
    expect(listed).toMatchObject({ status: "revoked", permissions: [] });

    await gatehouse.members.add(systemActor(), ws, {
      userId: otto.id,
      grants: [{ role: "operator", scope: "server:s1" }],
    });
    expect(await codeOf(gatehouse.apiKeys.authenticate(secret))).toBe("INVALID_CREDENTIALS");
    expect(
      await codeOf(
        gatehouse.decisions.check(context, ws, { permission: "site.deploy", resource: "site:a" }),
      ),
    ).toBe("WORKSPACE_NOT_FOUND");
  });

  it("works only at the resources it is constrained to, and below", async () => {
    const { ws, olivia, otto, carol } = await panel();
    const { key, secret } = await gatehouse.apiKeys.create(asUser(olivia.id), ws, {
      name: "site a",
      scopes: ["site.*", "server.*"],
      resources: ["site:a"],
    });
    expect(key.resources).toEqual(["site:a"]);
    const { context } = await gatehouse.apiKeys.authenticate(secret);
    expect(await allowed(context, ws, "site.deploy", "site:a")).toBe(true);
    expect(await allowed(context, ws, "site.deploy", "site:b")).toBe(false);
    expect(await allowed(context, ws, "server.restart", "server:s1")).toBe(false);

    const server = await gatehouse.apiKeys.create(asUser(otto.id), ws, {
      name: "server 1",
      scopes: ["*"],
      resources: ["server:s1"],
    });
    const serverContext = (await gatehouse.apiKeys.authenticate(server.secret)).context;
    expect(await allowed(serverContext, ws, "site.deploy", "site:b")).toBe(true);
    expect(await allowed(serverContext, ws, "server.restart", "server:s1")).toBe(true);

    // A resource that does not exist, or that the owner cannot see, answers as not found.
    const input = (resources: string[]) => ({ name: "k", scopes: ["site.view"], resources });
    expect(await codeOf(gatehouse.apiKeys.create(asUser(olivia.id), ws, input(["site:z"])))).toBe(
      "RESOURCE_NOT_FOUND",
    );
    expect(await codeOf(gatehouse.apiKeys.create(asUser(otto.id), ws, input(["site:c"])))).toBe(
      "RESOURCE_NOT_FOUND",
    );
    expect(await codeOf(gatehouse.apiKeys.create(asUser(carol.id), ws, input(["server:s1"])))).toBe(
      "RESOURCE_NOT_FOUND",
    );
    expect(
      await codeOf(gatehouse.apiKeys.create(asUser(olivia.id), ws, input(["planet:x"]))),
    ).toMatch(/^(UNKNOWN_RESOURCE_TYPE|INVALID_INPUT)$/);
    await gatehouse.apiKeys.create(asUser(carol.id), ws, input(["site:a"]));
  });

  it("expires: authentication fails and decisions deny once the clock passes expiresAt", async () => {
    const { ws, olivia, otto } = await panel();
    const { key, secret } = await gatehouse.apiKeys.create(asUser(otto.id), ws, {
      name: "temporary",
      scopes: ["site.*"],
      expiresAt: clock.now + HOUR,
    });
    expect(key).toMatchObject({ expiresAt: clock.now + HOUR, status: "active" });
    const { context } = await gatehouse.apiKeys.authenticate(secret);
    expect(await allowed(context, ws, "site.deploy", "site:a")).toBe(true);
    clock.now += HOUR;
    expect(await codeOf(gatehouse.apiKeys.authenticate(secret))).toBe("INVALID_CREDENTIALS");
    expect(
      await gatehouse.decisions.check(context, ws, {
        permission: "site.deploy",
        resource: "site:a",
      }),
    ).toMatchObject({ allowed: false, reason: "key_expired" });
    expect((await gatehouse.apiKeys.list(asUser(olivia.id), ws))[0]).toMatchObject({
      status: "expired",
    });
    expect(
      await codeOf(
        gatehouse.apiKeys.create(asUser(otto.id), ws, {
          name: "past",
          scopes: ["site.view"],
          expiresAt: clock.now,
        }),
      ),
    ).toBe("INVALID_INPUT");
  });

  it("is revoked by its owner or a people manager; others are denied and logged", async () => {
    const { ws, olivia, otto, carol, adam } = await panel();
    const first = await gatehouse.apiKeys.create(asUser(otto.id), ws, {
      name: "one",
      scopes: ["site.*"],
    });
    const second = await gatehouse.apiKeys.create(asUser(otto.id), ws, {
      name: "two",
      scopes: ["site.*"],
    });
    const context = (await gatehouse.apiKeys.authenticate(first.secret)).context;

    // Adam (admin) sees the team but may not manage people in mzpanel; Carol cannot even see it.
    expect(await codeOf(gatehouse.apiKeys.revoke(asUser(adam.id), ws, first.key.id))).toBe(
      "PERMISSION_DENIED",
    );
    expect(await codeOf(gatehouse.apiKeys.revoke(asUser(carol.id), ws, first.key.id))).toBe(
      "API_KEY_NOT_FOUND",
    );
    expect(await codeOf(gatehouse.apiKeys.revoke(asUser(otto.id), ws, "key_nope"))).toBe(
      "API_KEY_NOT_FOUND",
    );
    const denied = await gatehouse.activityLog.list(asUser(olivia.id), ws, {
      action: "api_key.revoke",
      result: "denied",
    });
    expect(denied.entries.map((entry) => entry.actor.id)).toEqual([carol.id, adam.id]);
    expect(await allowed(context, ws, "site.deploy", "site:a")).toBe(true);

    const revoked = await gatehouse.apiKeys.revoke(asUser(otto.id), ws, first.key.id);
    expect(revoked.key).toMatchObject({ status: "revoked", revokedAt: clock.now });
    expect(await codeOf(gatehouse.apiKeys.authenticate(first.secret))).toBe("INVALID_CREDENTIALS");
    expect(
      await codeOf(
        gatehouse.decisions.check(context, ws, { permission: "site.view", resource: "site:a" }),
      ),
    ).toBe("WORKSPACE_NOT_FOUND");
    // Revoking again changes nothing and writes nothing.
    const again = await gatehouse.apiKeys.revoke(asUser(otto.id), ws, first.key.id);
    expect(again.revision).toBe(revoked.revision);

    await gatehouse.apiKeys.revoke(asUser(olivia.id), ws, second.key.id);
    expect(await codeOf(gatehouse.apiKeys.authenticate(second.secret))).toBe("INVALID_CREDENTIALS");
    const log = await gatehouse.activityLog.list(asUser(olivia.id), ws, {
      action: "api_key.revoke",
      result: "success",
    });
    expect(log.entries.map((entry) => [entry.actor.id, entry.target])).toEqual([
      [olivia.id, `apikey:${second.key.id}`],
      [otto.id, `apikey:${first.key.id}`],
    ]);
  });

  it("lets a key revoke itself", async () => {
    const { ws, otto } = await panel();
    const { key, secret } = await gatehouse.apiKeys.create(asUser(otto.id), ws, {
      name: "leaked",
      scopes: ["site.view"],
    });
    const { context } = await gatehouse.apiKeys.authenticate(secret);
    await gatehouse.apiKeys.revoke(context, ws, key.id);
    expect(await codeOf(gatehouse.apiKeys.authenticate(secret))).toBe("INVALID_CREDENTIALS");
  });

  it("lists a member's own keys; the team gate shows everyone's", async () => {
    const { ws, olivia, otto, carol, adam } = await panel();
    const mallory = await person("mallory");
    const ottoKey = await gatehouse.apiKeys.create(asUser(otto.id), ws, {
      name: "otto",
      scopes: ["site.view"],
    });
    clock.now += 1000;
    const carolKey = await gatehouse.apiKeys.create(asUser(carol.id), ws, {
      name: "carol",
      scopes: ["site.view"],
    });
    const names = async (context: RequestContext) =>
      (await gatehouse.apiKeys.list(context, ws)).map((key) => key.name);
    expect(await names(asUser(otto.id))).toEqual(["otto"]);
    expect(await names(asUser(carol.id))).toEqual(["carol"]);
    expect(await names(asUser(adam.id))).toEqual(["otto", "carol"]);
    expect(await names(asUser(olivia.id))).toEqual(["otto", "carol"]);
    expect(await names(systemActor())).toEqual(["otto", "carol"]);
    expect(await codeOf(gatehouse.apiKeys.list(asUser(mallory.id), ws))).toBe(
      "WORKSPACE_NOT_FOUND",
    );
    const listed = await gatehouse.apiKeys.list(asUser(adam.id), ws);
    expect(listed.map((key) => key.id)).toEqual([ottoKey.key.id, carolKey.key.id]);
    expect(listed.every((key) => !("secret" in key) && !("secret_hash" in key))).toBe(true);
  });

  it("is restored from the store by another instance", async () => {
    const { ws, otto } = await panel();
    const { secret } = await gatehouse.apiKeys.create(asUser(otto.id), ws, {
      name: "ops",
      scopes: ["site.*"],
      resources: ["site:a"],
    });
    const other = createGatehouse({
      storage: gatehouse.storage,
      clock: () => clock.now,
      passwordCost: TEST_PASSWORD_COST,
    });
    const { context } = await other.apiKeys.authenticate(secret);
    const check = (resource: string) =>
      other.decisions.check(context, ws, { permission: "site.deploy", resource });
    expect(await check("site:a")).toMatchObject({ allowed: true });
    expect(await check("site:b")).toMatchObject({ allowed: false });
  });
});
