/**
 * fast-check arbitraries for the differential tests: random valid models, resource trees, grants,
 * group memberships and API keys. Raw random picks are resolved against what exists, so every
 * generated model is valid and shrinking stays simple.
 */
import fc from "fast-check";
import type {
  ApiKeyInput,
  GranteeRef,
  GrantInput,
  ResourceInput,
  ResourceRef,
} from "../src/engine/types.ts";
import { defineModel, type Model } from "../src/model/define-model.ts";
import type { ModelDefinition, RoleDefinition } from "../src/model/model-definition.ts";
import { actsAtOrBelow, typeOf } from "./reference-evaluator.ts";

/** The engine's clock in every generated scenario. */
export const NOW = 1_000_000;

export const USERS = ["user:ann", "user:bob", "user:cy", "user:dee"] as const;
export const GROUPS = ["group:ops", "group:web"] as const;
export const GRANTEES: readonly GranteeRef[] = [...USERS, ...GROUPS];

const TYPE_NAMES = ["workspace", "client", "server", "site", "env"] as const;
const AREAS = ["site", "team", "billing"] as const;

/** Expiry times around `NOW`, the boundary included (a grant expiring at NOW is expired). */
const expiryArbitrary = fc.oneof(
  { weight: 4, arbitrary: fc.constant(undefined) },
  { weight: 3, arbitrary: fc.constantFrom(NOW - 1000, NOW - 1, NOW, NOW + 1, NOW + 1000) },
);

const idArbitrary = fc.string({
  unit: fc.constantFrom("a", "b", "Z", "0", "9", "-", ".", ":"),
  minLength: 1,
  maxLength: 3,
});

const rawModelArbitrary = fc.record({
  /** For each type after the root: picks among the earlier types, so the graph has no cycle. */
  typeParents: fc.array(fc.uniqueArray(fc.nat({ max: 3 }), { minLength: 1, maxLength: 2 }), {
    maxLength: 4,
  }),
  permissions: fc.array(
    fc.record({
      area: fc.nat({ max: AREAS.length - 1 }),
      deep: fc.boolean(),
      on: fc.uniqueArray(fc.nat({ max: 4 }), { minLength: 1, maxLength: 2 }),
      onAsString: fc.boolean(),
      ownerOnly: fc.oneof({ weight: 4, arbitrary: fc.constant(false) }, fc.constant(true)),
    }),
    { minLength: 1, maxLength: 12 },
  ),
  delegation: fc.nat(),
  roles: fc.array(
    fc.record({
      scopes: fc.uniqueArray(fc.nat({ max: 4 }), { minLength: 1, maxLength: 2 }),
      permissions: fc.uniqueArray(fc.nat({ max: 11 }), { maxLength: 12 }),
    }),
    { maxLength: 4 },
  ),
  /** With "chief" as the owner role, a non-owner role is named "owner": behaviour comes from data. */
  ownerName: fc.constantFrom("owner", "chief"),
  ownerPosition: fc.nat(),
});

type RawModel = typeof rawModelArbitrary extends fc.Arbitrary<infer V> ? V : never;

export function unique<V>(values: readonly V[]): V[] {
  return [...new Set(values)];
}

/** The `index`-th item, wrapping around; the list must not be empty. */
export function pick<V>(list: readonly V[], index: number): V {
  return list[index % list.length]!;
}

function resolveModel(raw: RawModel): ModelDefinition {
  const typeCount = 1 + raw.typeParents.length;
  const typeNames = TYPE_NAMES.slice(0, typeCount);
  const types: Record<string, { parents?: string[] }> = { workspace: {} };
  raw.typeParents.forEach((picks, index) => {
    const type = index + 1;
    types[typeNames[type]!] = {
      parents: unique(picks.map((pick) => pick % type)).map((parent) => typeNames[parent]!),
    };
  });

  const permissions: Record<string, { on: string | string[] }> = {};
  const ownerOnly: string[] = [];
  raw.permissions.forEach((permission, index) => {
    const name = `${AREAS[permission.area]}.${permission.deep ? "deep." : ""}p${index}`;
    const on = unique(permission.on.map((pick) => typeNames[pick % typeCount]!));
    permissions[name] = { on: permission.onAsString && on.length === 1 ? on[0]! : on };
    if (permission.ownerOnly) ownerOnly.push(name);
  });
  const permissionNames = Object.keys(permissions);
  const delegation = permissionNames[raw.delegation % permissionNames.length]!;

  const partial: ModelDefinition = {
    name: "random",
    types,
    permissions,
    roles: {},
    ownerOnly,
    delegation,
  };
  const ownerName = raw.ownerName;
  const otherNames =
    ownerName === "chief"
      ? ["owner", "operator", "customer", "viewer"]
      : ["admin", "operator", "customer", "viewer"];
  const entries: [string, RoleDefinition][] = raw.roles.map((role, index) => {
    const scopes = unique(role.scopes.map((pick) => typeNames[pick % typeCount]!));
    // Keep only permissions the validation rule allows: not owner-only, acting under every scope.
    const allowed = unique(
      role.permissions.map((pick) => permissionNames[pick % permissionNames.length]!),
    )
      .filter((permission) => !ownerOnly.includes(permission))
      .filter((permission) => scopes.every((scope) => actsAtOrBelow(partial, permission, scope)));
    return [otherNames[index]!, { scopes, permissions: allowed }];
  });
  entries.splice(raw.ownerPosition % (entries.length + 1), 0, [
    ownerName,
    { owner: true, scopes: ["workspace"] },
  ]);
  return { ...partial, roles: Object.fromEntries(entries) };
}

/** Random valid model definitions: 1–5 types (some with several parents), 1–12 permissions, 1–5 roles. */
export const modelDefinitionArbitrary: fc.Arbitrary<ModelDefinition> =
  rawModelArbitrary.map(resolveModel);

export interface Scenario {
  readonly definition: ModelDefinition;
  readonly model: Model;
  readonly workspace: string;
  readonly root: ResourceRef;
  /** Resources in creation order (parents first), each under an allowed parent type. */
  readonly resources: readonly ResourceInput[];
  readonly memberships: readonly {
    readonly group: `group:${string}`;
    readonly user: `user:${string}`;
  }[];
  /** Grant attempts: mostly valid, some that the engine must refuse. */
  readonly grants: readonly GrantInput[];
  /** API key attempts: some carry owner-only or unknown permission patterns and must be refused. */
  readonly apiKeys: readonly ApiKeyInput[];
  /** Random material for probing: page sizes, cursors, picks. */
  readonly probe: {
    readonly limits: readonly number[];
    readonly cursors: readonly string[];
    readonly seed: number;
  };
}

/** Raw picks for one grant, resolved against a model and the resources that exist by `resolveGrant`. */
export const grantSpecArbitrary = fc.record({
  subject: fc.nat(),
  /** Grant the owner role (mostly refused: there is one owner, a user, never expiring). */
  owner: fc.oneof({ weight: 9, arbitrary: fc.constant(false) }, fc.constant(true)),
  role: fc.nat(),
  scope: fc.nat(),
  extras: fc.uniqueArray(fc.nat(), { maxLength: 2 }),
  anyExtras: fc.oneof({ weight: 6, arbitrary: fc.constant(false) }, fc.constant(true)),
  expiresAt: expiryArbitrary,
  /** A note such as a just-in-time elevation's: carried and named, never decided by. */
  note: fc.oneof(
    { weight: 4, arbitrary: fc.constant(undefined) },
    fc.constantFrom("elevated: incident 42", "elevated: maintenance"),
  ),
  /** For an expiring grant: a role to fall back to there (a temporary role over a standing one). */
  fallback: fc.option(
    fc.record({ role: fc.nat(), extras: fc.uniqueArray(fc.nat(), { maxLength: 1 }) }),
    {
      nil: undefined,
    },
  ),
});

export type GrantSpec = typeof grantSpecArbitrary extends fc.Arbitrary<infer V> ? V : never;

/**
 * A grant attempt: a role at a resource where it is grantable (any resource when there is none)
 * with extras the rules allow, or, when `anyExtras`, any permissions at all.
 */
export function resolveGrant(
  definition: ModelDefinition,
  resources: readonly ResourceRef[],
  spec: GrantSpec,
): GrantInput {
  const roleNames = Object.keys(definition.roles);
  const permissionNames = Object.keys(definition.permissions);
  const ownerOnly = definition.ownerOnly ?? [];
  const others = roleNames.filter((role) => definition.roles[role]?.owner !== true);
  const role = pick(spec.owner || others.length === 0 ? roleNames : others, spec.role);
  const scopes = definition.roles[role]?.scopes ?? [];
  const grantable = resources.filter((resource) => scopes.includes(typeOf(resource)));
  const scope = pick(grantable.length > 0 ? grantable : resources, spec.scope);
  const pool = spec.anyExtras
    ? permissionNames
    : permissionNames.filter(
        (permission) =>
          !ownerOnly.includes(permission) && actsAtOrBelow(definition, permission, typeOf(scope)),
      );
  const extras = pool.length === 0 ? [] : unique(spec.extras.map((index) => pick(pool, index)));
  const fallbacks = others.filter((name) =>
    (definition.roles[name]?.scopes ?? []).includes(typeOf(scope)),
  );
  const delegable = permissionNames.filter(
    (permission) =>
      !ownerOnly.includes(permission) && actsAtOrBelow(definition, permission, typeOf(scope)),
  );
  const fallback =
    spec.fallback === undefined || spec.expiresAt === undefined || fallbacks.length === 0
      ? undefined
      : {
          role: pick(fallbacks, spec.fallback.role),
          extras:
            delegable.length === 0
              ? []
              : unique(spec.fallback.extras.map((index) => pick(delegable, index))),
        };
  return {
    subject: pick(GRANTEES, spec.subject),
    role,
    scope,
    extras,
    expiresAt: spec.expiresAt,
    note: spec.note,
    ...(fallback === undefined ? {} : { fallback }),
  };
}

const rawScenarioArbitrary = fc.record({
  model: modelDefinitionArbitrary,
  workspace: fc.constantFrom("acme", "globex", "w-1"),
  resources: fc.array(fc.record({ place: fc.nat(), id: idArbitrary }), {
    maxLength: 30,
    size: "medium",
  }),
  ownerFirst: fc.boolean(),
  grants: fc.array(grantSpecArbitrary, { maxLength: 14 }),
  memberships: fc.array(fc.record({ group: fc.nat(), user: fc.nat() }), { maxLength: 6 }),
  apiKeys: fc.array(
    fc.record({
      owner: fc.nat(),
      /** Owned by a user who was granted something, rather than by anyone. */
      ownerHoldsGrant: fc.boolean(),
      scopes: fc.uniqueArray(fc.nat(), { minLength: 1, maxLength: 3 }),
      resources: fc.uniqueArray(fc.nat(), { maxLength: 2 }),
      expiresAt: expiryArbitrary,
    }),
    { maxLength: 3 },
  ),
  probe: fc.record({
    limits: fc.array(fc.integer({ min: 1, max: 5 }), { minLength: 1, maxLength: 4 }),
    cursors: fc.array(idArbitrary, { minLength: 1, maxLength: 3 }),
    seed: fc.nat(),
  }),
});

type RawScenario = typeof rawScenarioArbitrary extends fc.Arbitrary<infer V> ? V : never;

function resolveScenario(raw: RawScenario): Scenario {
  const definition = raw.model;
  const model = defineModel(definition);
  const root = `workspace:${raw.workspace}` as ResourceRef;
  const typeNames = Object.keys(definition.types);
  const childTypes = typeNames.filter((type) => (definition.types[type]?.parents ?? []).length > 0);

  const resources: ResourceInput[] = [];
  const all: ResourceRef[] = [root];
  for (const spec of raw.resources) {
    // Pick among every (parent, child type) placement, so deep resources are as likely as shallow.
    const placements = all.flatMap((parent) =>
      childTypes
        .filter((type) => (definition.types[type]?.parents ?? []).includes(typeOf(parent)))
        .map((type) => ({ parent, type })),
    );
    if (placements.length === 0) break;
    const { parent, type } = pick(placements, spec.place);
    const name = `${type}:${spec.id}` as ResourceRef;
    if (all.includes(name)) continue;
    resources.push({ resource: name, parent });
    all.push(name);
  }

  const roleNames = Object.keys(definition.roles);
  const ownerRole = roleNames.find((role) => definition.roles[role]?.owner === true)!;
  const permissionNames = Object.keys(definition.permissions);
  const grants: GrantInput[] = raw.ownerFirst
    ? [{ subject: USERS[0], role: ownerRole, scope: root }]
    : [];
  for (const spec of raw.grants) grants.push(resolveGrant(definition, all, spec));

  const memberships = unique(
    raw.memberships.map((spec) => `${pick(GROUPS, spec.group)} ${pick(USERS, spec.user)}`),
  ).map((pair) => {
    const [group, user] = pair.split(" ") as [`group:${string}`, `user:${string}`];
    return { group, user };
  });

  const areas = unique(permissionNames.map((name) => name.slice(0, name.indexOf("."))));
  const patterns = [
    ...permissionNames,
    ...areas.map((area) => `${area}.*`),
    ...(permissionNames.some((name) => name.includes(".deep.")) ? ["site.deep.*"] : []),
    "*",
    "nothing.*",
  ];
  const grantedUsers = USERS.filter((user) => grants.some((grant) => grant.subject === user));
  const apiKeys: ApiKeyInput[] = raw.apiKeys.map((spec, index) => ({
    id: `k${index}`,
    owner: pick(spec.ownerHoldsGrant && grantedUsers.length > 0 ? grantedUsers : USERS, spec.owner),
    scopes: unique(spec.scopes.map((scope) => pick(patterns, scope))),
    resources: unique(spec.resources.map((resource) => pick(all, resource))),
    expiresAt: spec.expiresAt,
  }));

  return {
    definition,
    model,
    workspace: raw.workspace,
    root,
    resources,
    memberships,
    grants,
    apiKeys,
    probe: raw.probe,
  };
}

/** Random workspaces: a valid model, a resource tree of up to 30 resources, grants, groups, keys. */
export const scenarioArbitrary: fc.Arbitrary<Scenario> = rawScenarioArbitrary.map(resolveScenario);

/**
 * The same workspaces over a model whose permissions take two 32-bit words: 32 permissions no role
 * holds come first, so the random ones sit in the second word (the engine's multi-word paths).
 */
export const wideScenarioArbitrary: fc.Arbitrary<Scenario> = rawScenarioArbitrary.map((raw) =>
  resolveScenario({ ...raw, model: widened(raw.model) }),
);

function widened(definition: ModelDefinition): ModelDefinition {
  const unused = Array.from({ length: 32 }, (_, index) => [
    `unused.p${index}`,
    { on: "workspace" },
  ]);
  return {
    ...definition,
    permissions: { ...Object.fromEntries(unused), ...definition.permissions },
  };
}
