import { RESOURCE_NAME_MAX_LENGTH } from "@gatehouse/service";
import { Type } from "@sinclair/typebox";
import { AtLeastRevision, GrantFallbackSchema, strict } from "./schemas.ts";

/**
 * The schemas of the decision routes, in a module of their own so the HTTP benchmark's bare
 * Fastify route validates and serializes exactly what the server does.
 */
const Permission = Type.String({ minLength: 1, maxLength: 200 });
export const Resource = Type.String({ minLength: 1, maxLength: RESOURCE_NAME_MAX_LENGTH });
export const Subject = Type.String({ minLength: 1, maxLength: 200 });
/** The most questions one batch carries. */
export const MAX_BATCH = 1000;

const questionFields = {
  permission: Permission,
  resource: Resource,
  subject: Type.Optional(Subject),
};
/** One question of a batch. */
export const Question = Type.Object(questionFields, strict);
/** One question, answered no staler than `atLeastRevision`. */
export const FreshQuestion = Type.Object(
  { ...questionFields, atLeastRevision: Type.Optional(AtLeastRevision) },
  strict,
);
/** Up to {@link MAX_BATCH} questions answered from one read of the workspace. */
export const Batch = Type.Object(
  {
    checks: Type.Array(Question, { maxItems: MAX_BATCH }),
    atLeastRevision: Type.Optional(AtLeastRevision),
  },
  strict,
);

export const DecisionGrantSchema = Type.Object({
  subject: Type.String(),
  role: Type.String(),
  scope: Type.String(),
  extras: Type.Array(Type.String()),
  expiresAt: Type.Union([Type.Number(), Type.Null()]),
  /** Set on a temporary grant: "elevated until … (eligibility …): reason" or "requested by … (request …): reason". */
  note: Type.Optional(Type.String()),
  fallback: Type.Optional(GrantFallbackSchema),
});

/** A decision: `{ allowed: true, via }` or `{ allowed: false, reason, missing? }`. */
export const DecisionSchema = Type.Object({
  allowed: Type.Boolean(),
  via: Type.Optional(DecisionGrantSchema),
  reason: Type.Optional(Type.String()),
  missing: Type.Optional(Type.Array(Type.String())),
});

/** The answers of a batch, in the order of its questions. */
export const DecisionsSchema = Type.Object({ results: Type.Array(DecisionSchema) });

export const Params = Type.Object({ ws: Type.String({ minLength: 1, maxLength: 100 }) }, strict);
