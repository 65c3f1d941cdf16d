import { createHash } from "node:crypto";
import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import type { SignInAssertion } from "@gatehouse/service";
import { Type } from "@sinclair/typebox";
import type { FastifyReply } from "fastify";
import { originOf, requireCaller } from "../http/caller.ts";
import { DOCUMENT_HEADERS } from "../http/headers.ts";
import {
  REVISION_HEADER,
  Revision,
  revisionHeader,
  strict,
  WorkspaceId,
  WorkspaceParams,
  withRevision,
} from "../http/schemas.ts";
import type { RouteOptions } from "./route-options.ts";

const ResourceParams = Type.Object(
  {
    ws: WorkspaceId,
    type: Type.String({ minLength: 1, maxLength: 50, pattern: "^[a-z][a-z0-9_-]*$" }),
    id: Type.String({ minLength: 1, maxLength: 100 }),
  },
  strict,
);

const TargetSchema = Type.Object({
  resource: Type.String(),
  url: Type.String({ description: "Where the assertion is posted; also its audience (`aud`)" }),
  updatedAt: Type.Number(),
  updatedBy: Type.String(),
});

const PublishedKeySchema = Type.Object({
  kid: Type.String(),
  kty: Type.String(),
  crv: Type.String(),
  x: Type.String(),
  y: Type.String(),
  alg: Type.String(),
  use: Type.String(),
});

/** The one script of the hand-off page; allowed by its hash in the page's CSP, nothing else runs. */
const SUBMIT_SCRIPT = 'document.getElementById("handoff").submit();';
const SUBMIT_HASH = `sha256-${createHash("sha256").update(SUBMIT_SCRIPT).digest("base64")}`;

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (char) => `&#${char.charCodeAt(0)};`);
}

/**
 * The page a used link answers: a form that posts the assertion to the admin app at once (the
 * assertion never sits in a URL, a log or the history). The CSP lets the form go only to the
 * admin app's origin; no referrer, no caching, no framing.
 */
function sendHandoffPage(reply: FastifyReply, handoff: SignInAssertion): FastifyReply {
  const target = new URL(handoff.url);
  const html = `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="referrer" content="no-referrer"><title>Signing in…</title></head>
<body>
<form id="handoff" method="post" action="${escapeHtml(handoff.url)}">
<input type="hidden" name="assertion" value="${escapeHtml(handoff.assertion)}">
<noscript><button type="submit">Continue to ${escapeHtml(target.host)}</button></noscript>
</form>
<script>${SUBMIT_SCRIPT}</script>
</body>
</html>
`;
  // A page under the API's paths: the pages' headers (headers.ts), then its own narrower policy.
  return reply
    .headers(DOCUMENT_HEADERS)
    .header(
      "content-security-policy",
      `default-src 'none'; script-src '${SUBMIT_HASH}'; form-action ${target.origin}; base-uri 'none'; frame-ancestors 'none'`,
    )
    .header("cache-control", "no-store")
    .header("referrer-policy", "no-referrer")
    .header("x-content-type-options", "nosniff")
    .header("x-frame-options", "DENY")
    .type("text/html; charset=utf-8")
    .send(html);
}

/**
 * Sign-in handoff: the admin app of each resource, one-time links for members, the page
 * that carries the signed assertion to the admin app, and the published keys (JWKS).
 */
export const signInRoutes: FastifyPluginAsyncTypebox<RouteOptions> = async (
  app,
  { gatehouse, config },
) => {
  const tags = ["sign-in handoff"];
  const resourceOf = (params: { type: string; id: string }) => `${params.type}:${params.id}`;

  app.put(
    "/v1/workspaces/:ws/resources/:type/:id/sign-in-target",
    {
      schema: {
        tags,
        summary: "Name the admin app a resource's sign-in links lead to",
        description:
          "`url` receives the assertion as a form POST and is its audience: HTTPS (HTTP only on loopback). Needs the model's settings gate (the owner by default); the type needs a sign-in gate in the model. " +
          `Answers the target with \`revision\` and sets \`${REVISION_HEADER}\`.`,
        params: ResourceParams,
        body: Type.Object({ url: Type.String({ minLength: 1, maxLength: 2000 }) }, strict),
        response: {
          200: Type.Object({ target: TargetSchema, revision: Type.Integer() }, revisionHeader),
        },
      },
    },
    async (request, reply) => {
      const { target, revision } = await gatehouse.signIn.setTarget(
        requireCaller(request),
        request.params.ws,
        { resource: resourceOf(request.params), url: request.body.url },
      );
      return withRevision(reply, revision).send({ target, revision });
    },
  );

  app.delete(
    "/v1/workspaces/:ws/resources/:type/:id/sign-in-target",
    {
      schema: {
        tags,
        summary: "Remove a resource's admin app; its links stop working",
        params: ResourceParams,
        response: { 200: Revision },
      },
    },
    async (request, reply) => {
      const { revision } = await gatehouse.signIn.removeTarget(
        requireCaller(request),
        request.params.ws,
        resourceOf(request.params),
      );
      return withRevision(reply, revision).send({ revision });
    },
  );

  app.get(
    "/v1/workspaces/:ws/sign-in-targets",
    {
      schema: {
        tags,
        summary: "The admin apps of the workspace's resources",
        params: WorkspaceParams,
        response: { 200: Type.Object({ targets: Type.Array(TargetSchema) }) },
      },
    },
    async (request) => ({
      targets: await gatehouse.signIn.targets(requireCaller(request), request.params.ws),
    }),
  );

  app.post(
    "/v1/workspaces/:ws/resources/:type/:id/sign-in",
    {
      schema: {
        tags,
        summary: "A one-time link into the resource's own admin app (e.g. wp-admin)",
        description:
          "For the caller, who needs the permission the model's `gates.signIn` names for the resource's type (403 PERMISSION_DENIED; 404 outside their reach; 409 SIGN_IN_NOT_CONFIGURED without an admin app). The link works once, within 60 seconds; opened, it checks the permission again and posts a signed assertion to the admin app.",
        params: ResourceParams,
        response: {
          201: Type.Object(
            {
              url: Type.String(),
              resource: Type.String(),
              expiresAt: Type.Number(),
              revision: Type.Integer(),
            },
            revisionHeader,
          ),
        },
      },
    },
    async (request, reply) => {
      const { link, revision } = await gatehouse.signIn.createLink(
        requireCaller(request),
        request.params.ws,
        resourceOf(request.params),
      );
      return withRevision(reply, revision)
        .status(201)
        .send({
          url: `${config.publicUrl}/v1/sign-in/${link.token}`,
          resource: link.resource,
          expiresAt: link.expiresAt,
          revision,
        });
    },
  );

  app.get(
    "/v1/sign-in/:token",
    {
      schema: {
        tags,
        summary: "Use a sign-in link: an HTML page posting the signed assertion to the admin app",
        description:
          "Works once (across every instance). 410 SIGN_IN_LINK_INVALID when used, expired or unknown; 403 when the member lost the permission meanwhile.",
        params: Type.Object({ token: Type.String({ minLength: 1, maxLength: 100 }) }, strict),
      },
    },
    async (request, reply) =>
      sendHandoffPage(
        reply,
        await gatehouse.signIn.consumeLink(request.params.token, originOf(request)),
      ),
  );

  app.get(
    "/.well-known/jwks.json",
    {
      schema: {
        tags,
        summary: "The public keys that verify Gatehouse's assertions (JWKS, RFC 7517)",
        description:
          "The signing key, a successor published before it signs, and retired keys until their last assertion expired. Verifiers refetch on an unknown `kid`.",
        security: [],
        response: { 200: Type.Object({ keys: Type.Array(PublishedKeySchema) }) },
      },
    },
    async (_request, reply) =>
      reply
        .header("cache-control", "public, max-age=300")
        .type("application/jwk-set+json")
        .send(await gatehouse.signingKeys.jwks()),
  );
};
