import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import type { Decision, Explanation } from "@gatehouse/engine";
import { RESOURCE_NAME_MAX_LENGTH } from "@gatehouse/service";
import { Type } from "@sinclair/typebox";
import { requireCaller } from "../http/caller.ts";
import { AtLeastRevision, AtLeastRevisionQuery, freshnessOf } from "../http/schemas.ts";
import type { RouteOptions } from "./route-options.ts";

const strict = { additionalProperties: false } as const;
const Permission = Type.String({ minLength: 1, maxLength: 200 });
const Resource = Type.String({ minLength: 1, maxLength: RESOURCE_NAME_MAX_LENGTH });
const Subject = Type.String({ minLength: 1, maxLength: 200 });
const MAX_BATCH = 1000;

const questionFields = {
  permission: Permission,
  resource: Resource,
  subject: Type.Optional(Subject),
};
const Question = Type.Object(questionFields, strict);
/** One question, answered no staler than `atLeastRevision`. */
const FreshQuestion = Type.Object(
  { ...questionFields, atLeastRevision: Type.Optional(AtLeastRevision) },
  strict,
);

const GrantSchema = Type.Object({
  subject: Type.String(),
  role: Type.String(),
  scope: Type.String(),
  extras: Type.Array(Type.String()),
  expiresAt: Type.Union([Type.Number(), Type.Null()]),
});

/** A decision: `{ allowed: true, via }` or `{ allowed: false, reason, missing? }`. */
const DecisionSchema = Type.Object({
  allowed: Type.Boolean(),
  via: Type.Optional(GrantSchema),
  reason: Type.Optional(Type.String()),
  missing: Type.Optional(Type.Array(Type.String())),
});

const ExplanationSchema = Type.Object({
  subject: Type.String(),
  permission: Type.String(),
  resource: Type.String(),
  decision: DecisionSchema,
  considered: Type.Array(
    Type.Object({
      grant: GrantSchema,
      throughGroup: Type.Union([Type.String(), Type.Null()]),
      outcome: Type.String(),
    }),
  ),
  key: Type.Union([Type.Object({ id: Type.String(), outcome: Type.String() }), Type.Null()]),
  suggestion: Type.Union([Type.Object({ role: Type.String(), scope: Type.String() }), Type.Null()]),
  ownerOnly: Type.Boolean(),
  summary: Type.String(),
});

type Grant = Extract<Decision, { allowed: true }>["via"];

function toGrantBody(grant: Grant) {
  return { ...grant, extras: [...grant.extras], expiresAt: grant.expiresAt ?? null };
}

function toDecisionBody(decision: Decision) {
  if (decision.allowed) return { allowed: true, via: toGrantBody(decision.via) };
  return {
    allowed: false,
    reason: decision.reason,
    ...(decision.missing === undefined ? {} : { missing: [...decision.missing] }),
  };
}

function toExplanationBody(explanation: Explanation) {
  return {
    ...explanation,
    decision: toDecisionBody(explanation.decision),
    considered: explanation.considered.map((item) => ({
      grant: toGrantBody(item.grant),
      throughGroup: item.throughGroup ?? null,
      outcome: item.outcome,
    })),
    key: explanation.key ?? null,
    suggestion: explanation.suggestion ?? null,
  };
}

/**
 * Decisions: check one question or a batch, explain a decision, and the caller's
 * capabilities on a resource with the navigation sections the UI shows.
 */
export const decisionRoutes: FastifyPluginAsyncTypebox<RouteOptions> = async (
  app,
  { gatehouse },
) => {
  const tags = ["decisions"];
  const WorkspaceParams = Type.Object(
    { ws: Type.String({ minLength: 1, maxLength: 100 }) },
    strict,
  );

  app.post(
    "/v1/workspaces/:ws/check",
    {
      schema: {
        tags,
        summary: "May the caller (or a subject) use a permission on a resource? One or a batch",
        description: `Send one question, or \`{ checks: [...] }\` with up to ${MAX_BATCH}, answered from one read of the workspace. By default for the caller; \`subject\` (\`user:<id>\`, \`group:<id>\`, \`apikey:<id>\`) needs the team gate. A resource that does not exist answers \`{ allowed: false, reason: "not_found" }\`; an unknown permission is 400 UNKNOWN_PERMISSION.`,
        params: WorkspaceParams,
        body: Type.Union([
          FreshQuestion,
          Type.Object(
            {
              checks: Type.Array(Question, { maxItems: MAX_BATCH }),
              atLeastRevision: Type.Optional(AtLeastRevision),
            },
            strict,
          ),
        ]),
        response: {
          200: Type.Union([DecisionSchema, Type.Object({ results: Type.Array(DecisionSchema) })]),
        },
      },
    },
    async (request) => {
      const caller = requireCaller(request);
      const body = request.body;
      const freshness = { atLeastRevision: body.atLeastRevision };
      if ("checks" in body) {
        const decisions = await gatehouse.decisions.checkMany(
          caller,
          request.params.ws,
          body.checks,
          freshness,
        );
        return { results: decisions.map(toDecisionBody) };
      }
      const { atLeastRevision: _, ...question } = body;
      return toDecisionBody(
        await gatehouse.decisions.check(caller, request.params.ws, question, freshness),
      );
    },
  );

  app.post(
    "/v1/workspaces/:ws/explain",
    {
      schema: {
        tags,
        summary: "Why a decision is what it is: every grant considered, and what would allow it",
        params: WorkspaceParams,
        body: FreshQuestion,
        response: { 200: ExplanationSchema },
      },
    },
    async (request) => {
      const { atLeastRevision, ...question } = request.body;
      return toExplanationBody(
        await gatehouse.decisions.explain(requireCaller(request), request.params.ws, question, {
          atLeastRevision,
        }),
      );
    },
  );

  app.get(
    "/v1/workspaces/:ws/capabilities",
    {
      schema: {
        tags,
        summary: "Everything the caller may do on a resource, and the navigation sections to show",
        description:
          "Sections the caller cannot use are absent, not disabled. An unknown resource has no permissions.",
        params: WorkspaceParams,
        querystring: Type.Object(
          {
            resource: Resource,
            subject: Type.Optional(Subject),
            atLeastRevision: Type.Optional(AtLeastRevisionQuery),
          },
          strict,
        ),
        response: {
          200: Type.Object({
            resource: Type.String(),
            permissions: Type.Array(Type.String()),
            sections: Type.Array(Type.String()),
          }),
        },
      },
    },
    async (request) => {
      const { atLeastRevision, ...query } = request.query;
      const { resource, permissions, sections } = await gatehouse.decisions.capabilities(
        requireCaller(request),
        request.params.ws,
        query,
        freshnessOf(atLeastRevision),
      );
      return { resource, permissions: [...permissions], sections: [...sections] };
    },
  );
};
