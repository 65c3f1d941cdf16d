import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import type { Decision } from "@gatehouse/engine";
import type { ServiceExplanation } from "@gatehouse/service";
import { Type } from "@sinclair/typebox";
import { requireCaller } from "../http/caller.ts";
import {
  Batch,
  DecisionSchema,
  DecisionsSchema,
  FreshQuestion,
  DecisionGrantSchema as GrantSchema,
  MAX_BATCH,
  Resource,
  Subject,
  Params as WorkspaceParams,
} from "../http/decision-schemas.ts";
import { AtLeastRevisionQuery, fallbackBody, freshnessOf, strict } from "../http/schemas.ts";
import { AccessRequestProvenanceSchema } from "./access-requests.ts";
import type { RouteOptions } from "./route-options.ts";

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
      accessRequest: AccessRequestProvenanceSchema,
    }),
  ),
  key: Type.Union([Type.Object({ id: Type.String(), outcome: Type.String() }), Type.Null()]),
  suggestion: Type.Union([Type.Object({ role: Type.String(), scope: Type.String() }), Type.Null()]),
  ownerOnly: Type.Boolean(),
  summary: Type.String(),
});

type Grant = Extract<Decision, { allowed: true }>["via"];

/**
 * A grant as answered, field by field (the answer's schemas name these and no others): built on
 * every allowed check, where copying the grant with a rest spread and spreading it again cost
 * more than the fields themselves.
 */
function toGrantBody(grant: Grant) {
  const { note, fallback } = grant;
  const body: {
    subject: string;
    role: string;
    scope: string;
    extras: string[];
    expiresAt: number | null;
    note?: string;
    fallback?: { role: string; extras: string[] };
  } = {
    subject: grant.subject,
    role: grant.role,
    scope: grant.scope,
    extras: [...grant.extras],
    expiresAt: grant.expiresAt ?? null,
  };
  if (note !== undefined) body.note = note;
  if (fallback !== undefined) body.fallback = fallbackBody(fallback);
  return body;
}

function toDecisionBody(decision: Decision) {
  if (decision.allowed) return { allowed: true, via: toGrantBody(decision.via) };
  return {
    allowed: false,
    reason: decision.reason,
    ...(decision.missing === undefined ? {} : { missing: [...decision.missing] }),
  };
}

function toExplanationBody(explanation: ServiceExplanation) {
  return {
    ...explanation,
    decision: toDecisionBody(explanation.decision),
    considered: explanation.considered.map((item) => ({
      grant: toGrantBody(item.grant),
      throughGroup: item.throughGroup ?? null,
      outcome: item.outcome,
      accessRequest: item.accessRequest ?? null,
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

  app.post(
    "/v1/workspaces/:ws/decision",
    {
      schema: {
        tags,
        summary: "May the caller (or a subject) use a permission on a resource?",
        description: `One question. By default for the caller; \`subject\` (\`user:<id>\`, \`group:<id>\`, \`apikey:<id>\`) needs the team gate. A resource that does not exist answers \`{ allowed: false, reason: "not_found" }\`; an unknown permission is 400 UNKNOWN_PERMISSION. The same as \`POST …/check\` with one question, on a route with one request shape.`,
        params: WorkspaceParams,
        body: FreshQuestion,
        response: { 200: DecisionSchema },
      },
    },
    async (request) => {
      const { permission, resource, subject, atLeastRevision } = request.body;
      return toDecisionBody(
        await gatehouse.decisions.check(
          requireCaller(request),
          request.params.ws,
          { permission, resource, subject },
          { atLeastRevision },
        ),
      );
    },
  );

  app.post(
    "/v1/workspaces/:ws/decisions",
    {
      schema: {
        tags,
        summary: `Up to ${MAX_BATCH} questions answered from one read of the workspace`,
        description:
          "Answers in the order of the questions, each as `POST …/decision` would answer it; every answer reflects the same revision.",
        params: WorkspaceParams,
        body: Batch,
        response: { 200: DecisionsSchema },
      },
    },
    async (request) => {
      const decisions = await gatehouse.decisions.checkMany(
        requireCaller(request),
        request.params.ws,
        request.body.checks,
        { atLeastRevision: request.body.atLeastRevision },
      );
      return { results: decisions.map(toDecisionBody) };
    },
  );

  app.post(
    "/v1/workspaces/:ws/check",
    {
      schema: {
        tags,
        summary:
          "One question or a batch (kept for compatibility; prefer …/decision and …/decisions)",
        description: `Send one question, or \`{ checks: [...] }\` with up to ${MAX_BATCH}, answered from one read of the workspace — as \`POST …/decision\` and \`POST …/decisions\` answer them. Its request and answer are each one of two shapes, so it validates and serializes more slowly than those routes.`,
        params: WorkspaceParams,
        body: Type.Union([FreshQuestion, Batch]),
        response: {
          200: Type.Union([DecisionSchema, DecisionsSchema]),
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
          "Sections the caller cannot use are absent, not disabled. An unknown resource has no " +
          "permissions. `administers`: the delegation permission or team gate held at the resource " +
          "or above (whatever types they act on) — where the Permissions card shows.",
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
            administers: Type.Boolean({
              description:
                "Whether the subject administers the resource: the model's delegation permission or team gate held there or above (the Permissions card)",
            }),
          }),
        },
      },
    },
    async (request) => {
      const { atLeastRevision, ...query } = request.query;
      const { resource, permissions, sections, administers } =
        await gatehouse.decisions.capabilities(
          requireCaller(request),
          request.params.ws,
          query,
          freshnessOf(atLeastRevision),
        );
      return { resource, permissions: [...permissions], sections: [...sections], administers };
    },
  );
};
