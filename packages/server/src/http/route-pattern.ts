import type { FastifyInstance, FastifyRequest } from "fastify";

declare module "fastify" {
  interface FastifyRequest {
    /** The matched route's config once asked (see routeConfigOf); `null` before. */
    routeConfig: RouteConfig | null;
  }
}

/** A route's config as Fastify keeps it: the pattern (none when no route matched) and flags. */
type RouteConfig = FastifyRequest["routeOptions"]["config"];

/** Lets routeConfigOf remember a request's route config. Call once, before routes are added. */
export function rememberRoutePatterns(app: FastifyInstance): void {
  app.decorateRequest("routeConfig", null);
}

/**
 * The config of the route a request matched: its pattern and the flags set on it when it was
 * added (see FastifyContextConfig). Read once per request: Fastify's `request.routeOptions`
 * builds a new object of thirteen fields on every read, and the request's own hook, the request
 * log and the metrics all ask.
 */
export function routeConfigOf(request: FastifyRequest): RouteConfig {
  if (request.routeConfig === null) request.routeConfig = request.routeOptions.config;
  return request.routeConfig;
}

/**
 * The pattern of the route a request matched (`/v1/workspaces/:ws/decision`), `undefined` for
 * none (answered as not found).
 */
export function routePatternOf(request: FastifyRequest): string | undefined {
  return (routeConfigOf(request) as { url?: string }).url;
}
