import { systemActor } from "@gatehouse/service";
import type { LightMyRequestResponse } from "fastify";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  backends,
  call,
  expectProblem,
  openServer,
  type Session,
  signUp,
  type TestServer,
} from "./harness.ts";

const ON_BEHALF_OF = "x-gatehouse-on-behalf-of";

/** Headers that authenticate with a bearer secret (a host credential or an API key). */
function bearer(secret: string, onBehalfOf?: string): Session {
  const headers: Record<string, string> = { authorization: `Bearer ${secret}` };
  if (onBehalfOf !== undefined) headers[ON_BEHALF_OF] = onBehalfOf;
  return { userId: "", headers };
}

/** The session a sign-in answer started: its cookies plus the CSRF echo. */
function sessionOf(response: LightMyRequestResponse): Session {
  const cookies = Object.fromEntries(response.cookies.map((cookie) => [cookie.name, cookie.value]));
  return {
    userId: response.json().user.id,
    headers: {
      cookie: Object.entries(cookies)
        .map(([name, value]) => `${name}=${value}`)
        .join("; "),
      "x-csrf-token": cookies["gatehouse_csrf"]!,
    },
  };
}

describe.each(backends)("the host application over HTTP on $name", (backend) => {
  let server: TestServer;
  let host: Session;
  let secret: string;

  beforeEach(async () => {
    server = await openServer(backend);
    const created = await server.gatehouse.hostCredentials.create(systemActor("cli"), {
      name: "billing-panel",
    });
    secret = created.secret;
    host = bearer(secret);
  });
  afterEach(async () => {
    await server.close();
  });

  function provision(session: Session | undefined, id: string, email: string, name = id) {
    return call(server.app, session, "PUT", `/v1/users/${encodeURIComponent(id)}`, {
      email,
      name,
    });
  }

  /** A hosting-customer workspace owned by provisioned user 42, customer c1 with hosting web1. */
  async function hostingPanel() {
    expect((await provision(host, "42", "owner42@example.com", "Olga")).statusCode).toBe(201);
    expect((await provision(host, "7", "web7@example.com", "Walt")).statusCode).toBe(201);
    const created = await call(server.app, host, "POST", "/v1/workspaces", {
      name: "Olga's hosting",
      preset: "hosting-customer",
      owner: "42",
    });
    expect(created.statusCode).toBe(201);
    const ws: string = created.json().id;
    const customer = await call(
      server.app,
      host,
      "PUT",
      `/v1/workspaces/${ws}/resources/customer/c1`,
      {
        parent: `workspace:${ws}`,
      },
    );
    expect(customer.statusCode).toBe(200);
    const hosting = await call(
      server.app,
      host,
      "PUT",
      `/v1/workspaces/${ws}/resources/hosting/web1`,
      {
        parent: "customer:c1",
      },
    );
    expect(hosting.statusCode).toBe(200);
    const member = await call(server.app, host, "POST", `/v1/workspaces/${ws}/members`, {
      userId: "7",
      grants: [{ role: "hosting_web", scope: "hosting:web1" }],
    });
    expect(member.statusCode).toBe(201);
    return { ws };
  }

  async function signInWithLink(userId: string): Promise<Session> {
    const link = await call(server.app, host, "POST", `/v1/users/${userId}/sign-in-links`);
    expect(link.statusCode).toBe(201);
    const consumed = await call(server.app, undefined, "POST", "/v1/auth/magic-link/consume", {
      token: link.json().token,
    });
    expect(consumed.statusCode).toBe(200);
    return sessionOf(consumed);
  }

  function check(session: Session, ws: string, body: Record<string, unknown>) {
    return call(server.app, session, "POST", `/v1/workspaces/${ws}/check`, body);
  }

  it("provisions users by its own ids, creates a workspace for one as owner, registers hostings and grants roles; check answers for user:<host id>", async () => {
    const { ws } = await hostingPanel();
    // Provisioning is idempotent: the same again answers 200 and changes nothing.
    const again = await provision(host, "7", "web7@example.com", "Walt");
    expect(again.statusCode).toBe(200);
    expect(again.json()).toMatchObject({ id: "7", email: "web7@example.com", name: "Walt" });
    const read = await call(server.app, host, "GET", "/v1/users/7");
    expect(read.json()).toMatchObject({ id: "7", provisionedBy: "billing-panel" });
    const renamed = await provision(host, "7", "web7@example.com", "Walter");
    expect(renamed.statusCode).toBe(200);
    expect(renamed.json().name).toBe("Walter");

    const web = await check(host, ws, {
      subject: "user:7",
      permission: "hosting.web.manage",
      resource: "hosting:web1",
    });
    expect(web.json()).toMatchObject({ allowed: true });
    const mail = await check(host, ws, {
      subject: "user:7",
      permission: "hosting.mail.accounts.manage",
      resource: "hosting:web1",
    });
    expect(mail.json()).toMatchObject({ allowed: false });
    const owner = await check(host, ws, {
      subject: "user:42",
      permission: "hosting.mail.accounts.manage",
      resource: "hosting:web1",
    });
    expect(owner.json()).toMatchObject({ allowed: true });

    // A grant by the host's id, and the owner's view: members are the host's ids.
    const granted = await call(server.app, host, "POST", `/v1/workspaces/${ws}/grants`, {
      subject: "user:7",
      role: "customer_domain",
      scope: "customer:c1",
    });
    expect(granted.statusCode).toBe(201);
    const members = await call(server.app, host, "GET", `/v1/workspaces/${ws}/members`);
    expect(
      members
        .json()
        .members.map((member: { userId: string }) => member.userId)
        .sort(),
    ).toEqual(["42", "7"]);

    // Everything the host did is in the activity log as the host app, by credential name.
    const audit = await call(server.app, host, "GET", `/v1/workspaces/${ws}/audit?limit=50`);
    expect(audit.statusCode).toBe(200);
    const entries = audit.json().entries as { action: string; actor: unknown }[];
    for (const action of ["workspace.create", "resource.create", "member.add", "grant.add"]) {
      const entry = entries.find((candidate) => candidate.action === action);
      expect({ action, actor: entry?.actor }).toEqual({
        action,
        actor: { type: "host", id: "billing-panel", onBehalfOf: null },
      });
    }
  });

  it("registers a resource type that even the owner's API key cannot create", async () => {
    const { ws } = await hostingPanel();
    const olga = await signInWithLink("42");
    const key = await call(server.app, olga, "POST", `/v1/workspaces/${ws}/api-keys`, {
      name: "Olga's key",
      scopes: ["*"],
    });
    expect(key.statusCode).toBe(201);
    const byOwner = await call(
      server.app,
      bearer(key.json().secret),
      "PUT",
      `/v1/workspaces/${ws}/resources/hosting/web2`,
      { parent: "customer:c1" },
    );
    expectProblem(byOwner, 403, "PERMISSION_DENIED");
    const byHost = await call(
      server.app,
      host,
      "PUT",
      `/v1/workspaces/${ws}/resources/hosting/web2`,
      {
        parent: "customer:c1",
      },
    );
    expect(byHost.statusCode).toBe(200);
    // Moving and deleting are the host's too.
    await call(server.app, host, "PUT", `/v1/workspaces/${ws}/resources/customer/c2`, {
      parent: `workspace:${ws}`,
    });
    const moved = await call(
      server.app,
      host,
      "PUT",
      `/v1/workspaces/${ws}/resources/hosting/web2`,
      {
        parent: "customer:c2",
      },
    );
    expect(moved.statusCode).toBe(200);
    const deleted = await call(
      server.app,
      host,
      "DELETE",
      `/v1/workspaces/${ws}/resources/hosting/web2`,
    );
    expect(deleted.json().deleted).toEqual(["hosting:web2"]);
  });

  it("changes the plan, transfers ownership where self-service is off, and removes members", async () => {
    for (const [id, email] of [
      ["42", "owner42@example.com"],
      ["7", "seven@example.com"],
    ] as const)
      expect((await provision(host, id, email)).statusCode).toBe(201);
    const ws = (
      await call(server.app, host, "POST", "/v1/workspaces", {
        name: "Acme",
        preset: "company",
        owner: "42",
      })
    ).json().id as string;
    const added = await call(server.app, host, "POST", `/v1/workspaces/${ws}/members`, {
      userId: "7",
      grants: [{ role: "manager", scope: `workspace:${ws}` }],
    });
    expect(added.statusCode).toBe(201);
    const plan = await call(server.app, host, "PATCH", `/v1/workspaces/${ws}`, { plan: "premium" });
    expect(plan.statusCode).toBe(200);
    expect(plan.json().plan).toBe("premium");
    // The owner themselves may not hand ownership over in this preset; the host may.
    const olga = await signInWithLink("42");
    const selfService = await call(
      server.app,
      olga,
      "POST",
      `/v1/workspaces/${ws}/transfer-ownership`,
      { userId: "7" },
    );
    expectProblem(selfService, 403, "TRANSFER_NOT_SELF_SERVICE");
    const transferred = await call(
      server.app,
      host,
      "POST",
      `/v1/workspaces/${ws}/transfer-ownership`,
      { userId: "7" },
    );
    expect(transferred.statusCode).toBe(200);
    const removed = await call(server.app, host, "DELETE", `/v1/workspaces/${ws}/members/42`);
    expect(removed.statusCode).toBe(200);
    const members = await call(server.app, host, "GET", `/v1/workspaces/${ws}/members`);
    expect(members.json().members).toEqual([
      expect.objectContaining({ userId: "7", isOwner: true }),
    ]);
  });

  it("acts on behalf of a user exactly as that user: a denied action stays denied, both are logged", async () => {
    const { ws } = await hostingPanel();
    const walt = bearer(secret, "7");
    const allowed = await check(walt, ws, {
      permission: "hosting.web.manage",
      resource: "hosting:web1",
    });
    expect(allowed.json()).toMatchObject({ allowed: true });
    const denied = await check(walt, ws, {
      permission: "hosting.mail.accounts.manage",
      resource: "hosting:web1",
    });
    expect(denied.json()).toMatchObject({ allowed: false });
    // The host itself may; acting for Walt it may not: he does not even see customer c1.
    const register = await call(
      server.app,
      walt,
      "PUT",
      `/v1/workspaces/${ws}/resources/hosting/web2`,
      { parent: "customer:c1" },
    );
    expectProblem(register, 404, "RESOURCE_NOT_FOUND");
    const grant = await call(server.app, walt, "POST", `/v1/workspaces/${ws}/grants`, {
      subject: "user:42",
      role: "hosting_stats",
      scope: "hosting:web1",
    });
    expectProblem(grant, 403, "PERMISSION_DENIED");
    const createKey = await call(server.app, walt, "POST", `/v1/workspaces/${ws}/api-keys`, {
      name: "via host",
      scopes: ["*"],
    });
    expectProblem(createKey, 403, "PERMISSION_DENIED");
    expectProblem(await call(server.app, host, "GET", "/v1/workspaces"), 400, "INVALID_INPUT");
    const listed = await call(server.app, walt, "GET", "/v1/workspaces");
    expect(listed.json().workspaces.map((workspace: { id: string }) => workspace.id)).toEqual([ws]);

    const audit = await call(server.app, host, "GET", `/v1/workspaces/${ws}/audit?result=denied`);
    const entry = (audit.json().entries as { action: string; actor: unknown }[]).find(
      (candidate) => candidate.action === "grant.add",
    );
    expect(entry?.actor).toEqual({ type: "host", id: "billing-panel", onBehalfOf: "7" });

    // An unknown user, a non-workspace route, and a user outside the workspace.
    expectProblem(
      await check(bearer(secret, "nobody"), ws, {
        permission: "hosting.view",
        resource: "hosting:web1",
      }),
      404,
      "USER_NOT_FOUND",
    );
    expectProblem(await call(server.app, walt, "GET", "/v1/me"), 400, "INVALID_INPUT");
    await provision(host, "8", "eight@example.com");
    expectProblem(
      await check(bearer(secret, "8"), ws, {
        permission: "hosting.view",
        resource: "hosting:web1",
      }),
      404,
      "WORKSPACE_NOT_FOUND",
    );
  });

  it("keeps host powers from sessions and API keys: on-behalf-of, users, sign-in links and owner", async () => {
    const ada = await signUp(server.app, "ada");
    const ws = (await call(server.app, ada, "GET", "/v1/me")).json().workspaces[0].id as string;
    const key = (
      await call(server.app, ada, "POST", `/v1/workspaces/${ws}/api-keys`, {
        name: "k",
        scopes: ["*"],
      })
    ).json().secret as string;
    const asAda = { ...ada, headers: { ...ada.headers, [ON_BEHALF_OF]: ada.userId } };
    expectProblem(
      await call(server.app, asAda, "GET", `/v1/workspaces/${ws}`),
      403,
      "HOST_CREDENTIAL_REQUIRED",
    );
    expectProblem(
      await call(server.app, bearer(key, ada.userId), "GET", `/v1/workspaces/${ws}`),
      403,
      "HOST_CREDENTIAL_REQUIRED",
    );
    for (const caller of [ada, bearer(key)]) {
      expectProblem(
        await provision(caller, "9", "nine@example.com"),
        403,
        "HOST_CREDENTIAL_REQUIRED",
      );
      expectProblem(
        await call(server.app, caller, "POST", `/v1/users/${ada.userId}/sign-in-links`),
        403,
        "HOST_CREDENTIAL_REQUIRED",
      );
      expectProblem(
        await call(server.app, caller, "POST", "/v1/workspaces", {
          name: "Theirs",
          preset: "mzpanel",
          owner: ada.userId,
        }),
        403,
        "HOST_CREDENTIAL_REQUIRED",
      );
    }
    // Host credentials are bearer-only: as a session cookie they are nobody.
    const asCookie = await call(
      server.app,
      { userId: "", headers: { cookie: `gatehouse_session=${secret}` } },
      "GET",
      "/v1/me",
    );
    expectProblem(asCookie, 401, "INVALID_CREDENTIALS");
    // The host has no account of its own, and signs in only users it provisioned.
    expectProblem(
      await call(server.app, host, "POST", `/v1/users/${ada.userId}/sign-in-links`),
      404,
      "USER_NOT_FOUND",
    );
  });

  it("answers wrong, revoked and out-of-reach credentials as it answers wrong API keys", async () => {
    const { ws } = await hostingPanel();
    const wrongKey = await call(
      server.app,
      bearer(`gh_AAAAAAAA_${"A".repeat(43)}`),
      "GET",
      `/v1/workspaces/${ws}`,
    );
    const wrongHost = await call(
      server.app,
      bearer(`ghh_AAAAAAAA_${"A".repeat(43)}`),
      "GET",
      `/v1/workspaces/${ws}`,
    );
    expectProblem(wrongKey, 401, "INVALID_CREDENTIALS");
    expect(wrongHost.json()).toEqual(wrongKey.json());

    // A credential limited to another workspace: this one answers as if it did not exist.
    const other = (
      await call(server.app, host, "POST", "/v1/workspaces", {
        name: "Other",
        preset: "mzpanel",
        owner: "7",
      })
    ).json().id as string;
    const limited = await server.gatehouse.hostCredentials.create(systemActor("cli"), {
      name: "reseller-panel",
      workspaces: [other],
    });
    const reseller = bearer(limited.secret);
    const outside = await call(server.app, reseller, "GET", `/v1/workspaces/${ws}`);
    const missing = await call(server.app, reseller, "GET", "/v1/workspaces/ws_missing");
    expectProblem(outside, 404, "WORKSPACE_NOT_FOUND");
    expect(outside.json()).toEqual(missing.json());
    expectProblem(
      await call(server.app, reseller, "PUT", `/v1/workspaces/${ws}/resources/customer/c9`, {
        parent: `workspace:${ws}`,
      }),
      404,
      "WORKSPACE_NOT_FOUND",
    );
    expect((await call(server.app, reseller, "GET", `/v1/workspaces/${other}`)).statusCode).toBe(
      200,
    );
    expectProblem(
      await call(server.app, reseller, "POST", "/v1/workspaces", {
        name: "New",
        preset: "mzpanel",
        owner: "7",
      }),
      403,
      "PERMISSION_DENIED",
    );
    // 7 is also in the first workspace: the limited credential may not sign them in.
    expectProblem(
      await call(server.app, reseller, "POST", "/v1/users/7/sign-in-links"),
      403,
      "PERMISSION_DENIED",
    );

    await server.gatehouse.hostCredentials.revoke(systemActor("cli"), "billing-panel");
    const revoked = await call(server.app, host, "GET", `/v1/workspaces/${ws}`);
    expect(revoked.json()).toEqual(wrongKey.json());
    expect(revoked.statusCode).toBe(401);
  });

  it("refuses bad users with 4xx and a stable code, applying nothing", async () => {
    const { ws } = await hostingPanel();
    expectProblem(await provision(host, "usr_abc", "a@example.com"), 400, "INVALID_INPUT");
    expectProblem(await provision(host, "-x", "a@example.com"), 400, "INVALID_INPUT");
    expectProblem(await provision(host, "x".repeat(101), "a@example.com"), 400, "INVALID_INPUT");
    expectProblem(await provision(host, "9", "not-an-email"), 400, "INVALID_INPUT");
    expectProblem(
      await call(server.app, host, "PUT", "/v1/users/9", {
        email: "n@example.com",
        name: "N",
        password: "x",
      }),
      400,
      "INVALID_INPUT",
    );
    expectProblem(await provision(host, "9", "WEB7@example.com"), 409, "EMAIL_TAKEN");
    for (const id of ["usr_abc", "9"])
      expectProblem(await call(server.app, host, "GET", `/v1/users/${id}`), 404, "USER_NOT_FOUND");
    // A user the host never provisioned, in a member or grant call.
    expectProblem(
      await call(server.app, host, "POST", `/v1/workspaces/${ws}/members`, {
        userId: "99",
        grants: [{ role: "hosting_web", scope: "hosting:web1" }],
      }),
      404,
      "USER_NOT_FOUND",
    );
    const grant = await call(server.app, host, "POST", `/v1/workspaces/${ws}/grants`, {
      subject: "user:99",
      role: "hosting_web",
      scope: "hosting:web1",
    });
    expectProblem(grant, 404, "MEMBER_NOT_FOUND");
    expectProblem(
      await call(server.app, host, "POST", "/v1/workspaces", {
        name: "X",
        preset: "mzpanel",
        owner: "99",
      }),
      404,
      "USER_NOT_FOUND",
    );
    expectProblem(
      await call(server.app, host, "POST", "/v1/workspaces", { name: "X", preset: "mzpanel" }),
      400,
      "INVALID_INPUT",
    );
  });

  it("deletes a user: out of every workspace, the activity log kept; an owner stays until transfer", async () => {
    const { ws } = await hostingPanel();
    expectProblem(await call(server.app, host, "DELETE", "/v1/users/42"), 409, "LAST_OWNER");
    const deleted = await call(server.app, host, "DELETE", "/v1/users/7");
    expect(deleted.statusCode).toBe(204);
    expectProblem(await call(server.app, host, "GET", "/v1/users/7"), 404, "USER_NOT_FOUND");
    const web = await check(host, ws, {
      subject: "user:7",
      permission: "hosting.web.manage",
      resource: "hosting:web1",
    });
    expect(web.json()).toMatchObject({ allowed: false });
    const audit = await call(
      server.app,
      host,
      "GET",
      `/v1/workspaces/${ws}/audit?actor=billing-panel`,
    );
    const actions = (audit.json().entries as { action: string; target: string }[]).map(
      (entry) => `${entry.action} ${entry.target}`,
    );
    expect(actions).toContain("member.add user:7");
    expect(actions).toContain("member.remove user:7");
  });

  it("issues single-use sign-in links that expire in minutes, stored hashed and logged", async () => {
    await hostingPanel();
    const link = await call(server.app, host, "POST", "/v1/users/42/sign-in-links");
    expect(link.statusCode).toBe(201);
    const { url, token, expiresAt } = link.json();
    expect(url).toBe(`http://localhost:8080/sign-in/magic#${token}`);
    expect(expiresAt).toBe(server.clock.now + 5 * 60 * 1000);
    const stored = await server.gatehouse.storage.db
      .selectFrom("magic_links")
      .selectAll()
      .execute();
    expect(JSON.stringify(stored)).not.toContain(token);
    const first = await call(server.app, undefined, "POST", "/v1/auth/magic-link/consume", {
      token,
    });
    expect(first.statusCode).toBe(200);
    expect(first.json().user).toMatchObject({ id: "42", email: "owner42@example.com" });
    const olga = sessionOf(first);
    expect((await call(server.app, olga, "GET", "/v1/me")).json().user.id).toBe("42");
    const second = await call(server.app, undefined, "POST", "/v1/auth/magic-link/consume", {
      token,
    });
    expectProblem(second, 401, "MAGIC_LINK_INVALID");

    const late = (await call(server.app, host, "POST", "/v1/users/42/sign-in-links")).json().token;
    server.clock.now += 5 * 60 * 1000;
    expectProblem(
      await call(server.app, undefined, "POST", "/v1/auth/magic-link/consume", { token: late }),
      401,
      "MAGIC_LINK_INVALID",
    );
    const log = await server.gatehouse.storage.db
      .selectFrom("instance_log")
      .select(["action", "actor"])
      .where("action", "=", "user.sign_in_link")
      .execute();
    expect(log).toEqual([
      { action: "user.sign_in_link", actor: "host:billing-panel" },
      { action: "user.sign_in_link", actor: "host:billing-panel" },
    ]);
  });

  it("joins a provisioned user who accepts an invitation to their email, never a duplicate account", async () => {
    const { ws } = await hostingPanel();
    await provision(host, "8", "eight@example.com", "Eight");
    const olga = await signInWithLink("42");
    const invited = await call(server.app, olga, "POST", `/v1/workspaces/${ws}/invitations`, {
      email: "eight@example.com",
      role: "hosting_mail",
      scopes: ["hosting:web1"],
    });
    expect(invited.statusCode).toBe(201);
    const token = /invitations\/accept#([A-Za-z0-9_-]+)/.exec(
      server.mailer.outbox!.at(-1)!.text,
    )![1]!;
    const asNew = await call(server.app, undefined, "POST", "/v1/invitations/accept", {
      token,
      password: "correct horse battery staple",
    });
    expectProblem(asNew, 409, "EMAIL_TAKEN");
    const eight = await signInWithLink("8");
    const accepted = await call(server.app, eight, "POST", "/v1/invitations/accept", { token });
    expect(accepted.statusCode).toBe(200);
    expect(accepted.json()).toMatchObject({ user: { id: "8" }, createdAccount: false });
    const mail = await check(host, ws, {
      subject: "user:8",
      permission: "hosting.mail.accounts.manage",
      resource: "hosting:web1",
    });
    expect(mail.json()).toMatchObject({ allowed: true });
    const accounts = await server.gatehouse.storage.db
      .selectFrom("users")
      .select("id")
      .where("email", "=", "eight@example.com")
      .execute();
    expect(accounts).toEqual([{ id: "8" }]);
  });
});
