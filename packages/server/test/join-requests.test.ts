import { asUser } from "@gatehouse/service";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { backends, call, openServer, type Session, signUp, type TestServer } from "./harness.ts";

const DAY_MS = 24 * 60 * 60 * 1000;
const TAX_NUMBER = "DE123456789";

describe.each(backends)("join requests over HTTP on $name", (backend) => {
  let server: TestServer;

  beforeEach(async () => {
    server = await openServer(backend);
  });
  afterEach(async () => {
    await server.close();
  });

  /** A `company` workspace owned by Ada, whose join key is its tax number. */
  async function company() {
    const ada = await signUp(server.app, "ada");
    const ws = await server.gatehouse.workspaces.create(asUser(ada.userId), {
      name: "Ada GmbH",
      preset: "company",
    });
    await server.gatehouse.workspaces.updateSettings(asUser(ada.userId), ws.id, {
      joinKey: TAX_NUMBER,
    });
    return { ada, ws: ws.id };
  }

  function ask(session: Session | undefined, payload: unknown) {
    return call(server.app, session, "POST", "/v1/join-requests", payload);
  }

  function decide(session: Session, ws: string, id: string, verb: string, payload?: unknown) {
    return call(
      server.app,
      session,
      "POST",
      `/v1/workspaces/${ws}/join-requests/${id}/${verb}`,
      payload,
    );
  }

  it("asks to join by key with a note; a manager lists and approves it with a role", async () => {
    const { ada, ws } = await company();
    const bob = await signUp(server.app, "bob");
    const asked = await ask(bob, { joinKey: TAX_NUMBER, note: "New in finance" });
    expect(asked.statusCode).toBe(201);
    expect(asked.json()).toMatchObject({
      request: {
        workspaceId: ws,
        userId: bob.userId,
        email: "bob@example.com",
        note: "New in finance",
        status: "pending",
        decidedBy: null,
      },
    });
    const id = asked.json().request.id as string;

    const list = await call(server.app, ada, "GET", `/v1/workspaces/${ws}/join-requests`);
    expect(list.statusCode).toBe(200);
    expect(list.json().joinRequests.map((item: { id: string }) => item.id)).toEqual([id]);
    const decided = await call(
      server.app,
      ada,
      "GET",
      `/v1/workspaces/${ws}/join-requests?status=approved`,
    );
    expect(decided.json().joinRequests).toEqual([]);

    const approved = await decide(ada, ws, id, "approve", { role: "billing" });
    expect(approved.statusCode).toBe(200);
    expect(approved.json()).toMatchObject({
      request: { id, status: "approved", decidedBy: `user:${ada.userId}` },
    });
    expect(approved.json().revision).toBeGreaterThan(asked.json().revision);
    expect(approved.headers["x-gatehouse-revision"]).toBe(String(approved.json().revision));
    const me = (await call(server.app, bob, "GET", "/v1/me")).json();
    const joined = me.workspaces.find((workspace: { id: string }) => workspace.id === ws);
    expect(joined.grants.map((grant: { role: string }) => grant.role)).toEqual(["billing"]);

    const twice = await decide(ada, ws, id, "approve", { role: "billing" });
    expect(twice.statusCode).toBe(409);
    expect(twice.json().code).toBe("JOIN_REQUEST_DECIDED");
    const already = await ask(bob, { joinKey: TAX_NUMBER });
    expect(already.statusCode).toBe(409);
    expect(already.json().code).toBe("ALREADY_MEMBER");
  });

  it("rejects a request; the user may ask again, once a pending request is decided", async () => {
    const { ada, ws } = await company();
    const bob = await signUp(server.app, "bob");
    const id = (await ask(bob, { joinKey: TAX_NUMBER })).json().request.id as string;
    const pending = await ask(bob, { joinKey: TAX_NUMBER });
    expect(pending.statusCode).toBe(409);
    expect(pending.json().code).toBe("CONFLICT");

    const rejected = await decide(ada, ws, id, "reject");
    expect(rejected.statusCode).toBe(200);
    expect(rejected.json().request.status).toBe("rejected");
    expect((await decide(ada, ws, id, "reject", {})).json().code).toBe("JOIN_REQUEST_DECIDED");
    expect((await ask(bob, { joinKey: TAX_NUMBER })).statusCode).toBe(201);
  });

  it("allows 3 requests in 24 hours, then 429 with Retry-After", async () => {
    const { ada, ws } = await company();
    const bob = await signUp(server.app, "bob");
    for (let index = 0; index < 3; index++) {
      const asked = await ask(bob, { joinKey: TAX_NUMBER });
      expect(asked.statusCode).toBe(201);
      await decide(ada, ws, asked.json().request.id, "reject");
      server.clock.now += 60_000;
    }
    const limited = await ask(bob, { joinKey: TAX_NUMBER });
    expect(limited.statusCode).toBe(429);
    expect(limited.headers["content-type"]).toContain("application/problem+json");
    expect(limited.json().code).toBe("JOIN_REQUEST_RATE_LIMITED");
    // The first of the three frees up 24 hours after it was sent: 3 minutes ago.
    expect(Number(limited.headers["retry-after"])).toBe(DAY_MS / 1000 - 180);
    server.clock.now += DAY_MS - 180_000;
    expect((await ask(bob, { joinKey: TAX_NUMBER })).statusCode).toBe(201);
  });

  it("refuses bad input with 400, and unknown keys and a preset without join requests alike with 404", async () => {
    await company();
    const bob = await signUp(server.app, "bob");
    const extra = await ask(bob, { joinKey: TAX_NUMBER, role: "manager" });
    expect(extra.statusCode).toBe(400);
    expect(extra.headers["content-type"]).toContain("application/problem+json");
    expect(extra.json().code).toBe("INVALID_INPUT");
    expect((await ask(bob, { joinKey: TAX_NUMBER, note: "x".repeat(1001) })).statusCode).toBe(400);
    expect((await ask(bob, { joinKey: "" })).statusCode).toBe(400);
    expect((await ask(bob, {})).statusCode).toBe(400);
    const unknown = await ask(bob, { joinKey: "NL000000000" });
    expect(unknown.statusCode).toBe(404);
    expect(unknown.json().code).toBe("WORKSPACE_NOT_FOUND");
    const anonymous = await ask(undefined, { joinKey: TAX_NUMBER });
    expect(anonymous.statusCode).toBe(401);
    expect(anonymous.json().code).toBe("INVALID_CREDENTIALS");

    // MZPanel takes no join requests, even with a key set.
    const carol = await signUp(server.app, "carol");
    const panel = (await call(server.app, carol, "GET", "/v1/me")).json().workspaces[0].id;
    await server.gatehouse.workspaces.updateSettings(asUser(carol.userId), panel, {
      joinKey: "PANEL-1",
    });
    const disabled = await ask(bob, { joinKey: "PANEL-1" });
    expect(disabled.statusCode).toBe(404);
    expect(disabled.json().code).toBe("WORKSPACE_NOT_FOUND");
  });

  it("slows join-key guessing and answers an unknown key and a workspace without join requests alike (#14 finding 6)", async () => {
    await company();
    const carol = await signUp(server.app, "carol");
    const panel = (await call(server.app, carol, "GET", "/v1/me")).json().workspaces[0].id;
    await server.gatehouse.workspaces.updateSettings(asUser(carol.userId), panel, {
      joinKey: "PANEL-1",
    });
    const mallory = await signUp(server.app, "mallory");
    const unknown = await ask(mallory, { joinKey: "NL000000001" });
    const disabled = await ask(mallory, { joinKey: "PANEL-1" });
    const { instance: _unknownInstance, ...unknownAnswer } = unknown.json();
    const { instance: _disabledInstance, ...disabledAnswer } = disabled.json();
    expect({ status: disabled.statusCode, ...disabledAnswer }).toEqual({
      status: unknown.statusCode,
      ...unknownAnswer,
    });
    expect(unknown.statusCode).toBe(404);
    // Five wrong keys in 15 minutes; then every key waits, the right one too.
    for (const guess of ["NL000000002", "NL000000003", "NL000000004"])
      expect((await ask(mallory, { joinKey: guess })).statusCode).toBe(404);
    const slowed = await ask(mallory, { joinKey: TAX_NUMBER });
    expect(slowed.statusCode).toBe(429);
    expect(slowed.json().code).toBe("RATE_LIMITED");
    expect(Number(slowed.headers["retry-after"])).toBeGreaterThan(0);
    // Another person is not held back by Mallory's guesses.
    const bob = await signUp(server.app, "bob");
    expect((await ask(bob, { joinKey: TAX_NUMBER })).statusCode).toBe(201);
  });

  it("lets only managers decide: 403 for members without the gate, 404 for outsiders and unknown ids", async () => {
    const { ada, ws } = await company();
    const bob = await signUp(server.app, "bob");
    const carol = await signUp(server.app, "carol");
    const mallory = await signUp(server.app, "mallory");
    const bobRequest = (await ask(bob, { joinKey: TAX_NUMBER })).json().request.id as string;
    await decide(ada, ws, bobRequest, "approve", { role: "read_only" });
    const id = (await ask(carol, { joinKey: TAX_NUMBER })).json().request.id as string;

    const list = await call(server.app, bob, "GET", `/v1/workspaces/${ws}/join-requests`);
    expect(list.statusCode).toBe(403);
    expect(list.json().code).toBe("PERMISSION_DENIED");
    for (const response of [
      await decide(bob, ws, id, "approve", { role: "manager" }),
      await decide(bob, ws, id, "reject"),
    ]) {
      expect(response.statusCode).toBe(403);
      expect(response.json().code).toBe("PERMISSION_DENIED");
    }
    for (const response of [
      await call(server.app, mallory, "GET", `/v1/workspaces/${ws}/join-requests`),
      await decide(mallory, ws, id, "approve", { role: "billing" }),
      await decide(mallory, ws, id, "reject"),
    ]) {
      expect(response.statusCode).toBe(404);
      expect(response.json().code).toBe("WORKSPACE_NOT_FOUND");
    }
    const missing = await decide(ada, ws, "jrq_nothing", "reject");
    expect(missing.statusCode).toBe(404);
    expect(missing.json().code).toBe("JOIN_REQUEST_NOT_FOUND");

    const role = await decide(ada, ws, id, "approve", { role: "wizard" });
    expect(role.statusCode).toBe(400);
    expect(role.json().code).toBe("UNKNOWN_ROLE");
    expect((await decide(ada, ws, id, "approve", { role: "owner" })).json().code).toBe(
      "OWNER_ROLE_NOT_GRANTED",
    );
    expect((await decide(ada, ws, id, "approve", {})).json().code).toBe("INVALID_INPUT");
    expect((await decide(ada, ws, id, "approve", { role: "billing", x: 1 })).statusCode).toBe(400);
    expect((await decide(ada, ws, id, "reject", { reason: "no" })).json().code).toBe(
      "INVALID_INPUT",
    );
    const status = await call(
      server.app,
      ada,
      "GET",
      `/v1/workspaces/${ws}/join-requests?status=maybe`,
    );
    expect(status.statusCode).toBe(400);
    expect(
      (
        await call(server.app, ada, "GET", `/v1/workspaces/${ws}/join-requests?status=pending`)
      ).json().joinRequests,
    ).toHaveLength(1);
  });
});
