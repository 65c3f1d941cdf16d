import { existsSync } from "node:fs";
import { join } from "node:path";
import fastifyStatic from "@fastify/static";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";

/**
 * Paths the console never answers, even for a browser: the API, its docs, operator endpoints and
 * the well-known and MCP prefixes other parts of the server use. Unknown paths there stay 404s.
 */
const RESERVED = [
  "/v1",
  "/docs",
  "/openapi.json",
  "/healthz",
  "/readyz",
  "/metrics",
  "/mcp",
  "/.well-known",
  "/assets",
];

/**
 * The console's page is never cached: a new build's asset names reach the browser at once. Its
 * security headers (CSP, no framing, no sniffing) are every answer's: see headers.ts.
 */
const PAGE_HEADERS = { "cache-control": "no-cache" } as const;

function isReserved(path: string): boolean {
  return RESERVED.some((prefix) => path === prefix || path.startsWith(`${prefix}/`));
}

/**
 * Serves the built web console from `dir` at `/`: its files as they are (hashed assets cached for a
 * year), and its page for any other browser navigation outside the reserved paths (SPA fallback).
 * Answers whether the console is served (`dir` holds a build).
 * @example
 * const served = await serveConsole(app, "packages/server/console");
 */
export async function serveConsole(
  app: FastifyInstance,
  dir: string | undefined,
): Promise<
  ((request: FastifyRequest, reply: FastifyReply) => FastifyReply | undefined) | undefined
> {
  if (dir === undefined || !existsSync(join(dir, "index.html"))) return undefined;
  await app.register(fastifyStatic, {
    root: dir,
    prefix: "/",
    // One route per built file, registered at start: no catch-all route shadows the API.
    wildcard: false,
    index: false,
    decorateReply: true,
    schemaHide: true,
    setHeaders(reply, path) {
      if (path.endsWith(".html")) reply.headers(PAGE_HEADERS);
      // Vite names built assets by their content hash: they never change.
      else if (path.includes(`${join("/", "assets")}/`))
        reply.header("cache-control", "public, max-age=31536000, immutable");
    },
  });
  app.get("/", { schema: { hide: true } }, (_request, reply) => sendPage(reply));
  return (request, reply) => {
    const path = request.url.split("?")[0] ?? "/";
    const isNavigation =
      (request.method === "GET" || request.method === "HEAD") &&
      (request.headers.accept ?? "").includes("text/html");
    if (!isNavigation || isReserved(path)) return undefined;
    return sendPage(reply);
  };
}

function sendPage(reply: FastifyReply): FastifyReply {
  return reply.headers(PAGE_HEADERS).sendFile("index.html", { maxAge: 0, immutable: false });
}
