import type { AddressInfo } from "node:net";
import { systemActor } from "@gatehouse/service";
import type { LightMyRequestResponse } from "fastify";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { startAdminApp } from "../../../docs/examples/sign-in-verifier.mjs";
import { buildApp } from "../src/app.ts";
import { loadConfig } from "../src/config.ts";
import {
  backends,
  call,
  expectProblem,
  openServer,
  type Session,
  signUp,
  type TestServer,
} from "./harness.ts";

const ISSUER = "http://localhost:8080";

/** What the hand-off page makes the browser do: post `assertion` to `action`. */
function formOf(page: LightMyRequestResponse): { action: string; assertion: string } {
  const action = /<form id="handoff" method="post" action="([^"]+)">/.exec(page.body)?.[1];
  const assertion = /name="assertion" value="([^"]+)"/.exec(page.body)?.[1];
  if (action === undefined || assertion === undefined)
    throw new Error(`no hand-off form: ${page.body}`);
  return { action, assertion };
}

/** Why the admin app refused an assertion. */
async function reasonOf(response: Response): Promise<string> {
  expect(response.status).toBe(401);
  return ((await response.json()) as { refused: string }).refused;
}

/** The browser's form POST to the admin app (real HTTP), without following its redirect. */
function post(action: string, assertion: string): Promise<Response> {
  return fetch(action, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ assertion }).toString(),
    redirect: "manual",
  });
}

describe.each(backends)(
  "sign-in handoff into a site's admin app on $name",
  { timeout: 30_000 },
  (backend) => {
    let server: TestServer;
    let jwksUrl: string;
    const apps: { close(): Promise<void> }[] = [];

    beforeEach(async () => {
      server = await openServer(backend);
      await server.app.listen({ port: 0, host: "127.0.0.1" });
      const { port } = server.app.server.address() as AddressInfo;
      jwksUrl = `http://127.0.0.1:${port}/.well-known/jwks.json`;
    });
    afterEach(async () => {
      for (const app of apps.splice(0)) await app.close();
      await server.close();
    });

    /** The example admin app of docs/examples, for one site, on the server's clock. */
    async function adminApp(site: string) {
      const app = await startAdminApp({
        issuer: ISSUER,
        jwksUrl,
        site,
        now: () => server.clock.now,
      });
      apps.push(app);
      return app;
    }

    /**
     * A managed.dev team (the `managed` preset): project p1 with the shop (production and staging) and the blog;
     * Sam manages the shop site, Bea the blog, Oscar observes, Bill does billing.
     */
    async function team() {
      const olivia = await signUp(server.app, "olivia");
      const ws: string = (
        await call(server.app, olivia, "POST", "/v1/workspaces", {
          name: "Agency",
          preset: "managed",
        })
      ).json().id;
      const host = systemActor();
      for (const [resource, parent] of [
        ["project:p1", `workspace:${ws}`],
        ["site:shop", "project:p1"],
        ["environment:shop-prod", "site:shop"],
        ["environment:shop-staging", "site:shop"],
        ["site:blog", "project:p1"],
        ["environment:blog-prod", "site:blog"],
      ] as const)
        await server.gatehouse.resources.upsert(host, ws, { resource, parent });
      const people: Record<string, Session> = {};
      for (const [name, role, scope] of [
        ["sam", "site_manager", "site:shop"],
        ["bea", "site_manager", "site:blog"],
        ["oscar", "observer", `workspace:${ws}`],
        ["bill", "billing", `workspace:${ws}`],
      ] as const) {
        people[name] = await signUp(server.app, name);
        await server.gatehouse.members.add(host, ws, {
          userId: people[name]!.userId,
          grants: [{ role, scope }],
        });
      }
      const shop = await adminApp("environment:shop-prod");
      const blog = await adminApp("environment:blog-prod");
      // The shop's staging environment shares the production sign-in URL (one WordPress network).
      for (const [environment, url] of [
        ["shop-prod", shop.url],
        ["shop-staging", shop.url],
        ["blog-prod", blog.url],
      ] as const) {
        const named = await call(
          server.app,
          olivia,
          "PUT",
          `/v1/workspaces/${ws}/resources/environment/${environment}/sign-in-target`,
          { url },
        );
        expect(named.statusCode).toBe(200);
      }
      return {
        ws,
        olivia,
        shop,
        blog,
        ...(people as Record<"sam" | "bea" | "oscar" | "bill", Session>),
      };
    }

    async function linkFor(member: Session, ws: string, environment: string) {
      const response = await call(
        server.app,
        member,
        "POST",
        `/v1/workspaces/${ws}/resources/environment/${environment}/sign-in`,
      );
      return response;
    }

    /** Opens a link as a browser would: the Gatehouse page (the path of the link). */
    const open = (url: string) => server.app.inject({ method: "GET", url: new URL(url).pathname });

    it("signs a site manager into the shop's admin app once: the link works once, the assertion once", async () => {
      const { ws, sam, shop } = await team();
      const asked = await linkFor(sam, ws, "shop-prod");
      expect(asked.statusCode).toBe(201);
      const { url, expiresAt } = asked.json();
      expect(url).toMatch(new RegExp(`^${ISSUER}/v1/sign-in/[A-Za-z0-9_-]{43}$`));
      expect(expiresAt).toBe(server.clock.now + 60_000);

      const page = await open(url);
      expect(page.statusCode).toBe(200);
      expect(page.headers["content-type"]).toMatch(/^text\/html/);
      expect(page.headers["cache-control"]).toBe("no-store");
      expect(page.headers["referrer-policy"]).toBe("no-referrer");
      // A page under the API's paths still gets the pages' headers, then its own policy.
      expect(page.headers["cross-origin-opener-policy"]).toBe("same-origin");
      const csp = String(page.headers["content-security-policy"]);
      expect(csp).toContain(`form-action ${new URL(shop.url).origin}`);
      expect(csp).toMatch(/script-src 'sha256-[A-Za-z0-9+/=]+'/);
      const form = formOf(page);
      expect(form.action).toBe(shop.url);

      const signedIn = await post(form.action, form.assertion);
      expect(signedIn.status).toBe(303);
      const cookie = signedIn.headers.get("set-cookie")!.split(";")[0]!;
      const admin = await fetch(new URL("/admin/", shop.url), { headers: { cookie } });
      expect(await admin.json()).toEqual({
        signedIn: true,
        userId: sam.userId,
        email: "sam@example.com",
        name: "sam",
        role: "site_manager",
        site: "environment:shop-prod",
        workspace: ws,
        permissions: expect.arrayContaining(["sso.login"]),
      });

      // Replayed at the admin app, and the link used again: both refused.
      const replay = await post(form.action, form.assertion);
      expect(replay.status).toBe(401);
      expect(await reasonOf(replay)).toBe("replayed");
      expectProblem(await open(url), 410, "SIGN_IN_LINK_INVALID");
    });

    it("refuses an expired link and an expired assertion", async () => {
      const { ws, sam, shop } = await team();
      const late = (await linkFor(sam, ws, "shop-prod")).json().url;
      server.clock.now += 60_001;
      expectProblem(await open(late), 410, "SIGN_IN_LINK_INVALID");

      const form = formOf(await open((await linkFor(sam, ws, "shop-prod")).json().url));
      server.clock.now += 61_000;
      const refused = await post(shop.url, form.assertion);
      expect(refused.status).toBe(401);
      expect(await reasonOf(refused)).toBe("expired");
    });

    it("refuses an assertion carried to another admin app: the wrong audience", async () => {
      const { ws, sam, blog } = await team();
      const form = formOf(await open((await linkFor(sam, ws, "shop-prod")).json().url));
      const refused = await post(blog.url, form.assertion);
      expect(refused.status).toBe(401);
      expect(await reasonOf(refused)).toBe("wrong_audience");
    });

    it("refuses another site's link at a sign-in URL the two share", async () => {
      const { ws, sam, shop } = await team();
      const form = formOf(await open((await linkFor(sam, ws, "shop-staging")).json().url));
      expect(form.action).toBe(shop.url);
      const refused = await post(shop.url, form.assertion);
      expect(refused.status).toBe(401);
      expect(await reasonOf(refused)).toBe("another_site");
    });

    it("gives no link to a member without the permission, nor outside their reach, and logs it", async () => {
      const { ws, olivia, oscar, bill, bea } = await team();
      // The observer and billing see the environment but may not change the site from wp-admin.
      expectProblem(await linkFor(oscar, ws, "shop-prod"), 403, "PERMISSION_DENIED");
      expectProblem(await linkFor(bill, ws, "shop-prod"), 403, "PERMISSION_DENIED");
      // The blog's manager: the shop's environment answers like one that does not exist.
      const hidden = await linkFor(bea, ws, "shop-prod");
      const missing = await linkFor(bea, ws, "nowhere");
      expectProblem(hidden, 404, "RESOURCE_NOT_FOUND");
      expectProblem(missing, 404, "RESOURCE_NOT_FOUND");
      expect(hidden.json().detail).toBe(missing.json().detail.replace("nowhere", "shop-prod"));
      const eve = await signUp(server.app, "eve");
      expectProblem(await linkFor(eve, ws, "shop-prod"), 404, "WORKSPACE_NOT_FOUND");
      const log = await call(
        server.app,
        olivia,
        "GET",
        `/v1/workspaces/${ws}/audit?action=sign_in.link.create&result=denied`,
      );
      expect(
        log
          .json()
          .entries.map((entry: { actor: { id: string } }) => entry.actor.id)
          .sort(),
      ).toEqual([bea.userId, bill.userId, oscar.userId, eve.userId].sort());
    });

    it("answers a link for a resource without an admin app with SIGN_IN_NOT_CONFIGURED", async () => {
      const { ws, olivia, sam } = await team();
      const removed = await call(
        server.app,
        olivia,
        "DELETE",
        `/v1/workspaces/${ws}/resources/environment/shop-prod/sign-in-target`,
      );
      expect(removed.statusCode).toBe(200);
      expectProblem(await linkFor(sam, ws, "shop-prod"), 409, "SIGN_IN_NOT_CONFIGURED");
      const targets = await call(server.app, olivia, "GET", `/v1/workspaces/${ws}/sign-in-targets`);
      expect(targets.json().targets.map((target: { resource: string }) => target.resource)).toEqual(
        ["environment:blog-prod", "environment:shop-staging"],
      );
      expectProblem(
        await call(server.app, sam, "GET", `/v1/workspaces/${ws}/sign-in-targets`),
        403,
        "PERMISSION_DENIED",
      );
    });

    it("keeps a link's token out of the server's request log", async () => {
      const { ws, sam } = await team();
      const lines: string[] = [];
      const logged = await buildApp({
        gatehouse: server.gatehouse,
        config: loadConfig({ DEMO: "false" }),
        logger: { level: "info", stream: { write: (line) => lines.push(line) } },
      });
      try {
        const { url } = (await linkFor(sam, ws, "shop-prod")).json();
        const token = url.split("/").at(-1);
        expect(
          (await logged.inject({ method: "GET", url: new URL(url).pathname })).statusCode,
        ).toBe(200);
        // The request's one line names the route, never the URL.
        expect(lines.join("")).toContain('"route":"/v1/sign-in/:token"');
        expect(lines.join("")).not.toContain(token);
      } finally {
        await logged.close();
      }
    });

    it("publishes the verifying keys at /.well-known/jwks.json, public halves only", async () => {
      const { ws, sam } = await team();
      await open((await linkFor(sam, ws, "shop-prod")).json().url);
      const response = await server.app.inject({ method: "GET", url: "/.well-known/jwks.json" });
      expect(response.statusCode).toBe(200);
      expect(response.headers["content-type"]).toMatch(/^application\/jwk-set\+json/);
      const { keys } = response.json() as { keys: Record<string, string>[] };
      expect(keys).toHaveLength(1);
      expect(keys[0]).toEqual({
        kid: expect.any(String),
        kty: "EC",
        crv: "P-256",
        x: expect.any(String),
        y: expect.any(String),
        alg: "ES256",
        use: "sig",
      });
    });
  },
);
