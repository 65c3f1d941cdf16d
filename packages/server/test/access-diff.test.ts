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

describe.each(backends)(
  "?dryRun=true on structural writes, over HTTP on $name (issue 18)",
  (backend) => {
    let server: TestServer;
    let ada: Session;
    let carol: Session;
    let otto: Session;
    let ws: string;

    /** Ada's MZPanel fleet; Otto the operator of server s1, Carol the customer of site a. */
    beforeEach(async () => {
      server = await openServer(backend);
      ada = await signUp(server.app, "ada");
      carol = await signUp(server.app, "carol");
      otto = await signUp(server.app, "otto");
      ws = (await call(server.app, ada, "GET", "/v1/me")).json().workspaces[0].id;
      await registerFleet(server.gatehouse, ws);
      const host = systemActor();
      await server.gatehouse.members.add(host, ws, {
        userId: otto.userId,
        grants: [{ role: "operator", scope: "server:s1" }],
      });
      await server.gatehouse.members.add(host, ws, {
        userId: carol.userId,
        grants: [{ role: "customer", scope: "site:a" }],
      });
    });
    afterEach(async () => {
      await server.close();
    });

    it("answers who loses what when a member's role changes, named, and changes nothing", async () => {
      const url = `/v1/workspaces/${ws}/members/${otto.userId}`;
      const body = { grants: [{ role: "customer", scope: "site:b" }] };
      const preview = await call(server.app, ada, "PATCH", `${url}?dryRun=true`, body);
      expect(preview.statusCode).toBe(200);
      const { diff, revision } = preview.json();
      const onSiteA = diff.find(
        (entry: { subject: string; resource: string }) =>
          entry.subject === `user:${otto.userId}` && entry.resource === "site:a",
      );
      expect(onSiteA.user.name).toBe("otto");
      expect(onSiteA.lost).toContain("site.deploy");
      expect(onSiteA.gained).toEqual([]);
      const done = await call(server.app, ada, "PATCH", url, body);
      expect(done.json()).toEqual({ revision: revision + 1 });
    });

    it("previews a move and a delete with the checks of the change: out of reach is 404", async () => {
      const move = await call(
        server.app,
        ada,
        "PUT",
        `/v1/workspaces/${ws}/resources/site/a?dryRun=true`,
        { parent: "server:s2" },
      );
      expect(move.statusCode).toBe(200);
      expect(move.json().diff.map((entry: { subject: string }) => entry.subject)).toContain(
        `user:${otto.userId}`,
      );
      const remove = await call(
        server.app,
        ada,
        "DELETE",
        `/v1/workspaces/${ws}/resources/server/s1?dryRun=true`,
      );
      expect(remove.json().deleted.sort()).toEqual(["server:s1", "site:a", "site:b"]);
      expect(remove.json().diff.length).toBeGreaterThan(0);
      expectProblem(
        await call(
          server.app,
          carol,
          "DELETE",
          `/v1/workspaces/${ws}/resources/server/s2?dryRun=true`,
        ),
        404,
        "RESOURCE_NOT_FOUND",
      );
      // Nothing was written: site a is still under server s1 and Carol still sees it.
      const check = await call(server.app, carol, "POST", `/v1/workspaces/${ws}/check`, {
        permission: "site.view",
        resource: "site:a",
      });
      expect(check.json().allowed).toBe(true);
    });

    it("refuses ?dryRun on a write that has none, and writes nothing", async () => {
      const created = await server.gatehouse.members.createGroup(systemActor(), ws, {
        name: "Web",
      });
      const url = `/v1/workspaces/${ws}/groups/${created.group.id}`;
      expectProblem(
        await call(server.app, ada, "DELETE", `${url}?dryRun=true`),
        400,
        "INVALID_INPUT",
      );
      const groups = await call(server.app, ada, "GET", `/v1/workspaces/${ws}/groups`);
      expect(groups.json().groups.map((group: { id: string }) => group.id)).toEqual([
        created.group.id,
      ]);
    });

    it("answers a dry run of giving a grant with 200 and the diff, the grant itself with 201", async () => {
      const url = `/v1/workspaces/${ws}/grants`;
      const body = { subject: `user:${carol.userId}`, role: "operator", scope: "server:s2" };
      const preview = await call(server.app, ada, "POST", `${url}?dryRun=true`, body);
      expect(preview.statusCode).toBe(200);
      expect(
        preview
          .json()
          .diff.map((entry: { resource: string }) => entry.resource)
          .sort(),
      ).toEqual(["server:s2", "site:c"]);
      expect((await call(server.app, ada, "POST", url, body)).statusCode).toBe(201);
    });
  },
);
