import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import type { Grant } from "@gatehouse/engine";
import { Type } from "@sinclair/typebox";
import { requireCaller } from "../http/caller.ts";
import { GrantSchema, WorkspaceParams, withFallbackBody } from "../http/schemas.ts";
import type { RouteOptions } from "./route-options.ts";

function grantOf(grant: Grant) {
  const { expiresAt, ...rest } = withFallbackBody(grant);
  return { ...rest, extras: [...grant.extras], ...(expiresAt === undefined ? {} : { expiresAt }) };
}

/**
 * What the console builds itself from: the caller's own access in a workspace, the preset's
 * role × permission matrix, and the plan's seats.
 */
export const accessRoutes: FastifyPluginAsyncTypebox<RouteOptions> = async (app, { gatehouse }) => {
  const tags = ["access"];

  app.get(
    "/v1/workspaces/:ws/access",
    {
      schema: {
        tags,
        summary: "The caller's own access: grants, the Gatehouse workflows they may use, sections",
        description:
          "Every member may read their own. `workflows` says which of Gatehouse's pages apply (team, activity log, settings, owner-only); `sections` are the model's navigation sections the caller may use anywhere in the workspace. Under `x-gatehouse-view-as`, the member's access, with `viewAs` set.",
        params: WorkspaceParams,
        response: {
          200: Type.Object({
            workspaceId: Type.String(),
            userId: Type.String(),
            isOwner: Type.Boolean(),
            grants: Type.Array(GrantSchema),
            groups: Type.Array(Type.String()),
            workflows: Type.Object({
              viewTeam: Type.Boolean(),
              managePeople: Type.Boolean(),
              viewActivity: Type.Boolean(),
              changeSettings: Type.Boolean(),
              ownerOnly: Type.Boolean(),
              changePlan: Type.Boolean(),
              transferOwnership: Type.Boolean(),
              administerBelow: Type.Boolean({
                description:
                  "Holds the delegation permission or team gate at one of their grant scopes: the Permissions card there and below",
              }),
            }),
            sections: Type.Array(Type.String()),
            navigation: Type.Union([Type.Literal("full"), Type.Literal("workspace-only")], {
              description:
                "`workspace-only` when every role the caller holds here says so in the model: the console then offers no workspace switcher and no account pages",
            }),
            viewAs: Type.Union([Type.Object({ viewerId: Type.String() }), Type.Null()]),
          }),
        },
      },
    },
    async (request) => {
      const access = await gatehouse.access.mine(requireCaller(request), request.params.ws);
      return {
        ...access,
        grants: access.grants.map(grantOf),
        groups: [...access.groups],
        sections: [...access.sections],
      };
    },
  );

  app.get(
    "/v1/workspaces/:ws/roles",
    {
      schema: {
        tags,
        summary: "The preset's role × permission matrix, with the workspace's own roles",
        description:
          "Every role with the resource types it is granted at and the permissions it holds (the owner role holds them all), the workspace's own roles marked `workspace` (docs/workspace-roles.md); every permission with the types it acts on and whether it is owner-only (never delegable). `workspaceRoles` says whether the model lets the workspace define roles and whether the caller may.",
        params: WorkspaceParams,
        response: {
          200: Type.Object({
            preset: Type.String(),
            types: Type.Array(Type.Object({ name: Type.String(), label: Type.String() })),
            permissions: Type.Array(
              Type.Object({
                name: Type.String(),
                on: Type.Array(Type.String()),
                description: Type.String(),
                ownerOnly: Type.Boolean(),
              }),
            ),
            roles: Type.Array(
              Type.Object({
                name: Type.String(),
                label: Type.String(),
                description: Type.String(),
                owner: Type.Boolean(),
                scopes: Type.Array(Type.String()),
                permissions: Type.Array(Type.String()),
                workspace: Type.Boolean({
                  description: "Defined by the workspace itself, not by its model",
                }),
              }),
            ),
            workspaceRoles: Type.Object({
              allowed: Type.Boolean({ description: "The model's `policy.workspaceRoles`" }),
              mayDefine: Type.Boolean({
                description: "The caller may define, change and delete them",
              }),
            }),
          }),
        },
      },
    },
    async (request) => {
      const matrix = await gatehouse.access.roleMatrix(requireCaller(request), request.params.ws);
      return {
        preset: matrix.preset,
        types: matrix.types.map((type) => ({ ...type })),
        permissions: matrix.permissions.map((permission) => ({
          ...permission,
          on: [...permission.on],
        })),
        roles: matrix.roles.map((role) => ({
          ...role,
          scopes: [...role.scopes],
          permissions: [...role.permissions],
        })),
        workspaceRoles: { ...matrix.workspaceRoles },
      };
    },
  );

  app.get(
    "/v1/workspaces/:ws/seats",
    {
      schema: {
        tags,
        summary:
          "The plan, the model's plans, and the seats in use (members + pending invitations)",
        description:
          "For those who may see the team. `limit` and `remaining` are null when the plan has no member limit.",
        params: WorkspaceParams,
        response: {
          200: Type.Object({
            plan: Type.Union([Type.String(), Type.Null()]),
            plans: Type.Array(
              Type.Object({
                name: Type.String(),
                label: Type.String(),
                maxMembers: Type.Union([Type.Integer(), Type.Null()]),
              }),
            ),
            seats: Type.Object({
              members: Type.Integer(),
              pending: Type.Integer(),
              limit: Type.Union([Type.Integer(), Type.Null()]),
              remaining: Type.Union([Type.Integer(), Type.Null()]),
            }),
          }),
        },
      },
    },
    async (request) => {
      const answer = await gatehouse.workspaces.seats(requireCaller(request), request.params.ws);
      return { ...answer, plans: answer.plans.map((plan) => ({ ...plan })) };
    },
  );
};
