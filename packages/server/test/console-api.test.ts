import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { systemActor } from "@gatehouse/service";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  backends,
  call,
  expectProblem,
  openServer,
  type Session,
  signUp,
  type TestServer,
} from "./harness.ts";

const VIEW_AS = "x-gatehouse-view-as";

describe.each(backends)("the console's API on $name", (backend) => {
  let server: TestServer;

  afterEach(async () => {
    await server.close();
  });

  /** Olivia's MZPanel workspace: s1 holds sites a and b; Otto operates s1, Cara is customer of a. */
  async function panel() {
    server = await openServer(backend);
    const olivia = await signUp(server.app, "olivia");
    const ws = (await call(server.app, olivia, "GET", "/v1/me")).json().workspaces[0].id as string;
    const host = systemActor();
    await server.gatehouse.resources.upsert(host, ws, {
      resource: "server:s1",
      parent: `workspace:${ws}`,
    });
    await server.gatehouse.resources.upsert(host, ws, { resource: "site:a", parent: "server:s1" });
    await server.gatehouse.resources.upsert(host, ws, { resource: "site:b", parent: "server:s1" });
    const otto = await signUp(server.app, "otto");
    const cara = await signUp(server.app, "cara");
    for (const [member, role, scope] of [
      [otto, "operator", "server:s1"],
      [cara, "customer", "site:a"],
    ] as const) {
      await server.gatehouse.members.add(host, ws, {
        userId: member.userId,
        grants: [{ role, scope }],
      });
    }
    return { olivia, otto, cara, ws };
  }

  function get(session: Session, url: string, viewAs?: string) {
    return server.app.inject({
      method: "GET",
      url,
      headers: { ...session.headers, ...(viewAs === undefined ? {} : { [VIEW_AS]: viewAs }) },
    });
  }

  it("answers each member's own access, from which the console builds its navigation", async () => {
    const { olivia, cara, ws } = await panel();
    const owner = (await get(olivia, `/v1/workspaces/${ws}/access`)).json();
    expect(owner).toMatchObject({ isOwner: true, viewAs: null, navigation: "full" });
    expect(owner.workflows.managePeople).toBe(true);
    const customer = (await get(cara, `/v1/workspaces/${ws}/access`)).json();
    expect(customer).toMatchObject({
      userId: cara.userId,
      isOwner: false,
      grants: [{ role: "customer", scope: "site:a" }],
      sections: ["sites", "activity"],
      // MZPanel's Customer works in the hosting company's panel only (issue 16).
      navigation: "workspace-only",
    });
    expect(customer.workflows.viewTeam).toBe(false);
  });

  it("serves the role matrix to members and the seats to team viewers only", async () => {
    const { olivia, cara, ws } = await panel();
    const matrix = (await get(cara, `/v1/workspaces/${ws}/roles`)).json();
    expect(matrix.roles.map((role: { name: string }) => role.name)).toEqual([
      "owner",
      "admin",
      "operator",
      "customer",
    ]);
    expect((await get(olivia, `/v1/workspaces/${ws}/seats`)).json().seats).toEqual({
      members: 3,
      pending: 0,
      limit: null,
      remaining: null,
    });
    expectProblem(await get(cara, `/v1/workspaces/${ws}/seats`), 403, "PERMISSION_DENIED");
  });

  describe("view as", () => {
    it("answers the owner's reads exactly as the member would get them", async () => {
      const { olivia, cara, ws } = await panel();
      const sites = await get(
        olivia,
        `/v1/workspaces/${ws}/resources?type=site&permission=site.view`,
        cara.userId,
      );
      expect(sites.json().items).toEqual(["site:a"]);
      const access = (await get(olivia, `/v1/workspaces/${ws}/access`, cara.userId)).json();
      expect(access).toMatchObject({ userId: cara.userId, viewAs: { viewerId: olivia.userId } });
      expectProblem(
        await get(olivia, `/v1/workspaces/${ws}/members`, cara.userId),
        403,
        "PERMISSION_DENIED",
      );
      // A sibling site is as absent for the preview as for Cara herself.
      const sibling = (
        await get(olivia, `/v1/workspaces/${ws}/capabilities?resource=site:b`, cara.userId)
      ).json();
      expect(sibling.permissions).toEqual([]);
    });

    it("refuses every write, with or without a body", async () => {
      const { olivia, otto, cara, ws } = await panel();
      const response = await server.app.inject({
        method: "DELETE",
        url: `/v1/workspaces/${ws}/members/${cara.userId}`,
        headers: { ...olivia.headers, [VIEW_AS]: otto.userId },
      });
      expectProblem(response, 403, "PERMISSION_DENIED");
      const members = (await get(olivia, `/v1/workspaces/${ws}/members`)).json().members;
      expect(members).toHaveLength(3);
    });

    it("is for the owner's session on a workspace's routes only", async () => {
      const { olivia, otto, cara, ws } = await panel();
      expectProblem(
        await get(otto, `/v1/workspaces/${ws}/access`, cara.userId),
        403,
        "PERMISSION_DENIED",
      );
      expectProblem(await get(olivia, "/v1/me", cara.userId), 400, "INVALID_INPUT");
      expectProblem(
        await get(olivia, `/v1/workspaces/${ws}/access`, "usr_nobody"),
        404,
        "MEMBER_NOT_FOUND",
      );
      const created = await call(server.app, olivia, "POST", `/v1/workspaces/${ws}/api-keys`, {
        name: "ci",
        scopes: ["*"],
      });
      const bearer = await server.app.inject({
        method: "GET",
        url: `/v1/workspaces/${ws}/access`,
        headers: { authorization: `Bearer ${created.json().secret}`, [VIEW_AS]: cara.userId },
      });
      expectProblem(bearer, 403, "PERMISSION_DENIED");
    });
  });

  describe("invitation links", () => {
    it("copies a link that previews and accepts the invitation", async () => {
      const { olivia, ws } = await panel();
      const invited = await call(server.app, olivia, "POST", `/v1/workspaces/${ws}/invitations`, {
        email: "nina@example.com",
        role: "customer",
        scopes: ["site:b"],
      });
      const id = invited.json().invitation.id as string;
      const copied = await call(
        server.app,
        olivia,
        "POST",
        `/v1/workspaces/${ws}/invitations/${id}/link`,
      );
      expect(copied.statusCode).toBe(200);
      const link = copied.json().link as string;
      const token = /^http:\/\/localhost:8080\/invitations\/accept#([A-Za-z0-9_-]{40,})$/.exec(
        link,
      )?.[1];
      expect(token).toBeDefined();
      const preview = await call(server.app, undefined, "POST", "/v1/invitations/preview", {
        token,
      });
      expect(preview.json()).toMatchObject({
        workspaceName: "olivia's workspace",
        email: "nina@example.com",
        roleLabel: "Customer",
        scopes: ["site:b"],
        hasAccount: false,
      });
      const accepted = await call(server.app, undefined, "POST", "/v1/invitations/accept", {
        token,
        password: "a long enough passphrase",
      });
      expect(accepted.json()).toMatchObject({ workspaceId: ws, createdAccount: true });
      expectProblem(
        await call(server.app, undefined, "POST", "/v1/invitations/preview", { token }),
        409,
        "INVITATION_ALREADY_USED",
      );
    });

    it("copies links only for those who may revoke the invitation", async () => {
      const { olivia, cara, ws } = await panel();
      const invited = await call(server.app, olivia, "POST", `/v1/workspaces/${ws}/invitations`, {
        email: "nina@example.com",
        role: "customer",
        scopes: ["site:b"],
      });
      const url = `/v1/workspaces/${ws}/invitations/${invited.json().invitation.id}/link`;
      expectProblem(await call(server.app, cara, "POST", url), 403, "PERMISSION_DENIED");
      expectProblem(
        await call(server.app, undefined, "POST", "/v1/invitations/preview", { token: "x" }),
        404,
        "INVITATION_NOT_FOUND",
      );
    });
  });
});

describe("the development outbox", () => {
  let server: TestServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });
  const backend = backends[0]!;

  async function magicLinkFor(email: string) {
    await server!.app.inject({ method: "POST", url: "/v1/auth/magic-link", payload: { email } });
    // Sign-in mail goes out after the answer.
    await server!.gatehouse.mailSettled();
  }

  it("shows mail kept instead of sent, newest first, to this machine only", async () => {
    server = await openServer(backend, { env: { DEMO: "true" } });
    await signUp(server.app, "ada");
    await magicLinkFor("ada@example.com");
    const local = await server.app.inject({ method: "GET", url: "/v1/dev/outbox" });
    expect(local.statusCode).toBe(200);
    const [mail] = local.json().mails;
    expect(mail).toMatchObject({ to: "ada@example.com", subject: "Your Gatehouse sign-in link" });
    expect(mail.text).toMatch(/\/sign-in\/magic#/);
    const remote = await server.app.inject({
      method: "GET",
      url: "/v1/dev/outbox",
      remoteAddress: "203.0.113.7",
    });
    expectProblem(remote, 404, "NOT_FOUND");
    expect(remote.body).not.toContain("magic");
  });

  it("does not exist outside the development mode", async () => {
    server = await openServer(backend, { env: { DEMO: "false" } });
    expectProblem(
      await server.app.inject({ method: "GET", url: "/v1/dev/outbox" }),
      404,
      "NOT_FOUND",
    );
  });

  it("does not exist when SMTP is configured", async () => {
    server = await openServer(backend, {
      env: { DEMO: "true", SMTP_URL: "smtp://127.0.0.1:1" },
    });
    expectProblem(
      await server.app.inject({ method: "GET", url: "/v1/dev/outbox" }),
      404,
      "NOT_FOUND",
    );
  });
});

describe("serving the console", () => {
  let server: TestServer;
  let dir: string;
  const html = { accept: "text/html,application/xhtml+xml" };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "gatehouse-console-"));
    mkdirSync(join(dir, "assets"));
    writeFileSync(join(dir, "index.html"), "<!doctype html><title>Gatehouse</title>");
    writeFileSync(join(dir, "assets", "index-abc123.js"), "console.log(1)");
    server = await openServer(backends[0]!, { consoleDir: dir });
  });
  afterAll(async () => {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("serves the console's page at / with a strict content security policy", async () => {
    const page = await server.app.inject({ method: "GET", url: "/", headers: html });
    expect(page.statusCode).toBe(200);
    expect(page.body).toContain("<title>Gatehouse</title>");
    expect(page.headers["content-security-policy"]).toContain("script-src 'self'");
    expect(page.headers["x-frame-options"]).toBe("DENY");
  });

  it("answers the console's own paths with its page (SPA fallback)", async () => {
    const page = await server.app.inject({ method: "GET", url: "/w/ws_1/team", headers: html });
    expect(page.statusCode).toBe(200);
    expect(page.headers["content-type"]).toMatch(/^text\/html/);
  });

  it("serves built assets with a long cache", async () => {
    const asset = await server.app.inject({ method: "GET", url: "/assets/index-abc123.js" });
    expect(asset.statusCode).toBe(200);
    expect(asset.headers["cache-control"]).toContain("immutable");
  });

  it("never shadows the API, operator endpoints or reserved prefixes", async () => {
    for (const url of ["/v1/nope", "/assets/missing.js", "/.well-known/nothing"]) {
      expectProblem(
        await server.app.inject({ method: "GET", url, headers: html }),
        404,
        "NOT_FOUND",
      );
    }
    // The MCP endpoint and the published keys answer for themselves, never with the page.
    const mcp = await server.app.inject({ method: "GET", url: "/mcp", headers: html });
    expect(mcp.statusCode).toBe(405);
    const keys = await server.app.inject({
      method: "GET",
      url: "/.well-known/jwks.json",
      headers: html,
    });
    expect(keys.headers["content-type"]).toMatch(/^application\/jwk-set\+json/);
    expect(keys.json()).toHaveProperty("keys");
    expect((await server.app.inject({ method: "GET", url: "/healthz" })).json()).toEqual({
      status: "ok",
    });
    expect((await server.app.inject({ method: "GET", url: "/openapi.json" })).statusCode).toBe(200);
    // Non-browser clients get problems, not the page.
    expectProblem(await server.app.inject({ method: "GET", url: "/w/x" }), 404, "NOT_FOUND");
  });
});
