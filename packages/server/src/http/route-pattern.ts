import type { FastifyInstance, FastifyRequest } from "fastify";

declare module "fastify" {
  interface FastifyRequest {
    /** The matched route's pattern once asked (see routePatternOf); `null` before. */
    routePattern: string | undefined | null;
  }
}

/** Lets routePatternOf remember a request's route pattern. Call once, before routes are added. */
export function rememberRoutePatterns(app: FastifyInstance): void {
  app.decorateRequest("routePattern", null);
}

/**
 * The pattern of the route a request matched (`/v1/workspaces/:ws/decision`), `undefined` for
 * none (answered as not found). Read once per request: Fastify's `request.routeOptions` builds a
 * new object of thirteen fields on every read, and the request log and the metrics both ask.
 */
export function routePatternOf(request: FastifyRequest): string | undefined {
  if (request.routePattern === null) request.routePattern = request.routeOptions.url;
  return request.routePattern;
}
