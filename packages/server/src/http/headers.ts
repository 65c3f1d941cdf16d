import helmet from "@fastify/helmet";
import type { FastifyInstance } from "fastify";

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
 * Security headers on every answer, with @fastify/helmet: a strict Content-Security-Policy
 * (`frame-ancestors 'none'`), `X-Frame-Options: DENY`, `X-Content-Type-Options: nosniff`,
 * `Referrer-Policy: no-referrer`, cross-origin isolation of the page; and
 * `Strict-Transport-Security` only on requests that came over TLS — directly, or by a trusted
 * proxy's `X-Forwarded-Proto: https` — since over plain HTTP it would pin a browser to an HTTPS
 * that may not exist. Call before any route is registered.
 * @example
 * await securityHeaders(app);
 */
export async function securityHeaders(app: FastifyInstance): Promise<void> {
  app.addHook("onRoute", (route) => {
    if (route.url === "/docs" || route.url.startsWith("/docs/"))
      route.helmet = { contentSecurityPolicy: { useDefaults: false, directives: DOCS_POLICY } };
  });
  await app.register(helmet, {
    contentSecurityPolicy: { useDefaults: false, directives: CONSOLE_POLICY },
    frameguard: { action: "deny" },
    referrerPolicy: { policy: "no-referrer" },
    strictTransportSecurity: false,
  });
  app.addHook("onRequest", async (request, reply) => {
    if (request.protocol === "https") reply.header("strict-transport-security", HSTS);
  });
}
