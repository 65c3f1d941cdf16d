import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import type { WorkspaceRole } from "@gatehouse/service";
import { Type } from "@sinclair/typebox";
import { requireCaller } from "../http/caller.ts";
import { revisionHeader, withRevision } from "../http/schemas.ts";
import type { RouteOptions } from "./route-options.ts";

const strict = { additionalProperties: false } as const;
const Id = Type.String({ minLength: 1, maxLength: 100 });
const Names = Type.Array(Type.String({ minLength: 1, maxLength: 200 }), { maxItems: 200 });
const RoleParams = Type.Object(
  { ws: Id, role: Type.String({ minLength: 1, maxLength: 64 }) },
  strict,
);

const WorkspaceRoleSchema = Type.Object({
  name: Type.String(),
  label: Type.String(),
  description: Type.String(),
  scopes: Type.Array(Type.String()),
  permissions: Type.Array(Type.String()),
});

const Label = Type.String({ minLength: 1, maxLength: 200 });
const Description = Type.String({ maxLength: 500 });

function toBody(role: WorkspaceRole) {
  return { ...role, scopes: [...role.scopes], permissions: [...role.permissions] };
}

const rules =
  "Where the model's `policy.workspaceRoles` allows (403 WORKSPACE_ROLES_DISABLED otherwise), for the owner or whoever holds the model's settings gate. Permissions come from the model, never owner-only ones (400 INVALID_INPUT with `issues`), and never one the caller does not hold at the root (403). docs/workspace-roles.md.";

/**
 * Workspace-defined roles, beside the role matrix (`GET …/roles`): define, change and delete the
 * workspace's own roles. Each change bumps the revision; every engine of the workspace reloads.
 */
export const workspaceRoleRoutes: FastifyPluginAsyncTypebox<RouteOptions> = async (
  app,
  { gatehouse },
) => {
  const tags = ["access"];

  app.post(
    "/v1/workspaces/:ws/roles",
    {
      schema: {
        tags,
        summary: "Define a role of the workspace's own, from the model's permissions",
        description: `${rules} The name must be free among the model's roles (409 CONFLICT for one the workspace already defined).`,
        params: Type.Object({ ws: Id }, strict),
        body: Type.Object(
          {
            name: Type.String({ minLength: 1, maxLength: 64 }),
            label: Type.Optional(Label),
            description: Type.Optional(Description),
            scopes: Type.Array(Type.String({ minLength: 1, maxLength: 200 }), {
              minItems: 1,
              maxItems: 32,
            }),
            permissions: Names,
          },
          strict,
        ),
        response: {
          201: Type.Object({ role: WorkspaceRoleSchema, revision: Type.Integer() }, revisionHeader),
        },
      },
    },
    async (request, reply) => {
      const { role, revision } = await gatehouse.workspaceRoles.define(
        requireCaller(request),
        request.params.ws,
        request.body,
      );
      return withRevision(reply, revision)
        .status(201)
        .send({ role: toBody(role), revision });
    },
  );

  app.patch(
    "/v1/workspaces/:ws/roles/:role",
    {
      schema: {
        tags,
        summary: "Change a workspace role's label, description, scopes or permissions",
        description: `${rules} Added permissions must be held by the caller; a scope still used by a grant or pending invitation of the role stays (409 ROLE_IN_USE). 404 ROLE_NOT_FOUND for a name the workspace did not define.`,
        params: RoleParams,
        body: Type.Object(
          {
            label: Type.Optional(Label),
            description: Type.Optional(Description),
            scopes: Type.Optional(
              Type.Array(Type.String({ minLength: 1, maxLength: 200 }), {
                minItems: 1,
                maxItems: 32,
              }),
            ),
            permissions: Type.Optional(Names),
          },
          { ...strict, minProperties: 1 },
        ),
        response: {
          200: Type.Object({ role: WorkspaceRoleSchema, revision: Type.Integer() }, revisionHeader),
        },
      },
    },
    async (request, reply) => {
      const { role, revision } = await gatehouse.workspaceRoles.update(
        requireCaller(request),
        request.params.ws,
        request.params.role,
        request.body,
      );
      return withRevision(reply, revision).send({ role: toBody(role), revision });
    },
  );

  app.delete(
    "/v1/workspaces/:ws/roles/:role",
    {
      schema: {
        tags,
        summary: "Delete a workspace role no grant or pending invitation gives",
        description: `${rules} 409 ROLE_IN_USE while a grant or pending invitation gives it; 404 ROLE_NOT_FOUND for a name the workspace did not define (the model's roles are never deleted).`,
        params: RoleParams,
        response: { 200: Type.Object({ revision: Type.Integer() }, revisionHeader) },
      },
    },
    async (request, reply) => {
      const { revision } = await gatehouse.workspaceRoles.remove(
        requireCaller(request),
        request.params.ws,
        request.params.role,
      );
      return withRevision(reply, revision).send({ revision });
    },
  );
};
