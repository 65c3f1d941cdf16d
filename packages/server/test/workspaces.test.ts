import { systemActor } from "@gatehouse/service";
import { TOTP } from "otpauth";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  backends,
  call,
  expectProblem,
  hostCaller,
  openServer,
  type Session,
  signUp,
  type TestServer,
} from "./harness.ts";

/** The answer is an RFC 9457 problem with `status` and the stable `code`. */
describe.each(backends)("workspaces over HTTP on $name", (backend) => {
  let server: TestServer;

  beforeEach(async () => {
    server = await openServer(backend);
  });
  afterEach(async () => {
    await server.close();
  });

  /** An mzpanel workspace created over HTTP by Olivia, with an admin and a site customer. */
  async function panel() {
    const olivia = await signUp(server.app, "olivia");
    const created = await call(server.app, olivia, "POST", "/v1/workspaces", {
      name: "Acme hosting",
      preset: "mzpanel",
    });
    expect(created.statusCode).toBe(201);
    const ws: string = created.json().id;
    const host = systemActor();
    await server.gatehouse.resources.upsert(host, ws, {
      resource: "server:s1",
      parent: `workspace:${ws}`,
    });
    await server.gatehouse.resources.upsert(host, ws, { resource: "site:a", parent: "server:s1" });
    const ada = await signUp(server.app, "ada");
    const cara = await signUp(server.app, "cara");
    const eve = await signUp(server.app, "eve");
    await server.gatehouse.members.add(host, ws, {
      userId: ada.userId,
      grants: [{ role: "admin", scope: `workspace:${ws}` }],
    });
    await server.gatehouse.members.add(host, ws, {
      userId: cara.userId,
      grants: [{ role: "customer", scope: "site:a" }],
    });
    return { ws, olivia, ada, cara, eve };
  }

  const url = (ws: string) => `/v1/workspaces/${ws}`;

  it("creates a workspace (201, revision in body and header) and lists the caller's workspaces", async () => {
    const olivia = await signUp(server.app, "olivia");
    const created = await call(server.app, olivia, "POST", "/v1/workspaces", {
      name: "Acme",
      preset: "company",
      plan: "premium",
    });
    expect(created.statusCode).toBe(201);
    const workspace = created.json();
    expect(workspace).toMatchObject({
      name: "Acme",
      preset: "company",
      plan: "premium",
      personal: false,
      revision: 1,
      settings: { joinKey: null, require2fa: false, oneWorkspacePerEmail: true },
    });
    expect(created.headers["x-gatehouse-revision"]).toBe("1");
    const list = await call(server.app, olivia, "GET", "/v1/workspaces");
    expect(list.statusCode).toBe(200);
    const names = list.json().workspaces.map((ws: { name: string }) => ws.name);
    expect(names).toHaveLength(2); // the personal workspace from sign-up, and Acme
    expect(names).toContain("Acme");
    const read = await call(server.app, olivia, "GET", url(workspace.id));
    expect(read.json()).toEqual(workspace);
  });

  it("refuses anonymous callers with 401 and bad input with 400 before anything is stored", async () => {
    const olivia = await signUp(server.app, "olivia");
    expectProblem(
      await call(server.app, undefined, "GET", "/v1/workspaces"),
      401,
      "INVALID_CREDENTIALS",
    );
    expectProblem(
      await call(server.app, undefined, "POST", "/v1/workspaces", { name: "X", preset: "mzpanel" }),
      401,
      "INVALID_CREDENTIALS",
    );
    const extra = await call(server.app, olivia, "POST", "/v1/workspaces", {
      name: "Acme",
      preset: "mzpanel",
      ownerId: "someone-else",
    });
    expectProblem(extra, 400, "INVALID_INPUT");
    expect(extra.json().issues.length).toBeGreaterThan(0);
    expectProblem(
      await call(server.app, olivia, "POST", "/v1/workspaces", { name: "", preset: "mzpanel" }),
      400,
      "INVALID_INPUT",
    );
    expectProblem(
      await call(server.app, olivia, "POST", "/v1/workspaces", { name: "Acme", preset: "nope" }),
      400,
      "UNKNOWN_PRESET",
    );
    expectProblem(
      await call(server.app, olivia, "POST", "/v1/workspaces", {
        name: "Acme",
        preset: "company",
        plan: "gold",
      }),
      400,
      "UNKNOWN_PLAN",
    );
    expect(
      (await call(server.app, olivia, "GET", "/v1/workspaces")).json().workspaces,
    ).toHaveLength(1);
  });

  it("answers 404 to outsiders and for unknown workspaces, as if they did not exist", async () => {
    const { ws, eve } = await panel();
    expectProblem(await call(server.app, eve, "GET", url(ws)), 404, "WORKSPACE_NOT_FOUND");
    expectProblem(
      await call(server.app, eve, "PATCH", url(ws), { name: "Mine" }),
      404,
      "WORKSPACE_NOT_FOUND",
    );
    expectProblem(
      await call(server.app, eve, "DELETE", url(ws), { confirmName: "Acme hosting" }),
      404,
      "WORKSPACE_NOT_FOUND",
    );
    expectProblem(
      await call(server.app, eve, "POST", `${url(ws)}/transfer-ownership`, { userId: eve.userId }),
      404,
      "WORKSPACE_NOT_FOUND",
    );
    expectProblem(
      await call(server.app, eve, "GET", url("ws_missing")),
      404,
      "WORKSPACE_NOT_FOUND",
    );
    expect(
      (await call(server.app, eve, "GET", "/v1/workspaces"))
        .json()
        .workspaces.map((workspace: { id: string }) => workspace.id),
    ).not.toContain(ws);
  });

  it("shows settings to those who may see the team, and not to a site customer", async () => {
    const { ws, ada, cara } = await panel();
    expect((await call(server.app, ada, "GET", url(ws))).json().settings).toBeDefined();
    const customerView = await call(server.app, cara, "GET", url(ws));
    expect(customerView.statusCode).toBe(200);
    expect(customerView.json().settings).toBeUndefined();
  });

  it("renames and changes settings, answering the workspace at its new revision", async () => {
    const { ws, olivia } = await panel();
    const before = (await call(server.app, olivia, "GET", url(ws))).json().revision;
    const renamed = await call(server.app, olivia, "PATCH", url(ws), { name: "Acme Ltd" });
    expect(renamed.statusCode).toBe(200);
    expect(renamed.json()).toMatchObject({ name: "Acme Ltd", revision: before + 1 });
    expect(renamed.headers["x-gatehouse-revision"]).toBe(String(before + 1));
    const settings = await call(server.app, olivia, "PATCH", url(ws), {
      joinKey: "DE123456789",
      oneWorkspacePerEmail: true,
    });
    expect(settings.statusCode).toBe(200);
    expect(settings.json()).toMatchObject({
      revision: before + 2,
      settings: { joinKey: "DE123456789", require2fa: false, oneWorkspacePerEmail: true },
    });
    const off = await call(server.app, olivia, "PATCH", url(ws), {
      joinKey: null,
      oneWorkspacePerEmail: null,
    });
    expect(off.json().settings).toMatchObject({ joinKey: null, oneWorkspacePerEmail: false });
  });

  it("refuses to require two-factor sign-in from an owner without it, until they enrol (#16)", async () => {
    const { ws, olivia } = await panel();
    const before = (await call(server.app, olivia, "GET", url(ws))).json();
    expectProblem(
      await call(server.app, olivia, "PATCH", url(ws), { name: "Acme Ltd", require2fa: true }),
      409,
      "TOTP_NOT_ENABLED",
    );
    // Nothing of the refused patch is applied, not even the rename beside it.
    expect((await call(server.app, olivia, "GET", url(ws))).json()).toEqual(before);
    const { secret } = (await call(server.app, olivia, "POST", "/v1/auth/totp/enroll")).json();
    const totp = new TOTP({ secret, digits: 6, period: 30, algorithm: "SHA1" });
    const code = totp.generate({ timestamp: server.clock.now });
    expect(
      (await call(server.app, olivia, "POST", "/v1/auth/totp/confirm", { code })).statusCode,
    ).toBe(204);
    const required = await call(server.app, olivia, "PATCH", url(ws), { require2fa: true });
    expect(required.statusCode).toBe(200);
    expect(required.json().settings).toMatchObject({ require2fa: true });
    // Her own session survives the policy she set; turning it off needs no second factor.
    const off = await call(server.app, olivia, "PATCH", url(ws), { require2fa: false });
    expect(off.json().settings).toMatchObject({ require2fa: false });
  });

  it("refuses unknown fields, empty patches and bad values with 400, changing nothing", async () => {
    const { ws, olivia } = await panel();
    const before = (await call(server.app, olivia, "GET", url(ws))).json();
    for (const body of [
      {},
      { name: "Acme", revision: 99 },
      { personal: true },
      { require2fa: "yes" },
      { joinKey: "abc" },
      { name: "x".repeat(201) },
    ]) {
      expectProblem(await call(server.app, olivia, "PATCH", url(ws), body), 400, "INVALID_INPUT");
    }
    expectProblem(
      await call(server.app, olivia, "PATCH", url(ws), { name: "   " }),
      400,
      "INVALID_INPUT",
    );
    expect((await call(server.app, olivia, "GET", url(ws))).json()).toEqual(before);
  });

  it("denies settings to an admin (403) and leaves a plan with no plan permission to the host application, not the owner (#14 finding 10)", async () => {
    const { ws, ada } = await panel();
    expectProblem(
      await call(server.app, ada, "PATCH", url(ws), { name: "Ada's now" }),
      403,
      "PERMISSION_DENIED",
    );
    const olivia = await signUp(server.app, "owen");
    const company = (
      await call(server.app, olivia, "POST", "/v1/workspaces", { name: "Co", preset: "company" })
    ).json();
    expect(company.plan).toBe("standard");
    // "Contact support to upgrade your plan": the owner cannot lift the member limit themselves.
    expectProblem(
      await call(server.app, olivia, "PATCH", url(company.id), { plan: "pci" }),
      403,
      "PERMISSION_DENIED",
    );
    const access = await call(server.app, olivia, "GET", `${url(company.id)}/access`);
    expect(access.json().workflows).toMatchObject({ ownerOnly: true, changePlan: false });
    expect((await call(server.app, olivia, "GET", url(company.id))).json().plan).toBe("standard");
    const host = await hostCaller(server.gatehouse);
    const upgraded = await call(server.app, host, "PATCH", url(company.id), { plan: "pci" });
    expect(upgraded.statusCode).toBe(200);
    expect(upgraded.json()).toMatchObject({ plan: "pci", revision: company.revision + 1 });
    expectProblem(
      await call(server.app, host, "PATCH", url(company.id), { plan: "gold" }),
      400,
      "UNKNOWN_PLAN",
    );
    const manager = await signUp(server.app, "mona");
    await server.gatehouse.members.add(systemActor(), company.id, {
      userId: manager.userId,
      grants: [{ role: "manager", scope: `workspace:${company.id}` }],
    });
    expectProblem(
      await call(server.app, manager, "PATCH", url(company.id), { plan: "standard" }),
      403,
      "PERMISSION_DENIED",
    );
    // The company's settings gate is company.manage, which a manager holds.
    const renamed = await call(server.app, manager, "PATCH", url(company.id), { name: "Co GmbH" });
    expect(renamed.json().name).toBe("Co GmbH");
  });

  it("applies the plan, the settings and the name of one PATCH at one revision", async () => {
    const owen = await signUp(server.app, "owen");
    const company = (
      await call(server.app, owen, "POST", "/v1/workspaces", { name: "Co", preset: "company" })
    ).json();
    const patched = await call(
      server.app,
      await hostCaller(server.gatehouse),
      "PATCH",
      url(company.id),
      {
        plan: "pci",
        require2fa: true,
        name: "Co GmbH",
      },
    );
    expect(patched.statusCode).toBe(200);
    expect(patched.json()).toMatchObject({
      name: "Co GmbH",
      plan: "pci",
      settings: { require2fa: true },
      revision: company.revision + 1,
    });
    expect(patched.headers["x-gatehouse-revision"]).toBe(String(company.revision + 1));
  });

  it("leaves the plan unchanged when the settings of the same PATCH are refused", async () => {
    const { ws, olivia } = await panel();
    const taken = await call(server.app, olivia, "PATCH", url(ws), { joinKey: "DE123456789" });
    expect(taken.statusCode).toBe(200);
    const owen = await signUp(server.app, "owen");
    const second = (
      await call(server.app, owen, "POST", "/v1/workspaces", { name: "Co", preset: "company" })
    ).json();
    expectProblem(
      await call(server.app, await hostCaller(server.gatehouse), "PATCH", url(second.id), {
        plan: "pci",
        joinKey: "DE123456789",
      }),
      409,
      "CONFLICT",
    );
    expect((await call(server.app, owen, "GET", url(second.id))).json()).toEqual(second);
  });

  it("closes only with the exact name (400 CONFIRMATION_MISMATCH), for the owner only; 204 with the revision header", async () => {
    const { ws, olivia, ada } = await panel();
    expectProblem(
      await call(server.app, olivia, "DELETE", url(ws), { confirmName: "acme hosting" }),
      400,
      "CONFIRMATION_MISMATCH",
    );
    expectProblem(await call(server.app, olivia, "DELETE", url(ws), {}), 400, "INVALID_INPUT");
    expectProblem(
      await call(server.app, ada, "DELETE", url(ws), { confirmName: "Acme hosting" }),
      403,
      "PERMISSION_DENIED",
    );
    const before = (await call(server.app, olivia, "GET", url(ws))).json().revision;
    const closed = await call(server.app, olivia, "DELETE", url(ws), {
      confirmName: "Acme hosting",
    });
    expect(closed.statusCode).toBe(204);
    expect(closed.body).toBe("");
    expect(Number(closed.headers["x-gatehouse-revision"])).toBe(before + 1);
    expectProblem(await call(server.app, olivia, "GET", url(ws)), 404, "WORKSPACE_NOT_FOUND");
    expectProblem(await call(server.app, ada, "GET", url(ws)), 404, "WORKSPACE_NOT_FOUND");
    const ids = (await call(server.app, olivia, "GET", "/v1/workspaces"))
      .json()
      .workspaces.map((workspace: { id: string }) => workspace.id);
    expect(ids).not.toContain(ws);
  });

  it("transfers ownership; the old owner becomes admin", async () => {
    const { ws, olivia, ada } = await panel();
    const transfer = await call(server.app, olivia, "POST", `${url(ws)}/transfer-ownership`, {
      userId: ada.userId,
    });
    expect(transfer.statusCode).toBe(200);
    expect(transfer.json()).toEqual({ revision: expect.any(Number) });
    expect(transfer.headers["x-gatehouse-revision"]).toBe(String(transfer.json().revision));
    const members = (await call(server.app, ada, "GET", `${url(ws)}/members`)).json().members;
    const roleOf = (session: Session) =>
      members
        .find((member: { userId: string }) => member.userId === session.userId)
        .grants.map((grant: { role: string }) => grant.role);
    expect(roleOf(ada)).toEqual(["owner"]);
    expect(roleOf(olivia)).toEqual(["admin"]);
    // Olivia is no longer the owner.
    expectProblem(
      await call(server.app, olivia, "POST", `${url(ws)}/transfer-ownership`, {
        userId: olivia.userId,
      }),
      403,
      "PERMISSION_DENIED",
    );
  });

  it("refuses transfers to non-members (404), with unknown fields (400), and where support-only (403 TRANSFER_NOT_SELF_SERVICE)", async () => {
    const { ws, olivia, eve } = await panel();
    expectProblem(
      await call(server.app, olivia, "POST", `${url(ws)}/transfer-ownership`, {
        userId: eve.userId,
      }),
      404,
      "MEMBER_NOT_FOUND",
    );
    expectProblem(
      await call(server.app, olivia, "POST", `${url(ws)}/transfer-ownership`, {
        userId: eve.userId,
        force: true,
      }),
      400,
      "INVALID_INPUT",
    );
    const company = (
      await call(server.app, olivia, "POST", "/v1/workspaces", { name: "Co", preset: "company" })
    ).json();
    const mona = await signUp(server.app, "mona");
    await server.gatehouse.members.add(systemActor(), company.id, {
      userId: mona.userId,
      grants: [{ role: "manager", scope: `workspace:${company.id}` }],
    });
    expectProblem(
      await call(server.app, olivia, "POST", `${url(company.id)}/transfer-ownership`, {
        userId: mona.userId,
      }),
      403,
      "TRANSFER_NOT_SELF_SERVICE",
    );
  });

  it("lists only the API key's own workspace, and refuses workspace creation by key", async () => {
    const { ws, olivia } = await panel();
    const { secret } = await server.gatehouse.apiKeys.create(
      { actor: { type: "user", userId: olivia.userId } },
      ws,
      { name: "CI", scopes: ["server.view"] },
    );
    const key = { userId: olivia.userId, headers: { authorization: `Bearer ${secret}` } };
    const list = await call(server.app, key, "GET", "/v1/workspaces");
    expect(list.json().workspaces.map((workspace: { id: string }) => workspace.id)).toEqual([ws]);
    expectProblem(
      await call(server.app, key, "POST", "/v1/workspaces", { name: "X", preset: "mzpanel" }),
      403,
      "PERMISSION_DENIED",
    );
  });

  it("documents the revision header in the OpenAPI description", async () => {
    const spec = (await server.app.inject({ method: "GET", url: "/openapi.json" })).json();
    const close = spec.paths["/v1/workspaces/{ws}"].delete.responses["204"];
    expect(close.headers["x-gatehouse-revision"]).toBeDefined();
    const patch = spec.paths["/v1/workspaces/{ws}"].patch.responses["200"];
    expect(patch.headers["x-gatehouse-revision"]).toBeDefined();
  });
});
