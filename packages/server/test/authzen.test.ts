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

describe.each(backends)("the AuthZEN Authorization API over HTTP on $name", (backend) => {
  let server: TestServer;
  let ada: Session;
  let carol: Session;
  let otto: Session;
  let bot: Session;
  let ws: string;

  /**
   * Ada's MZPanel workspace: server s1 with sites a and b, server s2 with site c; Carol is the
   * customer of site a, Otto the operator of server s1; `bot` is Ada's API key.
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
    const created = await call(server.app, ada, "POST", `/v1/workspaces/${ws}/api-keys`, {
      name: "PEP",
      scopes: ["*"],
    });
    bot = { userId: ada.userId, headers: { authorization: `Bearer ${created.json().secret}` } };
  });
  afterEach(async () => {
    await server.close();
  });

  const post = (session: Session, path: string, body: unknown) =>
    call(server.app, session, "POST", `/v1/workspaces/${ws}/access/v1/${path}`, body);
  const user = (session: Session) => ({ type: "user", id: session.userId });

  it("publishes the workspace's PDP metadata at the well-known path", async () => {
    const response = await call(
      server.app,
      undefined,
      "GET",
      `/.well-known/authzen-configuration/v1/workspaces/${ws}`,
    );
    expect(response.statusCode).toBe(200);
    const metadata = response.json();
    expect(metadata.policy_decision_point).toMatch(new RegExp(`/v1/workspaces/${ws}$`));
    for (const [field, path] of [
      ["access_evaluation_endpoint", "evaluation"],
      ["access_evaluations_endpoint", "evaluations"],
      ["search_subject_endpoint", "search/subject"],
      ["search_resource_endpoint", "search/resource"],
      ["search_action_endpoint", "search/action"],
    ] as const)
      expect(metadata[field]).toBe(`${metadata.policy_decision_point}/access/v1/${path}`);
  });

  it("evaluates one request: a decision, with the grant or the reason as context", async () => {
    const allowed = await post(bot, "evaluation", {
      subject: user(carol),
      action: { name: "site.deploy" },
      resource: { type: "site", id: "a" },
    });
    expect(allowed.statusCode).toBe(200);
    expect(allowed.json()).toEqual({
      decision: true,
      context: {
        via: {
          subject: `user:${carol.userId}`,
          role: "customer",
          scope: "site:a",
          extras: [],
          expiresAt: null,
        },
      },
    });
    const denied = await post(bot, "evaluation", {
      subject: user(carol),
      action: { name: "site.deploy" },
      resource: { type: "site", id: "b" },
      context: { time: "2026-12-06T21:00:00Z" },
    });
    expect(denied.json()).toEqual({ decision: false, context: { reason: "no_grant" } });
    // A member asks about themselves; asking about someone else needs the team gate.
    const own = await post(carol, "evaluation", {
      subject: user(carol),
      action: { name: "site.deploy" },
      resource: { type: "site", id: "a" },
    });
    expect(own.json().decision).toBe(true);
    expectProblem(
      await post(carol, "evaluation", {
        subject: user(otto),
        action: { name: "site.deploy" },
        resource: { type: "site", id: "a" },
      }),
      403,
      "PERMISSION_DENIED",
    );
  });

  it("evaluates a batch with top-level defaults and each evaluations_semantic", async () => {
    const body = {
      subject: user(carol),
      resource: { type: "site", id: "a" },
      evaluations: [
        { action: { name: "site.deploy" } },
        { action: { name: "site.deploy" }, resource: { type: "site", id: "b" } },
        {
          action: { name: "server.restart" },
          subject: user(otto),
          resource: { type: "server", id: "s1" },
        },
      ],
    };
    const all = await post(bot, "evaluations", body);
    expect(all.statusCode).toBe(200);
    expect(all.json().evaluations.map((e: { decision: boolean }) => e.decision)).toEqual([
      true,
      false,
      true,
    ]);
    const denyFirst = await post(bot, "evaluations", {
      ...body,
      options: { evaluations_semantic: "deny_on_first_deny" },
    });
    expect(denyFirst.json().evaluations.map((e: { decision: boolean }) => e.decision)).toEqual([
      true,
      false,
    ]);
    const permitFirst = await post(bot, "evaluations", {
      ...body,
      options: { evaluations_semantic: "permit_on_first_permit" },
    });
    expect(permitFirst.json().evaluations).toHaveLength(1);
    // Without evaluations it answers like a single evaluation.
    const single = await post(bot, "evaluations", {
      subject: user(carol),
      action: { name: "site.deploy" },
      resource: { type: "site", id: "a" },
    });
    expect(single.json()).toMatchObject({ decision: true });
    expectProblem(
      await post(bot, "evaluations", {
        subject: user(carol),
        evaluations: [{ action: { name: "site.deploy" } }],
      }),
      400,
      "INVALID_INPUT",
    );
  });

  it("searches subjects, resources and actions", async () => {
    const first = await post(bot, "search/subject", {
      subject: { type: "user" },
      action: { name: "site.deploy" },
      resource: { type: "site", id: "a" },
      page: { limit: 2 },
    });
    expect(first.statusCode).toBe(200);
    expect(first.json().results).toHaveLength(2);
    expect(first.json().page.next_token).not.toBe("");
    const second = await post(bot, "search/subject", {
      subject: { type: "user" },
      action: { name: "site.deploy" },
      resource: { type: "site", id: "a" },
      page: { token: first.json().page.next_token },
    });
    expect(second.json().page.next_token).toBe("");
    const ids = [...first.json().results, ...second.json().results].map(
      (result: { type: string; id: string }) => `${result.type}:${result.id}`,
    );
    expect(ids.sort()).toEqual([ada, carol, otto].map((s) => `user:${s.userId}`).sort());

    const resources = await post(bot, "search/resource", {
      subject: user(otto),
      action: { name: "site.deploy" },
      resource: { type: "site" },
    });
    expect(resources.json()).toEqual({
      results: [
        { type: "site", id: "a" },
        { type: "site", id: "b" },
      ],
      page: { next_token: "" },
    });

    const actions = await post(bot, "search/action", {
      subject: user(carol),
      resource: { type: "site", id: "a" },
    });
    expect(actions.json().results).toContainEqual({ name: "site.deploy" });
    expect(actions.json().page).toEqual({ next_token: "" });
  });

  it("refuses bad input with problem+json and answers 404 for another workspace", async () => {
    const evaluation = {
      subject: user(carol),
      action: { name: "site.deploy" },
      resource: { type: "site", id: "a" },
    };
    expectProblem(
      await post(bot, "evaluation", { ...evaluation, subject: { type: "robot", id: "r" } }),
      400,
      "INVALID_INPUT",
    );
    expectProblem(
      await post(bot, "evaluation", { ...evaluation, action: { name: "site.fly" } }),
      400,
      "UNKNOWN_PERMISSION",
    );
    expectProblem(await post(bot, "evaluation", { subject: user(carol) }), 400, "INVALID_INPUT");
    expectProblem(await post(bot, "evaluation", { ...evaluation, extra: 1 }), 400, "INVALID_INPUT");
    expectProblem(
      await post(bot, "evaluations", { ...evaluation, options: { evaluations_semantic: "maybe" } }),
      400,
      "INVALID_INPUT",
    );
    expectProblem(
      await call(
        server.app,
        bot,
        "POST",
        "/v1/workspaces/ws_nothing/access/v1/evaluation",
        evaluation,
      ),
      404,
      "WORKSPACE_NOT_FOUND",
    );
    expectProblem(
      await call(
        server.app,
        undefined,
        "POST",
        `/v1/workspaces/${ws}/access/v1/evaluation`,
        evaluation,
      ),
      401,
      "INVALID_CREDENTIALS",
    );
  });
});
