import cookie from "@fastify/cookie";
import swagger from "@fastify/swagger";
import swaggerUi from "@fastify/swagger-ui";
import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import { GatehouseError } from "@gatehouse/engine";
import { ErrorCode, type Gatehouse } from "@gatehouse/service";
import Fastify, { type FastifyInstance } from "fastify";
import type { ServerConfig } from "./config.ts";
import { resolveCaller } from "./http/caller.ts";
import { serveConsole } from "./http/console.ts";
import { setSecurityHeaders } from "./http/headers.ts";
import { lazySchemaCompilers } from "./http/lazy-compilers.ts";
import { stdoutLines } from "./http/log-destination.ts";
import { withProblems } from "./http/openapi.ts";
import { errorHandler, problem, sendProblem } from "./http/problem.ts";
import { rateLimit } from "./http/rate-limit.ts";
import { lazyChildLogger, RequestLog } from "./http/request-log.ts";
import { rememberRoutePatterns, routeConfigOf } from "./http/route-pattern.ts";
import { createMailer, type Mailer } from "./mail/mailer.ts";
import { accessRoutes } from "./routes/access.ts";
import { accessRequestRoutes } from "./routes/access-requests.ts";
import { apiKeyRoutes } from "./routes/api-keys.ts";
import { assistantRoutes } from "./routes/assistant.ts";
import { auditRoutes } from "./routes/audit.ts";
import { authRoutes } from "./routes/auth.ts";
import { authzenRoutes } from "./routes/authzen.ts";
import { changeRoutes } from "./routes/changes.ts";
import { credentialRoutes } from "./routes/credentials.ts";
import { decisionRoutes } from "./routes/decisions.ts";
import { devOutboxRoutes } from "./routes/dev-outbox.ts";
import { elevationRoutes } from "./routes/elevations.ts";
import { healthRoutes } from "./routes/health.ts";
import { hostUserRoutes } from "./routes/host-users.ts";
import { invitationLinkRoutes } from "./routes/invitation-links.ts";
import { invitationRoutes } from "./routes/invitations.ts";
import { joinRequestRoutes } from "./routes/join-requests.ts";
import { mcpRoutes } from "./routes/mcp.ts";
import { memberRoutes } from "./routes/members.ts";
import { modelRoutes } from "./routes/model.ts";
import { oidcRoutes } from "./routes/oidc.ts";
import { resourceAccessRoutes } from "./routes/resource-access.ts";
import { resourceRoutes } from "./routes/resources.ts";
import { signInRoutes } from "./routes/sign-in.ts";
import { workspaceRoleRoutes } from "./routes/workspace-roles.ts";
import { workspaceRoutes } from "./routes/workspaces.ts";

declare module "fastify" {
  interface FastifyInstance {
    mailer: Mailer;
    /** Compiles every route's validators and serializers not used yet (they compile on first use). */
    compileSchemas(): void;
  }
  interface FastifyContextConfig {
    /** A write without a dry run: `?dryRun=` is refused rather than ignored. */
    refusesDryRun?: boolean;
  }
}

export interface AppOptions {
  readonly gatehouse: Gatehouse;
  readonly config: ServerConfig;
  /**
   * How invitation mail goes out (and the development outbox is read); by default SMTP from the
   * configuration, or the development outbox. Sign-in links go through the service's `signInMail`
   * port: give it this mailer too (`signInMail(mailer, config)`).
   */
  readonly mailer?: Mailer;
  /** The built web console (`packages/server/console`), served at `/`; none when unset or unbuilt. */
  readonly consoleDir?: string | undefined;
  /**
   * Fastify's logger option; `false` in tests. `stream` receives the JSON lines (by default
   * standard output, written once per turn of the event loop: see stdoutLines).
   */
  readonly logger?: boolean | { level: string; stream?: { write(line: string): void } };
}

/** Fastify's `trustProxy` for `TRUST_PROXY`: nobody, the nearest `hops` proxies, or these ranges. */
function trustProxyOf(trust: ServerConfig["trustProxy"]) {
  if (trust === false) return false;
  if (typeof trust === "number") return (_address: string, hop: number) => hop < trust;
  return [...trust];
}

/** Health, readiness and metrics: polled by load balancers and monitors, never rate limited. */
const UNLIMITED = new Set(["/healthz", "/readyz", "/metrics"]);

/**
 * Builds the HTTP server over a service: problem+json errors, callers resolved on every request,
 * OpenAPI 3.1 at /openapi.json and browsable docs at /docs.
 * @example
 * const app = await buildApp({ gatehouse, config: loadConfig(process.env) });
 * await app.listen({ port: 8080 });
 */
export async function buildApp(options: AppOptions): Promise<FastifyInstance> {
  const { gatehouse, config } = options;
  const schemaCompilers = lazySchemaCompilers();
  const logger =
    options.logger === undefined || typeof options.logger === "object"
      ? {
          level: options.logger?.level ?? config.logLevel,
          stream: options.logger?.stream ?? stdoutLines,
        }
      : options.logger;
  const app = Fastify({
    logger,
    bodyLimit: 256 * 1024,
    // Resource ids go in the path (`/resources/:type/:id`); the default 100 is too short.
    routerOptions: { maxParamLength: 300 },
    // Router errors (a bad percent-escape, an over-long path segment) never reach the error
    // handler; answer them as problems too.
    frameworkErrors: (error, _request, reply) => {
      const status = error.code === "FST_ERR_MAX_PARAM_LENGTH" ? 414 : 400;
      return sendProblem(
        reply,
        problem(
          status,
          "INVALID_INPUT",
          status === 414 ? "a path segment is too long" : "the URL is not valid",
        ),
      );
    },
    // One line per request, written when it is answered, instead of Fastify's two; a request's
    // child logger is made only if something logs through it.
    logController: new RequestLog(typeof logger === "object" ? logger : undefined),
    childLoggerFactory: lazyChildLogger,
    // The client address and scheme come from X-Forwarded-For/-Proto only via trusted proxies.
    trustProxy: trustProxyOf(config.trustProxy),
    ajv: {
      // Unknown fields are refused, never silently dropped (no mass assignment).
      customOptions: { removeAdditional: false, coerceTypes: false, allErrors: true },
    },
    // Each route's validators and serializers are compiled when first used, not before ready.
    schemaController: { compilersFactory: schemaCompilers.factory },
  }).withTypeProvider<TypeBoxTypeProvider>();

  app.decorate("compileSchemas", schemaCompilers.compileAll);
  app.decorate(
    "mailer",
    options.mailer ??
      createMailer({
        smtpUrl: config.smtpUrl,
        from: config.mailFrom,
        log: (message) => app.log.info(message),
      }),
  );
  app.decorateRequest("caller", undefined);
  app.decorateRequest("sessionId", undefined);
  app.decorateRequest("keyWorkspaceId", undefined);
  rememberRoutePatterns(app);
  app.setErrorHandler(errorHandler);
  // Cookies are parsed by the request's own hook below; the plugin still writes those set.
  await app.register(cookie, { hook: false });
  const consolePage = await serveConsole(app, options.consoleDir);
  app.setNotFoundHandler(
    (request, reply) =>
      consolePage?.(request, reply) ??
      sendProblem(
        reply,
        problem(404, "NOT_FOUND", `no route ${request.method} ${request.url.split("?")[0]}`),
      ),
  );
  await app.register(swagger, {
    openapi: {
      openapi: "3.1.0",
      info: {
        title: "Gatehouse API",
        version: "0.1.0",
        description: "Team and access control for hosting, managed-service and MSP control panels.",
      },
      components: {
        securitySchemes: {
          apiKey: {
            type: "http",
            scheme: "bearer",
            description:
              "An API key (`Authorization: Bearer gh_…`), or the host application's credential (`Bearer ghh_…`, optionally with `x-gatehouse-on-behalf-of: <user id>`)",
          },
          session: { type: "apiKey", in: "cookie", name: "gatehouse_session" },
        },
      },
      security: [{ apiKey: [] }, { session: [] }],
    },
    transformObject: (document) =>
      "openapiObject" in document ? withProblems(document.openapiObject) : document.swaggerObject,
  });
  await app.register(swaggerUi, { routePrefix: "/docs" });
  app.get("/openapi.json", { schema: { hide: true } }, async () => app.swagger());

  // Per caller (see limitKeyOf), in memory on each instance; operator endpoints are exempt.
  const countRequest = rateLimit(app, {
    windowMs: 60_000,
    maxOf: (key) =>
      key.startsWith("host:") ? config.rateLimits.host : config.rateLimits.perCaller,
    exempt: UNLIMITED,
  });
  // A dry run never writes: `?dryRun=` on a write without one is refused rather than ignored.
  // Decided per route when it is added, so reads and checks pay nothing for it.
  app.addHook("onRoute", (route) => {
    if ([route.method].flat().every((method) => method === "GET" || method === "HEAD")) return;
    const query = route.schema?.querystring as { properties?: Record<string, unknown> } | undefined;
    if (query?.properties?.["dryRun"] !== undefined) return;
    route.config = { ...route.config, refusesDryRun: true };
  });
  // Everything before a request's body is read, in one hook (each hook is a turn of Fastify's
  // runner), for every route however registered: security headers, cookies, the caller, the rate
  // limit — which also counts requests whose credentials fail, answered after it — and the
  // dry-run refusal.
  app.addHook("onRequest", async (request, reply) => {
    setSecurityHeaders(request, reply);
    const cookies = request.headers.cookie;
    request.cookies = cookies === undefined ? {} : app.parseCookie(cookies);
    let callerError: unknown;
    try {
      request.caller = await resolveCaller(gatehouse, request);
    } catch (error) {
      callerError = error;
    }
    countRequest(request, reply);
    if (callerError !== undefined) throw callerError;
    if (
      routeConfigOf(request).refusesDryRun === true &&
      Object.hasOwn((request.query ?? {}) as object, "dryRun")
    )
      throw new GatehouseError(ErrorCode.INVALID_INPUT, "this change has no dry run (dryRun)");
  });
  await app.register(healthRoutes, { gatehouse, config });
  await app.register(modelRoutes, { gatehouse, config });
  await app.register(authRoutes, { gatehouse, config });
  await app.register(oidcRoutes, { gatehouse, config });
  await app.register(workspaceRoutes, { gatehouse, config });
  await app.register(memberRoutes, { gatehouse, config });
  await app.register(resourceRoutes, { gatehouse, config });
  await app.register(resourceAccessRoutes, { gatehouse, config });
  await app.register(authzenRoutes, { gatehouse, config });
  await app.register(credentialRoutes, { gatehouse, config });
  await app.register(invitationRoutes, { gatehouse, config });
  await app.register(joinRequestRoutes, { gatehouse, config });
  await app.register(elevationRoutes, { gatehouse, config });
  await app.register(accessRequestRoutes, { gatehouse, config });
  await app.register(decisionRoutes, { gatehouse, config });
  await app.register(changeRoutes, { gatehouse, config });
  await app.register(apiKeyRoutes, { gatehouse, config });
  await app.register(auditRoutes, { gatehouse, config });
  await app.register(assistantRoutes, { gatehouse, config });
  await app.register(mcpRoutes, { gatehouse, config });
  await app.register(signInRoutes, { gatehouse, config });
  await app.register(accessRoutes, { gatehouse, config });
  await app.register(workspaceRoleRoutes, { gatehouse, config });
  await app.register(invitationLinkRoutes, { gatehouse, config });
  await app.register(hostUserRoutes, { gatehouse, config });
  await app.register(devOutboxRoutes, { gatehouse, config });
  return app;
}
