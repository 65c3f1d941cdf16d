import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { type Decision, ErrorCode, GatehouseError } from "@gatehouse/engine";
import { type Static, Type } from "@sinclair/typebox";
import { requireCaller } from "../http/caller.ts";
import { strict, WorkspaceId } from "../http/schemas.ts";
import type { RouteOptions } from "./route-options.ts";

/**
 * The OpenID AuthZEN Authorization API 1.0 over one workspace: its endpoints live under
 * `/v1/workspaces/:ws` (the workspace is the PDP's tenant) and its metadata at
 * `/.well-known/authzen-configuration/v1/workspaces/:ws`. Subjects `{ type, id }` are
 * `type:id` (`user`, `group`, `apikey`), resources `type:id`, actions permission names.
 */
const Id = Type.String({ minLength: 1, maxLength: 200 });
const Properties = Type.Optional(Type.Record(Type.String(), Type.Unknown()));
const SubjectType = Type.Union([
  Type.Literal("user"),
  Type.Literal("group"),
  Type.Literal("apikey"),
]);
const Subject = Type.Object({ type: SubjectType, id: Id, properties: Properties }, strict);
const Resource = Type.Object(
  { type: Type.String({ minLength: 1, maxLength: 50 }), id: Id, properties: Properties },
  strict,
);
const Action = Type.Object({ name: Id, properties: Properties }, strict);
const Context = Type.Optional(Type.Record(Type.String(), Type.Unknown()));
const PageRequest = Type.Optional(
  Type.Object(
    {
      token: Type.Optional(Type.String({ maxLength: 300 })),
      limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
    },
    strict,
  ),
);
const PageResponse = Type.Object({ next_token: Type.String() });
const MAX_EVALUATIONS = 1000;
const DEFAULT_PAGE = 100;

const GrantBody = Type.Object({
  subject: Type.String(),
  role: Type.String(),
  scope: Type.String(),
  extras: Type.Array(Type.String()),
  expiresAt: Type.Union([Type.Number(), Type.Null()]),
});
const EvaluationResponse = Type.Object({
  decision: Type.Boolean(),
  context: Type.Object({
    reason: Type.Optional(
      Type.String({ description: "Why it is denied: the engine's deny reason" }),
    ),
    via: Type.Optional(GrantBody),
  }),
});

const EvaluationItem = Type.Object(
  {
    subject: Type.Optional(Subject),
    action: Type.Optional(Action),
    resource: Type.Optional(Resource),
    context: Context,
  },
  strict,
);
const Semantic = Type.Union([
  Type.Literal("execute_all"),
  Type.Literal("deny_on_first_deny"),
  Type.Literal("permit_on_first_permit"),
]);

type SubjectBody = Static<typeof Subject>;
type ResourceBody = Static<typeof Resource>;

const subjectRef = (subject: SubjectBody) => `${subject.type}:${subject.id}`;
const resourceRef = (resource: ResourceBody) => `${resource.type}:${resource.id}`;

function toEvaluation(decision: Decision) {
  if (decision.allowed) {
    const via = decision.via;
    return {
      decision: true,
      context: { via: { ...via, extras: [...via.extras], expiresAt: via.expiresAt ?? null } },
    };
  }
  return { decision: false, context: { reason: decision.reason } };
}

/** An evaluation missing a field once the top-level defaults apply. */
function missing(message: string): GatehouseError {
  return new GatehouseError(ErrorCode.INVALID_INPUT, message);
}

export const authzenRoutes: FastifyPluginAsyncTypebox<RouteOptions> = async (
  app,
  { gatehouse, config },
) => {
  const tags = ["authzen"];
  const params = Type.Object({ ws: WorkspaceId }, strict);
  const base = (ws: string) =>
    `${config.publicUrl.replace(/\/+$/, "")}/v1/workspaces/${encodeURIComponent(ws)}`;

  app.get(
    "/.well-known/authzen-configuration/v1/workspaces/:ws",
    {
      schema: {
        tags,
        summary: "AuthZEN PDP metadata of a workspace",
        description:
          "The workspace is the tenant: its PDP is `/v1/workspaces/:ws`, and this is its metadata " +
          "(the well-known path with the PDP's path appended). Public, like any discovery document.",
        params,
        response: {
          200: Type.Object({
            policy_decision_point: Type.String(),
            access_evaluation_endpoint: Type.String(),
            access_evaluations_endpoint: Type.String(),
            search_subject_endpoint: Type.String(),
            search_resource_endpoint: Type.String(),
            search_action_endpoint: Type.String(),
          }),
        },
      },
    },
    async (request) => {
      const pdp = base(request.params.ws);
      return {
        policy_decision_point: pdp,
        access_evaluation_endpoint: `${pdp}/access/v1/evaluation`,
        access_evaluations_endpoint: `${pdp}/access/v1/evaluations`,
        search_subject_endpoint: `${pdp}/access/v1/search/subject`,
        search_resource_endpoint: `${pdp}/access/v1/search/resource`,
        search_action_endpoint: `${pdp}/access/v1/search/action`,
      };
    },
  );

  app.post(
    "/v1/workspaces/:ws/access/v1/evaluation",
    {
      schema: {
        tags,
        summary:
          "AuthZEN Access Evaluation: may this subject perform this action on this resource?",
        params,
        body: Type.Object(
          { subject: Subject, action: Action, resource: Resource, context: Context },
          strict,
        ),
        response: { 200: EvaluationResponse },
      },
    },
    async (request) => {
      const { subject, action, resource } = request.body;
      const decision = await gatehouse.decisions.check(requireCaller(request), request.params.ws, {
        subject: subjectRef(subject),
        permission: action.name,
        resource: resourceRef(resource),
      });
      return toEvaluation(decision);
    },
  );

  app.post(
    "/v1/workspaces/:ws/access/v1/evaluations",
    {
      schema: {
        tags,
        summary: "AuthZEN Access Evaluations: many questions, top-level values as defaults",
        description:
          `Up to ${MAX_EVALUATIONS} evaluations, answered from one revision. Without \`evaluations\` ` +
          "(or with an empty list) it answers like a single evaluation. `options.evaluations_semantic`: " +
          "`execute_all` (default), `deny_on_first_deny`, `permit_on_first_permit` (the answers stop " +
          "at the first deny / permit).",
        params,
        body: Type.Object(
          {
            subject: Type.Optional(Subject),
            action: Type.Optional(Action),
            resource: Type.Optional(Resource),
            context: Context,
            evaluations: Type.Optional(Type.Array(EvaluationItem, { maxItems: MAX_EVALUATIONS })),
            options: Type.Optional(
              Type.Object({ evaluations_semantic: Type.Optional(Semantic) }, strict),
            ),
          },
          strict,
        ),
        response: {
          200: Type.Union([
            Type.Object({ evaluations: Type.Array(EvaluationResponse) }),
            EvaluationResponse,
          ]),
        },
      },
    },
    async (request) => {
      const body = request.body;
      const items = body.evaluations ?? [];
      const single = items.length === 0;
      const questions = (single ? [{}] : items).map(
        (item: Static<typeof EvaluationItem>, index) => {
          const subject = item.subject ?? body.subject;
          const action = item.action ?? body.action;
          const resource = item.resource ?? body.resource;
          const where = single ? "the request" : `evaluations[${index}]`;
          if (subject === undefined) throw missing(`${where} has no subject`);
          if (action === undefined) throw missing(`${where} has no action`);
          if (resource === undefined) throw missing(`${where} has no resource`);
          return {
            subject: subjectRef(subject),
            permission: action.name,
            resource: resourceRef(resource),
          };
        },
      );
      const decisions = await gatehouse.decisions.checkMany(
        requireCaller(request),
        request.params.ws,
        questions,
      );
      const answers = decisions.map(toEvaluation);
      if (single) return answers[0]!;
      const semantic = body.options?.evaluations_semantic ?? "execute_all";
      if (semantic !== "execute_all") {
        const stopAt = semantic === "permit_on_first_permit";
        const index = answers.findIndex((answer) => answer.decision === stopAt);
        if (index !== -1) return { evaluations: answers.slice(0, index + 1) };
      }
      return { evaluations: answers };
    },
  );

  app.post(
    "/v1/workspaces/:ws/access/v1/search/subject",
    {
      schema: {
        tags,
        summary:
          "AuthZEN Subject Search: the users (or groups) who may perform an action on a resource",
        description:
          "`subject.type` is `user` or `group`; `subject.id` is ignored. Backed by the resource's " +
          "`access` endpoint (same gate: the team gate at the resource or above). `page.limit` " +
          `1–1000 (${DEFAULT_PAGE} by default); \`page.next_token\` is empty on the last page.`,
        params,
        body: Type.Object(
          {
            subject: Type.Object(
              {
                type: Type.Union([Type.Literal("user"), Type.Literal("group")]),
                id: Type.Optional(Type.String({ maxLength: 200 })),
                properties: Properties,
              },
              strict,
            ),
            action: Action,
            resource: Resource,
            context: Context,
            page: PageRequest,
          },
          strict,
        ),
        response: {
          200: Type.Object({
            results: Type.Array(Type.Object({ type: Type.String(), id: Type.String() })),
            page: PageResponse,
          }),
        },
      },
    },
    async (request) => {
      const { subject, action, resource, page } = request.body;
      const limit = page?.limit ?? DEFAULT_PAGE;
      const prefix = `${subject.type}:`;
      const results: { type: string; id: string }[] = [];
      let after = page?.token === undefined || page.token === "" ? undefined : page.token;
      // Pages of every subject, kept to the asked type, until this page is full or none remain.
      let more = true;
      while (more && results.length < limit) {
        const found = await gatehouse.decisions.whoCan(requireCaller(request), request.params.ws, {
          permission: action.name,
          resource: resourceRef(resource),
          limit: limit - results.length,
          after,
        });
        for (const item of found.items)
          if (item.subject.startsWith(prefix))
            results.push({ type: subject.type, id: item.subject.slice(prefix.length) });
        after = found.next;
        more = found.next !== undefined;
      }
      return { results, page: { next_token: more ? (after ?? "") : "" } };
    },
  );

  app.post(
    "/v1/workspaces/:ws/access/v1/search/resource",
    {
      schema: {
        tags,
        summary:
          "AuthZEN Resource Search: the resources of a type a subject may perform an action on",
        description:
          "`resource.id` is ignored. The fleet list (`GET /v1/workspaces/:ws/resources`): another " +
          `subject than the caller needs the team gate. \`page.limit\` 1–1000 (${DEFAULT_PAGE} by default).`,
        params,
        body: Type.Object(
          {
            subject: Subject,
            action: Action,
            resource: Type.Object(
              {
                type: Type.String({ minLength: 1, maxLength: 50 }),
                id: Type.Optional(Type.String({ maxLength: 200 })),
                properties: Properties,
              },
              strict,
            ),
            context: Context,
            page: PageRequest,
          },
          strict,
        ),
        response: {
          200: Type.Object({
            results: Type.Array(Type.Object({ type: Type.String(), id: Type.String() })),
            page: PageResponse,
          }),
        },
      },
    },
    async (request) => {
      const { subject, action, resource, page } = request.body;
      const found = await gatehouse.resources.list(requireCaller(request), request.params.ws, {
        type: resource.type,
        permission: action.name,
        limit: page?.limit ?? DEFAULT_PAGE,
        ...(page?.token === undefined || page.token === "" ? {} : { after: page.token }),
        subject: subjectRef(subject),
      });
      return {
        results: found.items.map((name) => {
          const colon = name.indexOf(":");
          return { type: name.slice(0, colon), id: name.slice(colon + 1) };
        }),
        page: { next_token: found.next ?? "" },
      };
    },
  );

  app.post(
    "/v1/workspaces/:ws/access/v1/search/action",
    {
      schema: {
        tags,
        summary: "AuthZEN Action Search: every action a subject may perform on a resource",
        description:
          "The subject's permissions on the resource (`capabilities`); one page, `next_token` empty.",
        params,
        body: Type.Object(
          { subject: Subject, resource: Resource, context: Context, page: PageRequest },
          strict,
        ),
        response: {
          200: Type.Object({
            results: Type.Array(Type.Object({ name: Type.String() })),
            page: PageResponse,
          }),
        },
      },
    },
    async (request) => {
      const { subject, resource } = request.body;
      const { permissions } = await gatehouse.decisions.capabilities(
        requireCaller(request),
        request.params.ws,
        { resource: resourceRef(resource), subject: subjectRef(subject) },
      );
      return { results: permissions.map((name) => ({ name })), page: { next_token: "" } };
    },
  );
};
