import type { FastifyPluginAsync } from "fastify";
import { sql } from "kysely";
import { Counter, collectDefaultMetrics, Histogram, Registry } from "prom-client";
import type { RouteOptions } from "./route-options.ts";

/** Liveness, readiness (the database answers) and Prometheus metrics. */
export const healthRoutes: FastifyPluginAsync<RouteOptions> = async (app, { gatehouse }) => {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const requests = new Counter({
    name: "gatehouse_http_requests_total",
    help: "HTTP requests by route and status",
    labelNames: ["method", "route", "status"],
    registers: [registry],
  });
  const latency = new Histogram({
    name: "gatehouse_http_request_duration_seconds",
    help: "HTTP request duration by route",
    labelNames: ["method", "route"],
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
    registers: [registry],
  });
  app.addHook("onResponse", async (request, reply) => {
    const route = request.routeOptions.url ?? "unknown";
    requests.inc({ method: request.method, route, status: String(reply.statusCode) });
    latency.observe({ method: request.method, route }, reply.elapsedTime / 1000);
  });

  const hidden = { schema: { hide: true } };
  app.get("/healthz", hidden, async () => ({ status: "ok" }));
  app.get("/readyz", hidden, async (_request, reply) => {
    try {
      await sql`select 1`.execute(gatehouse.storage.db);
      return { status: "ready", database: gatehouse.storage.dialect };
    } catch {
      return reply.status(503).send({ status: "unavailable", database: gatehouse.storage.dialect });
    }
  });
  app.get("/metrics", hidden, async (_request, reply) => {
    reply.type(registry.contentType);
    return registry.metrics();
  });
};
