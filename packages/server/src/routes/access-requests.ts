import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { GatehouseError } from "@gatehouse/engine";
import { type AccessRequestInfo, ErrorCode, systemActor } from "@gatehouse/service";
import { Type } from "@sinclair/typebox";
import { requireCaller } from "../http/caller.ts";
import { revisionHeader, strict, WorkspaceParams, withRevision } from "../http/schemas.ts";
import { accessRequestMail } from "../mail/access-request-mail.ts";
import type { RouteOptions } from "./route-options.ts";

const Id = Type.String({ minLength: 1, maxLength: 100 });
const Minutes = Type.Integer({ minimum: 1, maximum: 43_200 });
const Status = Type.Union([
  Type.Literal("pending"),
  Type.Literal("approved"),
  Type.Literal("rejected"),
  Type.Literal("withdrawn"),
  Type.Literal("revoked"),
  Type.Literal("expired"),
]);

export const AccessRequestSchema = Type.Object({
  id: Type.String(),
  workspaceId: Type.String(),
  userId: Type.String(),
  email: Type.String(),
  name: Type.String(),
  role: Type.String(),
  scope: Type.String(),
  reason: Type.String(),
  durationMinutes: Type.Integer(),
  createdAt: Type.Number(),
  expiresAt: Type.Number({ description: "When the request lapses if nobody decides it" }),
  status: Status,
  decidedBy: Type.Union([Type.String(), Type.Null()]),
  decidedAt: Type.Union([Type.Number(), Type.Null()]),
  rejectionReason: Type.Union([Type.String(), Type.Null()]),
  requestedBy: Type.Union([Type.String(), Type.Null()], {
    description:
      "Support access: the host that asked for one of its support people (`system:<name>`); null for a member's own request",
  }),
  granted: Type.Union([
    Type.Object({ role: Type.String(), scope: Type.String(), expiresAt: Type.Number() }),
    Type.Null(),
  ]),
});
/** The approved access request a grant came from (explanations, the Permissions card); null for any other. */
export const AccessRequestProvenanceSchema = Type.Union(
  [
    Type.Object({
      requestId: Type.String(),
      requestedBy: Type.String(),
      approvedBy: Type.String(),
      approver: Type.Union([
        Type.Object({ email: Type.String(), name: Type.String() }),
        Type.Null(),
      ]),
      approvedAt: Type.Number(),
      reason: Type.String(),
      support: Type.Boolean({
        description: "Support access: the host asked for its support person (`requestedBy`)",
      }),
    }),
    Type.Null(),
  ],
  { description: "The approved access request this grant came from; null for any other grant" },
);
const Decided = Type.Object(
  { request: AccessRequestSchema, revision: Type.Integer() },
  revisionHeader,
);

/** Refuses any field in a body that takes none (a bare POST works). */
function requireEmptyBody(body: unknown, what: string): void {
  if (
    body !== undefined &&
    (typeof body !== "object" || body === null || Object.keys(body).length > 0)
  )
    throw new GatehouseError(ErrorCode.INVALID_INPUT, `${what} takes no fields`);
}

/**
 * Access requests (#18): a member asks for a role at a resource for a while; those who may give it
 * there are mailed, and approve — perhaps narrower — or reject; the requester may withdraw.
 */
export const accessRequestRoutes: FastifyPluginAsyncTypebox<RouteOptions> = async (
  app,
  { gatehouse, config },
) => {
  const tags = ["access requests"];
  const RequestParams = Type.Object({ ws: Id, id: Id }, strict);

  /** Mails each who may decide the request; a failed mail is logged, the request stands. */
  async function notifyApprovers(
    log: { error(details: object, message: string): void },
    workspaceId: string,
    request: AccessRequestInfo,
  ): Promise<void> {
    try {
      const host = systemActor("access-requests");
      const workspace = await gatehouse.workspaces.get(host, workspaceId);
      const approvers = await gatehouse.accessRequests.approversOf(host, workspaceId, request.id);
      for (const approver of approvers) {
        await app.mailer.send(
          accessRequestMail(gatehouse, config, { to: approver.email, workspace, request }),
        );
      }
    } catch (error) {
      log.error({ err: error, accessRequest: request.id }, "access request mail not sent");
    }
  }

  /** What a request asks for: a member's own, or the host's for one of its support people. */
  const AskedFor = {
    role: Type.String({ minLength: 1, maxLength: 100 }),
    scope: Type.String({ minLength: 1, maxLength: 300 }),
    reason: Type.String({ minLength: 1, maxLength: 1000 }),
    durationMinutes: Minutes,
  };

  app.post(
    "/v1/workspaces/:ws/access-requests",
    {
      schema: {
        tags,
        summary: "Ask, for yourself, for a role on a resource for a while, saying why",
        description:
          "For a member (a person, their API key or their assistant). The resource must be within your reach (404 RESOURCE_NOT_FOUND otherwise, as for one that does not exist). Those who may give the role there are mailed. One pending request per role and resource (409 CONFLICT); at most 10 requests per member and 200 per workspace in any 24 hours (429 ACCESS_REQUEST_RATE_LIMITED with Retry-After); 409 ROLE_CONFLICT while you hold a role on that resource. Undecided, it lapses after 7 days.",
        params: WorkspaceParams,
        body: Type.Object(AskedFor, strict),
        response: { 201: Decided },
      },
    },
    async (request, reply) => {
      const created = await gatehouse.accessRequests.create(
        requireCaller(request),
        request.params.ws,
        request.body,
      );
      await notifyApprovers(request.log, request.params.ws, created.request);
      return withRevision(reply, created.revision).status(201).send(created);
    },
  );

  app.post(
    "/v1/workspaces/:ws/support-requests",
    {
      schema: {
        tags,
        summary:
          "The host asks, for one of its support people, for a role on a resource for a while",
        description:
          "Support access (docs/support-access.md). For the host application only (a host credential, not acting for a user); anyone else gets 404 WORKSPACE_NOT_FOUND. `userId` is a user the host provisioned (404 USER_NOT_FOUND otherwise); they need not be a member. Those who may give the role there are mailed and approve it — narrower if they like — like any access request; approved, the support person is a member only while the grant lasts, and an administrator may revoke it sooner. The same limits as access requests.",
        params: WorkspaceParams,
        body: Type.Object({ userId: Id, ...AskedFor }, strict),
        response: { 201: Decided },
      },
    },
    async (request, reply) => {
      const created = await gatehouse.accessRequests.createSupport(
        requireCaller(request),
        request.params.ws,
        request.body,
      );
      await notifyApprovers(request.log, request.params.ws, created.request);
      return withRevision(reply, created.revision).status(201).send(created);
    },
  );

  app.get(
    "/v1/workspaces/:ws/access-requests",
    {
      schema: {
        tags,
        summary: "The access requests you see, newest first: your own and those you may decide",
        description:
          "You may decide a request when you may give its role on its resource: a sub-tree admin sees only their part's. `mine=true` keeps your own. `expired`: still pending when its 7 days ran out.",
        params: WorkspaceParams,
        querystring: Type.Object(
          {
            status: Type.Optional(Status),
            mine: Type.Optional(Type.Union([Type.Literal("true"), Type.Literal("false")])),
          },
          strict,
        ),
        response: { 200: Type.Object({ accessRequests: Type.Array(AccessRequestSchema) }) },
      },
    },
    async (request) => ({
      accessRequests: await gatehouse.accessRequests.list(
        requireCaller(request),
        request.params.ws,
        {
          ...(request.query.status === undefined ? {} : { status: request.query.status }),
          mine: request.query.mine === "true",
        },
      ),
    }),
  );

  app.post(
    "/v1/workspaces/:ws/access-requests/:id/approve",
    {
      schema: {
        tags,
        summary: "Approve a pending request, as asked or narrower; the grant ends on its own",
        description:
          "`{}` approves the role, resource and duration asked for. You may narrow: a role whose permissions are within the one asked for, a resource at or below it, fewer minutes (400 INVALID_INPUT for anything wider). You must be allowed to give what you approve, and cannot approve your own. 404 ACCESS_REQUEST_NOT_FOUND for a request you may neither decide nor made; 409 ACCESS_REQUEST_DECIDED once decided, withdrawn or lapsed.",
        params: RequestParams,
        body: Type.Object(
          {
            role: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
            scope: Type.Optional(Type.String({ minLength: 1, maxLength: 300 })),
            durationMinutes: Type.Optional(Minutes),
          },
          strict,
        ),
        response: { 200: Decided },
      },
    },
    async (request, reply) => {
      const approved = await gatehouse.accessRequests.approve(
        requireCaller(request),
        request.params.ws,
        request.params.id,
        request.body,
      );
      return withRevision(reply, approved.revision).send(approved);
    },
  );

  app.post(
    "/v1/workspaces/:ws/access-requests/:id/reject",
    {
      schema: {
        tags,
        summary: "Reject a pending request, optionally saying why",
        params: RequestParams,
        body: Type.Object({ reason: Type.Optional(Type.String({ maxLength: 1000 })) }, strict),
        response: { 200: Decided },
      },
    },
    async (request, reply) => {
      const rejected = await gatehouse.accessRequests.reject(
        requireCaller(request),
        request.params.ws,
        request.params.id,
        request.body,
      );
      return withRevision(reply, rejected.revision).send(rejected);
    },
  );

  app.post(
    "/v1/workspaces/:ws/access-requests/:id/revoke",
    {
      schema: {
        tags,
        summary: "End an approved request's access now",
        description:
          "For those who may decide the request. The grant goes; a support person who was a member only through support access is no member any more. Takes no body (or `{}`). 409 ACCESS_REQUEST_DECIDED when the request holds no access (not approved, already revoked or ended).",
        params: RequestParams,
        response: { 200: Decided },
      },
    },
    async (request, reply) => {
      requireEmptyBody(request.body, "revoking an access request");
      const revoked = await gatehouse.accessRequests.revoke(
        requireCaller(request),
        request.params.ws,
        request.params.id,
      );
      return withRevision(reply, revoked.revision).send(revoked);
    },
  );

  app.post(
    "/v1/workspaces/:ws/access-requests/:id/withdraw",
    {
      schema: {
        tags,
        summary: "Withdraw your own pending request",
        description: "Takes no body (or `{}`).",
        params: RequestParams,
        response: { 200: Decided },
      },
    },
    async (request, reply) => {
      requireEmptyBody(request.body, "withdrawing an access request");
      const withdrawn = await gatehouse.accessRequests.withdraw(
        requireCaller(request),
        request.params.ws,
        request.params.id,
      );
      return withRevision(reply, withdrawn.revision).send(withdrawn);
    },
  );
};
