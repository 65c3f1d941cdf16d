export type { ChangeOp, Decision, Page } from "@gatehouse/engine";
export type {
  AccessApproval,
  AccessChange,
  AccessDiffBody,
  AccessRequestBody,
  AccessRequestDecided,
  AccessRequestFilter,
  AccessRequestInput,
  ClientOptions,
  ElevationBody,
  ElevationRequest,
  EligibilitiesBody,
  EligibilityBody,
  EligibilityInput,
  ExplanationBody,
  Freshness,
  GatehouseApi,
  GrantSpec,
  PermissionsBody,
  PermissionsQuestion,
  Problem,
  ProblemCode,
  Result,
  SupportAccessInput,
  WhoCanBody,
  WhoCanQuestion,
  WorkspaceModelBody,
  WorkspaceRoleBody,
  WorkspaceRoleChanges,
  WorkspaceRoleInput,
} from "./api-types.ts";
export type {
  ChangeStreamHandlers,
  ChangeStreamOptions,
  StreamedChange,
} from "./change-stream.ts";
export { followChanges } from "./change-stream.ts";
export type { GatehouseClient } from "./client.ts";
export { createClient } from "./client.ts";
export type { Decided, Question } from "./decision.ts";
export { toDecision } from "./decision.ts";
export type { components, paths } from "./generated/api.ts";
export type { LocalDecisionsOptions, LocalState } from "./local-decisions.ts";
export { LocalDecisions } from "./local-decisions.ts";
