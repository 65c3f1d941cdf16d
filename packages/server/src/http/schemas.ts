import type { Grant } from "@gatehouse/engine";
import type { Workspace } from "@gatehouse/service";
import { Type } from "@sinclair/typebox";
import type { FastifyReply } from "fastify";

/**
 * The write convention of every route: every successful write carries the workspace's new revision in this header, and JSON answers also in `revision`.
 * Send it as the freshness token of a later check.
 */
export const REVISION_HEADER = "x-gatehouse-revision";

/** Sets the revision header of a write's answer. */
export function withRevision(reply: FastifyReply, revision: number): FastifyReply {
  return reply.header(REVISION_HEADER, String(revision));
}

/** The OpenAPI description of the revision header, for a write's success response. */
export const revisionHeader = {
  headers: {
    [REVISION_HEADER]: {
      type: "integer",
      description: "The workspace's revision after this write (a freshness token)",
    },
  },
} as const;

export const strict = { additionalProperties: false } as const;
export const WorkspaceId = Type.String({ minLength: 1, maxLength: 100 });
export const UserId = Type.String({ minLength: 1, maxLength: 100 });
export const Revision = Type.Object({ revision: Type.Integer() }, revisionHeader);
export const WorkspaceParams = Type.Object({ ws: WorkspaceId }, strict);

const FRESHNESS =
  "Answer no staler than this workspace revision — the `revision` a write answered, on any instance. A revision the workspace has not reached is 400 INVALID_INPUT.";

/** `atLeastRevision` in a JSON body. */
export const AtLeastRevision = Type.Integer({ minimum: 0, description: FRESHNESS });

/** `atLeastRevision` in a query string (not coerced, so checked as digits). */
export const AtLeastRevisionQuery = Type.String({
  pattern: "^[0-9]{1,15}$",
  description: FRESHNESS,
});

/** The read options of a query string's `atLeastRevision`. */
export function freshnessOf(value: string | undefined): { atLeastRevision: number | undefined } {
  return { atLeastRevision: value === undefined ? undefined : Number(value) };
}

/**
 * Paging and search of a team listing (members, groups, invitations): without `limit` the answer
 * holds everything, as before paging existed, with `next: null`.
 */
export const PageQuery = {
  limit: Type.Optional(
    Type.String({
      pattern: "^([1-9][0-9]?|[1-4][0-9]{2}|500)$",
      description: "At most this many items, 1–500; every item when omitted",
    }),
  ),
  after: Type.Optional(
    Type.String({
      minLength: 1,
      maxLength: 1000,
      description: "The `next` of the previous page (an opaque cursor), with the same `q`",
    }),
  ),
  q: Type.Optional(
    Type.String({ maxLength: 200, description: "Only items containing this text, ignoring case" }),
  ),
};

/** The `next` of a page: the cursor for `after`, null on the last page. */
export const NextCursor = Type.Union([Type.String(), Type.Null()]);

/** The service's page query from the query string (not coerced, so `limit` arrives as digits). */
export function pageQueryOf(query: { limit?: string; after?: string; q?: string }): {
  limit?: number;
  after?: string;
  q?: string;
} {
  return {
    ...(query.limit === undefined ? {} : { limit: Number(query.limit) }),
    ...(query.after === undefined ? {} : { after: query.after }),
    ...(query.q === undefined ? {} : { q: query.q }),
  };
}

/** A person, as answered everywhere. */
export const UserSchema = Type.Object({
  id: Type.String(),
  email: Type.String(),
  name: Type.String(),
  createdAt: Type.Number(),
});

/** What a temporary grant over a standing role gives again from its `expiresAt` on. */
export const GrantFallbackSchema = Type.Object(
  { role: Type.String(), extras: Type.Array(Type.String()) },
  {
    description:
      "A temporary role over a standing one: the standing role it returns to at expiresAt",
  },
);

/** A grant: subject × role × scope, with extras and an optional expiry. */
export const GrantSchema = Type.Object({
  subject: Type.String(),
  role: Type.String(),
  scope: Type.String(),
  extras: Type.Array(Type.String()),
  expiresAt: Type.Optional(Type.Number()),
  /** Set on a temporary grant: "elevated until … (eligibility …): reason" or "requested by … (request …): reason". */
  note: Type.Optional(Type.String()),
  fallback: Type.Optional(GrantFallbackSchema),
});

export const WorkspaceSchema = Type.Object({
  id: Type.String(),
  name: Type.String(),
  preset: Type.String(),
  plan: Type.Union([Type.String(), Type.Null()]),
  personal: Type.Boolean(),
  revision: Type.Integer(),
  createdAt: Type.Number(),
  settings: Type.Optional(
    Type.Object(
      {
        joinKey: Type.Union([Type.String(), Type.Null()]),
        require2fa: Type.Boolean(),
        oneWorkspacePerEmail: Type.Boolean(),
      },
      { description: "Present for callers who may see the team (the model's team gate)" },
    ),
  ),
});

/** A grant as answered: `expiresAt` only when the grant expires. */
export function grantBody(grant: Grant) {
  const { expiresAt, ...rest } = withFallbackBody(grant);
  return { ...rest, extras: [...grant.extras], ...(expiresAt === undefined ? {} : { expiresAt }) };
}

/** `value` with its `fallback` as answered (a copy with mutable extras), or without one. */
export function withFallbackBody<T extends { readonly fallback?: Grant["fallback"] }>(
  value: T,
): Omit<T, "fallback"> & { fallback?: { role: string; extras: string[] } } {
  const { fallback, ...rest } = value;
  return fallback === undefined ? rest : { ...rest, fallback: fallbackBody(fallback) };
}

/** A grant's fallback as answered: its role and a copy of its extras. */
export function fallbackBody(fallback: NonNullable<Grant["fallback"]>): {
  role: string;
  extras: string[];
} {
  return { role: fallback.role, extras: [...fallback.extras] };
}

/** A workspace as answered: `settings` only when the service disclosed them. */
export function workspaceBody(workspace: Workspace) {
  const { settings, ...rest } = workspace;
  return settings === undefined ? rest : { ...rest, settings };
}
