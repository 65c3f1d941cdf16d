import { systemActor } from "@gatehouse/service";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  backends,
  call,
  expectProblem,
  openServer,
  registerFleet,
  type Session,
  signUp,
  type TestServer,
} from "./harness.ts";

describe.each(backends)("decisions over HTTP on $name", (backend) => {
  let server: TestServer;
  let ada: Session;
  let carol: Session;
  let otto: Session;
  let ws: string;

  /**
   * Ada's MZPanel workspace: server s1 with sites a and b, server s2 with site c; Carol is the
   * customer of site a, Otto the operator of server s1.
   */
  beforeEach(async () => {
    server = await openServer(backend);
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
  });
  afterEach(async () => {
    await server.close();
  });

  function check(session: Session | undefined, payload: unknown) {
    return call(server.app, session, "POST", `/v1/workspaces/${ws}/check`, payload);
  }

  it("answers one question for the caller, with the grant that allows it", async () => {
    const allowed = await check(carol, { permission: "site.deploy", resource: "site:a" });
    expect(allowed.statusCode).toBe(200);
    expect(allowed.json()).toEqual({
      allowed: true,
      via: {
        subject: `user:${carol.userId}`,
        role: "customer",
        scope: "site:a",
        extras: [],
        expiresAt: null,
      },
    });
    const sibling = await check(carol, { permission: "site.deploy", resource: "site:b" });
    expect(sibling.json()).toMatchObject({ allowed: false });
    const missing = await check(carol, { permission: "site.deploy", resource: "site:nothing" });
    expect(missing.json()).toEqual({ allowed: false, reason: "not_found" });
    const server1 = await check(otto, { permission: "server.restart", resource: "server:s1" });
    expect(server1.json().allowed).toBe(true);
    // Outside the operator's reach, server:s2 answers like a missing resource.
    const server2 = await check(otto, { permission: "server.restart", resource: "server:s2" });
    expect(server2.json()).toEqual({ allowed: false, reason: "not_found" });
  });

  it("answers a batch in order, from one read", async () => {
    const response = await check(otto, {
      checks: [
        { permission: "site.deploy", resource: "site:b" },
        { permission: "site.deploy", resource: "site:c" },
        { permission: "billing.view", resource: `workspace:${ws}` },
        { permission: "server.view", resource: "server:s1" },
      ],
    });
    expect(response.statusCode).toBe(200);
    expect(response.json().results.map((result: { allowed: boolean }) => result.allowed)).toEqual([
      true,
      false,
      false,
      true,
    ]);
    expect((await check(otto, { checks: [] })).json()).toEqual({ results: [] });
    const full = Array.from({ length: 1000 }, () => ({
      permission: "site.view",
      resource: "site:a",
    }));
    const thousand = await check(carol, { checks: full });
    expect(thousand.statusCode).toBe(200);
    expect(thousand.json().results).toHaveLength(1000);
    const tooMany = await check(carol, { checks: [...full, full[0]] });
    expect(tooMany.statusCode).toBe(400);
    expect(tooMany.json().code).toBe("INVALID_INPUT");
  });

  it("answers one question at …/decision and a batch at …/decisions, each one shape, as …/check does", async () => {
    const post = (session: Session, path: string, payload: unknown) =>
      call(server.app, session, "POST", `/v1/workspaces/${ws}/${path}`, payload);
    const question = { permission: "site.deploy", resource: "site:a" };
    const one = await post(carol, "decision", question);
    expect(one.statusCode).toBe(200);
    expect(one.json()).toEqual((await check(carol, question)).json());
    expect(one.json()).toMatchObject({ allowed: true, via: { role: "customer", scope: "site:a" } });
    expect((await post(carol, "decision", { ...question, resource: "site:c" })).json()).toEqual({
      allowed: false,
      reason: "not_found",
    });
    const fresh = await post(carol, "decision", { ...question, atLeastRevision: 1 });
    expect(fresh.statusCode).toBe(200);
    const ahead = await post(carol, "decision", { ...question, atLeastRevision: 1_000_000 });
    expect(ahead.statusCode).toBe(400);
    // One shape each: a batch is not a question, a question is not a batch.
    const checks = [question, { permission: "server.view", resource: "server:s1" }];
    const misplaced = await post(carol, "decision", { checks });
    expect(misplaced.statusCode).toBe(400);
    expect(misplaced.json().code).toBe("INVALID_INPUT");
    expect((await post(carol, "decisions", question)).statusCode).toBe(400);
    const many = await post(otto, "decisions", { checks });
    expect(many.statusCode).toBe(200);
    expect(many.json()).toEqual((await check(otto, { checks })).json());
    expect(many.json().results.map((result: { allowed: boolean }) => result.allowed)).toEqual([
      true,
      true,
    ]);
    const tooMany = Array.from({ length: 1001 }, () => question);
    expect((await post(carol, "decisions", { checks: tooMany })).statusCode).toBe(400);
    const forCarol = { ...question, subject: `user:${carol.userId}` };
    expect((await post(ada, "decision", forCarol)).json().allowed).toBe(true);
    expect((await post(otto, "decision", forCarol)).statusCode).toBe(403);
    expect((await post(ada, "decisions", { checks: [forCarol] })).json().results[0].allowed).toBe(
      true,
    );
    const anonymous = await call(
      server.app,
      undefined,
      "POST",
      `/v1/workspaces/${ws}/decision`,
      question,
    );
    expect(anonymous.statusCode).toBe(401);
  });

  it("answers API keys at …/decision from the warm engine as from the store: patterns, resources, the team gate and its denial, 404s, atLeastRevision", async () => {
    const decide = (session: Session, payload: unknown, workspace = ws) =>
      call(server.app, session, "POST", `/v1/workspaces/${workspace}/decision`, payload);
    const keyOf = async (session: Session, payload: unknown): Promise<Session> => {
      const created = await call(server.app, session, "POST", `/v1/workspaces/${ws}/api-keys`, {
        name: "panel",
        ...(payload as object),
      });
      expect(created.statusCode).toBe(201);
      return { userId: "", headers: { authorization: `Bearer ${created.json().secret}` } };
    };
    const panel = await keyOf(ada, { scopes: ["site.*", "team.view"] });
    const robot = await keyOf(otto, {
      scopes: ["site.*", "server.restart"],
      resources: ["site:a"],
    });
    const wide = await keyOf(otto, { scopes: ["site.*"] });
    const forCarol = {
      permission: "site.deploy",
      resource: "site:a",
      subject: `user:${carol.userId}`,
    };
    // Twice each: the first may load or verify the workspace, the second is answered from memory.
    for (let round = 0; round < 2; round++) {
      expect((await decide(panel, forCarol)).json()).toMatchObject({
        allowed: true,
        via: { role: "customer", scope: "site:a" },
      });
      expect((await decide(panel, { ...forCarol, resource: "site:c" })).json().allowed).toBe(false);
      // Outside the key's permission patterns.
      expect(
        (await decide(panel, { permission: "server.restart", resource: "server:s1" })).json(),
      ).toMatchObject({ allowed: false });
      expect(
        (await decide(robot, { permission: "site.deploy", resource: "site:a" })).json(),
      ).toMatchObject({ allowed: true });
      expect(
        (await decide(robot, { permission: "server.restart", resource: "server:s1" })).json(),
      ).toEqual({ allowed: false, reason: "key_resource" });
      // Out of Otto's reach and nonexistent answer alike.
      for (const resource of ["site:c", "site:nowhere"])
        expect((await decide(wide, { permission: "site.view", resource })).json()).toEqual({
          allowed: false,
          reason: "not_found",
        });
      // So they do for a key limited to resources: its own limit tells nothing about the tree.
      for (const resource of ["site:c", "site:nowhere"])
        expect((await decide(robot, { permission: "site.deploy", resource })).json()).toEqual({
          allowed: false,
          reason: "not_found",
        });
      expectProblem(await decide(robot, forCarol), 403, "PERMISSION_DENIED");
      expectProblem(await decide(robot, { ...forCarol, subject: "carol" }), 400, "INVALID_INPUT");
      expectProblem(
        await decide(robot, { permission: "site.fly", resource: "site:a" }),
        400,
        "UNKNOWN_PERMISSION",
      );
    }
    // Each refused question about another member is in the activity log, by the key.
    const denied = await call(server.app, ada, "GET", `/v1/workspaces/${ws}/audit?result=denied`);
    const byRobot = denied
      .json()
      .entries.filter(
        (entry: { action: string; actor: { id: string } }) => entry.action === "team.view",
      );
    expect(byRobot).toHaveLength(2);
    expect(byRobot[0].actor).toMatchObject({ type: "api_key" });

    const mallory = await signUp(server.app, "mallory");
    const elsewhere = (await call(server.app, mallory, "GET", "/v1/me")).json().workspaces[0].id;
    expectProblem(
      await decide(panel, { permission: "site.view", resource: "site:a" }, elsewhere),
      404,
      "WORKSPACE_NOT_FOUND",
    );

    const revoked = await call(server.app, ada, "DELETE", `/v1/workspaces/${ws}/grants`, {
      subject: `user:${carol.userId}`,
      scope: "site:a",
    });
    const revision: number = revoked.json().revision;
    expect((await decide(panel, { ...forCarol, atLeastRevision: revision })).json().allowed).toBe(
      false,
    );
    expectProblem(
      await decide(panel, { ...forCarol, atLeastRevision: revision + 1 }),
      400,
      "INVALID_INPUT",
    );
    expectProblem(await decide(panel, { ...forCarol, atLeastRevision: -1 }), 400, "INVALID_INPUT");
  });

  it("asks about another member only for callers who may see the team", async () => {
    const question = {
      permission: "site.deploy",
      resource: "site:a",
      subject: `user:${carol.userId}`,
    };
    const asOwner = await check(ada, question);
    expect(asOwner.statusCode).toBe(200);
    expect(asOwner.json().allowed).toBe(true);
    const batch = await check(ada, {
      checks: [question, { ...question, subject: `user:${otto.userId}` }],
    });
    expect(batch.json().results.map((result: { allowed: boolean }) => result.allowed)).toEqual([
      true,
      true,
    ]);
    const asOtto = await check(otto, question);
    expect(asOtto.statusCode).toBe(403);
    expect(asOtto.json().code).toBe("PERMISSION_DENIED");
    const inBatch = await check(otto, {
      checks: [{ permission: "site.view", resource: "site:a" }, question],
    });
    expect(inBatch.statusCode).toBe(403);
    const malformed = await check(ada, { ...question, subject: "carol" });
    expect(malformed.statusCode).toBe(400);
    expect(malformed.json().code).toBe("INVALID_INPUT");
  });

  it("refuses unknown permissions and fields with 400, outsiders with 404, anonymous callers with 401", async () => {
    const unknown = await check(carol, { permission: "site.fly", resource: "site:a" });
    expect(unknown.statusCode).toBe(400);
    expect(unknown.headers["content-type"]).toContain("application/problem+json");
    expect(unknown.json().code).toBe("UNKNOWN_PERMISSION");
    const inBatch = await check(carol, {
      checks: [
        { permission: "site.view", resource: "site:a" },
        { permission: "site.fly", resource: "site:a" },
      ],
    });
    expect(inBatch.json().code).toBe("UNKNOWN_PERMISSION");
    for (const payload of [
      { permission: "site.view", resource: "site:a", admin: true },
      { permission: "site.view" },
      { checks: [{ permission: "site.view", resource: "site:a", x: 1 }] },
      { checks: [], permission: "site.view", resource: "site:a" },
      { permission: "site.view", resource: "x".repeat(301) },
    ]) {
      const response = await check(carol, payload);
      expect(response.statusCode).toBe(400);
      expect(response.json().code).toBe("INVALID_INPUT");
    }
    const mallory = await signUp(server.app, "mallory");
    const outsider = await check(mallory, { permission: "site.view", resource: "site:a" });
    expect(outsider.statusCode).toBe(404);
    expect(outsider.json().code).toBe("WORKSPACE_NOT_FOUND");
    const anonymous = await check(undefined, { permission: "site.view", resource: "site:a" });
    expect(anonymous.statusCode).toBe(401);
    expect(anonymous.json().code).toBe("INVALID_CREDENTIALS");
  });

  it("explains a decision: the grants considered and what would allow it", async () => {
    const url = `/v1/workspaces/${ws}/explain`;
    // Otto himself learns nothing about server:s2, as if it did not exist; a manager asking about him does.
    const hidden = await call(server.app, otto, "POST", url, {
      permission: "server.restart",
      resource: "server:s2",
    });
    expect(hidden.json()).toMatchObject({
      decision: { allowed: false, reason: "not_found" },
      suggestion: null,
    });
    const denied = await call(server.app, ada, "POST", url, {
      permission: "server.restart",
      resource: "server:s2",
      subject: `user:${otto.userId}`,
    });
    expect(denied.statusCode).toBe(200);
    const explanation = denied.json();
    expect(explanation).toMatchObject({
      subject: `user:${otto.userId}`,
      permission: "server.restart",
      resource: "server:s2",
      decision: { allowed: false, reason: "no_grant" },
      considered: [
        {
          grant: { role: "operator", scope: "server:s1" },
          throughGroup: null,
          outcome: "not_on_path",
        },
      ],
      key: null,
      suggestion: { role: "operator", scope: "server:s2" },
      ownerOnly: false,
    });
    expect(explanation.summary.length).toBeGreaterThan(0);
    const allowed = await call(server.app, ada, "POST", url, {
      permission: "site.deploy",
      resource: "site:a",
      subject: `user:${carol.userId}`,
    });
    expect(allowed.json()).toMatchObject({
      decision: { allowed: true, via: { role: "customer" } },
      suggestion: null,
    });
    const unknown = await call(server.app, otto, "POST", url, {
      permission: "server.fly",
      resource: "server:s1",
    });
    expect(unknown.json().code).toBe("UNKNOWN_PERMISSION");
    const other = await call(server.app, carol, "POST", url, {
      permission: "site.view",
      resource: "site:a",
      subject: `user:${otto.userId}`,
    });
    expect(other.statusCode).toBe(403);
    const extra = await call(server.app, carol, "POST", url, {
      checks: [{ permission: "site.view", resource: "site:a" }],
    });
    expect(extra.statusCode).toBe(400);
  });

  it("gives the caller's capabilities and navigation sections; an unknown resource has none", async () => {
    const capabilities = (resource: string, session = carol) =>
      call(
        server.app,
        session,
        "GET",
        `/v1/workspaces/${ws}/capabilities?resource=${encodeURIComponent(resource)}`,
      );
    const site = await capabilities("site:a");
    expect(site.statusCode).toBe(200);
    expect(site.json()).toMatchObject({ resource: "site:a", sections: ["sites", "activity"] });
    expect(site.json().permissions).toContain("site.deploy");
    expect(site.json().permissions).not.toContain("site.delete");
    const sibling = await capabilities("site:b");
    expect(sibling.json().permissions).toEqual([]);
    const unknown = await capabilities("site:nothing");
    expect(unknown.statusCode).toBe(200);
    expect(unknown.json().permissions).toEqual([]);
    const root = await capabilities(`workspace:${ws}`, ada);
    expect(root.json().sections).toEqual(
      expect.arrayContaining(["servers", "sites", "team", "billing", "settings"]),
    );
    expect(root.json().permissions).toContain("billing.manage");

    const otherSubject = await call(
      server.app,
      carol,
      "GET",
      `/v1/workspaces/${ws}/capabilities?resource=site:a&subject=user:${otto.userId}`,
    );
    expect(otherSubject.statusCode).toBe(403);
    const noResource = await call(server.app, carol, "GET", `/v1/workspaces/${ws}/capabilities`);
    expect(noResource.statusCode).toBe(400);
    expect(noResource.json().code).toBe("INVALID_INPUT");
    const extra = await call(
      server.app,
      carol,
      "GET",
      `/v1/workspaces/${ws}/capabilities?resource=site:a&verbose=1`,
    );
    expect(extra.statusCode).toBe(400);
    const outsider = await call(
      server.app,
      carol,
      "GET",
      "/v1/workspaces/ws_nothing/capabilities?resource=site:a",
    );
    expect(outsider.statusCode).toBe(404);
  });

  it("answers no staler than atLeastRevision, and refuses a revision not reached with 400", async () => {
    const revoked = await call(server.app, ada, "DELETE", `/v1/workspaces/${ws}/grants`, {
      subject: `user:${carol.userId}`,
      scope: "site:a",
    });
    expect(revoked.statusCode).toBe(200);
    const revision: number = revoked.json().revision;
    expect(revoked.headers["x-gatehouse-revision"]).toBe(String(revision));
    const question = {
      permission: "site.deploy",
      resource: "site:a",
      subject: `user:${carol.userId}`,
    };
    const fresh = await check(ada, { ...question, atLeastRevision: revision });
    expect(fresh.json()).toMatchObject({ allowed: false });
    const batch = await check(ada, { checks: [question], atLeastRevision: revision });
    expect(batch.json()).toEqual({ results: [expect.objectContaining({ allowed: false })] });
    const explained = await call(server.app, ada, "POST", `/v1/workspaces/${ws}/explain`, {
      ...question,
      atLeastRevision: revision,
    });
    expect(explained.json().decision.allowed).toBe(false);
    for (const url of [
      `/v1/workspaces/${ws}/capabilities?resource=site:a&atLeastRevision=${revision}`,
      `/v1/workspaces/${ws}/resources?type=site&permission=site.view&atLeastRevision=${revision}`,
    ])
      expect((await call(server.app, ada, "GET", url)).statusCode).toBe(200);

    expectProblem(
      await check(ada, { ...question, atLeastRevision: revision + 1 }),
      400,
      "INVALID_INPUT",
    );
    expectProblem(await check(ada, { ...question, atLeastRevision: -1 }), 400, "INVALID_INPUT");
    expectProblem(await check(ada, { ...question, atLeastRevision: "1" }), 400, "INVALID_INPUT");
    const ahead = `/v1/workspaces/${ws}/capabilities?resource=site:a&atLeastRevision=${revision + 1}`;
    expectProblem(await call(server.app, ada, "GET", ahead), 400, "INVALID_INPUT");
  });
});
