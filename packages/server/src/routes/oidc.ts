import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { isGatehouseError } from "@gatehouse/engine";
import { ErrorCode } from "@gatehouse/service";
import { Type } from "@sinclair/typebox";
import type { FastifyReply } from "fastify";
import { originOf } from "../http/caller.ts";
import { OidcClient, type OidcFlow } from "../http/oidc-client.ts";
import type { RouteOptions } from "./route-options.ts";

/** Holds the state, nonce and PKCE verifier of one sign-in while the browser is at the provider. */
const FLOW_COOKIE = "gatehouse_oidc";
const FLOW_PATH = "/v1/auth/oidc";
const FLOW_MAX_AGE_SECONDS = 10 * 60;

/** Why a sign-in went back to the console's sign-in page (`/sign-in?oidc=<reason>`). */
type Refusal = "failed" | "unknown-user" | "unavailable";

/** The sign-in's state, nonce and PKCE verifier, and the console page to return to. */
interface Flow extends OidcFlow {
  readonly next: string;
}

/**
 * `next` when it is a path of this console ("/w/ws_1/team"), else "/": never another origin
 * (`//evil`, `/\evil`, `https:`) and nothing that is not printable, so a crafted start link
 * cannot send people elsewhere after signing in.
 */
function returnPathOf(next: unknown): string {
  return typeof next === "string" &&
    next.length <= 500 &&
    /^\/(?![/\\])[\x21-\x7e]*$/.test(next) &&
    !next.includes("\\")
    ? next
    : "/";
}

/** `?next=` for the console's pages, when there is somewhere to return to. */
function nextQuery(next: string, join: "?" | "&"): string {
  return next === "/" ? "" : `${join}next=${encodeURIComponent(next)}`;
}

function refuse(reply: FastifyReply, reason: Refusal, next = "/"): FastifyReply {
  return reply.redirect(`/sign-in?oidc=${reason}${nextQuery(next, "&")}`, 303);
}

function flowOf(value: string | undefined): Flow | undefined {
  if (value === undefined || value.length > 2000) return undefined;
  try {
    const flow: unknown = JSON.parse(Buffer.from(value, "base64url").toString("utf8"));
    if (typeof flow !== "object" || flow === null) return undefined;
    const { state, nonce, verifier, next } = flow as Record<string, unknown>;
    return typeof state === "string" && typeof nonce === "string" && typeof verifier === "string"
      ? { state, nonce, verifier, next: returnPathOf(next) }
      : undefined;
  } catch {
    return undefined;
  }
}

/**
 * OpenID Connect sign-in to the console against the panel's own provider (`OIDC_ISSUER`), for
 * the users the host provisioned, and the sign-in methods the console offers. The callback
 * hands the signed-in user to the console as a one-time link (`/sign-in/magic#…`), which starts
 * the session as every other link does, and then opens the page the sign-in began from (`next`).
 */
export const oidcRoutes: FastifyPluginAsyncTypebox<RouteOptions> = async (
  app,
  { gatehouse, config },
) => {
  const tags = ["sign-in"];
  const oidc = config.oidc;

  app.get(
    "/v1/auth/methods",
    {
      schema: {
        tags,
        summary: "The sign-in methods this server offers besides the password (for sign-in pages)",
        security: [],
        response: {
          200: Type.Object({
            oidc: Type.Union([
              Type.Object({
                name: Type.String({ description: "The provider's name, for the button" }),
                startUrl: Type.String({ description: "Where the browser goes to sign in" }),
              }),
              Type.Null(),
            ]),
          }),
        },
      },
    },
    async () => ({
      oidc: oidc === undefined ? null : { name: oidc.name, startUrl: `${FLOW_PATH}/start` },
    }),
  );

  if (oidc === undefined) return;
  const oidcClient = new OidcClient(oidc);
  const cookieOptions = {
    path: FLOW_PATH,
    httpOnly: true,
    sameSite: "lax",
    secure: config.cookieSecure,
  } as const;
  const browserOnly = { hide: true };

  app.get(
    `${FLOW_PATH}/start`,
    {
      schema: {
        ...browserOnly,
        summary: "Sends the browser to the OpenID provider",
        querystring: Type.Object({
          next: Type.Optional(
            Type.String({ description: "The console page to return to after signing in" }),
          ),
        }),
      },
    },
    async (request, reply) => {
      reply.header("cache-control", "no-store");
      const next = returnPathOf(request.query.next);
      let begun: Awaited<ReturnType<OidcClient["begin"]>>;
      try {
        begun = await oidcClient.begin();
      } catch (error) {
        request.log.warn({ err: error }, "the OpenID provider's discovery document is unreachable");
        return refuse(reply, "unavailable", next);
      }
      const flow: Flow = { ...begun.flow, next };
      const value = Buffer.from(JSON.stringify(flow)).toString("base64url");
      reply.setCookie(FLOW_COOKIE, value, { ...cookieOptions, maxAge: FLOW_MAX_AGE_SECONDS });
      return reply.redirect(begun.url.href, 303);
    },
  );

  app.get(
    `${FLOW_PATH}/callback`,
    { schema: { ...browserOnly, summary: "Where the OpenID provider sends the browser back" } },
    async (request, reply) => {
      reply.header("cache-control", "no-store");
      reply.header("referrer-policy", "no-referrer");
      const flow = flowOf(request.cookies[FLOW_COOKIE]);
      reply.clearCookie(FLOW_COOKIE, cookieOptions);
      if (flow === undefined) return refuse(reply, "failed");
      let subject: string;
      try {
        subject = await oidcClient.finish(request.url.split("?")[1] ?? "", flow);
      } catch (error) {
        request.log.warn({ err: error }, "an OpenID Connect sign-in failed");
        return refuse(reply, "failed", flow.next);
      }
      try {
        const link = await gatehouse.oidc.signIn({
          issuer: oidc.issuer,
          subject,
          origin: originOf(request),
        });
        return reply.redirect(`/sign-in/magic${nextQuery(flow.next, "?")}#${link.token}`, 303);
      } catch (error) {
        if (!isGatehouseError(error, ErrorCode.USER_NOT_FOUND)) throw error;
        request.log.info({ subject }, "an OpenID Connect sign-in named no provisioned user");
        return refuse(reply, "unknown-user", flow.next);
      }
    },
  );
};
