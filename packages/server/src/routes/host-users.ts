import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import type { HostUser } from "@gatehouse/service";
import { Type } from "@sinclair/typebox";
import { requireHost } from "../http/caller.ts";
import { strict, UserSchema } from "../http/schemas.ts";
import type { RouteOptions } from "./route-options.ts";

const HostUserId = Type.String({
  minLength: 1,
  maxLength: 100,
  pattern: "^[A-Za-z0-9][A-Za-z0-9._@:-]*$",
  description:
    "The host's own user id: letters, digits and `._@:-`, starting with a letter or digit; never `usr_…` (Gatehouse's own ids)",
});
const UserParams = Type.Object({ id: HostUserId }, strict);
const HostUserSchema = Type.Object({
  ...UserSchema.properties,
  provisionedBy: Type.String({ description: "The host credential that provisioned the user" }),
});

function toBody(user: HostUser) {
  return {
    id: user.id,
    email: user.email,
    name: user.name,
    createdAt: user.createdAt,
    provisionedBy: user.provisionedBy,
  };
}

const HOST_ONLY =
  "Host application only (`Authorization: Bearer ghh_…`): anyone else gets 403 HOST_CREDENTIAL_REQUIRED.";

/**
 * The panel's own users, by the panel's own ids, and host-issued sign-in links into the console.
 * Every route is the host application's alone.
 */
export const hostUserRoutes: FastifyPluginAsyncTypebox<RouteOptions> = async (
  app,
  { gatehouse, config },
) => {
  const tags = ["host application"];

  app.put(
    "/v1/users/:id",
    {
      schema: {
        tags,
        summary: "Provision (create or update) a user by the host's own id",
        description: `Idempotent: 201 when created, 200 when updated or unchanged. The user's Gatehouse id is the host's id, so checks take \`user:<id>\` as is. No password: they sign in through host-issued links (or a magic link). 409 EMAIL_TAKEN when another user has the email. ${HOST_ONLY}`,
        params: UserParams,
        body: Type.Object(
          {
            email: Type.String({ minLength: 3, maxLength: 254 }),
            name: Type.String({ minLength: 1, maxLength: 200 }),
          },
          strict,
        ),
        response: { 200: HostUserSchema, 201: HostUserSchema },
      },
    },
    async (request, reply) => {
      const { user, created } = await gatehouse.hostUsers.put(
        requireHost(request),
        request.params.id,
        request.body,
      );
      return reply.status(created ? 201 : 200).send(toBody(user));
    },
  );

  app.get(
    "/v1/users/:id",
    {
      schema: {
        tags,
        summary: "A user the host provisioned",
        description: `404 USER_NOT_FOUND for any id the host did not provision. ${HOST_ONLY}`,
        params: UserParams,
        response: { 200: HostUserSchema },
      },
    },
    async (request) =>
      toBody(await gatehouse.hostUsers.get(requireHost(request), request.params.id)),
  );

  app.delete(
    "/v1/users/:id",
    {
      schema: {
        tags,
        summary: "Delete a provisioned user: removed from every workspace",
        description: `Their access ends at once, their sessions too; the activity log keeps their entries. 409 LAST_OWNER while they own a workspace (nothing is removed). 204. ${HOST_ONLY}`,
        params: UserParams,
        response: { 204: Type.Null() },
      },
    },
    async (request, reply) => {
      await gatehouse.hostUsers.delete(requireHost(request), request.params.id);
      return reply.status(204).send(null);
    },
  );

  app.post(
    "/v1/users/:id/sign-in-links",
    {
      schema: {
        tags,
        summary: "A one-time link that signs a provisioned user into the console",
        description: `For the panel's "Manage team" button: open \`url\` in the user's browser. It works once, for 5 minutes; only its hash is stored and issuing it is logged. 201. ${HOST_ONLY}`,
        params: UserParams,
        response: {
          201: Type.Object({
            url: Type.String(),
            token: Type.String(),
            expiresAt: Type.Number(),
          }),
        },
      },
    },
    async (request, reply) => {
      const link = await gatehouse.hostUsers.signInLink(requireHost(request), request.params.id);
      return reply.status(201).send({
        url: `${config.publicUrl}/sign-in/magic#${link.token}`,
        token: link.token,
        expiresAt: link.expiresAt,
      });
    },
  );
};
