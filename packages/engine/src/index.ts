export * from "./errors.ts";
export type {
  ModelDefinition,
  ModelPolicy,
  PermissionDefinition,
  PlanDefinition,
  ResourceTypeDefinition,
  RoleDefinition,
  SectionDefinition,
} from "./model/model-definition.ts";
export { defineModel, loadModel, parseModel } from "./model/define-model.ts";
export type { Model, ParseModelResult } from "./model/define-model.ts";
export { validateModel } from "./model/validate-model.ts";
export { createEngine, Engine } from "./engine/engine.ts";
export type { EngineOptions } from "./engine/engine.ts";
export type * from "./engine/types.ts";
