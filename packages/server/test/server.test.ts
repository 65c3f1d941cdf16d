import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { asUser, createGatehouse, type Gatehouse, openSqlite } from "@gatehouse/service";
import type { FastifyInstance } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildApp } from "../src/app.ts";
import { type ConfigError, loadConfig } from "../src/config.ts";
import { seedDemo } from "../src/demo.ts";

describe("configuration", () => {
  it("has working defaults: port 8080, SQLite under ./data, a demo workspace", () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      port: 8080,
      databaseUrl: undefined,
      demo: true,
      cookieSecure: false,
      publicUrl: "http://localhost:8080",
    });
    expect(config.dataDir.endsWith("/data")).toBe(true);
    expect(config.engineCacheBytes).toBe(512 * 2 ** 20);
  });

  it("reads the engine cache's memory budget from ENGINE_CACHE_MB, in MiB", () => {
    expect(loadConfig({ ENGINE_CACHE_MB: "64" }).engineCacheBytes).toBe(64 * 2 ** 20);
    expect(() => loadConfig({ ENGINE_CACHE_MB: "0.5" })).toThrow(
      /ENGINE_CACHE_MB is a whole number of MiB/,
    );
    expect(() => loadConfig({ ENGINE_CACHE_MB: "8" })).toThrow(/ENGINE_CACHE_MB/);
  });

  it("reports every bad value with its reason", () => {
    let problems: readonly string[] = [];
    try {
      loadConfig({
        PORT: "eighty",
        DATABASE_URL: "mysql://x",
        COOKIE_SECURE: "maybe",
        LOG_LEVEL: "loud",
      });
    } catch (error) {
      problems = (error as ConfigError).problems;
    }
    expect(problems).toHaveLength(5);
    expect(problems[0]).toContain("PORT");
    expect(problems.at(-1)).toContain("SECRET_KEY is required with DATABASE_URL");
  });

  it("selects a PostgreSQL schema with DATABASE_SCHEMA, and refuses it without DATABASE_URL", () => {
    const postgres = {
      DATABASE_URL: "postgres://127.0.0.1:5432/test",
      SECRET_KEY: "ab".repeat(32),
    };
    expect(loadConfig({ ...postgres, DATABASE_SCHEMA: "bench_a1" }).databaseSchema).toBe(
      "bench_a1",
    );
    expect(loadConfig(postgres).databaseSchema).toBeUndefined();
    expect(() => loadConfig({ ...postgres, DATABASE_SCHEMA: "Bad-Name; drop" })).toThrow(
      /DATABASE_SCHEMA is a lower-case PostgreSQL identifier/,
    );
    expect(() => loadConfig({ DATABASE_SCHEMA: "bench_a1" })).toThrow(
      /DATABASE_SCHEMA applies to PostgreSQL only/,
    );
  });

  it("reads a JSON config file, with the environment taking precedence", () => {
    const folder = mkdtempSync(join(tmpdir(), "gatehouse-config-"));
    const file = join(folder, "config.json");
    writeFileSync(
      file,
      JSON.stringify({ PORT: 9000, PUBLIC_URL: "https://panel.example.com", DEMO: "false" }),
    );
    const config = loadConfig({ GATEHOUSE_CONFIG: file, PORT: "9001" });
    expect(config).toMatchObject({
      port: 9001,
      publicUrl: "https://panel.example.com",
      cookieSecure: true,
      demo: false,
    });
    writeFileSync(file, JSON.stringify({ PROT: 1 }));
    expect(() => loadConfig({ GATEHOUSE_CONFIG: file })).toThrow(/unknown key PROT/);
    rmSync(folder, { recursive: true, force: true });
  });
});

describe("the HTTP server", () => {
  let folder: string;
  let gatehouse: Gatehouse;
  let app: FastifyInstance;

  beforeAll(async () => {
    folder = mkdtempSync(join(tmpdir(), "gatehouse-server-"));
    gatehouse = createGatehouse({
      storage: await openSqlite({ file: join(folder, "gatehouse.db") }),
      passwordCost: { N: 1024, r: 8, p: 1 },
    });
    app = await buildApp({ gatehouse, config: loadConfig({ DATA_DIR: folder }), logger: false });
  });
  afterAll(async () => {
    await app.close();
    await gatehouse.close();
    rmSync(folder, { recursive: true, force: true });
  });

  it("compiles every route's schemas, which a start leaves to their first use (issue 17)", async () => {
    await app.ready();
    expect(() => app.compileSchemas()).not.toThrow();
  });

  it("answers health and readiness, and exposes Prometheus metrics", async () => {
    expect((await app.inject("/healthz")).json()).toEqual({ status: "ok" });
    expect((await app.inject("/readyz")).json()).toEqual({
      status: "ready",
      database: "sqlite",
      sync: { notifications: true, listening: false, pollIntervalMs: 100, maxStalenessMs: 350 },
    });
    const metrics = await app.inject("/metrics");
    expect(metrics.headers["content-type"]).toContain("text/plain");
    expect(metrics.body).toContain("gatehouse_http_requests_total");
    // The engine cache: its estimate within its budget, loads and evictions counted.
    const value = (name: string) =>
      Number(new RegExp(`^${name} (\\S+)$`, "m").exec(metrics.body)?.[1] ?? Number.NaN);
    expect(value("gatehouse_engine_cache_budget_bytes")).toBe(512 * 2 ** 20);
    expect(value("gatehouse_engine_cache_bytes")).toBeGreaterThanOrEqual(0);
    expect(value("gatehouse_engine_cache_bytes")).toBeLessThanOrEqual(512 * 2 ** 20);
    expect(value("gatehouse_engine_cache_loads_total")).toBeGreaterThanOrEqual(0);
    expect(value("gatehouse_engine_cache_evictions_total")).toBe(0);
  });

  it("counts every API route in the metrics by method, route pattern and status", async () => {
    await app.inject("/v1/presets");
    await app.inject("/v1/workspaces/ws_nothing/members");
    const body = (await app.inject("/metrics")).body;
    expect(body).toMatch(
      /^gatehouse_http_requests_total\{method="GET",route="\/v1\/presets",status="200"\} [1-9]/m,
    );
    expect(body).toMatch(
      /^gatehouse_http_requests_total\{method="GET",route="\/v1\/workspaces\/:ws\/members",status="401"\} [1-9]/m,
    );
    expect(body).toMatch(
      /^gatehouse_http_request_duration_seconds_count\{method="GET",route="\/v1\/presets"\} [1-9]/m,
    );
  });

  it("publishes OpenAPI 3.1 and browsable docs", async () => {
    const document = (await app.inject("/openapi.json")).json();
    expect(document.openapi).toBe("3.1.0");
    expect(Object.keys(document.paths)).toContain("/v1/presets");
    expect((await app.inject("/docs")).statusCode).toBeLessThan(400);
  });

  it("lists the five presets", async () => {
    const { presets } = (await app.inject("/v1/presets")).json();
    expect(presets.map((preset: { name: string }) => preset.name)).toEqual([
      "mzpanel",
      "hosting-customer",
      "company",
      "msp",
      "managed",
    ]);
  });

  it("answers errors as problem+json with a stable code and no internals", async () => {
    const missing = await app.inject("/v1/nothing");
    expect(missing.statusCode).toBe(404);
    expect(missing.headers["content-type"]).toContain("application/problem+json");
    expect(missing.json()).toMatchObject({ status: 404, code: "NOT_FOUND" });
    const anonymous = await app.inject("/v1/workspaces/ws_x/model");
    expect(anonymous.statusCode).toBe(401);
    expect(anonymous.json().code).toBe("INVALID_CREDENTIALS");
    const badKey = await app.inject({
      url: "/v1/presets",
      headers: { authorization: "Bearer gh_nope" },
    });
    expect(badKey.statusCode).toBe(401);
    expect(badKey.body).not.toMatch(/at \w+ \(|select|SQLITE/i);
  });

  it("authenticates API keys on every request, and hides workspaces outside the caller's reach", async () => {
    const { user } = await gatehouse.users.signUp({
      email: "ada@example.com",
      password: "correct horse battery staple",
    });
    const ws = await gatehouse.workspaces.create(asUser(user.id), {
      name: "Acme",
      preset: "company",
    });
    const { secret } = await gatehouse.apiKeys.create(asUser(user.id), ws.id, {
      name: "ci",
      scopes: ["*"],
    });
    const headers = { authorization: `Bearer ${secret}` };
    const model = await app.inject({ url: `/v1/workspaces/${ws.id}/model`, headers });
    expect(model.statusCode).toBe(200);
    expect(model.json().preset).toBe("company");
    const other = await gatehouse.workspaces.create(asUser(user.id), {
      name: "Other",
      preset: "mzpanel",
    });
    expect(
      (await app.inject({ url: `/v1/workspaces/${other.id}/model`, headers })).statusCode,
    ).toBe(404);
  });

  it("seeds the demo workspace once, on an empty database only", async () => {
    const folder2 = mkdtempSync(join(tmpdir(), "gatehouse-demo-"));
    const fresh = createGatehouse({
      storage: await openSqlite({ file: join(folder2, "gatehouse.db") }),
      passwordCost: { N: 1024, r: 8, p: 1 },
    });
    const demo = await seedDemo(fresh);
    expect(demo?.accounts.map((account) => account.email)).toEqual([
      "olivia@demo.gatehouse.test",
      "otto@demo.gatehouse.test",
      "cara@demo.gatehouse.test",
    ]);
    const cara = await fresh.users.authenticate({
      email: "cara@demo.gatehouse.test",
      password: demo!.accounts[2]!.password,
    });
    const sites = await fresh.resources.list(asUser(cara.id), demo!.workspaceId, {
      type: "site",
      permission: "site.view",
    });
    expect(sites.items).toEqual(["site:shop.example"]);
    expect(await seedDemo(fresh)).toBeUndefined();
    await fresh.close();
    rmSync(folder2, { recursive: true, force: true });
  });
});
