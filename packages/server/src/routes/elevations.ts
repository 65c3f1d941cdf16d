import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { Type } from "@sinclair/typebox";
import { requireCaller } from "../http/caller.ts";
import { DecisionGrantSchema } from "../http/decision-schemas.ts";
import { Revision, revisionHeader, withFallbackBody, withRevision } from "../http/schemas.ts";
import type { RouteOptions } from "./route-options.ts";

const strict = { additionalProperties: false } as const;
const Id = Type.String({ minLength: 1, maxLength: 100 });
const Duration = Type.Integer({ minimum: 60_000, maximum: 30 * 24 * 3_600_000 });

const EligibilitySchema = Type.Object({
  id: Type.String(),
  subject: Type.String(),
  role: Type.String(),
  scope: Type.String(),
  maxDurationMs: Type.Integer(),
  require2fa: Type.Boolean(),
  createdAt: Type.Number(),
  createdBy: Type.String(),
  active: Type.Union([Type.Object({ until: Type.Number(), note: Type.String() }), Type.Null()]),
});

/**
 * Just-in-time elevation (#18): managers make members eligible for a role at a scope; the member
 * activates it for a bounded time with a reason, and ends it early if they like.
 */
export const elevationRoutes: FastifyPluginAsyncTypebox<RouteOptions> = async (
  app,
  { gatehouse },
) => {
  const tags = ["elevation"];
  const Params = Type.Object({ ws: Id }, strict);
  const ItemParams = Type.Object({ ws: Id, id: Id }, strict);

  app.get(
    "/v1/workspaces/:ws/eligibilities",
    {
      schema: {
        tags,
        summary: "Your eligibilities, and those you could set, each with its live elevation",
        params: Params,
        response: { 200: Type.Object({ eligibilities: Type.Array(EligibilitySchema) }) },
      },
    },
    async (request) => ({
      eligibilities: await gatehouse.elevations.list(requireCaller(request), request.params.ws),
    }),
  );

  app.post(
    "/v1/workspaces/:ws/eligibilities",
    {
      schema: {
        tags,
        summary: "Make a member eligible for a role at a scope (replacing their eligibility there)",
        description:
          "Needs the right to give that grant (people management there, nothing beyond what you hold); a scope out of your reach is 404 RESOURCE_NOT_FOUND. It gives nothing until the member activates it.",
        params: Params,
        body: Type.Object(
          {
            subject: Type.String({ minLength: 1, maxLength: 200 }),
            role: Type.String({ minLength: 1, maxLength: 100 }),
            scope: Type.String({ minLength: 1, maxLength: 300 }),
            maxDurationMs: Duration,
            require2fa: Type.Optional(Type.Boolean()),
          },
          strict,
        ),
        response: {
          201: Type.Object(
            { eligibility: EligibilitySchema, revision: Type.Integer() },
            revisionHeader,
          ),
        },
      },
    },
    async (request, reply) => {
      const set = await gatehouse.elevations.set(
        requireCaller(request),
        request.params.ws,
        request.body,
      );
      return withRevision(reply, set.revision).status(201).send(set);
    },
  );

  app.delete(
    "/v1/workspaces/:ws/eligibilities/:id",
    {
      schema: {
        tags,
        summary: "Remove an eligibility (a live elevation runs on until it ends or is ended)",
        params: ItemParams,
        response: { 200: Revision },
      },
    },
    async (request, reply) => {
      const { revision } = await gatehouse.elevations.remove(
        requireCaller(request),
        request.params.ws,
        request.params.id,
      );
      return withRevision(reply, revision).send({ revision });
    },
  );

  app.post(
    "/v1/workspaces/:ws/eligibilities/:id/activate",
    {
      schema: {
        tags,
        summary:
          "Elevate yourself: the eligible role, for at most its longest duration, with a reason",
        description:
          "Only the eligible member (anyone else: 404 NOT_FOUND). Adds an expiring grant whose note names the elevation. 401 TOTP_REQUIRED / TOTP_INVALID when the eligibility requires a fresh authenticator code; 409 CONFLICT while already elevated.",
        params: ItemParams,
        body: Type.Object(
          {
            durationMs: Duration,
            reason: Type.String({ minLength: 1, maxLength: 500 }),
            totpCode: Type.Optional(Type.String({ maxLength: 20 })),
          },
          strict,
        ),
        response: {
          200: Type.Object(
            { grant: DecisionGrantSchema, revision: Type.Integer() },
            revisionHeader,
          ),
        },
      },
    },
    async (request, reply) => {
      const { grant, revision } = await gatehouse.elevations.activate(
        requireCaller(request),
        request.params.ws,
        request.params.id,
        request.body,
      );
      return withRevision(reply, revision).send({
        grant: {
          ...withFallbackBody(grant),
          extras: [...grant.extras],
          expiresAt: grant.expiresAt ?? null,
        },
        revision,
      });
    },
  );

  app.post(
    "/v1/workspaces/:ws/eligibilities/:id/deactivate",
    {
      schema: {
        tags,
        summary: "End a live elevation now (the member, or whoever may give its grant)",
        description: "Takes no body. 404 NOT_FOUND when it is not active.",
        params: ItemParams,
        response: { 200: Revision },
      },
    },
    async (request, reply) => {
      const { revision } = await gatehouse.elevations.deactivate(
        requireCaller(request),
        request.params.ws,
        request.params.id,
      );
      return withRevision(reply, revision).send({ revision });
    },
  );
};
