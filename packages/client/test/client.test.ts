import { readFileSync } from "node:fs";
import { type AddressInfo, connect, createServer, type Server, type Socket } from "node:net";
import { asUser, systemActor } from "@gatehouse/service";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  backends,
  call,
  openServer,
  registerFleet,
  type Session,
  signUp,
  type TestServer,
} from "../../server/test/harness.ts";
import { API_TYPES_FILE, generateApiTypes } from "../scripts/generate-api-types.ts";
import { createClient, type GatehouseClient, type LocalDecisions } from "../src/index.ts";

/** A TCP proxy in front of the server whose connections the test can cut, and restore. */
async function openProxy(target: number): Promise<{
  port: number;
  cut(): void;
  restore(): void;
  close(): Promise<void>;
}> {
  const sockets = new Set<Socket>();
  let refusing = false;
  const server: Server = createServer((client) => {
    if (refusing) {
      client.destroy();
      return;
    }
    const remote = connect(target, "127.0.0.1");
    for (const socket of [client, remote]) {
      sockets.add(socket);
      socket.on("close", () => sockets.delete(socket));
      socket.on("error", () => socket.destroy());
    }
    client.pipe(remote).pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: (server.address() as AddressInfo).port,
    cut() {
      refusing = true;
      for (const socket of sockets) socket.destroy();
    },
    restore() {
      refusing = false;
    },
    close: () =>
      new Promise((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

describe("the client's generated types", () => {
  it("are the server's OpenAPI document as it is now", async () => {
    expect(readFileSync(API_TYPES_FILE, "utf8")).toBe(await generateApiTypes());
  });
});

describe.each(backends)("the client SDK on $name", (backend) => {
  let server: TestServer;
  let port: number;
  let ada: Session;
  let carol: Session;
  let otto: Session;
  let ws: string;
  let gatehouse: GatehouseClient;
  const closing: (() => unknown)[] = [];

  /**
   * Ada's MZPanel workspace: server s1 with sites a and b, server s2 with site c; Carol is the
   * customer of site a, Otto the operator of s1. The client holds Ada's API key.
   */
  beforeEach(async () => {
    server = await openServer(backend);
    await server.app.listen({ port: 0, host: "127.0.0.1" });
    port = (server.app.server.address() as AddressInfo).port;
    ada = await signUp(server.app, "ada");
    carol = await signUp(server.app, "carol");
    otto = await signUp(server.app, "otto");
    ws = (await call(server.app, ada, "GET", "/v1/me")).json().workspaces[0].id;
    await registerFleet(server.gatehouse, ws);
    const host = systemActor();
    await server.gatehouse.members.add(host, ws, {
      userId: carol.userId,
      grants: [{ role: "customer", scope: "site:a" }],
    });
    await server.gatehouse.members.add(host, ws, {
      userId: otto.userId,
      grants: [{ role: "operator", scope: "server:s1" }],
    });
    const { secret } = await server.gatehouse.apiKeys.create(asUser(ada.userId), ws, {
      name: "panel backend",
      scopes: ["*"],
    });
    gatehouse = createClient({ baseUrl: `http://127.0.0.1:${port}`, apiKey: secret });
  });
  afterEach(async () => {
    for (const close of closing.splice(0).reverse()) await close();
    await server.close();
  });

  async function local(client = gatehouse): Promise<LocalDecisions> {
    const { data, error } = await client.localDecisions(ws);
    if (error !== undefined) throw new Error(error.code);
    closing.push(() => data.close());
    await until(() => data.state === "live");
    return data;
  }

  async function until(probe: () => boolean, limitMs = 5_000): Promise<void> {
    const deadline = Date.now() + limitMs;
    while (!probe()) {
      if (Date.now() > deadline) throw new Error("not within the limit");
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  it("checks site.deploy for a member the way a panel backend does", async () => {
    const { data, error } = await gatehouse.check(ws, {
      subject: `user:${carol.userId}`,
      permission: "site.deploy",
      resource: "site:a",
    });
    expect(error).toBeUndefined();
    expect(data).toEqual({
      allowed: true,
      via: {
        subject: `user:${carol.userId}`,
        role: "customer",
        scope: "site:a",
        extras: [],
        expiresAt: undefined,
      },
    });
    const batch = await gatehouse.checkMany(ws, [
      { subject: `user:${carol.userId}`, permission: "site.deploy", resource: "site:b" },
      { subject: `user:${otto.userId}`, permission: "server.restart", resource: "server:s1" },
    ]);
    expect(batch.data?.map((decision) => decision.allowed)).toEqual([false, true]);
  });

  it("lets a member elevate themself and end it early, the decision naming the elevation (#18)", async () => {
    const set = await gatehouse.setEligibility(ws, {
      subject: `user:${carol.userId}`,
      role: "operator",
      scope: "server:s1",
      maxDurationMs: 3_600_000,
    });
    expect(set.error).toBeUndefined();
    const eligibility = set.data!.eligibility;
    const asCarol = createClient({ baseUrl: `http://127.0.0.1:${port}`, headers: carol.headers });
    const listed = await asCarol.eligibilities(ws);
    expect(listed.data?.eligibilities.map((item) => item.id)).toEqual([eligibility.id]);
    const tooLong = await asCarol.elevate(ws, eligibility.id, {
      durationMs: 7_200_000,
      reason: "two hours",
    });
    expect(tooLong.error?.code).toBe("INVALID_INPUT");
    const { data, error } = await asCarol.elevate(ws, eligibility.id, {
      durationMs: 3_600_000,
      reason: "restart php",
    });
    expect(error).toBeUndefined();
    expect(data?.grant.note).toContain("restart php");
    const question = {
      subject: `user:${carol.userId}`,
      permission: "server.restart",
      resource: "server:s1",
    };
    expect((await gatehouse.check(ws, question)).data).toMatchObject({
      allowed: true,
      via: { role: "operator", note: data?.grant.note },
    });
    expect((await asCarol.endElevation(ws, eligibility.id)).error).toBeUndefined();
    expect((await gatehouse.check(ws, question)).data?.allowed).toBe(false);
    expect((await asCarol.removeEligibility(ws, eligibility.id)).error?.code).toBe(
      "PERMISSION_DENIED",
    );
    expect((await gatehouse.removeEligibility(ws, eligibility.id)).error).toBeUndefined();
    expect((await asCarol.eligibilities(ws)).data?.eligibilities).toEqual([]);
  });

  it("reads the workspace's model and its own roles", async () => {
    const { data, error } = await gatehouse.workspaceModel(ws);
    expect(error).toBeUndefined();
    expect(data).toMatchObject({ preset: "mzpanel", roles: [] });
    expect(data?.model).toMatchObject({ roles: { operator: expect.anything() } });
  });

  it("asks who can deploy a site, page by page", async () => {
    const first = await gatehouse.whoCan(ws, {
      permission: "site.deploy",
      resource: "site:a",
      limit: 2,
    });
    expect(first.error).toBeUndefined();
    const second = await gatehouse.whoCan(ws, {
      permission: "site.deploy",
      resource: "site:a",
      after: first.data?.next ?? "",
    });
    const subjects = [...(first.data?.items ?? []), ...(second.data?.items ?? [])].map(
      (item) => item.subject,
    );
    expect(subjects.sort()).toEqual(
      [`user:${ada.userId}`, `user:${carol.userId}`, `user:${otto.userId}`].sort(),
    );
    const missing = await gatehouse.whoCan(ws, { permission: "site.deploy", resource: "site:zz" });
    expect(missing.error?.code).toBe("RESOURCE_NOT_FOUND");
  });

  it("reads a resource's Permissions card, page by page", async () => {
    const first = await gatehouse.permissionsAt(ws, { resource: "site:a", limit: 1 });
    expect(first.error).toBeUndefined();
    const rest = await gatehouse.permissionsAt(ws, {
      resource: "site:a",
      after: first.data?.next ?? "",
    });
    const items = [...(first.data?.items ?? []), ...(rest.data?.items ?? [])];
    expect(items.map((item) => item.subject).sort()).toEqual(
      [`user:${ada.userId}`, `user:${carol.userId}`, `user:${otto.userId}`].sort(),
    );
    expect(items.every((item) => item.via.every((path) => path.place !== undefined))).toBe(true);
    // `q` searches the card by email or name.
    const carols = await gatehouse.permissionsAt(ws, { resource: "site:a", q: "CAROL" });
    expect(carols.data?.items.map((item) => item.subject)).toEqual([`user:${carol.userId}`]);
    const missing = await gatehouse.permissionsAt(ws, { resource: "site:zz" });
    expect(missing.error?.code).toBe("RESOURCE_NOT_FOUND");
  });

  it("previews an access change with a dry run: who loses what, and nothing written (issue 18)", async () => {
    const preview = await gatehouse.previewAccessChange(ws, {
      kind: "setGrants",
      userId: otto.userId,
      grants: [{ role: "customer", scope: "site:b" }],
    });
    expect(preview.error).toBeUndefined();
    const onSiteA = preview.data?.diff.find(
      (entry) => entry.subject === `user:${otto.userId}` && entry.resource === "site:a",
    );
    expect(onSiteA?.lost).toContain("site.deploy");
    const still = await gatehouse.check(ws, {
      subject: `user:${otto.userId}`,
      permission: "site.deploy",
      resource: "site:a",
    });
    expect(still.data?.allowed).toBe(true);
    const move = await gatehouse.previewAccessChange(ws, {
      kind: "move",
      resource: "site:a",
      parent: "server:s2",
    });
    expect(move.data?.diff.some((entry) => entry.subject === `user:${otto.userId}`)).toBe(true);
    const missing = await gatehouse.previewAccessChange(ws, {
      kind: "delete",
      resource: "site:zz",
    });
    expect(missing.error?.code).toBe("RESOURCE_NOT_FOUND");
  });

  it("answers every endpoint typed, and errors as values with their stable codes", async () => {
    const members = await gatehouse.api.GET("/v1/workspaces/{ws}/members", {
      params: { path: { ws } },
    });
    expect(members.data?.members.map((member) => member.email).sort()).toEqual([
      "ada@example.com",
      "carol@example.com",
      "otto@example.com",
    ]);
    const missing = await gatehouse.check("ws_nothing", {
      permission: "site.deploy",
      resource: "site:a",
    });
    expect(missing.data).toBeUndefined();
    expect(missing.error).toMatchObject({ status: 404, code: "WORKSPACE_NOT_FOUND" });
    const unknown = await gatehouse.check(ws, { permission: "site.fly", resource: "site:a" });
    expect(unknown.error?.code).toBe("UNKNOWN_PERMISSION");
    const stranger = createClient({ baseUrl: `http://127.0.0.1:${port}`, apiKey: "gh_nope" });
    expect(
      (await stranger.check(ws, { permission: "site.deploy", resource: "site:a" })).error?.code,
    ).toBe("INVALID_CREDENTIALS");
    const explained = await gatehouse.explain(ws, {
      subject: `user:${carol.userId}`,
      permission: "site.deploy",
      resource: "site:b",
    });
    expect(explained.data?.decision.allowed).toBe(false);
    expect(explained.data?.summary).toMatch(/denied/);
  });

  it("answers locally exactly as the server does, for every subject, permission and resource", async () => {
    const cache = await local();
    const { data: model } = await gatehouse.api.GET("/v1/workspaces/{ws}/model", {
      params: { path: { ws } },
    });
    const permissions = Object.keys((model!.model as { permissions: object }).permissions);
    const subjects = [ada, carol, otto].map((session) => `user:${session.userId}`);
    const resources = [
      `workspace:${ws}`,
      "server:s1",
      "site:a",
      "site:b",
      "server:s2",
      "site:c",
      "site:none",
    ];
    const questions = subjects.flatMap((subject) =>
      permissions.flatMap((permission) =>
        resources.map((resource) => ({ subject, permission, resource })),
      ),
    );
    const remote = await gatehouse.checkMany(ws, questions);
    const locally = await Promise.all(
      questions.map(async (q) => (await cache.check(q.subject, q.permission, q.resource)).data),
    );
    expect(locally).toEqual(remote.data);
    expect(cache.stats).toEqual({ local: questions.length, remote: 0 });
    const fleet = await cache.listVisible(`user:${otto.userId}`, "site", "site.view");
    expect(fleet.data?.items).toEqual(["site:a", "site:b"]);
    const onSite = await cache.permissionsOn(`user:${carol.userId}`, "site:a");
    const capabilities = await gatehouse.api.GET("/v1/workspaces/{ws}/capabilities", {
      params: { path: { ws }, query: { resource: "site:a", subject: `user:${carol.userId}` } },
    });
    expect(onSite.data).toEqual(capabilities.data?.permissions);
    // Navigation: the sections each member's own access answer names, from memory.
    for (const session of [ada, carol, otto]) {
      const access = await call(server.app, session, "GET", `/v1/workspaces/${ws}/access`);
      const sections = await cache.sections(`user:${session.userId}`);
      expect(sections.data).toEqual(access.json().sections);
    }
    expect((await cache.sections(`user:${otto.userId}`)).data).toEqual([
      "servers",
      "sites",
      "activity",
    ]);
    expect(cache.stats.remote).toBe(0);
  });

  it("follows the change stream: a revoke reaches the cache, which reports its revision", async () => {
    const cache = await local();
    const before = cache.revision;
    const revoked = await gatehouse.api.DELETE("/v1/workspaces/{ws}/grants", {
      params: { path: { ws } },
      body: { subject: `user:${carol.userId}`, scope: "site:a" },
    });
    const revision = revoked.data!.revision;
    expect(revision).toBeGreaterThan(before);
    // A check no staler than the write's revision waits for the stream, then answers locally.
    const { data } = await cache.check(`user:${carol.userId}`, "site.deploy", "site:a", {
      atLeastRevision: revision,
    });
    expect(data).toMatchObject({ allowed: false });
    expect(cache.revision).toBe(revision);
    expect(cache.stats.remote).toBe(0);
  });

  it("answers from the server while its stream is cut, then resumes from its revision", async () => {
    const proxy = await openProxy(port);
    closing.push(() => proxy.close());
    const { secret } = await server.gatehouse.apiKeys.create(asUser(ada.userId), ws, {
      name: "through the proxy",
      scopes: ["*"],
    });
    const proxied = createClient({ baseUrl: `http://127.0.0.1:${proxy.port}`, apiKey: secret });
    const cache = await local(proxied);
    proxy.cut();
    await until(() => cache.state === "behind");
    // Changes made meanwhile, straight to the server.
    const revoked = await gatehouse.api.DELETE("/v1/workspaces/{ws}/grants", {
      params: { path: { ws } },
      body: { subject: `user:${otto.userId}`, scope: "server:s1" },
    });
    await gatehouse.api.PUT("/v1/workspaces/{ws}/resources/{type}/{id}", {
      params: { path: { ws, type: "site", id: "d" } },
      body: { parent: "server:s2" },
    });
    proxy.restore();
    // Behind, it asks the server (through the restored proxy): never a stale allow.
    const { data } = await cache.check(`user:${otto.userId}`, "server.restart", "server:s1");
    expect(data).toMatchObject({ allowed: false });
    expect(cache.stats.remote).toBeGreaterThan(0);
    await until(() => cache.state === "live");
    expect(cache.revision).toBe(revoked.data!.revision + 1);
    const local0 = cache.stats.local;
    expect(
      (await cache.listVisible(`user:${ada.userId}`, "site", "site.view")).data?.items,
    ).toContain("site:d");
    expect(cache.stats.local).toBe(local0 + 1);
  });

  it("stops answering locally when its key loses the team gate, and says so", async () => {
    const { secret } = await server.gatehouse.apiKeys.create(asUser(otto.userId), ws, {
      name: "operator key",
      scopes: ["*"],
    });
    const operator = createClient({ baseUrl: `http://127.0.0.1:${port}`, apiKey: secret });
    const refused = await operator.localDecisions(ws);
    expect(refused.error?.code).toBe("PERMISSION_DENIED");

    const admin = await signUp(server.app, "adam");
    await server.gatehouse.members.add(systemActor(), ws, {
      userId: admin.userId,
      grants: [{ role: "admin", scope: `workspace:${ws}` }],
    });
    const adminKey = await server.gatehouse.apiKeys.create(asUser(admin.userId), ws, {
      name: "admin key",
      scopes: ["*"],
    });
    const adminClient = createClient({
      baseUrl: `http://127.0.0.1:${port}`,
      apiKey: adminKey.secret,
    });
    const cache = await local(adminClient);
    await server.gatehouse.members.setGrants(asUser(ada.userId), ws, admin.userId, [
      { role: "customer", scope: "site:c" },
    ]);
    await until(() => cache.state === "closed");
    // The server now answers — and refuses questions about others.
    const { error } = await cache.check(`user:${carol.userId}`, "site.deploy", "site:a");
    expect(error?.code).toBe("PERMISSION_DENIED");
  });
  it("asks for access as a member, and approves it narrower with the owner's key", async () => {
    // Otto, operator of server s1, asks for the customer role on its site b for two hours.
    const asOtto = createClient({ baseUrl: `http://127.0.0.1:${port}`, headers: otto.headers });
    const asked = await asOtto.requestAccess(ws, {
      role: "customer",
      scope: "site:b",
      reason: "Take over the shop's deploys",
      durationMinutes: 120,
    });
    expect(asked.error).toBeUndefined();
    const id = asked.data!.request.id;
    expect(asked.data!.request).toMatchObject({ status: "pending", durationMinutes: 120 });
    expect((await asOtto.accessRequests(ws, { mine: true })).data?.map((item) => item.id)).toEqual([
      id,
    ]);
    expect((await gatehouse.accessRequests(ws, { status: "pending" })).data?.[0]?.id).toBe(id);
    // Wider than asked is refused as a problem value, not a throw.
    const wider = await gatehouse.approveAccessRequest(ws, id, { durationMinutes: 121 });
    expect(wider.error?.code).toBe("INVALID_INPUT");
    const approved = await gatehouse.approveAccessRequest(ws, id, { durationMinutes: 30 });
    expect(approved.data?.request).toMatchObject({
      status: "approved",
      granted: { role: "customer", scope: "site:b" },
    });
    const explained = await asOtto.explain(ws, { permission: "site.deploy", resource: "site:b" });
    expect(
      explained.data?.considered.find((entry) => entry.accessRequest !== null)?.accessRequest,
    ).toMatchObject({ requestId: id, reason: "Take over the shop's deploys" });
    // Decided: withdrawing now is a conflict.
    expect((await asOtto.withdrawAccessRequest(ws, id)).error?.code).toBe("ACCESS_REQUEST_DECIDED");
    const again = await asOtto.requestAccess(ws, {
      role: "customer",
      scope: "site:a",
      reason: "Help Carol",
      durationMinutes: 10,
    });
    const rejected = await gatehouse.rejectAccessRequest(ws, again.data!.request.id, "Ask Carol");
    expect(rejected.data?.request).toMatchObject({
      status: "rejected",
      rejectionReason: "Ask Carol",
    });
  });
});
