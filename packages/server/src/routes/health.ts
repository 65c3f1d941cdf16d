import type { FastifyPluginAsync } from "fastify";
import fastifyPlugin from "fastify-plugin";
import { Counter, collectDefaultMetrics, Gauge, Registry } from "prom-client";
import { RouteMetrics } from "../http/route-metrics.ts";
import { routePatternOf } from "../http/route-pattern.ts";
import type { RouteOptions } from "./route-options.ts";

/**
 * Liveness, readiness (the database answers) and Prometheus metrics. Not encapsulated
 * (fastify-plugin): its response hook counts every route registered after it, not only its own.
 */
const health: FastifyPluginAsync<RouteOptions> = async (app, { gatehouse }) => {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const metrics = new RouteMetrics(registry);
  new Gauge({
    name: "gatehouse_sync_listening",
    help: "1 while the PostgreSQL change listener is connected (other instances' changes arrive at once)",
    registers: [registry],
    collect() {
      this.set(gatehouse.sync.listening ? 1 : 0);
    },
  });
  new Gauge({
    name: "gatehouse_cached_workspaces",
    help: "Workspaces whose engine this instance holds in memory",
    registers: [registry],
    collect() {
      this.set(gatehouse.sync.cachedWorkspaces);
    },
  });
  const cache = () => gatehouse.sync.engineCache;
  new Gauge({
    name: "gatehouse_engine_cache_bytes",
    help: "Estimated heap of the workspace engines held in memory, in bytes",
    registers: [registry],
    collect() {
      this.set(cache().bytes);
    },
  });
  new Gauge({
    name: "gatehouse_engine_cache_budget_bytes",
    help: "The engine cache's memory budget (ENGINE_CACHE_MB), in bytes",
    registers: [registry],
    collect() {
      this.set(cache().budgetBytes);
    },
  });
  // Counters read from the cache's own totals at each scrape.
  const total = (name: string, help: string, read: () => number) => {
    let reported = 0;
    new Counter({
      name,
      help,
      registers: [registry],
      collect() {
        const value = read();
        this.inc(value - reported);
        reported = value;
      },
    });
  };
  total(
    "gatehouse_engine_cache_loads_total",
    "Workspace engines loaded from the store into the cache",
    () => cache().loads,
  );
  total(
    "gatehouse_engine_cache_evictions_total",
    "Workspace engines dropped, least recently used first, to stay within the memory budget",
    () => cache().evictions,
  );
  app.addHook("onResponse", (request, reply, done) => {
    metrics.record(
      request.method,
      routePatternOf(request) ?? "unknown",
      reply.statusCode,
      reply.elapsedTime / 1000,
    );
    done();
  });

  const hidden = { schema: { hide: true } };
  app.get("/healthz", hidden, async () => ({ status: "ok" }));
  app.get("/readyz", hidden, async (_request, reply) => {
    try {
      await gatehouse.storage.ping();
      // A lost listener is not unready: polling keeps every read within the staleness bound.
      const { listening, notifications, pollIntervalMs, maxStalenessMs } = gatehouse.sync;
      return {
        status: "ready",
        database: gatehouse.storage.dialect,
        sync: { notifications, listening, pollIntervalMs, maxStalenessMs },
      };
    } catch {
      return reply.status(503).send({ status: "unavailable", database: gatehouse.storage.dialect });
    }
  });
  app.get("/metrics", hidden, async (_request, reply) => {
    reply.type(registry.contentType);
    return registry.metrics();
  });
};

export const healthRoutes = fastifyPlugin(health, { name: "gatehouse-health" });
