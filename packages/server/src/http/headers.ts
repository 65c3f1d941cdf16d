import type { IncomingMessage, ServerResponse } from "node:http";
import type { FastifyReply, FastifyRequest } from "fastify";
import helmet, { type HelmetOptions } from "helmet";
import { isApiUrl } from "./paths.ts";
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

/** Every page's headers (the console's, and the sign-in handoff's before its own policy). */
export const DOCUMENT_HEADERS = headersOf({
  ...COMMON,
  contentSecurityPolicy: { useDefaults: false, directives: CONSOLE_POLICY },
});
const DOCS_HEADERS = headersOf({
  ...COMMON,
  contentSecurityPolicy: { useDefaults: false, directives: DOCS_POLICY },
});

/**
 * The API's answers are JSON, never a page: what guards a response that is not a document —
 * nothing may load from it or frame it (`default-src 'none'; frame-ancestors 'none'`, and
 * `X-Frame-Options` for browsers without CSP), no MIME sniffing, no cross-origin embedding
 * (`Cross-Origin-Resource-Policy`), no referrer if a browser shows it and follows a link. The
 * headers only a document uses (`Cross-Origin-Opener-Policy`, `Origin-Agent-Cluster`, DNS
 * prefetching, `X-Download-Options`, `X-Permitted-Cross-Domain-Policies`, `X-XSS-Protection`)
 * are left out: they guard nothing here and cost ~7 % of a check's instructions (6 of 14 headers).
 */
const API_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  "content-security-policy": "default-src 'none'; frame-ancestors 'none'",
  "cross-origin-resource-policy": "same-origin",
  "referrer-policy": "no-referrer",
  "x-content-type-options": "nosniff",
  "x-frame-options": "DENY",
});

/**
 * Sets the security headers of an answer. The API's answers (paths.ts) get the headers of a
 * response that is not a document (API_HEADERS); every other answer — the console's pages and
 * assets, the docs, anything not found there — gets helmet's set for pages: a strict
 * Content-Security-Policy (`frame-ancestors 'none'`; the docs at `/docs` allow inline styles),
 * `X-Frame-Options: DENY`, `X-Content-Type-Options: nosniff`, `Referrer-Policy: no-referrer`,
 * cross-origin isolation of the page. `Strict-Transport-Security` goes on every answer to a
 * request that came over TLS — directly, or by a trusted proxy's `X-Forwarded-Proto: https` —
 * and on none other, since over plain HTTP it would pin a browser to an HTTPS that may not exist.
 * The request's own hook (app.ts) calls it first.
 * @example
 * app.addHook("onRequest", async (request, reply) => setSecurityHeaders(request, reply));
 */
export function setSecurityHeaders(request: FastifyRequest, reply: FastifyReply): void {
  const url = request.url;
  if (isApiUrl(url)) reply.headers(API_HEADERS);
  else {
    // Only a path under /docs can have matched a /docs route: others skip reading the route.
    const route = url.startsWith("/docs") ? routePatternOf(request) : undefined;
    reply.headers(
      route !== undefined && (route === "/docs" || route.startsWith("/docs/"))
        ? DOCS_HEADERS
        : DOCUMENT_HEADERS,
    );
  }
  if (request.protocol === "https") reply.header("strict-transport-security", HSTS);
}
