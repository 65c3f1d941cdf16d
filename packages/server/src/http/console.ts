import { existsSync } from "node:fs";
import { join } from "node:path";
import fastifyStatic from "@fastify/static";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { isUnder, RESERVED_PREFIXES } from "./paths.ts";

/**
 * The console's page is never cached: a new build's asset names reach the browser at once. Its
 * security headers (CSP, no framing, no sniffing) are every page's: see headers.ts.
 */
const PAGE_HEADERS = { "cache-control": "no-cache" } as const;

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
    if (!isNavigation || isUnder(path, RESERVED_PREFIXES)) return undefined;
    return sendPage(reply);
  };
}

function sendPage(reply: FastifyReply): FastifyReply {
  return reply.headers(PAGE_HEADERS).sendFile("index.html", { maxAge: 0, immutable: false });
}
