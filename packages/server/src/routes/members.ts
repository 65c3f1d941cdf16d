import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { NAME_MAX_LENGTH, RESOURCE_NAME_MAX_LENGTH } from "@gatehouse/service";
import { Type } from "@sinclair/typebox";
import {
  AccessDiffAnswer,
  accessDiffBody,
  DryRunQuery,
  dryRunOf,
} from "../http/access-diff-schemas.ts";
import { requireCaller } from "../http/caller.ts";
import {
  GrantSchema,
  grantBody,
  NextCursor,
  PageQuery,
  pageQueryOf,
  REVISION_HEADER,
  Revision,
  revisionHeader,
  strict,
  UserId,
  WorkspaceId,
  WorkspaceParams,
  withRevision,
} from "../http/schemas.ts";
import type { RouteOptions } from "./route-options.ts";

const ResourceName = Type.String({
  minLength: 3,
  maxLength: RESOURCE_NAME_MAX_LENGTH,
  description: "A resource named `type:id`, e.g. `site:shop` or `workspace:<id>`",
});
const GroupId = Type.String({ minLength: 1, maxLength: 100 });
const Extras = Type.Array(Type.String({ minLength: 1, maxLength: 200 }), {
  maxItems: 100,
  description: "Grant-only extra permissions on top of the role; never owner-only ones",
});
const ExpiresAt = Type.Integer({
  minimum: 0,
  description: "Epoch milliseconds after which the grant holds nothing (temporary access)",
});
const RoleName = Type.String({ minLength: 1, maxLength: 100 });
const Subject = Type.String({
  minLength: 6,
  maxLength: 120,
  pattern: "^(user|group):.+$",
  description: "`user:<id>` (a member) or `group:<id>`",
});

const GrantSpecSchema = Type.Object(
  {
    role: RoleName,
    scope: ResourceName,
    extras: Type.Optional(Extras),
    expiresAt: Type.Optional(ExpiresAt),
  },
  strict,
);
const GrantSpecs = Type.Array(GrantSpecSchema, { minItems: 1, maxItems: 100 });

const MemberSchema = Type.Object({
  userId: Type.String(),
  email: Type.String(),
  name: Type.String(),
  joinedAt: Type.Number(),
  isOwner: Type.Boolean(),
  grants: Type.Array(GrantSchema),
  groups: Type.Array(Type.String()),
  supportUntil: Type.Optional(
    Type.Number({
      description:
        "A support person there through support access (docs/support-access.md): a member only until then",
    }),
  ),
});
const GroupSchema = Type.Object({
  id: Type.String(),
  name: Type.String(),
  members: Type.Array(Type.String()),
  grants: Type.Array(GrantSchema),
});

const MemberParams = Type.Object({ ws: WorkspaceId, userId: UserId }, strict);
const GroupParams = Type.Object({ ws: WorkspaceId, groupId: GroupId }, strict);
const GroupMemberParams = Type.Object(
  { ws: WorkspaceId, groupId: GroupId, userId: UserId },
  strict,
);

const WRITES = `Every write answers \`{ revision }\` and sets \`${REVISION_HEADER}\`.`;

/**
 * Members, their grants (role × scope) and groups. The team is visible only to those allowed to
 * see it; giving and taking grants passes the delegation check in the service.
 */
export const memberRoutes: FastifyPluginAsyncTypebox<RouteOptions> = async (app, { gatehouse }) => {
  const tags = ["members"];

  app.get(
    "/v1/workspaces/:ws/members",
    {
      schema: {
        tags,
        summary: "The members with their grants and groups (team view)",
        description:
          "In the order they joined. `q` keeps those whose email or name contains it, ignoring case; " +
          "`limit` (1–500) pages, and `next` goes back as `after`. Without `limit` the answer holds " +
          "every member (as before paging existed) and `next` is null. 403 for members who may not " +
          "see the team.",
        params: WorkspaceParams,
        querystring: Type.Object(PageQuery, strict),
        response: {
          200: Type.Object({ members: Type.Array(MemberSchema), next: NextCursor }),
        },
      },
    },
    async (request) => {
      const { members, next } = await gatehouse.members.listPage(
        requireCaller(request),
        request.params.ws,
        pageQueryOf(request.query),
      );
      return {
        members: members.map((member) => ({
          ...member,
          grants: member.grants.map(grantBody),
          groups: [...member.groups],
        })),
        next,
      };
    },
  );

  app.post(
    "/v1/workspaces/:ws/members",
    {
      schema: {
        tags,
        summary:
          "Add an existing user as a member with their first grants or teams (host app only)",
        description: `The direct path for the host application, with a host credential: nobody is put into a workspace without consent, so members invite and the person accepts (every other caller gets 403 HOST_CREDENTIAL_REQUIRED, whatever the user id). A member holds at least one grant or belongs to at least one team (\`groups\`: group ids; membership through a team alone is a membership, counted once toward the member limit). Respects the plan's member limit (409 MEMBER_LIMIT_REACHED) and one workspace per email; 404 USER_NOT_FOUND for an id the host does not have; 403 PERSONAL_WORKSPACE_NOT_SHAREABLE for a personal workspace its model keeps to its owner. 201; ${WRITES}`,
        params: WorkspaceParams,
        body: Type.Object(
          {
            userId: UserId,
            grants: Type.Optional(GrantSpecs),
            groups: Type.Optional(
              Type.Array(Type.String({ minLength: 1, maxLength: 100 }), { maxItems: 100 }),
            ),
          },
          strict,
        ),
        response: { 201: Revision },
      },
    },
    async (request, reply) => {
      const { revision } = await gatehouse.members.add(
        requireCaller(request),
        request.params.ws,
        request.body,
      );
      return withRevision(reply, revision).status(201).send({ revision });
    },
  );

  app.patch(
    "/v1/workspaces/:ws/members/:userId",
    {
      schema: {
        tags,
        summary: "Replace a member's direct grants (role × scope, extras, expiry)",
        description: `At most one role per resource (409 ROLE_CONFLICT); the owner's grant is changed only by transferring ownership (409 LAST_OWNER). ${WRITES}`,
        params: MemberParams,
        querystring: DryRunQuery,
        body: Type.Object({ grants: GrantSpecs }, strict),
        response: { 200: Type.Union([AccessDiffAnswer, Revision]) },
      },
    },
    async (request, reply) => {
      const result = await gatehouse.members.setGrants(
        requireCaller(request),
        request.params.ws,
        request.params.userId,
        request.body.grants,
        dryRunOf(request.query),
      );
      if (result.diff !== undefined) return accessDiffBody(result);
      return withRevision(reply, result.revision).send({ revision: result.revision });
    },
  );

  app.delete(
    "/v1/workspaces/:ws/members/:userId",
    {
      schema: {
        tags,
        summary: "Remove a member: their access ends at once",
        description: `Their API keys die; their records and the activity log stay. The owner cannot be removed (409 LAST_OWNER). ${WRITES}`,
        params: MemberParams,
        querystring: DryRunQuery,
        response: { 200: Type.Union([AccessDiffAnswer, Revision]) },
      },
    },
    async (request, reply) => {
      const result = await gatehouse.members.remove(
        requireCaller(request),
        request.params.ws,
        request.params.userId,
        dryRunOf(request.query),
      );
      if (result.diff !== undefined) return accessDiffBody(result);
      return withRevision(reply, result.revision).send({ revision: result.revision });
    },
  );

  app.post(
    "/v1/workspaces/:ws/leave",
    {
      schema: {
        tags,
        summary: "Leave the workspace",
        description: `The owner must transfer ownership first (409 LAST_OWNER). ${WRITES}`,
        params: WorkspaceParams,
        response: { 200: Revision },
      },
    },
    async (request, reply) => {
      const { revision } = await gatehouse.members.leave(requireCaller(request), request.params.ws);
      return withRevision(reply, revision).send({ revision });
    },
  );

  app.post(
    "/v1/workspaces/:ws/grants",
    {
      schema: {
        tags,
        summary: "Give one grant to a member or a group",
        description: `409 ROLE_CONFLICT when the subject already holds a role on that resource (one role per subject per resource). 201; ${WRITES}`,
        params: WorkspaceParams,
        body: Type.Object(
          {
            subject: Subject,
            role: RoleName,
            scope: ResourceName,
            extras: Type.Optional(Extras),
            expiresAt: Type.Optional(ExpiresAt),
          },
          strict,
        ),
        querystring: DryRunQuery,
        response: { 201: Revision, 200: AccessDiffAnswer },
      },
    },
    async (request, reply) => {
      const result = await gatehouse.members.grant(
        requireCaller(request),
        request.params.ws,
        request.body,
        dryRunOf(request.query),
      );
      if (result.diff !== undefined) return accessDiffBody(result);
      return withRevision(reply, result.revision).status(201).send({ revision: result.revision });
    },
  );

  app.delete(
    "/v1/workspaces/:ws/grants",
    {
      schema: {
        tags,
        summary: "Take away the grant a member or group holds on a resource",
        description: `The owner's grant stays (409 LAST_OWNER). ${WRITES}`,
        params: WorkspaceParams,
        querystring: DryRunQuery,
        body: Type.Object({ subject: Subject, scope: ResourceName }, strict),
        response: { 200: Type.Union([AccessDiffAnswer, Revision]) },
      },
    },
    async (request, reply) => {
      const result = await gatehouse.members.revoke(
        requireCaller(request),
        request.params.ws,
        request.body,
        dryRunOf(request.query),
      );
      if (result.diff !== undefined) return accessDiffBody(result);
      return withRevision(reply, result.revision).send({ revision: result.revision });
    },
  );

  app.get(
    "/v1/workspaces/:ws/groups",
    {
      schema: {
        tags,
        summary: "The groups with their members and grants (team view)",
        description:
          "By name. `q` keeps those whose name or id contains it, ignoring case; `limit` (1–500) " +
          "pages, and `next` goes back as `after`. Without `limit`, every group and `next` null.",
        params: WorkspaceParams,
        querystring: Type.Object(PageQuery, strict),
        response: { 200: Type.Object({ groups: Type.Array(GroupSchema), next: NextCursor }) },
      },
    },
    async (request) => {
      const { groups, next } = await gatehouse.members.listGroupsPage(
        requireCaller(request),
        request.params.ws,
        pageQueryOf(request.query),
      );
      return {
        groups: groups.map((group) => ({
          ...group,
          members: [...group.members],
          grants: group.grants.map(grantBody),
        })),
        next,
      };
    },
  );

  app.post(
    "/v1/workspaces/:ws/groups",
    {
      schema: {
        tags,
        summary: "Create a group: a team of users that can hold grants",
        description: `201 with the group; ${WRITES}`,
        params: WorkspaceParams,
        body: Type.Object(
          { name: Type.String({ minLength: 1, maxLength: NAME_MAX_LENGTH }) },
          strict,
        ),
        response: {
          201: Type.Object({ group: GroupSchema, revision: Type.Integer() }, revisionHeader),
        },
      },
    },
    async (request, reply) => {
      const { group, revision } = await gatehouse.members.createGroup(
        requireCaller(request),
        request.params.ws,
        request.body,
      );
      return withRevision(reply, revision)
        .status(201)
        .send({
          group: { ...group, members: [...group.members], grants: group.grants.map(grantBody) },
          revision,
        });
    },
  );

  app.delete(
    "/v1/workspaces/:ws/groups/:groupId",
    {
      schema: {
        tags,
        summary: "Delete a group with its grants and memberships",
        description: WRITES,
        params: GroupParams,
        response: { 200: Revision },
      },
    },
    async (request, reply) => {
      const { revision } = await gatehouse.members.deleteGroup(
        requireCaller(request),
        request.params.ws,
        request.params.groupId,
      );
      return withRevision(reply, revision).send({ revision });
    },
  );

  app.put(
    "/v1/workspaces/:ws/groups/:groupId/members/:userId",
    {
      schema: {
        tags,
        summary: "Add a member to a group; they then hold the group's grants",
        description: `Idempotent. ${WRITES}`,
        params: GroupMemberParams,
        querystring: DryRunQuery,
        response: { 200: Type.Union([AccessDiffAnswer, Revision]) },
      },
    },
    async (request, reply) => {
      const result = await gatehouse.members.addToGroup(
        requireCaller(request),
        request.params.ws,
        request.params.groupId,
        request.params.userId,
        dryRunOf(request.query),
      );
      if (result.diff !== undefined) return accessDiffBody(result);
      return withRevision(reply, result.revision).send({ revision: result.revision });
    },
  );

  app.delete(
    "/v1/workspaces/:ws/groups/:groupId/members/:userId",
    {
      schema: {
        tags,
        summary: "Take a member out of a group",
        description: `Idempotent. ${WRITES}`,
        params: GroupMemberParams,
        querystring: DryRunQuery,
        response: { 200: Type.Union([AccessDiffAnswer, Revision]) },
      },
    },
    async (request, reply) => {
      const result = await gatehouse.members.removeFromGroup(
        requireCaller(request),
        request.params.ws,
        request.params.groupId,
        request.params.userId,
        dryRunOf(request.query),
      );
      if (result.diff !== undefined) return accessDiffBody(result);
      return withRevision(reply, result.revision).send({ revision: result.revision });
    },
  );
};
