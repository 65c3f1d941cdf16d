import { systemActor } from "@gatehouse/service";
import type { LightMyRequestResponse } from "fastify";
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
/** A write's answer: `{ revision }` in the body, the same in the header. */
function expectRevision(response: LightMyRequestResponse, status = 200): number {
  expect(response.statusCode).toBe(status);
  const { revision } = response.json();
  expect(revision).toEqual(expect.any(Number));
  expect(response.headers["x-gatehouse-revision"]).toBe(String(revision));
  return revision;
}

interface Member {
  userId: string;
  isOwner: boolean;
  grants: { role: string; scope: string; extras: string[]; expiresAt?: number }[];
  groups: string[];
}

describe.each(backends)("members and groups over HTTP on $name", (backend) => {
  let server: TestServer;

  beforeEach(async () => {
    server = await openServer(backend);
  });
  afterEach(async () => {
    await server.close();
  });

  /**
   * An mzpanel workspace owned by Olivia: server s1 with sites a and b; Ada admin, Otto operator
   * on s1, Cara customer on site a; Eve and Bob are outsiders.
   */
  async function panel() {
    const olivia = await signUp(server.app, "olivia");
    const ws: string = (
      await call(server.app, olivia, "POST", "/v1/workspaces", {
        name: "Acme hosting",
        preset: "mzpanel",
      })
    ).json().id;
    const host = systemActor();
    await server.gatehouse.resources.upsert(host, ws, {
      resource: "server:s1",
      parent: `workspace:${ws}`,
    });
    await server.gatehouse.resources.upsert(host, ws, { resource: "site:a", parent: "server:s1" });
    await server.gatehouse.resources.upsert(host, ws, { resource: "site:b", parent: "server:s1" });
    const people: Record<string, Session> = {};
    for (const name of ["ada", "otto", "cara", "eve", "bob"])
      people[name] = await signUp(server.app, name);
    const grants: Record<string, { role: string; scope: string }> = {
      ada: { role: "admin", scope: `workspace:${ws}` },
      otto: { role: "operator", scope: "server:s1" },
      cara: { role: "customer", scope: "site:a" },
    };
    for (const [name, grant] of Object.entries(grants)) {
      await server.gatehouse.members.add(host, ws, {
        userId: people[name]!.userId,
        grants: [grant],
      });
    }
    return {
      ws,
      olivia,
      ada: people["ada"]!,
      otto: people["otto"]!,
      cara: people["cara"]!,
      eve: people["eve"]!,
      bob: people["bob"]!,
    };
  }

  const base = (ws: string) => `/v1/workspaces/${ws}`;

  async function membersOf(session: Session, ws: string): Promise<Member[]> {
    const response = await call(server.app, session, "GET", `${base(ws)}/members`);
    expect(response.statusCode).toBe(200);
    return response.json().members;
  }

  it("lists the team with grants to those who may see it; 403 to a customer, 404 to outsiders, 401 anonymous", async () => {
    const { ws, olivia, ada, otto, cara, eve } = await panel();
    const members = await membersOf(olivia, ws);
    expect(members.map((member) => member.userId).sort()).toEqual(
      [olivia, ada, otto, cara].map((person) => person.userId).sort(),
    );
    const owner = members.find((member) => member.userId === olivia.userId)!;
    expect(owner).toMatchObject({ isOwner: true, grants: [{ role: "owner" }] });
    expect(await membersOf(ada, ws)).toHaveLength(4);
    expectProblem(
      await call(server.app, cara, "GET", `${base(ws)}/members`),
      403,
      "PERMISSION_DENIED",
    );
    expectProblem(
      await call(server.app, otto, "GET", `${base(ws)}/groups`),
      403,
      "PERMISSION_DENIED",
    );
    expectProblem(
      await call(server.app, eve, "GET", `${base(ws)}/members`),
      404,
      "WORKSPACE_NOT_FOUND",
    );
    expectProblem(
      await call(server.app, undefined, "GET", `${base(ws)}/members`),
      401,
      "INVALID_CREDENTIALS",
    );
  });

  it("refuses to put a person into a workspace without their consent, alike for known and unknown user ids (#14 finding 4)", async () => {
    const { ws, olivia, ada, eve } = await panel();
    const grants = [{ role: "customer", scope: "site:b" }];
    const answers = [];
    for (const [manager, userId] of [
      [olivia, eve.userId],
      [olivia, "usr_nobody_at_all"],
      [ada, eve.userId],
      [ada, "usr_nobody_at_all"],
    ] as const) {
      const response = await call(server.app, manager, "POST", `${base(ws)}/members`, {
        userId,
        grants,
      });
      expectProblem(response, 403, "HOST_CREDENTIAL_REQUIRED");
      const { instance: _instance, ...answer } = response.json();
      answers.push(answer);
    }
    // One answer whether or not the id belongs to someone: nothing to probe with.
    expect(new Set(answers.map((answer) => JSON.stringify(answer))).size).toBe(1);
    // The stranger sees nothing of the workspace, and its managers see nothing of the stranger.
    expectProblem(await call(server.app, eve, "GET", base(ws)), 404, "WORKSPACE_NOT_FOUND");
    expect((await membersOf(olivia, ws)).map((member) => member.userId)).not.toContain(eve.userId);
  });

  it("lets the host application add a member directly (201 with the revision) and refuses extra fields, unknown roles, unknown users and members twice", async () => {
    const { ws, olivia, eve } = await panel();
    const host = await hostCaller(server.gatehouse);
    const grants = [{ role: "customer", scope: "site:b" }];
    expectProblem(
      await call(server.app, host, "POST", `${base(ws)}/members`, {
        userId: eve.userId,
        grants: [{ role: "customer", scope: "site:b", owner: true }],
      }),
      400,
      "INVALID_INPUT",
    );
    expectProblem(
      await call(server.app, host, "POST", `${base(ws)}/members`, {
        userId: eve.userId,
        grants,
        isOwner: true,
      }),
      400,
      "INVALID_INPUT",
    );
    expectProblem(
      await call(server.app, host, "POST", `${base(ws)}/members`, {
        userId: eve.userId,
        grants: [],
      }),
      400,
      "INVALID_INPUT",
    );
    expectProblem(
      await call(server.app, host, "POST", `${base(ws)}/members`, {
        userId: eve.userId,
        grants: [{ role: "janitor", scope: "site:b" }],
      }),
      400,
      "UNKNOWN_ROLE",
    );
    // The host knows its users: an id it never provisioned is simply not found.
    expectProblem(
      await call(server.app, host, "POST", `${base(ws)}/members`, {
        userId: "usr_nobody_at_all",
        grants,
      }),
      404,
      "USER_NOT_FOUND",
    );
    expectRevision(
      await call(server.app, host, "POST", `${base(ws)}/members`, { userId: eve.userId, grants }),
      201,
    );
    expectProblem(
      await call(server.app, host, "POST", `${base(ws)}/members`, { userId: eve.userId, grants }),
      409,
      "ALREADY_MEMBER",
    );
    const added = (await membersOf(olivia, ws)).find((member) => member.userId === eve.userId)!;
    expect(added.grants).toMatchObject([{ role: "customer", scope: "site:b", extras: [] }]);
    // Eve now reaches the workspace.
    expect((await call(server.app, eve, "GET", base(ws))).statusCode).toBe(200);
  });

  it("stops at the plan's member limit with 409 MEMBER_LIMIT_REACHED", async () => {
    const olivia = await signUp(server.app, "olivia");
    const host = await hostCaller(server.gatehouse);
    const company = (
      await call(server.app, olivia, "POST", "/v1/workspaces", { name: "Co", preset: "company" })
    ).json();
    const grants = [{ role: "technical", scope: `workspace:${company.id}` }];
    // Standard: 5 members, the owner included.
    for (const name of ["t1", "t2", "t3", "t4"]) {
      const person = await signUp(server.app, name);
      expectRevision(
        await call(server.app, host, "POST", `${base(company.id)}/members`, {
          userId: person.userId,
          grants,
        }),
        201,
      );
    }
    const sixth = await signUp(server.app, "t5");
    expectProblem(
      await call(server.app, host, "POST", `${base(company.id)}/members`, {
        userId: sixth.userId,
        grants,
      }),
      409,
      "MEMBER_LIMIT_REACHED",
    );
    expect(await membersOf(olivia, company.id)).toHaveLength(5);
  });

  it("replaces a member's grants, with extras and expiry, at a new revision", async () => {
    const { ws, olivia, otto } = await panel();
    const expiresAt = server.clock.now + 86_400_000;
    const revision = expectRevision(
      await call(server.app, olivia, "PATCH", `${base(ws)}/members/${otto.userId}`, {
        grants: [
          { role: "customer", scope: "site:a", expiresAt },
          { role: "customer", scope: "site:b" },
        ],
      }),
    );
    const changed = (await membersOf(olivia, ws)).find((member) => member.userId === otto.userId)!;
    expect(changed.grants).toHaveLength(2);
    expect(changed.grants).toContainEqual({
      subject: `user:${otto.userId}`,
      role: "customer",
      scope: "site:a",
      extras: [],
      expiresAt,
    });
    expect((await call(server.app, olivia, "GET", base(ws))).json().revision).toBe(revision);
  });

  it("refuses grant changes: ROLE_CONFLICT and LAST_OWNER (409), bad input and owner-only extras (400), non-managers (403), non-members (404)", async () => {
    const { ws, olivia, ada, otto, eve } = await panel();
    const member = (session: Session) => `${base(ws)}/members/${session.userId}`;
    expectProblem(
      await call(server.app, olivia, "PATCH", member(otto), {
        grants: [
          { role: "customer", scope: "site:a" },
          { role: "operator", scope: "site:a" },
        ],
      }),
      409,
      "ROLE_CONFLICT",
    );
    expectProblem(
      await call(server.app, olivia, "PATCH", member(olivia), {
        grants: [{ role: "admin", scope: `workspace:${ws}` }],
      }),
      409,
      "LAST_OWNER",
    );
    // A grant that cannot exist is bad input for everyone, the owner included: owner-only permissions are never delegable.
    const ownerOnly = await call(server.app, olivia, "PATCH", member(otto), {
      grants: [{ role: "operator", scope: "server:s1", extras: ["billing.manage"] }],
    });
    expectProblem(ownerOnly, 400, "OWNER_ONLY_PERMISSION");
    for (const body of [
      { grants: [] },
      { grants: [{ role: "operator" }] },
      { grants: [{ role: "operator", scope: "server:s1" }], role: "owner" },
      { grants: [{ role: "operator", scope: "server:s1", expiresAt: "tomorrow" }] },
    ]) {
      expectProblem(
        await call(server.app, olivia, "PATCH", member(otto), body),
        400,
        "INVALID_INPUT",
      );
    }
    // The mzpanel admin can view the team, not manage it.
    expectProblem(
      await call(server.app, ada, "PATCH", member(otto), {
        grants: [{ role: "customer", scope: "site:a" }],
      }),
      403,
      "PERMISSION_DENIED",
    );
    expectProblem(
      await call(server.app, olivia, "PATCH", member(eve), {
        grants: [{ role: "customer", scope: "site:a" }],
      }),
      404,
      "MEMBER_NOT_FOUND",
    );
    const otto0 = (await membersOf(olivia, ws)).find((entry) => entry.userId === otto.userId)!;
    expect(otto0.grants).toMatchObject([{ role: "operator", scope: "server:s1" }]);
  });

  it("removes a member over HTTP: their very next request gets 404", async () => {
    const { ws, olivia, otto } = await panel();
    expect((await call(server.app, otto, "GET", base(ws))).statusCode).toBe(200);
    expectRevision(await call(server.app, olivia, "DELETE", `${base(ws)}/members/${otto.userId}`));
    expectProblem(await call(server.app, otto, "GET", base(ws)), 404, "WORKSPACE_NOT_FOUND");
    expectProblem(
      await call(server.app, otto, "GET", `${base(ws)}/resources?type=site&permission=site.view`),
      404,
      "WORKSPACE_NOT_FOUND",
    );
    expect((await membersOf(olivia, ws)).some((member) => member.userId === otto.userId)).toBe(
      false,
    );
    expectProblem(
      await call(server.app, olivia, "DELETE", `${base(ws)}/members/${otto.userId}`),
      404,
      "MEMBER_NOT_FOUND",
    );
  });

  it("never removes the owner (409 LAST_OWNER) and refuses removals by non-managers (403)", async () => {
    const { ws, olivia, ada, cara } = await panel();
    expectProblem(
      await call(server.app, olivia, "DELETE", `${base(ws)}/members/${olivia.userId}`),
      409,
      "LAST_OWNER",
    );
    expectProblem(
      await call(server.app, ada, "DELETE", `${base(ws)}/members/${cara.userId}`),
      403,
      "PERMISSION_DENIED",
    );
    expectProblem(
      await call(server.app, cara, "DELETE", `${base(ws)}/members/${ada.userId}`),
      403,
      "PERMISSION_DENIED",
    );
  });

  it("lets a member leave (then 404), but not the owner (409 LAST_OWNER)", async () => {
    const { ws, olivia, cara, eve } = await panel();
    expectRevision(await call(server.app, cara, "POST", `${base(ws)}/leave`));
    expectProblem(await call(server.app, cara, "GET", base(ws)), 404, "WORKSPACE_NOT_FOUND");
    expectProblem(await call(server.app, olivia, "POST", `${base(ws)}/leave`), 409, "LAST_OWNER");
    expectProblem(
      await call(server.app, eve, "POST", `${base(ws)}/leave`),
      404,
      "WORKSPACE_NOT_FOUND",
    );
  });

  it("creates groups, adds members, grants to the group, and takes it all back", async () => {
    const { ws, olivia, cara } = await panel();
    const created = await call(server.app, olivia, "POST", `${base(ws)}/groups`, {
      name: "Night shift",
    });
    expectRevision(created, 201);
    const group = created.json().group;
    expect(group).toMatchObject({ name: "Night shift", members: [], grants: [] });
    expectRevision(
      await call(
        server.app,
        olivia,
        "PUT",
        `${base(ws)}/groups/${group.id}/members/${cara.userId}`,
      ),
    );
    const servers = `${base(ws)}/resources?type=server&permission=server.view`;
    expect((await call(server.app, cara, "GET", servers)).json().items).toEqual([]);
    expectRevision(
      await call(server.app, olivia, "POST", `${base(ws)}/grants`, {
        subject: `group:${group.id}`,
        role: "operator",
        scope: "server:s1",
      }),
      201,
    );
    expect((await call(server.app, cara, "GET", servers)).json().items).toEqual(["server:s1"]);
    const groups = (await call(server.app, olivia, "GET", `${base(ws)}/groups`)).json().groups;
    expect(groups).toMatchObject([
      { id: group.id, members: [cara.userId], grants: [{ role: "operator", scope: "server:s1" }] },
    ]);
    expectProblem(
      await call(server.app, olivia, "POST", `${base(ws)}/grants`, {
        subject: `group:${group.id}`,
        role: "operator",
        scope: "server:s1",
      }),
      409,
      "ROLE_CONFLICT",
    );
    expectRevision(
      await call(server.app, olivia, "DELETE", `${base(ws)}/grants`, {
        subject: `group:${group.id}`,
        scope: "server:s1",
      }),
    );
    expect((await call(server.app, cara, "GET", servers)).json().items).toEqual([]);
    expectProblem(
      await call(server.app, olivia, "DELETE", `${base(ws)}/grants`, {
        subject: `group:${group.id}`,
        scope: "server:s1",
      }),
      404,
      "GRANT_NOT_FOUND",
    );
    expectRevision(
      await call(
        server.app,
        olivia,
        "DELETE",
        `${base(ws)}/groups/${group.id}/members/${cara.userId}`,
      ),
    );
    expectRevision(await call(server.app, olivia, "DELETE", `${base(ws)}/groups/${group.id}`));
    expect((await call(server.app, olivia, "GET", `${base(ws)}/groups`)).json().groups).toEqual([]);
    expectProblem(
      await call(server.app, olivia, "DELETE", `${base(ws)}/groups/${group.id}`),
      404,
      "NOT_FOUND",
    );
  });

  it("gives and takes user grants through /grants; the owner's grant stays (409 LAST_OWNER)", async () => {
    const { ws, olivia, cara, otto } = await panel();
    expectRevision(
      await call(server.app, olivia, "POST", `${base(ws)}/grants`, {
        subject: `user:${cara.userId}`,
        role: "customer",
        scope: "site:b",
      }),
      201,
    );
    const sites = `${base(ws)}/resources?type=site&permission=site.view`;
    expect((await call(server.app, cara, "GET", sites)).json().items).toEqual(["site:a", "site:b"]);
    const misplaced = await call(server.app, olivia, "POST", `${base(ws)}/grants`, {
      subject: `user:${cara.userId}`,
      role: "operator",
      scope: "site:b",
    });
    expectProblem(misplaced, 400, "ROLE_NOT_GRANTABLE_AT_SCOPE");
    expectProblem(
      await call(server.app, olivia, "DELETE", `${base(ws)}/grants`, {
        subject: `user:${olivia.userId}`,
        scope: `workspace:${ws}`,
      }),
      409,
      "LAST_OWNER",
    );
    expectProblem(
      await call(server.app, olivia, "POST", `${base(ws)}/grants`, {
        subject: `apikey:${cara.userId}`,
        role: "customer",
        scope: "site:b",
      }),
      400,
      "INVALID_INPUT",
    );
    expectProblem(
      await call(server.app, otto, "POST", `${base(ws)}/grants`, {
        subject: `user:${otto.userId}`,
        role: "customer",
        scope: "site:b",
      }),
      403,
      "PERMISSION_DENIED",
    );
    expectRevision(
      await call(server.app, olivia, "DELETE", `${base(ws)}/grants`, {
        subject: `user:${cara.userId}`,
        scope: "site:b",
      }),
    );
    expect((await call(server.app, cara, "GET", sites)).json().items).toEqual(["site:a"]);
  });

  it("gives what the console's Give access sends: a further scope with extras and an end, a group's role; each shown where grants are, and nothing after its end (issue 16)", async () => {
    const { ws, olivia, cara } = await panel();
    const minute = 60_000; // short ends: the sessions stay alive when the clock moves past them
    const until = server.clock.now + minute;
    expectRevision(
      await call(server.app, olivia, "POST", `${base(ws)}/grants`, {
        subject: `user:${cara.userId}`,
        role: "customer",
        scope: "site:b",
        extras: ["site.delete"],
        expiresAt: until,
      }),
      201,
    );
    const group = (
      await call(server.app, olivia, "POST", `${base(ws)}/groups`, { name: "Support" })
    ).json().group;
    await call(server.app, olivia, "PUT", `${base(ws)}/groups/${group.id}/members/${cara.userId}`);
    expectRevision(
      await call(server.app, olivia, "POST", `${base(ws)}/grants`, {
        subject: `group:${group.id}`,
        role: "operator",
        scope: "server:s1",
        expiresAt: until + minute,
      }),
      201,
    );
    const member = (await membersOf(olivia, ws)).find((one) => one.userId === cara.userId);
    expect(member?.grants).toEqual([
      { subject: `user:${cara.userId}`, role: "customer", scope: "site:a", extras: [] },
      {
        subject: `user:${cara.userId}`,
        role: "customer",
        scope: "site:b",
        extras: ["site.delete"],
        expiresAt: until,
      },
    ]);
    expect(member?.groups).toEqual([group.id]);
    const groups = (await call(server.app, olivia, "GET", `${base(ws)}/groups`)).json().groups;
    expect(groups[0].grants).toEqual([
      {
        subject: `group:${group.id}`,
        role: "operator",
        scope: "server:s1",
        extras: [],
        expiresAt: until + minute,
      },
    ]);
    // Her own access: direct and group grants with their ends; the Operator role gives her the full navigation.
    const access = (await call(server.app, cara, "GET", `${base(ws)}/access`)).json();
    expect(access.grants.map((grant: { scope: string }) => grant.scope)).toEqual([
      "site:a",
      "site:b",
      "server:s1",
    ]);
    expect(access.navigation).toBe("full");
    const check = (permission: string, resource: string) =>
      call(server.app, cara, "POST", `${base(ws)}/check`, { permission, resource });
    expect((await check("site.delete", "site:b")).json().allowed).toBe(true);
    expect((await check("server.restart", "server:s1")).json().allowed).toBe(true);
    // Past both ends, the grants hold nothing.
    server.clock.now = until + 2 * minute;
    expect((await check("site.delete", "site:b")).json().allowed).toBe(false);
    expect((await check("server.restart", "server:s1")).json().allowed).toBe(false);
    expect((await check("site.deploy", "site:a")).json().allowed).toBe(true);
  });

  it("answers 404 for group routes in another workspace and for unknown groups", async () => {
    const { ws, olivia, eve } = await panel();
    const group = (
      await call(server.app, olivia, "POST", `${base(ws)}/groups`, { name: "Ops" })
    ).json().group;
    expectProblem(
      await call(server.app, eve, "DELETE", `${base(ws)}/groups/${group.id}`),
      404,
      "WORKSPACE_NOT_FOUND",
    );
    expectProblem(
      await call(server.app, olivia, "PUT", `${base(ws)}/groups/grp_nope/members/${olivia.userId}`),
      404,
      "NOT_FOUND",
    );
    expectProblem(
      await call(server.app, olivia, "PUT", `${base(ws)}/groups/${group.id}/members/${eve.userId}`),
      404,
      "MEMBER_NOT_FOUND",
    );
    expectProblem(
      await call(server.app, olivia, "POST", `${base(ws)}/groups`, { name: "Ops", color: "red" }),
      400,
      "INVALID_INPUT",
    );
  });
});
