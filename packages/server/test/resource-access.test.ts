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

describe.each(backends)("who can access a resource, over HTTP on $name", (backend) => {
  let server: TestServer;
  let ada: Session;
  let carol: Session;
  let otto: Session;
  let wes: Session;
  let ws: string;
  let groupId: string;

  /**
   * Ada's MZPanel workspace: server s1 with sites a and b, server s2 with site c; Carol is the
   * customer of site a until an hour from now, Otto the operator of server s1, and the group
   * "Web" (Wes, himself the customer of site b) the customer of site a too.
   */
  beforeEach(async () => {
    server = await openServer(backend);
    ada = await signUp(server.app, "ada");
    carol = await signUp(server.app, "carol");
    otto = await signUp(server.app, "otto");
    wes = await signUp(server.app, "wes");
    ws = (await call(server.app, ada, "GET", "/v1/me")).json().workspaces[0].id;
    await registerFleet(server.gatehouse, ws);
    const host = systemActor();
    await server.gatehouse.members.add(host, ws, {
      userId: carol.userId,
      grants: [{ role: "customer", scope: "site:a", expiresAt: server.clock.now + 3_600_000 }],
    });
    await server.gatehouse.members.add(host, ws, {
      userId: otto.userId,
      grants: [{ role: "operator", scope: "server:s1" }],
    });
    await server.gatehouse.members.add(host, ws, {
      userId: wes.userId,
      grants: [{ role: "customer", scope: "site:b" }],
    });
    const created = await server.gatehouse.members.createGroup(host, ws, { name: "Web" });
    groupId = created.group.id;
    await server.gatehouse.members.addToGroup(host, ws, groupId, wes.userId);
    await server.gatehouse.members.grant(host, ws, {
      subject: `group:${groupId}`,
      role: "customer",
      scope: "site:a",
    });
  });
  afterEach(async () => {
    await server.close();
  });

  function access(session: Session | undefined, path: string, query: string) {
    return call(
      server.app,
      session,
      "GET",
      `/v1/workspaces/${ws}/resources/${path}/access?${query}`,
    );
  }

  it("lists every user and group holding the permission, with the grants and names", async () => {
    const response = await access(ada, "site/a", "permission=site.deploy");
    expect(response.statusCode).toBe(200);
    const body = response.json();
    expect(body.permission).toBe("site.deploy");
    expect(body.resource).toBe("site:a");
    expect(body.next).toBeNull();
    const subjects = body.items.map((item: { subject: string }) => item.subject);
    expect(subjects).toEqual(
      [`group:${groupId}`, ...[ada, carol, otto, wes].map((s) => `user:${s.userId}`)].sort(),
    );
    const byName = Object.fromEntries(
      body.items.map((item: { subject: string }) => [item.subject, item]),
    );
    expect(byName[`user:${carol.userId}`]).toEqual({
      subject: `user:${carol.userId}`,
      user: { email: "carol@example.com", name: "carol" },
      group: null,
      via: [
        {
          grant: {
            subject: `user:${carol.userId}`,
            role: "customer",
            scope: "site:a",
            extras: [],
            expiresAt: server.clock.now + 3_600_000,
          },
          throughGroup: null,
          inherited: false,
        },
      ],
      expiresAt: server.clock.now + 3_600_000,
    });
    expect(byName[`user:${otto.userId}`].via).toEqual([
      expect.objectContaining({
        grant: expect.objectContaining({ scope: "server:s1" }),
        inherited: true,
      }),
    ]);
    expect(byName[`user:${wes.userId}`].via).toEqual([
      expect.objectContaining({
        grant: expect.objectContaining({ subject: `group:${groupId}`, role: "customer" }),
        throughGroup: `group:${groupId}`,
        inherited: false,
      }),
    ]);
    expect(byName[`group:${groupId}`]).toMatchObject({ group: { name: "Web" }, user: null });
  });

  it("pages by subject with a cursor, and next is set whenever more exist", async () => {
    const seen: string[] = [];
    let after: string | undefined;
    for (let pages = 0; pages < 10; pages++) {
      const query = `permission=site.deploy&limit=2${after === undefined ? "" : `&after=${encodeURIComponent(after)}`}`;
      const page = (await access(ada, "site/a", query)).json();
      expect(page.items.length).toBeLessThanOrEqual(2);
      seen.push(...page.items.map((item: { subject: string }) => item.subject));
      if (page.next === null) break;
      after = page.next;
    }
    const all = (await access(ada, "site/a", "permission=site.deploy")).json();
    expect(seen).toEqual(all.items.map((item: { subject: string }) => item.subject));
    expect(seen).toHaveLength(5);
  });

  it("forgets an expired grant", async () => {
    server.clock.now += 3_600_000;
    const body = (await access(ada, "site/a", "permission=site.deploy")).json();
    const subjects = body.items.map((item: { subject: string }) => item.subject);
    expect(subjects).not.toContain(`user:${carol.userId}`);
    expect(subjects).toContain(`user:${wes.userId}`);
  });

  it("denies a member without the team gate, and answers 404 outside their reach as for a missing resource", async () => {
    expectProblem(await access(otto, "site/a", "permission=site.deploy"), 403, "PERMISSION_DENIED");
    const outside = await access(otto, "site/c", "permission=site.deploy");
    const missing = await access(otto, "site/nothing", "permission=site.deploy");
    expectProblem(outside, 404, "RESOURCE_NOT_FOUND");
    expectProblem(missing, 404, "RESOURCE_NOT_FOUND");
    expect(outside.json().detail).toBe(missing.json().detail?.replace("site:nothing", "site:c"));
    expectProblem(
      await access(carol, "site/b", "permission=site.deploy"),
      404,
      "RESOURCE_NOT_FOUND",
    );
  });

  it("answers a team manager's API key and lists no API keys", async () => {
    const created = await call(server.app, ada, "POST", `/v1/workspaces/${ws}/api-keys`, {
      name: "Audit bot",
      scopes: ["team.*", "site.*"],
    });
    expect(created.statusCode).toBe(201);
    const bearer = {
      userId: ada.userId,
      headers: { authorization: `Bearer ${created.json().secret}` },
    };
    const response = await access(bearer, "site/a", "permission=site.deploy");
    expect(response.statusCode).toBe(200);
    const subjects = response.json().items.map((item: { subject: string }) => item.subject);
    expect(subjects.some((subject: string) => subject.startsWith("apikey:"))).toBe(false);
    expect(subjects).toContain(`user:${ada.userId}`);
  });

  it("answers the host app (the system actor) for any resource, with names", async () => {
    const page = await server.gatehouse.decisions.whoCan(systemActor(), ws, {
      permission: "site.deploy",
      resource: "site:c",
    });
    expect(page.items.map((item) => item.subject)).toEqual([`user:${ada.userId}`]);
    expect(page.items[0]?.user).toEqual({ email: "ada@example.com", name: "ada" });
  });

  it("refuses bad input with problem+json", async () => {
    expectProblem(
      await access(ada, "site/a", "permission=site.nothing"),
      400,
      "UNKNOWN_PERMISSION",
    );
    expectProblem(
      await access(ada, "site/a", "permission=site.deploy&limit=0"),
      400,
      "INVALID_INPUT",
    );
    expectProblem(await access(ada, "site/a", ""), 400, "INVALID_INPUT");
    expectProblem(
      await access(ada, "site/a", "permission=site.deploy&extra=1"),
      400,
      "INVALID_INPUT",
    );
    // A permission that does not act on sites: nobody holds it there.
    const body = (await access(ada, "site/a", "permission=server.restart")).json();
    expect(body.items).toEqual([]);
  });
});
