import { type Bits, emptyBits, setBit } from "../bitset.ts";
import { ErrorCode, GatehouseError } from "../errors.ts";
import type { CompiledModel, CompiledRole } from "../model/define-model.ts";
import { Kind } from "./records.ts";
import type { EngineState } from "./state.ts";

/** An `INVALID_INPUT` error. */
export function invalid(message: string, details?: Record<string, unknown>): GatehouseError {
  return new GatehouseError(
    ErrorCode.INVALID_INPUT,
    message,
    details === undefined ? {} : { details },
  );
}

export function unknownPermission(name: string): GatehouseError {
  return new GatehouseError(ErrorCode.UNKNOWN_PERMISSION, `unknown permission "${name}"`);
}

export function unknownType(type: string): GatehouseError {
  return new GatehouseError(ErrorCode.UNKNOWN_RESOURCE_TYPE, `unknown resource type "${type}"`);
}

/** The type part of `type:id`; empty when there is none. */
export function typeOfRef(ref: string): string {
  const colon = ref.indexOf(":");
  return colon <= 0 ? "" : ref.slice(0, colon);
}

/** What a subject name names; `undefined` unless it is `user:…`, `group:…` or `apikey:…`. */
export function subjectKind(subject: string): Kind | undefined {
  if (typeof subject !== "string") return undefined;
  const colon = subject.indexOf(":");
  if (colon <= 0 || colon === subject.length - 1) return undefined;
  switch (subject.slice(0, colon)) {
    case "user":
      return Kind.User;
    case "group":
      return Kind.Group;
    case "apikey":
      return Kind.Key;
    default:
      return undefined;
  }
}

/** The type index of a resource name, which need not exist; throws unless it is a model type. */
export function typeOfResource(state: EngineState, resource: string): number {
  if (typeof resource !== "string") throw invalid("a resource is named type:id");
  const name = typeOfRef(resource);
  const type = state.model.typeIndex.get(name);
  if (type === undefined || resource.length === name.length + 1) {
    throw new GatehouseError(
      ErrorCode.UNKNOWN_RESOURCE_TYPE,
      `"${resource}" is not a resource of this model (type:id with type one of ${state.model.typeNames.join(", ")})`,
    );
  }
  return type;
}

/** The node of an existing resource; throws when it does not exist. */
export function requireNode(state: EngineState, resource: string): number {
  const node = state.nodeIndex.get(resource);
  if (node === undefined) {
    typeOfResource(state, resource);
    throw new GatehouseError(
      ErrorCode.RESOURCE_NOT_FOUND,
      `no resource ${resource} in this workspace`,
    );
  }
  return node;
}

export function roleNamed(model: CompiledModel, name: string): CompiledRole {
  const role = model.roles.get(name);
  if (role === undefined)
    throw new GatehouseError(
      ErrorCode.UNKNOWN_ROLE,
      `unknown role "${name}"; roles: ${[...model.roles.keys()].join(", ")}`,
    );
  return role;
}

/** The types a role is granted at, as words: "server or site". */
export function scopeTypesOf(model: CompiledModel, role: CompiledRole): string {
  return model.typeNames.filter((_, type) => (role.scopeMask & (1 << type)) !== 0).join(" or ");
}

export function bitsOfNames(model: CompiledModel, names: readonly string[]): Bits {
  const bits = emptyBits(model.words);
  for (const name of names) {
    const index = model.permissionIndex.get(name);
    if (index === undefined) throw unknownPermission(name);
    setBit(bits, index);
  }
  return bits;
}

/** Permission indices matched by an API key scope: a name, `area.*` (any depth) or `*`. */
export function expandScope(model: CompiledModel, scope: string): number[] {
  if (scope === "*" || scope.endsWith(".*")) {
    const prefix = scope === "*" ? "" : scope.slice(0, -1);
    return model.permissionNames.flatMap((name, index) => (name.startsWith(prefix) ? [index] : []));
  }
  const index = model.permissionIndex.get(scope);
  return index === undefined ? [] : [index];
}
