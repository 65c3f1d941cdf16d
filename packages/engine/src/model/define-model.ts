import { type Bits, emptyBits, setBit } from "../bitset.ts";
import { ErrorCode, GatehouseError, type Issue } from "../errors.ts";
import { summarizeIssues } from "../issues.ts";
import { DEFAULT_POLICY, type ModelDefinition, type ModelPolicy } from "./model-definition.ts";
import { descendantTypes, validateModel } from "./validate-model.ts";

/** A role as the engine uses it: its permission bits and the scope types it can be granted at. */
export interface CompiledRole {
  readonly name: string;
  readonly index: number;
  readonly isOwner: boolean;
  /** Bit `t` set when the role can be granted at resource type index `t`. */
  readonly scopeMask: number;
  readonly bits: Bits;
  readonly permissions: readonly string[];
  readonly size: number;
}

/** Lookup tables compiled from a definition; shared, read-only, by every engine of the model. */
export interface CompiledModel {
  readonly typeNames: readonly string[];
  readonly typeIndex: ReadonlyMap<string, number>;
  readonly rootType: number;
  /** Per type: mask of the types a resource of this type may hang under. */
  readonly parentMask: Uint32Array;
  /** Per type: mask of this type and every type that can appear below it. */
  readonly reachMask: Uint32Array;
  readonly permissionNames: readonly string[];
  readonly permissionIndex: ReadonlyMap<string, number>;
  /** Per permission: mask of the resource types it acts on. */
  readonly permissionTypeMask: Uint32Array;
  readonly words: number;
  readonly allBits: Bits;
  readonly ownerOnlyBits: Bits;
  /** Every permission but the owner-only ones: what extras and API keys may carry. */
  readonly delegableBits: Bits;
  /** Per type: the permissions that act on resources of that type. */
  readonly typeBits: readonly Bits[];
  /** Per type: the permissions that act on that type or a type below it. */
  readonly underBits: readonly Bits[];
  readonly roles: ReadonlyMap<string, CompiledRole>;
  readonly ownerRole: CompiledRole;
  readonly delegation: number;
}

/** A validated, frozen model. Create one with `defineModel` (TypeScript) or `parseModel` (JSON). */
export interface Model<
  T extends string = string,
  P extends string = string,
  R extends string = string,
> {
  readonly name: string;
  readonly definition: ModelDefinition<T, P, R>;
  readonly policy: ModelPolicy;
  readonly rootType: T;
  readonly types: readonly T[];
  readonly permissions: readonly P[];
  readonly roles: readonly R[];
  readonly ownerRole: R;
  /** @internal Lookup tables for the engine. */
  readonly compiled: CompiledModel;
}

export type ParseModelResult =
  | { readonly success: true; readonly model: Model }
  | { readonly success: false; readonly issues: readonly Issue[] };

/**
 * Validates and compiles a model written in TypeScript; permission, role and type names are typed.
 * Throws `INVALID_MODEL` with every issue and its path when the definition is wrong.
 * @example
 * const model = defineModel({
 *   name: "tiny",
 *   types: { workspace: {}, site: { parents: ["workspace"] } },
 *   permissions: { "site.view": { on: "site" }, "team.manage": { on: "workspace" } },
 *   roles: { owner: { owner: true, scopes: ["workspace"] }, viewer: { scopes: ["site"], permissions: ["site.view"] } },
 *   delegation: "team.manage",
 * });
 */
export function defineModel<const T extends string, const P extends string, const R extends string>(
  definition: ModelDefinition<T, P, R>,
): Model<T, P, R> {
  const issues = validateModel(definition);
  if (issues.length > 0) throw invalidModel(issues);
  return compile(definition);
}

/** @internal Compiles a definition already validated (a model extended with a workspace's roles). */
export function compileModel(definition: ModelDefinition): Model {
  return compile(definition);
}

/**
 * Validates a model given as data (for example parsed JSON) without throwing.
 * @example
 * const result = parseModel(JSON.parse(text));
 * if (!result.success) for (const issue of result.issues) console.error(issue.path, issue.message);
 */
export function parseModel(input: unknown): ParseModelResult {
  const issues = validateModel(input);
  if (issues.length > 0) return { success: false, issues };
  return { success: true, model: compile(structuredClone(input) as ModelDefinition) };
}

/**
 * Like `parseModel`, but throws `INVALID_MODEL` carrying every issue.
 * @example
 * const model = loadModel(JSON.parse(readFileSync("model.json", "utf8")));
 */
export function loadModel(input: unknown): Model {
  const result = parseModel(input);
  if (!result.success) throw invalidModel(result.issues);
  return result.model;
}

function invalidModel(issues: readonly Issue[]): GatehouseError {
  const summary = summarizeIssues(issues, { rootLabel: "(model)" });
  return new GatehouseError(ErrorCode.INVALID_MODEL, `invalid model: ${summary}`, { issues });
}

function deepFreeze<V>(value: V): V {
  if (typeof value === "object" && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}

function asList<V extends string>(value: V | readonly V[]): readonly V[] {
  return typeof value === "string" ? [value] : value;
}

function compile<T extends string, P extends string, R extends string>(
  source: ModelDefinition<T, P, R>,
): Model<T, P, R> {
  const definition = deepFreeze(structuredClone(source));
  const typeNames = Object.keys(definition.types) as T[];
  const typeIndex = new Map(typeNames.map((name, index) => [name as string, index]));
  const parentsOf = new Map<string, readonly string[]>(
    typeNames.map((name) => [name, definition.types[name].parents ?? []]),
  );
  const rootName = typeNames.find((name) => parentsOf.get(name)!.length === 0)!;
  const maskOf = (names: Iterable<string>) => {
    let mask = 0;
    for (const name of names) mask |= 1 << typeIndex.get(name)!;
    return mask >>> 0;
  };
  const parentMask = Uint32Array.from(typeNames, (name) => maskOf(parentsOf.get(name)!));
  const reachMask = Uint32Array.from(typeNames, (name) =>
    maskOf([name, ...descendantTypes(parentsOf, name)]),
  );

  const permissionNames = Object.keys(definition.permissions) as P[];
  const permissionIndex = new Map(permissionNames.map((name, index) => [name as string, index]));
  const words = Math.max(1, Math.ceil(permissionNames.length / 32));
  const permissionTypeMask = Uint32Array.from(permissionNames, (name) =>
    maskOf(asList(definition.permissions[name].on)),
  );
  const bitsOf = (names: readonly string[]) => {
    const bits = emptyBits(words);
    for (const name of names) setBit(bits, permissionIndex.get(name)!);
    return bits;
  };
  const allBits = bitsOf(permissionNames);
  const ownerOnlyBits = bitsOf(definition.ownerOnly ?? []);
  const typeBits = typeNames.map((_, type) =>
    bitsOf(permissionNames.filter((_, p) => (permissionTypeMask[p]! & (1 << type)) !== 0)),
  );
  const underBits = typeNames.map((_, type) =>
    bitsOf(permissionNames.filter((_, p) => (permissionTypeMask[p]! & reachMask[type]!) !== 0)),
  );

  const roleNames = Object.keys(definition.roles) as R[];
  const roles = new Map<string, CompiledRole>();
  roleNames.forEach((name, index) => {
    const role = definition.roles[name];
    const isOwner = role.owner === true;
    const permissions = isOwner ? permissionNames : (role.permissions ?? []);
    roles.set(
      name,
      Object.freeze({
        name,
        index,
        isOwner,
        scopeMask: maskOf(role.scopes),
        bits: bitsOf(permissions),
        permissions: Object.freeze([...permissions]),
        size: permissions.length,
      }),
    );
  });
  const ownerRole = [...roles.values()].find((role) => role.isOwner)!;

  const compiled: CompiledModel = Object.freeze({
    typeNames: Object.freeze(typeNames),
    typeIndex,
    rootType: typeIndex.get(rootName)!,
    parentMask,
    reachMask,
    permissionNames: Object.freeze(permissionNames),
    permissionIndex,
    permissionTypeMask,
    words,
    allBits,
    ownerOnlyBits,
    delegableBits: Uint32Array.from(allBits, (word, index) => word & ~ownerOnlyBits[index]!),
    typeBits: Object.freeze(typeBits),
    underBits: Object.freeze(underBits),
    roles,
    ownerRole,
    delegation: permissionIndex.get(definition.delegation)!,
  });
  return Object.freeze({
    name: definition.name,
    definition,
    policy: Object.freeze({ ...DEFAULT_POLICY, ...definition.policy }),
    rootType: rootName,
    types: Object.freeze(typeNames),
    permissions: Object.freeze(permissionNames),
    roles: Object.freeze(roleNames),
    ownerRole: ownerRole.name as R,
    compiled,
  });
}
