import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { Type } from "@sinclair/typebox";
import { requireCaller } from "../http/caller.ts";
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

const CredentialName = Type.String({
  pattern: "^[A-Za-z0-9][A-Za-z0-9._:-]{0,99}$",
  description: "1–100 letters, digits, and . _ : - (starting with a letter or digit)",
});
const CredentialParams = Type.Object({ ws: WorkspaceId, name: CredentialName }, strict);

/** A credential as answered: name and history. The schema has no value field, so none can leak. */
const CredentialInfoSchema = Type.Object({
  name: Type.String(),
  createdAt: Type.Number(),
  updatedAt: Type.Number(),
  updatedBy: Type.String({ description: "`user:…` or `system:…`: who wrote the current value" }),
});

/**
 * Integration credentials (DNS tokens, AI keys, backup-destination secrets): owner-only and
 * write-only. There is no route that reveals a value — only the host application, in
 * process, reads one back.
 */
export const credentialRoutes: FastifyPluginAsyncTypebox<RouteOptions> = async (
  app,
  { gatehouse },
) => {
  const tags = ["credentials"];

  app.put(
    "/v1/workspaces/:ws/credentials/:name",
    {
      schema: {
        tags,
        summary: "Set or replace an integration credential (owner only, write-only)",
        description:
          "The value is sealed at once and never returned by any route, not even to the owner. " +
          `Answers the credential's name and history with \`revision\`, and sets \`${REVISION_HEADER}\`.`,
        params: CredentialParams,
        body: Type.Object({ value: Type.String({ minLength: 1, maxLength: 16 * 1024 }) }, strict),
        response: {
          200: Type.Object(
            { credential: CredentialInfoSchema, revision: Type.Integer() },
            revisionHeader,
          ),
        },
      },
    },
    async (request, reply) => {
      const { credential, revision } = await gatehouse.credentials.set(
        requireCaller(request),
        request.params.ws,
        { name: request.params.name, value: request.body.value },
      );
      return withRevision(reply, revision).send({ credential, revision });
    },
  );

  app.get(
    "/v1/workspaces/:ws/credentials",
    {
      schema: {
        tags,
        summary: "The workspace's credentials by name, with when and by whom each was set",
        description: "Owner only; never a value.",
        params: WorkspaceParams,
        response: { 200: Type.Object({ credentials: Type.Array(CredentialInfoSchema) }) },
      },
    },
    async (request) => ({
      credentials: await gatehouse.credentials.list(requireCaller(request), request.params.ws),
    }),
  );

  app.delete(
    "/v1/workspaces/:ws/credentials/:name",
    {
      schema: {
        tags,
        summary: "Delete an integration credential (owner only)",
        description: `Answers \`{ revision }\` and sets \`${REVISION_HEADER}\`; 404 CREDENTIAL_NOT_FOUND when there is none by that name.`,
        params: CredentialParams,
        response: { 200: Revision },
      },
    },
    async (request, reply) => {
      const { revision } = await gatehouse.credentials.delete(
        requireCaller(request),
        request.params.ws,
        request.params.name,
      );
      return withRevision(reply, revision).send({ revision });
    },
  );
};
