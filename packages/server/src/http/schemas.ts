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
export function freshnessOf(value: string | undefined): { atLeastRevision?: number } {
  return value === undefined ? {} : { atLeastRevision: Number(value) };
}
