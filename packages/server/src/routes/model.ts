import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import type { ModelDefinition } from "@gatehouse/engine";
import { Type } from "@sinclair/typebox";
import { requireCaller } from "../http/caller.ts";
import type { RouteOptions } from "./route-options.ts";

const PresetSummary = Type.Object({
  name: Type.String(),
  label: Type.Optional(Type.String()),
  source: Type.Optional(Type.String()),
  roles: Type.Array(Type.String()),
  types: Type.Array(Type.String()),
});

/** The shipped presets and each workspace's model. */
export const modelRoutes: FastifyPluginAsyncTypebox<RouteOptions> = async (app, { gatehouse }) => {
  app.get(
    "/v1/presets",
    {
      schema: {
        tags: ["model"],
        summary: "The shipped presets",
        response: { 200: Type.Object({ presets: Type.Array(PresetSummary) }) },
      },
    },
    async () => ({
      presets: Object.values(gatehouse.models).map((model) => ({
        name: model.name,
        ...(model.definition.label === undefined ? {} : { label: model.definition.label }),
        ...(model.definition.source === undefined ? {} : { source: model.definition.source }),
        roles: [...model.roles],
        types: [...model.types],
      })),
    }),
  );

  app.get(
    "/v1/workspaces/:ws/model",
    {
      schema: {
        tags: ["model"],
        summary:
          "The model of a workspace: types, permissions, roles, plans and sections, and the workspace's own roles",
        params: Type.Object(
          { ws: Type.String({ maxLength: 100 }) },
          { additionalProperties: false },
        ),
        response: {
          200: Type.Object({
            preset: Type.String(),
            model: Type.Unsafe<ModelDefinition>({
              type: "object",
              additionalProperties: true,
              description: "The model definition, as `parseModel` reads it (docs/engine.md)",
            }),
            roles: Type.Array(
              Type.Object({
                name: Type.String(),
                label: Type.String(),
                description: Type.String(),
                scopes: Type.Array(Type.String()),
                permissions: Type.Array(Type.String()),
              }),
              {
                description:
                  "The workspace's own roles (docs/workspace-roles.md): its model is `model` plus these (`extendModel`)",
              },
            ),
          }),
        },
      },
    },
    async (request) => {
      const { preset, roles } = await gatehouse.workspaceRoles.list(
        requireCaller(request),
        request.params.ws,
      );
      return {
        preset,
        model: gatehouse.models[preset]!.definition,
        roles: roles.map((role) => ({
          ...role,
          scopes: [...role.scopes],
          permissions: [...role.permissions],
        })),
      };
    },
  );
};
