import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { GatehouseError } from "@gatehouse/engine";
import { ErrorCode } from "@gatehouse/service";
import { Type } from "@sinclair/typebox";
import { requireCaller } from "../http/caller.ts";
import { revisionHeader, withRevision } from "../http/schemas.ts";
import type { RouteOptions } from "./route-options.ts";

const strict = { additionalProperties: false } as const;
const Id = Type.String({ minLength: 1, maxLength: 100 });
const Status = Type.Union([
  Type.Literal("pending"),
  Type.Literal("approved"),
  Type.Literal("rejected"),
]);

const JoinRequestSchema = Type.Object({
  id: Type.String(),
  workspaceId: Type.String(),
  userId: Type.String(),
  email: Type.String(),
  name: Type.String(),
  note: Type.String(),
  createdAt: Type.Number(),
  status: Status,
  decidedBy: Type.Union([Type.String(), Type.Null()]),
  decidedAt: Type.Union([Type.Number(), Type.Null()]),
});
const Decided = Type.Object(
  { request: JoinRequestSchema, revision: Type.Integer() },
  revisionHeader,
);

/**
 * Join requests (from the company panel): a registered user who knows a workspace's join key asks to join
 * with a note; managers approve with a role (and scope), into teams, or reject.
 */
export const joinRequestRoutes: FastifyPluginAsyncTypebox<RouteOptions> = async (
  app,
  { gatehouse },
) => {
  const tags = ["join requests"];
  const RequestParams = Type.Object({ ws: Id, id: Id }, strict);

  app.post(
    "/v1/join-requests",
    {
      schema: {
        tags,
        summary: "Ask to join the workspace whose join key (e.g. its tax number) you know",
        description:
          "For a signed-in person. At most 3 requests in any 24 hours (429 JOIN_REQUEST_RATE_LIMITED with Retry-After); one pending request per workspace (409 CONFLICT); 404 WORKSPACE_NOT_FOUND alike for an unknown key and a workspace that takes no join requests; after 5 wrong keys from one person (or 20 from one address) in 15 minutes, 429 RATE_LIMITED with Retry-After for every key.",
        body: Type.Object(
          {
            joinKey: Type.String({ minLength: 1, maxLength: 100 }),
            note: Type.Optional(Type.String({ maxLength: 1000 })),
          },
          strict,
        ),
        response: { 201: Decided },
      },
    },
    async (request, reply) => {
      const created = await gatehouse.joinRequests.create(requireCaller(request), request.body);
      return withRevision(reply, created.revision).status(201).send(created);
    },
  );

  app.get(
    "/v1/workspaces/:ws/join-requests",
    {
      schema: {
        tags,
        summary: "The workspace's join requests, newest first (for those who may see the team)",
        params: Type.Object({ ws: Id }, strict),
        querystring: Type.Object({ status: Type.Optional(Status) }, strict),
        response: { 200: Type.Object({ joinRequests: Type.Array(JoinRequestSchema) }) },
      },
    },
    async (request) => ({
      joinRequests: await gatehouse.joinRequests.list(
        requireCaller(request),
        request.params.ws,
        request.query.status === undefined ? {} : { status: request.query.status },
      ),
    }),
  );

  app.post(
    "/v1/workspaces/:ws/join-requests/:id/approve",
    {
      schema: {
        tags,
        summary: "Approve a pending request: the user joins with the role at the scope",
        description:
          "With a role (at `scope`, the workspace root by default), into teams (`groups`), or both. Needs the right to give that grant and to manage each team (to give every grant it holds; a team holding nothing needs people management at the root); respects the plan's member limit and one workspace per email. 404 NOT_FOUND for a team that does not exist; 409 JOIN_REQUEST_DECIDED once decided.",
        params: RequestParams,
        body: Type.Object(
          {
            role: Type.Optional(
              Type.String({
                minLength: 1,
                maxLength: 100,
                description: "May be left out when `groups` names a team",
              }),
            ),
            scope: Type.Optional(Type.String({ minLength: 1, maxLength: 300 })),
            groups: Type.Optional(
              Type.Array(Id, {
                maxItems: 100,
                description: "Teams (group ids) the person joins",
              }),
            ),
          },
          strict,
        ),
        response: { 200: Decided },
      },
    },
    async (request, reply) => {
      const approved = await gatehouse.joinRequests.approve(
        requireCaller(request),
        request.params.ws,
        request.params.id,
        request.body,
      );
      return withRevision(reply, approved.revision).send(approved);
    },
  );

  app.post(
    "/v1/workspaces/:ws/join-requests/:id/reject",
    {
      schema: {
        tags,
        summary: "Reject a pending request; the user may ask again within the daily limit",
        description: "Takes no body (or `{}`).",
        params: RequestParams,
        response: { 200: Decided },
      },
    },
    async (request, reply) => {
      // No body schema, so that a bare POST works; fields are still refused, never ignored.
      const body: unknown = request.body;
      if (
        body !== undefined &&
        (typeof body !== "object" || body === null || Object.keys(body).length > 0)
      )
        throw new GatehouseError(
          ErrorCode.INVALID_INPUT,
          "rejecting a join request takes no fields",
        );
      const rejected = await gatehouse.joinRequests.reject(
        requireCaller(request),
        request.params.ws,
        request.params.id,
      );
      return withRevision(reply, rejected.revision).send(rejected);
    },
  );
};
