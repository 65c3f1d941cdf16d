import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { RESOURCE_NAME_MAX_LENGTH } from "@gatehouse/service";
import { Type } from "@sinclair/typebox";
import {
  AccessDiffAnswer,
  accessDiffBody,
  DeleteDiffAnswer,
  DryRunQuery,
  dryRunOf,
} from "../http/access-diff-schemas.ts";
import { requireCaller } from "../http/caller.ts";
import {
  AtLeastRevisionQuery,
  freshnessOf,
  REVISION_HEADER,
  Revision,
  revisionHeader,
  strict,
  WorkspaceId,
  WorkspaceParams,
  withRevision,
} from "../http/schemas.ts";
import type { RouteOptions } from "./route-options.ts";

const TypeName = Type.String({ minLength: 1, maxLength: 50, pattern: "^[a-z][a-z0-9_-]*$" });
const ResourceName = Type.String({ minLength: 3, maxLength: RESOURCE_NAME_MAX_LENGTH });
const ResourceParams = Type.Object(
  {
    ws: WorkspaceId,
    type: TypeName,
    // Fastify's router answers 414 for a path parameter past 100 characters.
    id: Type.String({ minLength: 1, maxLength: 100 }),
  },
  strict,
);
const DEFAULT_PAGE = 100;
/** Query strings are not coerced (coerceTypes: false), so the page size is checked as digits. */
const PageLimit = Type.String({
  pattern: "^(?:[1-9][0-9]{0,2}|1000)$",
  description: `Resources per page, 1–1000; ${DEFAULT_PAGE} by default`,
});

/**
 * The typed resource tree the host app registers (servers, sites, customers, …), and the fleet
 * list that shows a member only what they may see. The resource named by a path is
 * `${type}:${id}`.
 */
export const resourceRoutes: FastifyPluginAsyncTypebox<RouteOptions> = async (
  app,
  { gatehouse },
) => {
  const tags = ["resources"];

  app.put(
    "/v1/workspaces/:ws/resources/:type/:id",
    {
      schema: {
        tags,
        summary: "Register a resource under a parent, or move it there",
        description:
          "The host app always may; a member needs the model's create gate at the parent (and the " +
          `delete gate to move a resource away). Answers \`{ revision }\` and sets \`${REVISION_HEADER}\`.`,
        params: ResourceParams,
        querystring: DryRunQuery,
        body: Type.Object({ parent: ResourceName }, strict),
        response: { 200: Type.Union([AccessDiffAnswer, Revision]) },
      },
    },
    async (request, reply) => {
      const { ws, type, id } = request.params;
      const result = await gatehouse.resources.upsert(
        requireCaller(request),
        ws,
        { resource: `${type}:${id}`, parent: request.body.parent },
        dryRunOf(request.query),
      );
      if (result.diff !== undefined) return accessDiffBody(result);
      return withRevision(reply, result.revision).send({ revision: result.revision });
    },
  );

  app.post(
    "/v1/workspaces/:ws/resources/sync",
    {
      // 250,000 resources with their parents: about 60 bytes each.
      bodyLimit: 32 * 1024 * 1024,
      schema: {
        tags,
        summary: "Sync the resource tree in bulk: register, move, delete, reconcile",
        description:
          "The host app's bulk path: up to 250,000 resources (with their parents, in any order) and " +
          "deletions in one transaction and one revision, all or nothing, idempotent — sending the " +
          "same sync twice changes nothing the second time. `reconcile` makes the given resources " +
          "the truth for one type at or below `under` (the root by default): every other resource " +
          "of that type there is deleted with its subtree. `dryRun` answers the difference — added, " +
          "moved, deleted, and the grants deleting would drop — and changes nothing. Every problem " +
          `is listed with its path (\`resources[12]\`). Sets \`${REVISION_HEADER}\`.`,
        params: WorkspaceParams,
        body: Type.Object(
          {
            resources: Type.Array(
              Type.Object({ resource: ResourceName, parent: ResourceName }, strict),
              {
                maxItems: 250_000,
              },
            ),
            delete: Type.Optional(Type.Array(ResourceName, { maxItems: 250_000 })),
            reconcile: Type.Optional(
              Type.Object({ type: TypeName, under: Type.Optional(ResourceName) }, strict),
            ),
            dryRun: Type.Optional(Type.Boolean()),
          },
          strict,
        ),
        response: {
          200: Type.Object({
            revision: Type.Integer(),
            dryRun: Type.Boolean(),
            added: Type.Integer(),
            unchanged: Type.Integer(),
            moved: Type.Array(
              Type.Object({ resource: Type.String(), from: Type.String(), to: Type.String() }),
            ),
            deleted: Type.Array(Type.String()),
            droppedGrants: Type.Array(
              Type.Object({ subject: Type.String(), role: Type.String(), scope: Type.String() }),
            ),
          }),
        },
      },
    },
    async (request, reply) => {
      const result = await gatehouse.resources.sync(
        requireCaller(request),
        request.params.ws,
        request.body,
      );
      return withRevision(reply, result.revision).send(result);
    },
  );

  app.delete(
    "/v1/workspaces/:ws/resources/:type/:id",
    {
      schema: {
        tags,
        summary: "Delete a resource record with its subtree and the grants on them",
        description:
          "Only Gatehouse's records: the host app's real servers and sites are its own business. " +
          "Members left without any grant leave the workspace. Answers the deleted resources and " +
          `\`revision\`, and sets \`${REVISION_HEADER}\`.`,
        params: ResourceParams,
        querystring: DryRunQuery,
        response: {
          200: Type.Union([
            DeleteDiffAnswer,
            Type.Object(
              { revision: Type.Integer(), deleted: Type.Array(Type.String()) },
              revisionHeader,
            ),
          ]),
        },
      },
    },
    async (request, reply) => {
      const { ws, type, id } = request.params;
      const result = await gatehouse.resources.delete(
        requireCaller(request),
        ws,
        `${type}:${id}`,
        dryRunOf(request.query),
      );
      if (result.diff !== undefined) return { ...accessDiffBody(result), deleted: result.deleted };
      const { revision, deleted } = result;
      return withRevision(reply, revision).send({ revision, deleted });
    },
  );

  app.get(
    "/v1/workspaces/:ws/resources",
    {
      schema: {
        tags,
        summary: "The resources of a type on which the caller holds a permission (the fleet list)",
        description:
          "Only what the caller may see, sorted by name. `q` keeps those whose id (the part after " +
          "`type:`) contains it, ignoring case; `parent` keeps one resource's children (the tree, " +
          "level by level; a parent out of the caller's reach answers 404 like a nonexistent one). " +
          "Pass `next` as `after` (with the same `q` and `parent`) for the next page; `next` is " +
          "null on the last page. Without `permission`, the type's view permission: `<type>.view` " +
          "where the model has it, else the permission on the type the most roles carry " +
          "(docs/http.md). `children` counts, for each listed resource, its children of each type " +
          "the model allows under it that the caller may see (by each type's view permission).",
        params: WorkspaceParams,
        querystring: Type.Object(
          {
            type: TypeName,
            permission: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
            limit: Type.Optional(PageLimit),
            after: Type.Optional(ResourceName),
            parent: Type.Optional(
              Type.String({
                minLength: 3,
                maxLength: RESOURCE_NAME_MAX_LENGTH,
                description: "Only the children of this resource (`server:fra-1`)",
              }),
            ),
            q: Type.Optional(
              Type.String({
                maxLength: 200,
                description: "Only resources whose id contains this text, ignoring case",
              }),
            ),
            atLeastRevision: Type.Optional(AtLeastRevisionQuery),
            subject: Type.Optional(
              Type.String({
                minLength: 1,
                maxLength: 200,
                description:
                  "Whose view: `user:<id>`, `group:<id>` or `apikey:<id>` (needs the team gate); the caller by default",
              }),
            ),
          },
          strict,
        ),
        response: {
          200: Type.Object({
            items: Type.Array(Type.String()),
            next: Type.Union([Type.String(), Type.Null()]),
            children: Type.Record(Type.String(), Type.Record(Type.String(), Type.Integer()), {
              description:
                'Per listed resource, per child type: how many of its children the caller may see (`{ "server:fra-1": { "site": 12 } }`)',
            }),
          }),
        },
      },
    },
    async (request) => {
      const { type, permission, limit, after, q, atLeastRevision, subject, parent } = request.query;
      const page = await gatehouse.resources.list(
        requireCaller(request),
        request.params.ws,
        {
          type,
          ...(permission === undefined ? {} : { permission }),
          limit: limit === undefined ? DEFAULT_PAGE : Number(limit),
          ...(after === undefined ? {} : { after }),
          ...(q === undefined ? {} : { q }),
          ...(subject === undefined ? {} : { subject }),
          ...(parent === undefined ? {} : { parent }),
        },
        freshnessOf(atLeastRevision),
      );
      return { items: [...page.items], next: page.next ?? null, children: page.children };
    },
  );
};
