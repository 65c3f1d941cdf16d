import { systemActor } from "@gatehouse/service";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { backends, call, openServer, type Session, signUp, type TestServer } from "./harness.ts";

const DAY_MS = 24 * 60 * 60 * 1000;

/** Headers that authenticate with an API key. */
function bearer(secret: string): Session {
  return { userId: "", headers: { authorization: `Bearer ${secret}` } };
}

describe.each(backends)("API keys over HTTP on $name", (backend) => {
  let server: TestServer;
  let ada: Session;
  let otto: Session;
  let ws: string;

  /** Ada's MZPanel workspace: server s1 with site a, server s2; Otto operates server s1. */
  beforeEach(async () => {
    server = await openServer(backend);
    ada = await signUp(server.app, "ada");
    otto = await signUp(server.app, "otto");
    ws = (await call(server.app, ada, "GET", "/v1/me")).json().workspaces[0].id;
    const host = systemActor();
    await server.gatehouse.resources.upsert(host, ws, {
      resource: "server:s1",
      parent: `workspace:${ws}`,
    });
    await server.gatehouse.resources.upsert(host, ws, { resource: "site:a", parent: "server:s1" });
    await server.gatehouse.resources.upsert(host, ws, {
      resource: "server:s2",
      parent: `workspace:${ws}`,
    });
    await server.gatehouse.members.add(host, ws, {
      userId: otto.userId,
      grants: [{ role: "operator", scope: "server:s1" }],
    });
  });
  afterEach(async () => {
    await server.close();
  });

  function create(session: Session | undefined, payload: unknown) {
    return call(server.app, session, "POST", `/v1/workspaces/${ws}/api-keys`, payload);
  }

  function check(session: Session, permission: string, resource: string) {
    return call(server.app, session, "POST", `/v1/workspaces/${ws}/check`, {
      permission,
      resource,
    });
  }

  it("creates a key whose secret is shown once; as a Bearer it acts within its permission patterns only", async () => {
    const created = await create(ada, { name: "Deploy bot", scopes: ["site.*"] });
    expect(created.statusCode).toBe(201);
    const { key, secret, revision } = created.json();
    expect(secret).toMatch(/^gh_[A-Za-z0-9_-]{8}_[A-Za-z0-9_-]{43}$/);
    expect(secret.startsWith(`${key.prefix}_`)).toBe(true);
    expect(revision).toBeGreaterThan(0);
    expect(created.headers["x-gatehouse-revision"]).toBe(String(revision));
    expect(key).toMatchObject({
      name: "Deploy bot",
      ownerUserId: ada.userId,
      scopes: ["site.*"],
      resources: [],
      expiresAt: null,
      revokedAt: null,
      status: "active",
    });
    expect(key.permissions).toContain("site.deploy");
    expect(key.permissions).not.toContain("team.view");

    const list = await call(server.app, ada, "GET", `/v1/workspaces/${ws}/api-keys`);
    expect(list.statusCode).toBe(200);
    expect(list.json().keys.map((item: { id: string }) => item.id)).toEqual([key.id]);
    expect(list.body).not.toContain(secret);

    const robot = bearer(secret);
    const deploy = await check(robot, "site.deploy", "site:a");
    expect(deploy.statusCode).toBe(200);
    expect(deploy.json().allowed).toBe(true);
    expect((await check(robot, "server.restart", "server:s1")).json()).toEqual({
      allowed: false,
      reason: "key_scope",
    });
    const team = await call(server.app, robot, "GET", `/v1/workspaces/${ws}/invitations`);
    expect(team.statusCode).toBe(403);
    expect(team.json().code).toBe("PERMISSION_DENIED");
    // A key sees only its own workspace.
    const me = (await call(server.app, robot, "GET", "/v1/me")).json();
    expect(me.workspaces.map((workspace: { id: string }) => workspace.id)).toEqual([ws]);
  });

  it("revokes a key at once: the next request with it is 401", async () => {
    const { key, secret } = (await create(ada, { name: "CI", scopes: ["*"] })).json();
    expect((await check(bearer(secret), "site.view", "site:a")).statusCode).toBe(200);
    const url = `/v1/workspaces/${ws}/api-keys/${key.id}`;
    const revoked = await call(server.app, ada, "DELETE", url);
    expect(revoked.statusCode).toBe(200);
    expect(revoked.json().key).toMatchObject({ id: key.id, status: "revoked", permissions: [] });
    const after = await check(bearer(secret), "site.view", "site:a");
    expect(after.statusCode).toBe(401);
    expect(after.headers["content-type"]).toContain("application/problem+json");
    expect(after.json().code).toBe("INVALID_CREDENTIALS");
    expect((await call(server.app, ada, "DELETE", url)).statusCode).toBe(200);
    const listed = (await call(server.app, ada, "GET", `/v1/workspaces/${ws}/api-keys`)).json();
    expect(listed.keys[0].status).toBe("revoked");
  });

  it("remembers an authenticated key by its secret's digest, yet refuses it on the very next request once revoked, its owner removed or its workspace closed", async () => {
    const decide = (session: Session) =>
      call(server.app, session, "POST", `/v1/workspaces/${ws}/decision`, {
        permission: "site.view",
        resource: "site:a",
      });
    const keyOf = async (session: Session) => {
      const { key, secret } = (await create(session, { name: "cached", scopes: ["*"] })).json();
      const robot = bearer(secret);
      // Authenticated twice: the second answer comes from the remembered key.
      for (let i = 0; i < 2; i++) expect((await decide(robot)).statusCode).toBe(200);
      return { id: key.id as string, robot };
    };
    // Revoked through the service, not over HTTP: the next request is refused all the same.
    const revoked = await keyOf(ada);
    await server.gatehouse.apiKeys.revoke(systemActor(), ws, revoked.id);
    expect((await decide(revoked.robot)).statusCode).toBe(401);
    // Its owner removed: the key dies with the membership.
    const owners = await keyOf(otto);
    await server.gatehouse.members.remove(systemActor(), ws, otto.userId);
    expect((await decide(owners.robot)).statusCode).toBe(401);
    // Expired while remembered.
    const expiring = (
      await create(ada, { name: "soon", scopes: ["*"], expiresAt: server.clock.now + 1_000 })
    ).json();
    const soon = bearer(expiring.secret);
    expect((await decide(soon)).statusCode).toBe(200);
    server.clock.now += 1_000;
    expect((await decide(soon)).statusCode).toBe(401);
    // The workspace closed: every key of it is refused.
    const closing = await keyOf(ada);
    const name = (await call(server.app, ada, "GET", `/v1/workspaces/${ws}`)).json().name;
    await server.gatehouse.workspaces.close(systemActor(), ws, { confirmName: name });
    const closed = await decide(closing.robot);
    expect(closed.statusCode).toBe(401);
    expect(closed.json().code).toBe("INVALID_CREDENTIALS");
  });

  it("never exceeds its owner: constrained to resources, shrinking with the owner, dead once they leave", async () => {
    const created = await create(otto, {
      name: "Otto's deploys",
      scopes: ["site.*", "server.restart"],
      resources: ["site:a"],
    });
    expect(created.statusCode).toBe(201);
    const robot = bearer(created.json().secret);
    expect((await check(robot, "site.deploy", "site:a")).json().allowed).toBe(true);
    expect((await check(robot, "server.restart", "server:s1")).json()).toEqual({
      allowed: false,
      reason: "key_resource",
    });
    const outside = await create(otto, { name: "x", scopes: ["*"], resources: ["server:s2"] });
    expect(outside.statusCode).toBe(404);
    expect(outside.json().code).toBe("RESOURCE_NOT_FOUND");

    // Otto's list shows only his keys; the owner sees everyone's.
    await create(ada, { name: "Ada's", scopes: ["*"] });
    const ottoKeys = (await call(server.app, otto, "GET", `/v1/workspaces/${ws}/api-keys`)).json();
    expect(ottoKeys.keys.map((item: { name: string }) => item.name)).toEqual(["Otto's deploys"]);
    const allKeys = (await call(server.app, ada, "GET", `/v1/workspaces/${ws}/api-keys`)).json();
    expect(allKeys.keys).toHaveLength(2);

    // Demoted to the customer of site a, Otto no longer holds server.restart: neither does his key.
    const wide = bearer((await create(otto, { name: "wide", scopes: ["*"] })).json().secret);
    expect((await check(wide, "server.restart", "server:s1")).json().allowed).toBe(true);
    await server.gatehouse.members.setGrants(systemActor(), ws, otto.userId, [
      { role: "customer", scope: "site:a" },
    ]);
    expect((await check(wide, "server.restart", "server:s1")).json().allowed).toBe(false);
    expect((await check(wide, "site.deploy", "site:a")).json().allowed).toBe(true);

    await server.gatehouse.members.remove(systemActor(), ws, otto.userId);
    const gone = await check(robot, "site.view", "site:a");
    expect(gone.statusCode).toBe(401);
  });

  it("refuses expired keys with 401, and keys elsewhere as if the workspace did not exist", async () => {
    const expiring = await create(ada, {
      name: "Tomorrow",
      scopes: ["*"],
      expiresAt: server.clock.now + DAY_MS,
    });
    expect(expiring.json().key.expiresAt).toBe(server.clock.now + DAY_MS);
    const robot = bearer(expiring.json().secret);
    const ottoWs = (await call(server.app, otto, "GET", "/v1/me")).json().workspaces[0].id;
    const elsewhere = await call(server.app, robot, "POST", `/v1/workspaces/${ottoWs}/check`, {
      permission: "site.view",
      resource: "site:a",
    });
    expect(elsewhere.statusCode).toBe(404);
    expect(elsewhere.json().code).toBe("WORKSPACE_NOT_FOUND");
    server.clock.now += DAY_MS;
    expect((await check(robot, "site.view", "site:a")).statusCode).toBe(401);
    const malformed = await call(server.app, bearer("not a key"), "GET", "/v1/me");
    expect(malformed.statusCode).toBe(401);
    const basic = await server.app.inject({
      method: "GET",
      url: `/v1/workspaces/${ws}/api-keys`,
      headers: { authorization: "Basic YWRhOnB3" },
    });
    expect(basic.statusCode).toBe(401);
    expect(basic.json().code).toBe("INVALID_CREDENTIALS");
  });

  it("lets only a person signed in directly create keys; a key can accept no invitation nor ask to join", async () => {
    const { secret } = (await create(ada, { name: "CI", scopes: ["*"] })).json();
    const robot = bearer(secret);
    const byKey = await create(robot, { name: "child", scopes: ["*"] });
    expect(byKey.statusCode).toBe(403);
    expect(byKey.json().code).toBe("PERMISSION_DENIED");
    const accept = await call(server.app, robot, "POST", "/v1/invitations/accept", {
      token: "x".repeat(43),
    });
    expect(accept.statusCode).toBe(403);
    const join = await call(server.app, robot, "POST", "/v1/join-requests", { joinKey: "DE1234" });
    expect(join.statusCode).toBe(403);
    const anonymous = await create(undefined, { name: "x", scopes: ["*"] });
    expect(anonymous.statusCode).toBe(401);
  });

  it("refuses bad input with 400, unknown keys with 404 and others' keys by who may see them", async () => {
    for (const payload of [
      { name: "x", scopes: ["*"], admin: true },
      { name: "x", scopes: [] },
      { name: "", scopes: ["*"] },
      { name: "x", scopes: ["*"], expiresAt: 1.5 },
      { name: "x", scopes: ["*"], expiresAt: "tomorrow" },
      { name: "x", scopes: ["*"], expiresAt: server.clock.now - 1 },
      { name: "x", scopes: "*" },
    ]) {
      const response = await create(ada, payload);
      expect(response.statusCode).toBe(400);
      expect(response.headers["content-type"]).toContain("application/problem+json");
      expect(response.json().code).toBe("INVALID_INPUT");
    }
    const unknownScope = await create(ada, { name: "x", scopes: ["site.fly"] });
    expect(unknownScope.statusCode).toBe(400);

    const missing = await call(server.app, ada, "DELETE", `/v1/workspaces/${ws}/api-keys/key_none`);
    expect(missing.statusCode).toBe(404);
    expect(missing.json().code).toBe("API_KEY_NOT_FOUND");
    const adaKey = (await create(ada, { name: "Ada's", scopes: ["*"] })).json().key.id;
    const byOtto = await call(
      server.app,
      otto,
      "DELETE",
      `/v1/workspaces/${ws}/api-keys/${adaKey}`,
    );
    expect(byOtto.statusCode).toBe(404);
    expect(byOtto.json().code).toBe("API_KEY_NOT_FOUND");
    const mallory = await signUp(server.app, "mallory");
    for (const response of [
      await create(mallory, { name: "x", scopes: ["*"] }),
      await call(server.app, mallory, "GET", `/v1/workspaces/${ws}/api-keys`),
      await call(server.app, mallory, "DELETE", `/v1/workspaces/${ws}/api-keys/${adaKey}`),
    ]) {
      expect(response.statusCode).toBe(404);
      expect(response.json().code).toBe("WORKSPACE_NOT_FOUND");
    }
  });
});
