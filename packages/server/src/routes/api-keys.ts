import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import type { ApiKeyInfo } from "@gatehouse/service";
import { Type } from "@sinclair/typebox";
import { requireCaller } from "../http/caller.ts";
import { revisionHeader, withRevision } from "../http/schemas.ts";
import type { RouteOptions } from "./route-options.ts";

const strict = { additionalProperties: false } as const;
const Id = Type.String({ minLength: 1, maxLength: 100 });
const Name = Type.String({ minLength: 1, maxLength: 300 });

const ApiKeySchema = Type.Object({
  id: Type.String(),
  name: Type.String(),
  prefix: Type.String(),
  ownerUserId: Type.String(),
  scopes: Type.Array(Type.String()),
  permissions: Type.Array(Type.String()),
  resources: Type.Array(Type.String()),
  expiresAt: Type.Union([Type.Number(), Type.Null()]),
  createdAt: Type.Number(),
  revokedAt: Type.Union([Type.Number(), Type.Null()]),
  status: Type.Union([Type.Literal("active"), Type.Literal("expired"), Type.Literal("revoked")]),
});

function toBody(key: ApiKeyInfo) {
  return {
    ...key,
    scopes: [...key.scopes],
    permissions: [...key.permissions],
    resources: [...key.resources],
  };
}

/**
 * API keys: a member's key acts with the owner's current permissions ∩ its permission patterns
 * (`scopes`) ∩ its resources. The secret is shown once, on creation; it authenticates as `Authorization: Bearer`.
 */
export const apiKeyRoutes: FastifyPluginAsyncTypebox<RouteOptions> = async (app, { gatehouse }) => {
  const tags = ["API keys"];
  const WorkspaceParams = Type.Object({ ws: Id }, strict);

  app.post(
    "/v1/workspaces/:ws/api-keys",
    {
      schema: {
        tags,
        summary: "Create an API key owned by the caller; the secret is in this answer only",
        description:
          "For a person signed in directly (not a key or the assistant). `scopes` are permission names, `area.*` patterns or `*`; `resources` constrain the key to those resources and below (404 RESOURCE_NOT_FOUND for one the caller cannot see).",
        params: WorkspaceParams,
        body: Type.Object(
          {
            name: Type.String({ minLength: 1, maxLength: 100 }),
            scopes: Type.Array(Name, { minItems: 1, maxItems: 100 }),
            resources: Type.Optional(Type.Array(Name, { maxItems: 100 })),
            expiresAt: Type.Optional(
              Type.Union([
                Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER }),
                Type.Null(),
              ]),
            ),
          },
          strict,
        ),
        response: {
          201: Type.Object(
            { key: ApiKeySchema, secret: Type.String(), revision: Type.Integer() },
            revisionHeader,
          ),
        },
      },
    },
    async (request, reply) => {
      const { key, secret, revision } = await gatehouse.apiKeys.create(
        requireCaller(request),
        request.params.ws,
        request.body,
      );
      return withRevision(reply, revision)
        .status(201)
        .send({ key: toBody(key), secret, revision });
    },
  );

  app.get(
    "/v1/workspaces/:ws/api-keys",
    {
      schema: {
        tags,
        summary: "The workspace's API keys: your own, or everyone's for those who may see the team",
        description: "Revoked and expired keys included; secrets never.",
        params: WorkspaceParams,
        response: { 200: Type.Object({ keys: Type.Array(ApiKeySchema) }) },
      },
    },
    async (request) => {
      const keys = await gatehouse.apiKeys.list(requireCaller(request), request.params.ws);
      return { keys: keys.map(toBody) };
    },
  );

  app.delete(
    "/v1/workspaces/:ws/api-keys/:id",
    {
      schema: {
        tags,
        summary: "Revoke an API key at once (its owner, the key itself, or a people manager)",
        params: Type.Object({ ws: Id, id: Id }, strict),
        response: {
          200: Type.Object({ key: ApiKeySchema, revision: Type.Integer() }, revisionHeader),
        },
      },
    },
    async (request, reply) => {
      const { key, revision } = await gatehouse.apiKeys.revoke(
        requireCaller(request),
        request.params.ws,
        request.params.id,
      );
      return withRevision(reply, revision).send({ key: toBody(key), revision });
    },
  );
};
