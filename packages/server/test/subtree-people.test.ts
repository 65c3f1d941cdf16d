import { systemActor } from "@gatehouse/service";
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

describe.each(backends)("a sub-tree admin's people, over HTTP on $name", (backend) => {
  let server: TestServer;
  let olivia: Session;
  let cara: Session;
  let ws: string;
  let mine: string;
  let theirs: string;

  /**
   * Olivia's hosting-customer team: customers c1 and c2 with a hosting each, Cara the Customer
   * Admin of c1, and the teams "C1 web" and "C2 web" holding a role on each hosting.
   */
  beforeEach(async () => {
    server = await openServer(backend);
    olivia = await signUp(server.app, "olivia");
    cara = await signUp(server.app, "cara");
    const host = systemActor();
    const gatehouse = server.gatehouse;
    const created = await call(server.app, olivia, "POST", "/v1/workspaces", {
      name: "Agency",
      preset: "hosting-customer",
    });
    ws = created.json().id;
    for (const customer of ["c1", "c2"]) {
      await gatehouse.resources.upsert(host, ws, {
        resource: `customer:${customer}`,
        parent: `workspace:${ws}`,
      });
      await gatehouse.resources.upsert(host, ws, {
        resource: `hosting:${customer}-web`,
        parent: `customer:${customer}`,
      });
    }
    await gatehouse.members.add(host, ws, {
      userId: cara.userId,
      grants: [{ role: "customer_admin", scope: "customer:c1" }],
    });
    const team = async (name: string, scope: string) => {
      const { group } = await gatehouse.members.createGroup(host, ws, { name });
      await gatehouse.members.grant(host, ws, {
        subject: `group:${group.id}`,
        role: "hosting_web",
        scope,
      });
      return group.id;
    };
    mine = await team("C1 web", "hosting:c1-web");
    theirs = await team("C2 web", "hosting:c2-web");
  });
  afterEach(async () => {
    await server.close();
  });

  const base = () => `/v1/workspaces/${ws}`;

  it("lists a Customer Admin's pending invitations by resource, 404 out of reach, and withdraws them", async () => {
    const sent = await call(server.app, cara, "POST", `${base()}/invitations`, {
      email: "wendy@example.com",
      groups: [mine],
    });
    expect(sent.statusCode).toBe(201);
    expect(sent.json().invitation).toMatchObject({
      role: null,
      scopes: [],
      groups: [{ id: mine, name: "C1 web" }],
    });
    const mail = server.app.mailer.outbox?.findLast((item) => item.to === "wendy@example.com");
    expect(mail?.text).toContain(
      "cara (cara@example.com) invited you to join Agency in team C1 web.",
    );
    const outside = await call(server.app, olivia, "POST", `${base()}/invitations`, {
      email: "other@example.com",
      role: "hosting_web",
      scopes: ["hosting:c2-web"],
    });
    expect(outside.statusCode).toBe(201);
    const listed = await call(
      server.app,
      cara,
      "GET",
      `${base()}/invitations?status=pending&resource=customer:c1`,
    );
    expect(listed.statusCode).toBe(200);
    expect(listed.json().invitations.map((item: { email: string }) => item.email)).toEqual([
      "wendy@example.com",
    ]);
    const all = await call(server.app, cara, "GET", `${base()}/invitations`);
    expect(all.json().invitations).toHaveLength(1);
    for (const resource of ["customer:c2", "hosting:c2-web", "customer:nothing"])
      expectProblem(
        await call(server.app, cara, "GET", `${base()}/invitations?resource=${resource}`),
        404,
        "RESOURCE_NOT_FOUND",
      );
    expectProblem(
      await call(server.app, cara, "POST", `${base()}/invitations`, {
        email: "x@example.com",
        groups: [theirs],
      }),
      403,
      "PERMISSION_DENIED",
    );
    expectProblem(
      await call(server.app, cara, "POST", `${base()}/invitations`, {
        email: "x@example.com",
        groups: ["grp_nothing"],
      }),
      404,
      "NOT_FOUND",
    );
    expectProblem(
      await call(
        server.app,
        cara,
        "DELETE",
        `${base()}/invitations/${outside.json().invitation.id}`,
      ),
      403,
      "PERMISSION_DENIED",
    );
    const revoked = await call(
      server.app,
      cara,
      "DELETE",
      `${base()}/invitations/${sent.json().invitation.id}`,
    );
    expect(revoked.json().invitation.status).toBe("revoked");
  });

  it("accepts an invitation into a team, and the Customer Admin removes the member again", async () => {
    const sent = await call(server.app, cara, "POST", `${base()}/invitations`, {
      email: "wendy@example.com",
      groups: [mine],
    });
    const copied = await call(
      server.app,
      cara,
      "POST",
      `${base()}/invitations/${sent.json().invitation.id}/link`,
    );
    const token = /#([A-Za-z0-9_-]{40,})$/.exec(copied.json().link as string)?.[1];
    const preview = await call(server.app, undefined, "POST", "/v1/invitations/preview", {
      token,
    });
    expect(preview.json()).toMatchObject({ role: null, roleLabel: null, teams: ["C1 web"] });
    const accepted = await call(server.app, undefined, "POST", "/v1/invitations/accept", {
      token,
      password: "a long enough passphrase",
    });
    expect(accepted.statusCode).toBe(200);
    const wendy = accepted.json().user.id as string;
    const members = await call(server.app, olivia, "GET", `${base()}/members`);
    expect(
      members.json().members.find((member: { userId: string }) => member.userId === wendy),
    ).toMatchObject({ grants: [], groups: [mine] });
    // Someone also in a team beside Cara's part stays out of her reach.
    const bob = await signUp(server.app, "bob");
    await server.gatehouse.members.add(systemActor(), ws, {
      userId: bob.userId,
      groups: [mine, theirs],
    });
    expectProblem(
      await call(server.app, cara, "DELETE", `${base()}/members/${bob.userId}`),
      403,
      "PERMISSION_DENIED",
    );
    expectProblem(
      await call(server.app, cara, "DELETE", `${base()}/members/usr_nobody`),
      404,
      "MEMBER_NOT_FOUND",
    );
    const removed = await call(server.app, cara, "DELETE", `${base()}/members/${wendy}`);
    expect(removed.statusCode).toBe(200);
    const after = await call(server.app, olivia, "GET", `${base()}/members`);
    expect(after.json().members.map((member: { userId: string }) => member.userId)).not.toContain(
      wendy,
    );
  });
});
