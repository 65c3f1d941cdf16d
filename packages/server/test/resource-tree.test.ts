import { systemActor } from "@gatehouse/service";
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

interface TreePage {
  readonly items: string[];
  readonly next: string | null;
  readonly children: Record<string, Record<string, number>>;
}

describe.each(backends)(
  "the resource tree, level by level with counts (#16) on $name",
  (backend) => {
    let server: TestServer;

    beforeEach(async () => {
      server = await openServer(backend);
    });
    afterEach(async () => {
      await server.close();
    });

    async function list(session: Session, ws: string, query: string): Promise<TreePage> {
      const response = await call(
        server.app,
        session,
        "GET",
        `/v1/workspaces/${ws}/resources?${query}`,
      );
      expect(response.statusCode, response.body).toBe(200);
      return response.json();
    }

    /** Every page of a listing, following `next`. */
    async function walk(session: Session, ws: string, query: string): Promise<string[][]> {
      const pages: string[][] = [];
      let after: string | null = null;
      do {
        const page: TreePage = await list(
          session,
          ws,
          after === null ? query : `${query}&after=${encodeURIComponent(after)}`,
        );
        pages.push(page.items);
        after = page.next;
      } while (after !== null && pages.length < 20);
      return pages;
    }

    /**
     * Ada's MZPanel workspace: server fra-1 with 12 sites, fra-2 with 3, fra-3 with none; Otto
     * operates fra-1 and is the customer of one site on fra-2 (fra-2-b).
     */
    async function fleet(): Promise<{ ws: string; ada: Session; otto: Session; host: Session }> {
      const ada = await signUp(server.app, "ada");
      const otto = await signUp(server.app, "otto");
      const ws: string = (await call(server.app, ada, "GET", "/v1/me")).json().workspaces[0].id;
      const system = systemActor();
      const sites = (server: string, count: number) =>
        Array.from({ length: count }, (_, index) => ({
          resource: `site:${server}-${String.fromCharCode(97 + index)}`,
          parent: `server:${server}`,
        }));
      await server.gatehouse.resources.sync(system, ws, {
        resources: [
          ...["fra-1", "fra-2", "fra-3"].map((name) => ({
            resource: `server:${name}`,
            parent: `workspace:${ws}`,
          })),
          ...sites("fra-1", 12),
          ...sites("fra-2", 3),
        ],
      });
      await server.gatehouse.members.add(system, ws, {
        userId: otto.userId,
        grants: [
          { role: "operator", scope: "server:fra-1" },
          { role: "customer", scope: "site:fra-2-b" },
        ],
      });
      return { ws, ada, otto, host: await hostCaller(server.gatehouse) };
    }

    it("lists each server with how many sites it has, and a server's sites page by page", async () => {
      const { ws, ada, host } = await fleet();
      for (const caller of [ada, host]) {
        const servers = await list(caller, ws, "type=server");
        expect(servers).toEqual({
          items: ["server:fra-1", "server:fra-2", "server:fra-3"],
          next: null,
          children: {
            "server:fra-1": { site: 12 },
            "server:fra-2": { site: 3 },
            "server:fra-3": { site: 0 },
          },
        });
        const pages = await walk(caller, ws, "type=site&parent=server:fra-1&limit=5");
        expect(pages.map((page) => page.length)).toEqual([5, 5, 2]);
        expect(pages.flat()).toEqual(
          Array.from({ length: 12 }, (_, index) => `site:fra-1-${String.fromCharCode(97 + index)}`),
        );
      }
      // A site has no children in this model: an empty count, not a made-up one.
      const sites = await list(ada, ws, "type=site&parent=server:fra-2");
      expect(sites).toEqual({
        items: ["site:fra-2-a", "site:fra-2-b", "site:fra-2-c"],
        next: null,
        children: { "site:fra-2-a": {}, "site:fra-2-b": {}, "site:fra-2-c": {} },
      });
      // The first level is the root's children; search works among children as in the fleet list.
      expect((await list(ada, ws, `type=server&parent=workspace:${ws}&q=RA-2`)).items).toEqual([
        "server:fra-2",
      ]);
      expect((await list(ada, ws, "type=site&parent=server:fra-1&q=-k")).items).toEqual([
        "site:fra-1-k",
      ]);
    });

    it("counts and lists only the children the caller may see, and answers 404 for a parent out of reach as for none", async () => {
      const { ws, otto } = await fleet();
      // Otto sees fra-1 (operator) but not fra-2, where he only runs one site.
      expect(await list(otto, ws, `type=server&parent=workspace:${ws}`)).toEqual({
        items: ["server:fra-1"],
        next: null,
        children: { "server:fra-1": { site: 12 } },
      });
      expect((await walk(otto, ws, "type=site&parent=server:fra-1&limit=10")).flat()).toHaveLength(
        12,
      );
      const hidden = await call(
        server.app,
        otto,
        "GET",
        `/v1/workspaces/${ws}/resources?type=site&parent=server:fra-2`,
      );
      const missing = await call(
        server.app,
        otto,
        "GET",
        `/v1/workspaces/${ws}/resources?type=site&parent=server:nowhere`,
      );
      expectProblem(hidden, 404, "RESOURCE_NOT_FOUND");
      expectProblem(missing, 404, "RESOURCE_NOT_FOUND");
      expect(hidden.json().detail).toBe(
        missing.json().detail.replace("server:nowhere", "server:fra-2"),
      );
    });

    it("counts a customer's hostings by the hosting view: a Customer Manager's hidden hostings are not counted (hosting-customer)", async () => {
      const ada = await signUp(server.app, "ada");
      const mia = await signUp(server.app, "mia");
      const ws: string = (
        await call(server.app, ada, "POST", "/v1/workspaces", {
          name: "Hosting team",
          preset: "hosting-customer",
        })
      ).json().id;
      const system = systemActor();
      await server.gatehouse.resources.sync(system, ws, {
        resources: [
          { resource: "customer:c1", parent: `workspace:${ws}` },
          { resource: "customer:c2", parent: `workspace:${ws}` },
          { resource: "hosting:h1", parent: "customer:c1" },
          { resource: "hosting:h2", parent: "customer:c1" },
          { resource: "hosting:h3", parent: "customer:c1" },
          { resource: "hosting:h4", parent: "customer:c2" },
        ],
      });
      // Mia manages c1's account (no hosting access) and runs the web side of h2 only.
      await server.gatehouse.members.add(system, ws, {
        userId: mia.userId,
        grants: [
          { role: "customer_manager", scope: "customer:c1" },
          { role: "hosting_web", scope: "hosting:h2" },
        ],
      });
      expect(await list(mia, ws, "type=customer")).toEqual({
        items: ["customer:c1"],
        next: null,
        children: { "customer:c1": { hosting: 1 } },
      });
      expect((await list(mia, ws, "type=hosting&parent=customer:c1")).items).toEqual([
        "hosting:h2",
      ]);
      expectProblem(
        await call(
          server.app,
          mia,
          "GET",
          `/v1/workspaces/${ws}/resources?type=hosting&parent=customer:c2`,
        ),
        404,
        "RESOURCE_NOT_FOUND",
      );
      expect((await list(ada, ws, "type=customer")).children).toEqual({
        "customer:c1": { hosting: 3 },
        "customer:c2": { hosting: 1 },
      });
    });
  },
);
