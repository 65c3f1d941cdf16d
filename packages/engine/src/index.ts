export type { AccessChange, AccessDiff, AccessDiffOptions } from "./changes/access-diff.ts";
export { accessDiff } from "./changes/access-diff.ts";
export type { ChangeOp } from "./changes/change-op.ts";
export { applyOps } from "./changes/change-op.ts";
export type { EngineFootprint, EngineOptions } from "./engine/engine.ts";
export { createEngine, Engine } from "./engine/engine.ts";
export { SNAPSHOT_FORMAT } from "./engine/snapshot.ts";
export type * from "./engine/types.ts";
export * from "./errors.ts";
export type { PathSegment } from "./issues.ts";
export { Issues, issuePath, summarizeIssues } from "./issues.ts";
export type { Model, ParseModelResult } from "./model/define-model.ts";
export { defineModel, loadModel, parseModel } from "./model/define-model.ts";
export type {
  MemberNavigation,
  ModelDefinition,
  ModelPolicy,
  PermissionDefinition,
  PlanDefinition,
  ResourceTypeDefinition,
  RoleDefinition,
  SectionDefinition,
  SectionWorkflow,
} from "./model/model-definition.ts";
export { modelSchema } from "./model/model-schema.ts";
export { validateModel } from "./model/validate-model.ts";
export type { WorkspaceRoleDefinition } from "./model/workspace-roles.ts";
export { extendModel, workspaceRoleIssues } from "./model/workspace-roles.ts";
