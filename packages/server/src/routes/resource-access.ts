import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import type { AccessPath } from "@gatehouse/engine";
import type { PermissionsPage, WhoCanPage } from "@gatehouse/service";
import { Type } from "@sinclair/typebox";
import { requireCaller } from "../http/caller.ts";
import { DecisionGrantSchema as GrantBody } from "../http/decision-schemas.ts";
import {
  AtLeastRevisionQuery,
  freshnessOf,
  strict,
  WorkspaceId,
  withFallbackBody,
} from "../http/schemas.ts";
import { AccessRequestProvenanceSchema } from "./access-requests.ts";
import type { RouteOptions } from "./route-options.ts";

const DEFAULT_PAGE = 100;
/** Query strings are not coerced (coerceTypes: false), so the page size is checked as digits. */
const PageLimit = Type.String({
  pattern: "^(?:[1-9][0-9]{0,2}|1000)$",
  description: `Subjects per page, 1–1000; ${DEFAULT_PAGE} by default`,
});

const SubjectAccessBody = Type.Object({
  subject: Type.String({ description: "`user:<id>` or `group:<id>`; API keys are not listed" }),
  user: Type.Union([Type.Object({ email: Type.String(), name: Type.String() }), Type.Null()], {
    description: "For users, when the caller may see the team",
  }),
  group: Type.Union([Type.Object({ name: Type.String() }), Type.Null()], {
    description: "For groups, when the caller may see the team",
  }),
  via: Type.Array(
    Type.Object({
      grant: GrantBody,
      throughGroup: Type.Union([Type.String(), Type.Null()]),
      inherited: Type.Boolean(),
    }),
    { description: "Every live grant giving it: nearest scope first" },
  ),
  expiresAt: Type.Union([Type.Number(), Type.Null()], {
    description: "When the access ends unless renewed (epoch ms); null for never",
  }),
});

const WhoCanBody = Type.Object({
  permission: Type.String(),
  resource: Type.String(),
  items: Type.Array(SubjectAccessBody),
  next: Type.Union([Type.String(), Type.Null()]),
});

/** The JSON body of a page of `decisions.whoCan`. */
function toWhoCanBody(page: WhoCanPage) {
  return {
    permission: page.permission,
    resource: page.resource,
    items: page.items.map((item) => subjectBody(item, pathBody)),
    next: page.next ?? null,
  };
}

/** One way a subject has access, as JSON: its grant, the team giving it, whether inherited. */
function pathBody(path: AccessPath) {
  return {
    grant: {
      ...withFallbackBody(path.grant),
      extras: [...path.grant.extras],
      expiresAt: path.grant.expiresAt ?? null,
    },
    throughGroup: path.throughGroup ?? null,
    inherited: path.inherited,
  };
}

/** One subject with access, as JSON, each of its paths as `body` gives it. */
function subjectBody<Path, Body>(
  item: {
    readonly subject: string;
    readonly user: { readonly email: string; readonly name: string } | undefined;
    readonly group: { readonly name: string } | undefined;
    readonly via: readonly Path[];
    readonly expiresAt: number | undefined;
  },
  body: (path: Path) => Body,
) {
  return {
    subject: item.subject,
    user: item.user ?? null,
    group: item.group ?? null,
    via: item.via.map(body),
    expiresAt: item.expiresAt ?? null,
  };
}

const PermissionsBody = Type.Object({
  resource: Type.String(),
  items: Type.Array(
    Type.Object({
      subject: Type.String({ description: "`user:<id>` or `group:<id>`; API keys are not listed" }),
      user: Type.Union([Type.Object({ email: Type.String(), name: Type.String() }), Type.Null()]),
      group: Type.Union([Type.Object({ name: Type.String() }), Type.Null()]),
      via: Type.Array(
        Type.Object({
          grant: GrantBody,
          throughGroup: Type.Union([Type.String(), Type.Null()], {
            description: "The team (group) giving it, for a user reached through one",
          }),
          inherited: Type.Boolean(),
          place: Type.Union([Type.Literal("here"), Type.Literal("above"), Type.Literal("below")], {
            description:
              "here: granted on this resource; above: inherited from an ancestor; below: on a resource in this one's part of the tree",
          }),
          accessRequest: AccessRequestProvenanceSchema,
        }),
        { description: "Every live grant giving access: here, then above, then below" },
      ),
      expiresAt: Type.Union([Type.Number(), Type.Null()], {
        description: "When the last of these grants ends (epoch ms); null for never",
      }),
    }),
  ),
  next: Type.Union([Type.String(), Type.Null()]),
});

/** The JSON body of a page of `decisions.permissionsAt`. */
function toPermissionsBody(page: PermissionsPage) {
  return {
    resource: page.resource,
    items: page.items.map((item) =>
      subjectBody(item, (path) => ({
        ...pathBody(path),
        place: path.place,
        accessRequest: path.accessRequest ?? null,
      })),
    ),
    next: page.next ?? null,
  };
}

const ResourceParams = Type.Object(
  {
    ws: WorkspaceId,
    type: Type.String({ minLength: 1, maxLength: 50, pattern: "^[a-z][a-z0-9_-]*$" }),
    // Fastify's router answers 414 for a path parameter past 100 characters.
    id: Type.String({ minLength: 1, maxLength: 100 }),
  },
  strict,
);

/** Who can access a resource: the reverse of a check, for team managers and the host app. */
export const resourceAccessRoutes: FastifyPluginAsyncTypebox<RouteOptions> = async (
  app,
  { gatehouse },
) => {
  app.get(
    "/v1/workspaces/:ws/resources/:type/:id/access",
    {
      schema: {
        tags: ["decisions"],
        summary: "Who holds a permission on a resource, and through which grants",
        description:
          "Every user and group holding `permission` on the resource `type:id` — directly, " +
          "inherited from an ancestor, or through a group (the group is listed too) — with each " +
          "grant giving it and when the access ends. Sorted by subject; pass `next` as `after` " +
          "for the next page (`next` is null on the last). API keys are not listed: they act for " +
          "their owners. Needs the model's team gate at the resource or above (the host app " +
          "always may); a resource outside the caller's reach is 404 RESOURCE_NOT_FOUND, like a " +
          "missing one.",
        params: ResourceParams,
        querystring: Type.Object(
          {
            permission: Type.String({ minLength: 1, maxLength: 200 }),
            limit: Type.Optional(PageLimit),
            after: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
            atLeastRevision: Type.Optional(AtLeastRevisionQuery),
          },
          strict,
        ),
        response: { 200: WhoCanBody },
      },
    },
    async (request) => {
      const { ws, type, id } = request.params;
      const { permission, limit, after, atLeastRevision } = request.query;
      const page = await gatehouse.decisions.whoCan(
        requireCaller(request),
        ws,
        {
          permission,
          resource: `${type}:${id}`,
          limit: limit === undefined ? DEFAULT_PAGE : Number(limit),
          after,
        },
        freshnessOf(atLeastRevision),
      );
      return toWhoCanBody(page);
    },
  );

  app.get(
    "/v1/workspaces/:ws/resources/:type/:id/permissions",
    {
      schema: {
        tags: ["members"],
        summary: "A resource's Permissions card: everyone with access at, above or below it",
        description:
          "Every user and team (group) with access in the part of the tree the resource `type:id` " +
          "heads: granted here, inherited from an ancestor (a grant there carrying a permission " +
          "for this part of the tree), or granted on a resource below it — each with every grant " +
          "giving it (`place`: here, above, below; `throughGroup` naming the team) and when the " +
          "access ends, with users' email and name and teams' names. Sorted by subject; pass " +
          "`next` as `after` for the next page. Needs the model's delegation permission or team " +
          "gate at the resource or above — a sub-tree admin (Customer Admin, Hosting Admin, …) at " +
          "their resource; the host app always may. A resource outside the caller's reach is 404 " +
          "RESOURCE_NOT_FOUND, like a missing one; within reach without the permission, 403.",
        params: ResourceParams,
        querystring: Type.Object(
          {
            limit: Type.Optional(PageLimit),
            after: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
            q: Type.Optional(
              Type.String({
                minLength: 1,
                maxLength: 200,
                description:
                  "Keep users whose email or name, and teams whose name, contains this (ignoring " +
                  "case); pages the same way, `after` with the same `q`",
              }),
            ),
            atLeastRevision: Type.Optional(AtLeastRevisionQuery),
          },
          strict,
        ),
        response: { 200: PermissionsBody },
      },
    },
    async (request) => {
      const { ws, type, id } = request.params;
      const { limit, after, q, atLeastRevision } = request.query;
      const page = await gatehouse.decisions.permissionsAt(
        requireCaller(request),
        ws,
        {
          resource: `${type}:${id}`,
          limit: limit === undefined ? DEFAULT_PAGE : Number(limit),
          after,
          q,
        },
        freshnessOf(atLeastRevision),
      );
      return toPermissionsBody(page);
    },
  );
};
