import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import type { AuditFilter } from "@gatehouse/service";
import { type Static, Type } from "@sinclair/typebox";
import { requireCaller } from "../http/caller.ts";
import type { RouteOptions } from "./route-options.ts";

const strict = { additionalProperties: false } as const;
const Text = Type.String({ minLength: 1, maxLength: 300 });
/** Epoch milliseconds or an ISO 8601 date (query strings are not coerced to numbers). */
const Time = Type.String({
  maxLength: 40,
  pattern: "^([0-9]{1,15}|[0-9]{4}-[0-9]{2}-[0-9]{2}(T[0-9:.]{2,18}(Z|[+-][0-9]{2}:?[0-9]{2})?)?)$",
});

const Filters = {
  actor: Type.Optional(Text),
  action: Type.Optional(Text),
  resource: Type.Optional(Text),
  result: Type.Optional(Type.Union([Type.Literal("success"), Type.Literal("denied")])),
  from: Type.Optional(Time),
  to: Type.Optional(Time),
};
const FilterQuery = Type.Object(Filters, strict);

const EntrySchema = Type.Object({
  seq: Type.Integer(),
  at: Type.String(),
  actor: Type.Object({
    type: Type.String(),
    id: Type.String(),
    onBehalfOf: Type.Union([Type.String(), Type.Null()]),
  }),
  action: Type.String(),
  target: Type.Union([Type.String(), Type.Null()]),
  result: Type.Union([Type.Literal("success"), Type.Literal("denied")]),
  origin: Type.Object({
    ip: Type.Union([Type.String(), Type.Null()]),
    agent: Type.Union([Type.String(), Type.Null()]),
  }),
  details: Type.Record(Type.String(), Type.Unknown()),
  hash: Type.String(),
  prevHash: Type.String(),
});

const EXPORTS = {
  csv: { type: "text/csv; charset=utf-8", extension: "csv" },
  jsonl: { type: "application/x-ndjson; charset=utf-8", extension: "jsonl" },
} as const;

/** The service's filter from the query: digits-only times are epoch milliseconds. */
function toFilter(query: Static<typeof FilterQuery>): AuditFilter {
  const time = (value: string) => (/^[0-9]+$/.test(value) ? Number(value) : value);
  return {
    ...query,
    ...(query.from === undefined ? {} : { from: time(query.from) }),
    ...(query.to === undefined ? {} : { to: time(query.to) }),
  };
}

/**
 * The activity log: filtered pages with a cursor, CSV or JSON Lines export, and verification
 * of the hash chain — for those holding the model's audit gate; a resource's scoped activity for
 * those holding its activity permission.
 */
export const auditRoutes: FastifyPluginAsyncTypebox<RouteOptions> = async (app, { gatehouse }) => {
  const tags = ["activity log"];
  const WorkspaceParams = Type.Object(
    { ws: Type.String({ minLength: 1, maxLength: 100 }) },
    strict,
  );

  app.get(
    "/v1/workspaces/:ws/audit",
    {
      schema: {
        tags,
        summary: "A page of the activity log, newest first",
        description:
          "The whole log for those holding the model's audit gate at the root. `resource` (a resource of the workspace, such as `site:shop`) narrows it to the resource's scoped activity — the entries about it and every resource below it — which members holding its activity permission (the model's `gates.activity` for its type, or the audit gate at or above it) may read too; a resource outside their reach answers 404 RESOURCE_NOT_FOUND, like a missing one. Any other `resource` value (such as `user:<id>`) matches the target exactly. Other filters: `actor` (who acted or on whose behalf), `action` (exact, or a family such as `member.*`), `result`, `from` (inclusive) and `to` (exclusive) as epoch milliseconds or ISO 8601. Pass `nextCursor` back as `cursor`, with the same filters. `limit` 1–500, 50 by default.",
        params: WorkspaceParams,
        querystring: Type.Object(
          {
            ...Filters,
            cursor: Type.Optional(Type.String({ minLength: 1, maxLength: 40 })),
            limit: Type.Optional(Type.String({ pattern: "^([1-9][0-9]?|[1-4][0-9]{2}|500)$" })),
          },
          strict,
        ),
        response: {
          200: Type.Object({
            entries: Type.Array(EntrySchema),
            nextCursor: Type.Optional(Type.String()),
          }),
        },
      },
    },
    async (request) => {
      const { cursor, limit, ...filters } = request.query;
      return gatehouse.activityLog.list(requireCaller(request), request.params.ws, {
        ...toFilter(filters),
        ...(cursor === undefined ? {} : { cursor }),
        ...(limit === undefined ? {} : { limit: Number(limit) }),
      });
    },
  );

  app.get(
    "/v1/workspaces/:ws/audit/export",
    {
      schema: {
        tags,
        summary: "Every matching entry, oldest first, as a CSV or JSON Lines download",
        description:
          "`text/csv` (RFC 4180, with a header row) or `application/x-ndjson`, as an attachment. Takes the same filters and the same readers as the list (with `resource`, a resource's scoped activity).",
        params: WorkspaceParams,
        querystring: Type.Object(
          { format: Type.Union([Type.Literal("csv"), Type.Literal("jsonl")]), ...Filters },
          strict,
        ),
        response: {
          200: {
            description: "The log as a download",
            content: {
              "text/csv": { schema: Type.String() },
              "application/x-ndjson": { schema: Type.String() },
            },
          },
        },
      },
    },
    async (request, reply) => {
      const { format, ...filters } = request.query;
      const text = await gatehouse.activityLog.export(requireCaller(request), request.params.ws, {
        format,
        ...toFilter(filters),
      });
      const { type, extension } = EXPORTS[format];
      const name = `audit-${request.params.ws.replace(/[^A-Za-z0-9_-]/g, "_")}.${extension}`;
      return reply
        .type(type)
        .header("content-disposition", `attachment; filename="${name}"`)
        .send(text);
    },
  );

  app.get(
    "/v1/workspaces/:ws/audit/verify",
    {
      schema: {
        tags,
        summary: "Walk the hash chain: is the log intact, and where does it break?",
        description:
          "The chain covers the whole log: for those holding the model's audit gate at the root. `{ valid: true, entries, head }`, or `{ valid: false, entries, problem, seq, message }` with the first entry where the chain breaks (`modified`, `deleted`, `reordered_or_inserted`).",
        params: WorkspaceParams,
        response: {
          200: Type.Object({
            valid: Type.Boolean(),
            entries: Type.Integer(),
            head: Type.Optional(Type.String()),
            problem: Type.Optional(
              Type.Union([
                Type.Literal("modified"),
                Type.Literal("deleted"),
                Type.Literal("reordered_or_inserted"),
              ]),
            ),
            seq: Type.Optional(Type.Integer()),
            message: Type.Optional(Type.String()),
          }),
        },
      },
    },
    async (request) => gatehouse.activityLog.verify(requireCaller(request), request.params.ws),
  );
};
