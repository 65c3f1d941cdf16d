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
        summary: "The model of a workspace: types, permissions, roles, plans and sections",
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
          }),
        },
      },
    },
    async (request) => {
      const workspace = await gatehouse.workspaces.get(requireCaller(request), request.params.ws);
      return { preset: workspace.preset, model: gatehouse.models[workspace.preset]!.definition };
    },
  );
};
