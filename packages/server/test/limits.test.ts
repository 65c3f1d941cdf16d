import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { FastifyInstance, LightMyRequestResponse } from "fastify";
import { afterEach, describe, expect, it } from "vitest";
import { buildApp } from "../src/app.ts";
import { type ConfigError, loadConfig } from "../src/config.ts";
import { backends, call, expectProblem, openServer, signUp, type TestServer } from "./harness.ts";
import { startInstance } from "./support/instances.ts";

/**
 * The HTTP edge's limits and hygiene: the per-caller rate limit, the client address behind
 * trusted proxies, open change streams in all, one log line per request, security headers.
 */
describe("limits, proxies, logs and headers", () => {
  const backend = backends[0]!;
  let server: TestServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  /** A server with these settings; RATE_LIMIT and RATE_LIMIT_HOST at their defaults unless set. */
  const open = async (env: Record<string, string> = {}) => {
    server = await openServer(backend, { env: { RATE_LIMIT: "", RATE_LIMIT_HOST: "", ...env } });
    return server;
  };

  /** An anonymous request from `peer`, as a proxy at that address would forward it. */
  const anonymous = (app: FastifyInstance, peer: string, headers: Record<string, string> = {}) =>
    app.inject({ method: "GET", url: "/v1/presets", remoteAddress: peer, headers });

  it("reads the limits and trusted proxies from the environment, refusing bad values with reasons", () => {
    expect(loadConfig({})).toMatchObject({
      rateLimits: { perCaller: 600, host: 6000 },
      streamLimits: { perCaller: 10, total: 1000 },
      trustProxy: false,
    });
    expect(loadConfig({ TRUST_PROXY: "2" }).trustProxy).toBe(2);
    expect(loadConfig({ TRUST_PROXY: "10.0.0.0/8, ::1, loopback" }).trustProxy).toEqual([
      "10.0.0.0/8",
      "::1",
      "loopback",
    ]);
    let problems: readonly string[] = [];
    try {
      loadConfig({ RATE_LIMIT: "0", STREAM_LIMIT: "ten", TRUST_PROXY: "10.0.0.0/33,proxy.local" });
    } catch (error) {
      problems = (error as ConfigError).problems;
    }
    expect(problems).toEqual([
      expect.stringMatching(/^STREAM_LIMIT is a whole number of streams/),
      expect.stringMatching(/^RATE_LIMIT is a whole number of requests a minute/),
      expect.stringMatching(/^TRUST_PROXY names proxies .* "10\.0\.0\.0\/33"/),
      expect.stringMatching(/^TRUST_PROXY names proxies .* "proxy\.local"/),
    ]);
  });

  it("limits each caller to RATE_LIMIT requests a minute, 600 by default", async () => {
    const { app } = await open();
    const ada = await signUp(app, "ada");
    const first = await call(app, ada, "GET", "/v1/me");
    expect(first.statusCode).toBe(200);
    expect(first.headers["x-ratelimit-limit"]).toBe("600");
    expect(first.headers["x-ratelimit-remaining"]).toBe("599");
  });

  it("answers 429 RATE_LIMITED with Retry-After once a caller passes RATE_LIMIT, per caller", async () => {
    // A small limit, so that the minute's window cannot end before the test passes it.
    const { app } = await open({ RATE_LIMIT: "20" });
    const ada = await signUp(app, "ada");
    const bob = await signUp(app, "bob");
    const statuses = new Set<number>();
    for (let index = 0; index < 20; index++)
      statuses.add((await call(app, ada, "GET", "/v1/me")).statusCode);
    expect([...statuses]).toEqual([200]);
    const refused = await call(app, ada, "GET", "/v1/me");
    expectProblem(refused, 429, "RATE_LIMITED");
    const retryAfter = Number(refused.headers["retry-after"]);
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect(refused.headers["x-ratelimit-limit"]).toBe("20");
    expect(refused.headers["x-ratelimit-remaining"]).toBe("0");
    expect(refused.headers["x-ratelimit-reset"]).toBe(String(retryAfter));
    expect(refused.json().detail).toMatch(
      /^too many requests \(at most 20 a minute\); try again in (\d+ seconds?|1 minute)$/,
    );
    // Another person has their own budget; health and metrics answer whoever asks.
    expect((await call(app, bob, "GET", "/v1/me")).statusCode).toBe(200);
    expect((await call(app, ada, "GET", "/healthz")).statusCode).toBe(200);
    expect((await call(app, ada, "GET", "/readyz")).statusCode).toBe(200);
  });

  it("counts requests with bad credentials against the client address", async () => {
    const { app } = await open({ RATE_LIMIT: "3" });
    const bad = { authorization: "Bearer gh_not-a-key" };
    for (let index = 0; index < 3; index++)
      expectProblem(await anonymous(app, "192.0.2.7", bad), 401, "INVALID_CREDENTIALS");
    expectProblem(await anonymous(app, "192.0.2.7", bad), 429, "RATE_LIMITED");
    expect((await anonymous(app, "192.0.2.8", bad)).statusCode).toBe(401);
  });

  it("ignores X-Forwarded-For without TRUST_PROXY: clients behind one proxy share its address's limit", async () => {
    const { app } = await open({ RATE_LIMIT: "2" });
    for (const client of ["203.0.113.1", "203.0.113.1"])
      expect((await anonymous(app, "10.0.0.1", { "x-forwarded-for": client })).statusCode).toBe(
        200,
      );
    expectProblem(
      await anonymous(app, "10.0.0.1", { "x-forwarded-for": "203.0.113.2" }),
      429,
      "RATE_LIMITED",
    );
  });

  it("takes the client address from X-Forwarded-For of a proxy named in TRUST_PROXY, and only of it", async () => {
    const { app } = await open({ RATE_LIMIT: "2", TRUST_PROXY: "10.0.0.0/24" });
    for (const client of ["203.0.113.1", "203.0.113.1"])
      expect((await anonymous(app, "10.0.0.1", { "x-forwarded-for": client })).statusCode).toBe(
        200,
      );
    expectProblem(
      await anonymous(app, "10.0.0.1", { "x-forwarded-for": "203.0.113.1" }),
      429,
      "RATE_LIMITED",
    );
    // Another client behind the same proxy has its own limit.
    expect(
      (await anonymous(app, "10.0.0.1", { "x-forwarded-for": "203.0.113.2" })).statusCode,
    ).toBe(200);
    // A peer that is not a trusted proxy cannot pass for another client: it counts as itself.
    for (let index = 0; index < 2; index++)
      await anonymous(app, "198.51.100.9", { "x-forwarded-for": `203.0.113.${10 + index}` });
    expectProblem(
      await anonymous(app, "198.51.100.9", { "x-forwarded-for": "203.0.113.99" }),
      429,
      "RATE_LIMITED",
    );
  });

  it("holds at most STREAM_LIMIT_TOTAL change streams on an instance, and frees a place when one ends", async () => {
    const { app } = await open({ STREAM_LIMIT_TOTAL: "2" });
    const people = await Promise.all(["ada", "bob", "cleo"].map((name) => signUp(app, name)));
    const opened: LightMyRequestResponse[] = [];
    const streamOf = async (index: number) => {
      const person = people[index]!;
      const ws = (await call(app, person, "GET", "/v1/me")).json().workspaces[0].id;
      // As a stream: an event stream never ends, so inject answers at its first headers.
      return app.inject({
        method: "GET",
        url: `/v1/workspaces/${ws}/changes`,
        headers: person.headers,
        payloadAsStream: true,
      });
    };
    for (const index of [0, 1]) {
      const response = await streamOf(index);
      expect(response.statusCode).toBe(200);
      opened.push(response);
    }
    const refused = await streamOf(2);
    expect(refused.statusCode).toBe(429);
    expect(refused.headers["retry-after"]).toBe("5");
    // The client goes away: its place is free.
    opened[0]!.raw.res.destroy();
    await new Promise((resolve) => setImmediate(resolve));
    const again = await streamOf(2);
    expect(again.statusCode).toBe(200);
    again.raw.res.destroy();
    opened[1]!.raw.res.destroy();
  });

  it("writes one log line per request at info — method, route, status, duration, caller kind — and no token, cookie or email", async () => {
    const { app: opened, gatehouse } = await open();
    // Signed up through the test server's app (whose mail the harness reads); the session is the
    // same service's, so it works on the logging app below.
    const ada = await signUp(opened, "ada");
    const lines: string[] = [];
    const app = await buildApp({
      gatehouse,
      config: loadConfig({ DEMO: "false" }),
      logger: { level: "info", stream: { write: (line) => lines.push(line) } },
    });
    try {
      const ws = (await call(app, ada, "GET", "/v1/me")).json().workspaces[0].id;
      const key = await call(app, ada, "POST", `/v1/workspaces/${ws}/api-keys`, {
        name: "ci",
        scopes: ["*"],
      });
      expect(key.statusCode).toBe(201);
      const secret = key.json().secret as string;
      lines.length = 0;
      const me = await call(app, ada, "GET", "/v1/me");
      expect(me.statusCode).toBe(200);
      expect(lines).toHaveLength(1);
      expect(JSON.parse(lines[0]!)).toMatchObject({
        level: 30,
        msg: "request",
        method: "GET",
        route: "/v1/me",
        status: 200,
        ms: expect.any(Number),
        caller: "user",
      });
      const model = await app.inject({
        url: `/v1/workspaces/${ws}/model`,
        headers: { authorization: `Bearer ${secret}` },
      });
      expect(model.statusCode).toBe(200);
      expect(lines).toHaveLength(2);
      expect(JSON.parse(lines[1]!)).toMatchObject({ caller: "api_key", status: 200 });
      expect(
        (await app.inject({ url: "/v1/no-such-route?email=ada@example.com" })).statusCode,
      ).toBe(404);
      expect(lines).toHaveLength(3);
      expect(JSON.parse(lines[2]!)).toMatchObject({
        route: "(no route)",
        status: 404,
        caller: "anonymous",
      });
      const everything = lines.join("");
      for (const secretText of [secret, ...ada.headers.cookie!.split(/[=;] ?/), "ada@example.com"])
        if (secretText.length > 20 || secretText.includes("@"))
          expect(everything).not.toContain(secretText);
    } finally {
      await app.close();
    }
  });

  it("logs an unhandled error through the request's own logger, with the request line's id, and none below warn", async () => {
    const { gatehouse } = await open();
    const lines: string[] = [];
    const build = (level: string) =>
      buildApp({
        gatehouse,
        config: loadConfig({ DEMO: "false" }),
        logger: { level, stream: { write: (line) => lines.push(line) } },
      });
    const app = await build("info");
    app.get("/v1/test-failure", async () => {
      throw new Error("a bug");
    });
    try {
      expect((await app.inject({ url: "/v1/test-failure" })).statusCode).toBe(500);
      const [failure, request] = lines.map((line) => JSON.parse(line));
      expect(failure).toMatchObject({
        level: 50,
        msg: "unhandled error",
        err: { message: "a bug" },
      });
      expect(request).toMatchObject({ level: 30, msg: "request", status: 500 });
      expect(failure.reqId).toEqual(expect.any(String));
      expect(request.reqId).toBe(failure.reqId);
    } finally {
      await app.close();
    }
    lines.length = 0;
    const quiet = await build("warn");
    try {
      expect((await quiet.inject({ url: "/v1/presets" })).statusCode).toBe(200);
      expect(lines).toEqual([]);
    } finally {
      await quiet.close();
    }
  });

  it("writes a server process's request lines to standard output, in order, every one of them by its exit", async () => {
    const folder = mkdtempSync(join(tmpdir(), "gatehouse-log-"));
    const logFile = join(folder, "server.log");
    const instance = await startInstance({
      env: { DATA_DIR: folder, LOG_LEVEL: "info" },
      logFile,
      readyTimeoutMs: 120_000,
    });
    try {
      const paths = ["/healthz", "/v1/presets", "/v1/no-such-route", "/healthz"];
      // Together, so several answers (and their lines) fall in one turn of the event loop.
      await Promise.all(paths.map((path) => fetch(`${instance.url}${path}`)));
      await fetch(`${instance.url}/v1/presets`);
    } finally {
      await instance.stop();
    }
    const requests = readFileSync(logFile, "utf8")
      .split("\n")
      .filter((line) => line.includes('"msg":"request"'))
      .map((line) => JSON.parse(line));
    // The readiness probes, then the four together (in any order), then the last one.
    const ours = requests.filter((line) => line.route !== "/readyz");
    expect(ours.map((line) => line.route).sort()).toEqual(
      ["(no route)", "/healthz", "/healthz", "/v1/presets", "/v1/presets"].sort(),
    );
    expect(ours.at(-1)).toMatchObject({ method: "GET", route: "/v1/presets", status: 200 });
    for (const line of requests)
      expect(Object.keys(line)).toEqual([
        "level",
        "time",
        "pid",
        "hostname",
        "reqId",
        "method",
        "route",
        "status",
        "ms",
        "caller",
        "msg",
      ]);
    rmSync(folder, { recursive: true, force: true });
  }, 180_000);

  it("sets security headers on every answer, and Strict-Transport-Security only over TLS", async () => {
    const { app } = await open({ TRUST_PROXY: "127.0.0.1" });
    const plain = await anonymous(app, "127.0.0.1");
    expect(plain.headers).toMatchObject({
      "x-content-type-options": "nosniff",
      "x-frame-options": "DENY",
      "referrer-policy": "no-referrer",
    });
    expect(String(plain.headers["content-security-policy"])).toContain("frame-ancestors 'none'");
    expect(plain.headers["strict-transport-security"]).toBeUndefined();
    const overTls = await anonymous(app, "127.0.0.1", { "x-forwarded-proto": "https" });
    expect(overTls.headers["strict-transport-security"]).toBe(
      "max-age=31536000; includeSubDomains",
    );
    // From a peer that is not a trusted proxy, X-Forwarded-Proto says nothing.
    const forged = await anonymous(app, "192.0.2.1", { "x-forwarded-proto": "https" });
    expect(forged.headers["strict-transport-security"]).toBeUndefined();
    // The API docs' routes alone allow inline styles (Swagger UI); a path that only looks like
    // them, answered as not found, keeps the strict policy.
    // The API's answers carry the headers of a response that is not a document; pages (and
    // anything not found outside the API) helmet's set for pages.
    expect(plain.headers).toMatchObject({
      "content-security-policy": "default-src 'none'; frame-ancestors 'none'",
      "cross-origin-resource-policy": "same-origin",
    });
    const documentOnly = [
      "cross-origin-opener-policy",
      "origin-agent-cluster",
      "x-dns-prefetch-control",
      "x-download-options",
      "x-permitted-cross-domain-policies",
      "x-xss-protection",
    ];
    for (const name of documentOnly) expect(plain.headers[name]).toBeUndefined();
    for (const url of [
      "/v1/nothing-here",
      "/healthz",
      "/openapi.json?x=1",
      "/.well-known/jwks.json",
    ])
      expect((await app.inject({ url })).headers["content-security-policy"]).toBe(
        "default-src 'none'; frame-ancestors 'none'",
      );
    const page = await app.inject({ url: "/w/ws_1/team", headers: { accept: "text/html" } });
    expect(page.headers).toMatchObject({
      "cross-origin-opener-policy": "same-origin",
      "x-frame-options": "DENY",
      "x-content-type-options": "nosniff",
      "referrer-policy": "no-referrer",
    });
    expect(String(page.headers["content-security-policy"])).toContain("script-src 'self'");
    const policyOf = async (url: string) =>
      String((await app.inject({ url })).headers["content-security-policy"]);
    expect(await policyOf("/docs")).toContain("style-src 'self' 'unsafe-inline'");
    expect(await policyOf("/docs/static/index.html")).toContain("'unsafe-inline'");
    expect(await policyOf("/v1/presets")).not.toContain("'unsafe-inline'");
    expect(await policyOf("/v1x")).toContain("default-src 'self'");
    expect(await policyOf("/docsx")).not.toContain("'unsafe-inline'");
  });
});
