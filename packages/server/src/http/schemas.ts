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
