import type { IncomingMessage, ServerResponse } from "node:http";
import type { FastifyReply, FastifyRequest } from "fastify";
import helmet, { type HelmetOptions } from "helmet";
import { routePatternOf } from "./route-pattern.ts";

/** The console's policy: its own scripts, styles and API only, never framed, no plug-ins. */
const CONSOLE_POLICY = {
  defaultSrc: ["'self'"],
  scriptSrc: ["'self'"],
  styleSrc: ["'self'"],
  imgSrc: ["'self'", "data:"],
  connectSrc: ["'self'"],
  fontSrc: ["'self'"],
  objectSrc: ["'none'"],
  baseUri: ["'none'"],
  formAction: ["'self'"],
  frameAncestors: ["'none'"],
  upgradeInsecureRequests: null,
};

/** The API docs (Swagger UI at /docs) set inline styles; everything else as the console. */
const DOCS_POLICY = { ...CONSOLE_POLICY, styleSrc: ["'self'", "'unsafe-inline'"] };

/** A year, sub-domains included: browsers that reached the server over TLS keep to it. */
const HSTS = "max-age=31536000; includeSubDomains";

/**
 * The headers helmet sets for `options`, worked out once: every value is fixed (no nonces, no
 * per-request directives), so a request only copies them — helmet itself, as @fastify/helmet
 * wires it, builds its middleware and parses the policy again on every request.
 */
function headersOf(options: HelmetOptions): Readonly<Record<string, string>> {
  const headers: Record<string, string> = {};
  const response = {
    setHeader(name: string, value: string | number | readonly string[]) {
      headers[name.toLowerCase()] = String(value);
    },
    removeHeader(name: string) {
      delete headers[name.toLowerCase()];
    },
  };
  helmet(options)({} as IncomingMessage, response as unknown as ServerResponse, (error) => {
    if (error) throw error;
  });
  return Object.freeze(headers);
}

const COMMON: HelmetOptions = {
  frameguard: { action: "deny" },
  referrerPolicy: { policy: "no-referrer" },
  strictTransportSecurity: false,
};
const CONSOLE_HEADERS = headersOf({
  ...COMMON,
  contentSecurityPolicy: { useDefaults: false, directives: CONSOLE_POLICY },
});
const DOCS_HEADERS = headersOf({
  ...COMMON,
  contentSecurityPolicy: { useDefaults: false, directives: DOCS_POLICY },
});

/**
 * Sets the security headers every answer carries, as helmet decides them: a strict
 * Content-Security-Policy (`frame-ancestors 'none'`), `X-Frame-Options: DENY`,
 * `X-Content-Type-Options: nosniff`, `Referrer-Policy: no-referrer`, cross-origin isolation of the
 * page; and `Strict-Transport-Security` only on requests that came over TLS — directly, or by a
 * trusted proxy's `X-Forwarded-Proto: https` — since over plain HTTP it would pin a browser to an
 * HTTPS that may not exist. The request's own hook (app.ts) calls it first.
 * @example
 * app.addHook("onRequest", async (request, reply) => setSecurityHeaders(request, reply));
 */
export function setSecurityHeaders(request: FastifyRequest, reply: FastifyReply): void {
  // Only a path under /docs can have matched a /docs route: others skip reading the route.
  const url = request.url.startsWith("/docs") ? routePatternOf(request) : undefined;
  reply.headers(
    url !== undefined && (url === "/docs" || url.startsWith("/docs/"))
      ? DOCS_HEADERS
      : CONSOLE_HEADERS,
  );
  if (request.protocol === "https") reply.header("strict-transport-security", HSTS);
}
