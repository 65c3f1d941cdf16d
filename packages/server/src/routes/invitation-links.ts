import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { Type } from "@sinclair/typebox";
import { requireCaller } from "../http/caller.ts";
import { revisionHeader, strict, withRevision } from "../http/schemas.ts";
import type { RouteOptions } from "./route-options.ts";

const Id = Type.String({ minLength: 1, maxLength: 100 });
const Token = Type.String({ minLength: 1, maxLength: 200 });

/** The accept page's address for a token; the token travels in the fragment, never to a server log. */
function invitationLink(publicUrl: string, token: string): string {
  return `${publicUrl}/invitations/accept#${token}`;
}

/**
 * Copyable invitation links and the invitation preview the accept page shows. A copied
 * link is a second token for the same single-use invitation; copying again replaces it.
 */
export const invitationLinkRoutes: FastifyPluginAsyncTypebox<RouteOptions> = async (
  app,
  { gatehouse, config },
) => {
  const tags = ["invitations"];

  app.post(
    "/v1/workspaces/:ws/invitations/:id/link",
    {
      schema: {
        tags,
        summary: "A copyable link for a pending invitation (shown once)",
        description:
          "For whoever may revoke the invitation. Each call makes a new link and the previously copied one stops working; the mailed link keeps working. Whichever is used first accepts the invitation. 409 when used or revoked, 410 when expired.",
        params: Type.Object({ ws: Id, id: Id }, strict),
        response: {
          200: Type.Object(
            { link: Type.String(), expiresAt: Type.Number(), revision: Type.Integer() },
            revisionHeader,
          ),
        },
      },
    },
    async (request, reply) => {
      const { invitation, token, revision } = await gatehouse.invitations.link(
        requireCaller(request),
        request.params.ws,
        request.params.id,
      );
      return withRevision(reply, revision).send({
        link: invitationLink(config.publicUrl, token),
        expiresAt: invitation.expiresAt,
        revision,
      });
    },
  );

  app.post(
    "/v1/invitations/preview",
    {
      schema: {
        tags,
        summary: "What an invitation link is for, before accepting it",
        description:
          "For the holder of the token (no sign-in): the workspace's name, the invited email, the role and its scopes, the teams joined, and whether the email already has an account. The token goes in the body, never in a URL. 404 unknown, 409 used or revoked, 410 expired.",
        security: [],
        body: Type.Object({ token: Token }, strict),
        response: {
          200: Type.Object({
            workspaceName: Type.String(),
            email: Type.String(),
            role: Type.Union([Type.String(), Type.Null()], {
              description: "null for an invitation into teams only",
            }),
            roleLabel: Type.Union([Type.String(), Type.Null()]),
            scopes: Type.Array(Type.String()),
            teams: Type.Array(Type.String(), { description: "The names of the teams joined" }),
            expiresAt: Type.Number(),
            hasAccount: Type.Boolean(),
          }),
        },
      },
    },
    async (request) => {
      const preview = await gatehouse.invitations.preview(request.body.token);
      return { ...preview, scopes: [...preview.scopes], teams: [...preview.teams] };
    },
  );
};
