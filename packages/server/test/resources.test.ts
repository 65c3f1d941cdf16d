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

/** The answer is an RFC 9457 problem with `status` and the stable `code`. */
/** A write's answer: `revision` in the body, the same in the header. */
function expectRevision(response: LightMyRequestResponse): number {
  expect(response.statusCode).toBe(200);
  const { revision } = response.json();
  expect(revision).toEqual(expect.any(Number));
  expect(response.headers["x-gatehouse-revision"]).toBe(String(revision));
  return revision;
}

describe.each(backends)("resources over HTTP on $name", (backend) => {
  let server: TestServer;

  beforeEach(async () => {
    server = await openServer(backend);
  });
  afterEach(async () => {
    await server.close();
  });

  /**
   * An mzpanel workspace owned by Olivia: servers s1 (sites a, b) and s2 (site c); Otto operator
   * on s1, Cara customer on site a, Eve an outsider with her own personal workspace.
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
    const tree: [string, string][] = [
      ["server:s1", `workspace:${ws}`],
      ["server:s2", `workspace:${ws}`],
      ["site:a", "server:s1"],
      ["site:b", "server:s1"],
      ["site:c", "server:s2"],
    ];
    for (const [resource, parent] of tree)
      await server.gatehouse.resources.upsert(host, ws, { resource, parent });
    const otto = await signUp(server.app, "otto");
    const cara = await signUp(server.app, "cara");
    const eve = await signUp(server.app, "eve");
    await server.gatehouse.members.add(host, ws, {
      userId: otto.userId,
      grants: [{ role: "operator", scope: "server:s1" }],
    });
    await server.gatehouse.members.add(host, ws, {
      userId: cara.userId,
      grants: [{ role: "customer", scope: "site:a" }],
    });
    return { ws, olivia, otto, cara, eve };
  }

  const resources = (ws: string) => `/v1/workspaces/${ws}/resources`;
  async function list(session: Session, ws: string, query: string) {
    const response = await call(server.app, session, "GET", `${resources(ws)}?${query}`);
    expect(response.statusCode).toBe(200);
    return response.json() as { items: string[]; next: string | null };
  }

  it("registers, moves and deletes resources as the owner, each at a new revision", async () => {
    const { ws, olivia } = await panel();
    const created = expectRevision(
      await call(server.app, olivia, "PUT", `${resources(ws)}/server/s3`, {
        parent: `workspace:${ws}`,
      }),
    );
    const site = expectRevision(
      await call(server.app, olivia, "PUT", `${resources(ws)}/site/d`, { parent: "server:s3" }),
    );
    expect(site).toBe(created + 1);
    const moved = expectRevision(
      await call(server.app, olivia, "PUT", `${resources(ws)}/site/d`, { parent: "server:s1" }),
    );
    expect(moved).toBe(site + 1);
    // Upserting to the same parent changes nothing.
    expect(
      expectRevision(
        await call(server.app, olivia, "PUT", `${resources(ws)}/site/d`, { parent: "server:s1" }),
      ),
    ).toBe(moved);
    expect((await list(olivia, ws, "type=site&permission=site.view")).items).toEqual([
      "site:a",
      "site:b",
      "site:c",
      "site:d",
    ]);
    const deleted = await call(server.app, olivia, "DELETE", `${resources(ws)}/server/s3`);
    expect(expectRevision(deleted)).toBe(moved + 1);
    expect(deleted.json().deleted).toEqual(["server:s3"]);
  });

  it("pages the fleet list with limit and after; next is null on the last page", async () => {
    const { ws, olivia } = await panel();
    const first = await list(olivia, ws, "type=site&permission=site.view&limit=2");
    // A site has no child types: its children counts are empty.
    expect(first).toEqual({
      items: ["site:a", "site:b"],
      next: "site:b",
      children: { "site:a": {}, "site:b": {} },
    });
    const second = await list(
      olivia,
      ws,
      `type=site&permission=site.view&limit=2&after=${first.next}`,
    );
    expect(second).toEqual({ items: ["site:c"], next: null, children: { "site:c": {} } });
  });

  it("shows a site customer only their site: siblings and the server answer 404, her own site 403", async () => {
    const { ws, cara } = await panel();
    expect(await list(cara, ws, "type=site&permission=site.view")).toEqual({
      items: ["site:a"],
      next: null,
      children: { "site:a": {} },
    });
    expect((await list(cara, ws, "type=server&permission=server.view")).items).toEqual([]);
    expectProblem(
      await call(server.app, cara, "GET", `/v1/workspaces/${ws}/members`),
      403,
      "PERMISSION_DENIED",
    );
    // The server and the sibling site are outside her reach: they answer like missing ones.
    expectProblem(
      await call(server.app, cara, "PUT", `${resources(ws)}/site/x`, { parent: "server:s1" }),
      404,
      "RESOURCE_NOT_FOUND",
    );
    expectProblem(
      await call(server.app, cara, "DELETE", `${resources(ws)}/site/b`),
      404,
      "RESOURCE_NOT_FOUND",
    );
    expectProblem(
      await call(server.app, cara, "DELETE", `${resources(ws)}/site/nothing`),
      404,
      "RESOURCE_NOT_FOUND",
    );
    expectProblem(
      await call(server.app, cara, "DELETE", `${resources(ws)}/site/a`),
      403,
      "PERMISSION_DENIED",
    );
  });

  it("lets an operator create sites on their server only", async () => {
    const { ws, otto } = await panel();
    expectRevision(
      await call(server.app, otto, "PUT", `${resources(ws)}/site/new`, { parent: "server:s1" }),
    );
    expectProblem(
      await call(server.app, otto, "PUT", `${resources(ws)}/site/other`, { parent: "server:s2" }),
      404,
      "RESOURCE_NOT_FOUND",
    );
    expect((await list(otto, ws, "type=site&permission=site.view")).items).toEqual([
      "site:a",
      "site:b",
      "site:new",
    ]);
    // Without a permission, the fleet list uses the type's view permission (site.view here).
    expect((await list(otto, ws, "type=site")).items).toEqual(["site:a", "site:b", "site:new"]);
    expect((await list(otto, ws, "type=server")).items).toEqual(["server:s1"]);
  });

  it("answers 404 to outsiders and 401 to anonymous callers on every resource route", async () => {
    const { ws, eve } = await panel();
    expectProblem(
      await call(server.app, eve, "GET", `${resources(ws)}?type=site&permission=site.view`),
      404,
      "WORKSPACE_NOT_FOUND",
    );
    expectProblem(
      await call(server.app, eve, "PUT", `${resources(ws)}/site/x`, { parent: "server:s1" }),
      404,
      "WORKSPACE_NOT_FOUND",
    );
    expectProblem(
      await call(server.app, eve, "DELETE", `${resources(ws)}/site/a`),
      404,
      "WORKSPACE_NOT_FOUND",
    );
    expectProblem(
      await call(server.app, undefined, "GET", `${resources(ws)}?type=site&permission=site.view`),
      401,
      "INVALID_CREDENTIALS",
    );
    expectProblem(
      await call(server.app, undefined, "DELETE", `${resources(ws)}/site/a`),
      401,
      "INVALID_CREDENTIALS",
    );
  });

  it("refuses malformed input with 400 and unknown resources with 404", async () => {
    const { ws, olivia } = await panel();
    const bad = [
      `${resources(ws)}?type=Site&permission=site.view`,
      `${resources(ws)}?type=site&permission=site.view&limit=0`,
      `${resources(ws)}?type=site&permission=site.view&limit=1001`,
      `${resources(ws)}?type=site&permission=site.view&limit=ten`,
      `${resources(ws)}?type=site&permission=site.view&owner=me`,
    ];
    for (const url of bad)
      expectProblem(await call(server.app, olivia, "GET", url), 400, "INVALID_INPUT");
    expectProblem(
      await call(server.app, olivia, "GET", `${resources(ws)}?type=ship&permission=site.view`),
      400,
      "UNKNOWN_RESOURCE_TYPE",
    );
    expectProblem(
      await call(server.app, olivia, "GET", `${resources(ws)}?type=site&permission=site.fly`),
      400,
      "UNKNOWN_PERMISSION",
    );
    expectProblem(
      await call(server.app, olivia, "PUT", `${resources(ws)}/site/x`, {
        parent: "server:s1",
        createdAt: 0,
      }),
      400,
      "INVALID_INPUT",
    );
    expectProblem(
      await call(server.app, olivia, "PUT", `${resources(ws)}/site/x`, {}),
      400,
      "INVALID_INPUT",
    );
    expectProblem(
      await call(server.app, olivia, "PUT", `${resources(ws)}/site/x`, { parent: "s1" }),
      400,
      "INVALID_INPUT",
    );
    expectProblem(
      await call(server.app, olivia, "PUT", `${resources(ws)}/site/x`, {
        parent: `workspace:${ws}`,
      }),
      400,
      "INVALID_PARENT",
    );
    expectProblem(
      await call(server.app, olivia, "DELETE", `${resources(ws)}/site/nope`),
      404,
      "RESOURCE_NOT_FOUND",
    );
    expectProblem(
      await call(server.app, olivia, "DELETE", `${resources(ws)}/workspace/${ws}`),
      400,
      "INVALID_INPUT",
    );
    expect((await list(olivia, ws, "type=site&permission=site.view")).items).toHaveLength(3);
  });

  it("deletes a subtree; members whose every grant was on it lose access at once", async () => {
    const { ws, olivia, otto, cara } = await panel();
    const deleted = await call(server.app, olivia, "DELETE", `${resources(ws)}/server/s1`);
    expectRevision(deleted);
    expect([...deleted.json().deleted].sort()).toEqual(["server:s1", "site:a", "site:b"]);
    for (const person of [otto, cara]) {
      expectProblem(
        await call(server.app, person, "GET", `/v1/workspaces/${ws}`),
        404,
        "WORKSPACE_NOT_FOUND",
      );
    }
    expect((await list(olivia, ws, "type=site&permission=site.view")).items).toEqual(["site:c"]);
  });
});
