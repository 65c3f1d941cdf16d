import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { Type } from "@sinclair/typebox";
import { requireCaller, requireHost, requirePerson } from "../http/caller.ts";
import {
  REVISION_HEADER,
  Revision,
  revisionHeader,
  strict,
  UserId,
  WorkspaceParams,
  WorkspaceSchema,
  withRevision,
  workspaceBody,
} from "../http/schemas.ts";
import type { RouteOptions } from "./route-options.ts";

const WorkspaceName = Type.String({ minLength: 1, maxLength: 200 });
const PlanName = Type.String({ minLength: 1, maxLength: 100 });

/**
 * Workspaces: the caller's list, create, read, rename and settings, plan, ownership transfer and
 * closing. Non-members get 404 WORKSPACE_NOT_FOUND, as if the workspace did not exist.
 */
export const workspaceRoutes: FastifyPluginAsyncTypebox<RouteOptions> = async (
  app,
  { gatehouse },
) => {
  const tags = ["workspaces"];

  app.get(
    "/v1/workspaces",
    {
      schema: {
        tags,
        summary: "The open workspaces the caller is a member of",
        description: "An API key sees only its own workspace.",
        response: { 200: Type.Object({ workspaces: Type.Array(WorkspaceSchema) }) },
      },
    },
    async (request) => {
      const all = await gatehouse.workspaces.listForUser(requirePerson(request));
      const actor = request.caller?.actor;
      // The host acting for a user sees only the workspaces its credential reaches.
      const reach = actor?.type === "user" ? actor.host?.workspaces : undefined;
      const workspaces =
        request.keyWorkspaceId === undefined
          ? all.filter((workspace) => reach === undefined || reach.includes(workspace.id))
          : all.filter((workspace) => workspace.id === request.keyWorkspaceId);
      return { workspaces: workspaces.map(workspaceBody) };
    },
  );

  app.post(
    "/v1/workspaces",
    {
      schema: {
        tags,
        summary: "Create a workspace with a preset (and plan); the caller becomes its owner",
        description: `201 with the workspace (its \`revision\` also in \`${REVISION_HEADER}\`). API keys cannot create workspaces (403). The host application (a host credential) names the owner with \`owner\`, a user id (404 USER_NOT_FOUND when there is no such user); anyone else sending \`owner\` gets 403 HOST_CREDENTIAL_REQUIRED. A host credential limited to some workspaces cannot create one (403).`,
        body: Type.Object(
          {
            name: WorkspaceName,
            preset: Type.String({ minLength: 1, maxLength: 100 }),
            plan: Type.Optional(PlanName),
            owner: Type.Optional(UserId),
          },
          strict,
        ),
        response: { 201: Type.Object(WorkspaceSchema.properties, revisionHeader) },
      },
    },
    async (request, reply) => {
      const { owner, ...input } = request.body;
      const caller = owner === undefined ? requireCaller(request) : requireHost(request);
      const workspace = await gatehouse.workspaces.create(
        caller,
        owner === undefined ? input : { ...input, ownerId: owner },
      );
      return withRevision(reply, workspace.revision).status(201).send(workspaceBody(workspace));
    },
  );

  app.get(
    "/v1/workspaces/:ws",
    {
      schema: {
        tags,
        summary: "A workspace the caller is a member of",
        description: "Settings are included for those who may see the team.",
        params: WorkspaceParams,
        response: { 200: WorkspaceSchema },
      },
    },
    async (request) =>
      workspaceBody(await gatehouse.workspaces.get(requireCaller(request), request.params.ws)),
  );

  app.patch(
    "/v1/workspaces/:ws",
    {
      schema: {
        tags,
        summary: "Rename the workspace, change its settings or its plan",
        description:
          "The fields present change together, in one write at one revision, or not at all: `plan` " +
          "needs the owner, the name and the settings (`joinKey`, `require2fa`, `oneWorkspacePerEmail`) " +
          "the model's settings gate; when any part is refused, nothing changes. Answers the workspace; " +
          `its \`revision\` also in \`${REVISION_HEADER}\`.`,
        params: WorkspaceParams,
        body: Type.Object(
          {
            name: Type.Optional(WorkspaceName),
            joinKey: Type.Optional(
              Type.Union([Type.String({ minLength: 4, maxLength: 100 }), Type.Null()], {
                description: "The key users give to ask to join; `null` turns joining by key off",
              }),
            ),
            require2fa: Type.Optional(Type.Boolean()),
            oneWorkspacePerEmail: Type.Optional(
              Type.Union([Type.Boolean(), Type.Null()], {
                description: "`null`: the model's policy decides",
              }),
            ),
            plan: Type.Optional(PlanName),
          },
          { ...strict, minProperties: 1 },
        ),
        response: { 200: Type.Object(WorkspaceSchema.properties, revisionHeader) },
      },
    },
    async (request, reply) => {
      const { name, plan, ...settings } = request.body;
      const { workspace, revision } = await gatehouse.workspaces.update(
        requireCaller(request),
        request.params.ws,
        {
          ...(name === undefined ? {} : { name }),
          ...(plan === undefined ? {} : { plan }),
          ...(Object.keys(settings).length === 0 ? {} : { settings }),
        },
      );
      return withRevision(reply, revision).send(workspaceBody(workspace));
    },
  );

  app.delete(
    "/v1/workspaces/:ws",
    {
      schema: {
        tags,
        summary: "Close the workspace (owner only): type its exact name to confirm",
        description:
          "Deletes the workspace's metadata — members, grants, resource records, groups, invitations, " +
          "join requests, API keys, integration credentials — and keeps the activity log; the host app's servers and sites are " +
          `never touched. 204 with the closing revision in \`${REVISION_HEADER}\`; ` +
          "400 CONFIRMATION_MISMATCH when the name does not match.",
        params: WorkspaceParams,
        body: Type.Object({ confirmName: Type.String({ maxLength: 200 }) }, strict),
        response: { 204: Type.Null(revisionHeader) },
      },
    },
    async (request, reply) => {
      const { revision } = await gatehouse.workspaces.close(
        requireCaller(request),
        request.params.ws,
        request.body,
      );
      return withRevision(reply, revision).status(204).send(null);
    },
  );

  app.post(
    "/v1/workspaces/:ws/transfer-ownership",
    {
      schema: {
        tags,
        summary: "Hand ownership to another member; the old owner becomes admin",
        description:
          "The previous owner takes the model's former-owner role. Where the preset makes transfer " +
          "support-only, people get 403 TRANSFER_NOT_SELF_SERVICE.",
        params: WorkspaceParams,
        body: Type.Object({ userId: UserId }, strict),
        response: { 200: Revision },
      },
    },
    async (request, reply) => {
      const { revision } = await gatehouse.workspaces.transferOwnership(
        requireCaller(request),
        request.params.ws,
        request.body.userId,
      );
      return withRevision(reply, revision).send({ revision });
    },
  );
};
