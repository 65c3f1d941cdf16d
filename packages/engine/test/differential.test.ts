/**
 * Differential tests: the engine against the naive reference evaluator on random
 * valid models, resource trees, grants, groups and API keys, plus the engine's own invariants.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { createEngine, Engine, type EngineFootprint } from "../src/engine/engine.ts";
import type {
  ApiKeyInput,
  GranteeRef,
  GrantInput,
  ResourceRef,
  SubjectRef,
} from "../src/engine/types.ts";
import { ErrorCode, GatehouseError } from "../src/errors.ts";
import { defineModel } from "../src/model/define-model.ts";
import type { ModelDefinition } from "../src/model/model-definition.ts";
import { propertyRuns } from "./property-runs.ts";
import {
  GRANTEES,
  GROUPS,
  grantSpecArbitrary,
  NOW,
  pick,
  resolveGrant,
  type Scenario,
  scenarioArbitrary,
  USERS,
  wideScenarioArbitrary,
} from "./random-workspace.ts";
import {
  actsAtOrBelow,
  compareNames,
  grantInForce,
  isOwnerRole,
  type ReferenceApiKey,
  ReferenceEvaluator,
  type ReferenceGrant,
  type ReferenceMembership,
  scopeMatches,
  typeOf,
} from "./reference-evaluator.ts";

/**
 * Generated cases per property, scaled by `PROPERTY_RUNS` (see property-runs.ts): 13,900 in total
 * at the thorough value CI runs (at least 10,000 wanted).
 */
const RUNS = {
  check: propertyRuns(2000),
  permissionsOn: propertyRuns(1000),
  wide: propertyRuns(300),
  listVisible: propertyRuns(1500),
  children: propertyRuns(800),
  subjectsWith: propertyRuns(1500),
  canGrant: propertyRuns(1500),
  admission: propertyRuns(500),
  removal: propertyRuns(1000),
  apiKeys: propertyRuns(1000),
  workspaces: propertyRuns(800),
  incremental: propertyRuns(1000),
  interleaved: propertyRuns(500),
  revision: propertyRuns(500),
  snapshot: propertyRuns(500),
} as const;

/** Generous per-property time limit for slow CI machines; a run takes a few seconds. */
const PROPERTY_TIMEOUT = 60_000;

// ---------------------------------------------------------------- building a workspace

interface Workspace {
  readonly engine: Engine;
  readonly grants: ReferenceGrant[];
  readonly apiKeys: ReferenceApiKey[];
  readonly memberships: ReferenceMembership[];
}

function referenceGrant(input: GrantInput): ReferenceGrant {
  return {
    subject: input.subject,
    role: input.role,
    scope: input.scope,
    extras: input.extras ?? [],
    expiresAt: input.expiresAt,
    note: input.note,
    fallback: input.fallback,
  };
}

function referenceKey(input: ApiKeyInput): ReferenceApiKey {
  return {
    id: input.id,
    owner: input.owner,
    scopes: input.scopes,
    resources: input.resources ?? [],
    expiresAt: input.expiresAt,
  };
}

/** The error codes a grant attempt deserves given the grants already accepted; empty when valid. */
function grantProblems(
  definition: ModelDefinition,
  accepted: readonly ReferenceGrant[],
  input: GrantInput,
): Set<ErrorCode> {
  const problems = new Set<ErrorCode>();
  const scopeType = typeOf(input.scope);
  if (!(definition.roles[input.role]?.scopes ?? []).includes(scopeType)) {
    problems.add(ErrorCode.ROLE_NOT_GRANTABLE_AT_SCOPE);
  }
  const extras = input.extras ?? [];
  if (extras.some((extra) => (definition.ownerOnly ?? []).includes(extra))) {
    problems.add(ErrorCode.OWNER_ONLY_PERMISSION);
  }
  if (extras.some((extra) => !actsAtOrBelow(definition, extra, scopeType))) {
    problems.add(ErrorCode.PERMISSION_NOT_APPLICABLE_AT_SCOPE);
  }
  if (isOwnerRole(definition, input.role)) {
    if (!input.subject.startsWith("user:")) problems.add(ErrorCode.INVALID_INPUT);
    if (input.expiresAt !== undefined) problems.add(ErrorCode.INVALID_INPUT);
    if (accepted.some((grant) => isOwnerRole(definition, grant.role))) {
      problems.add(ErrorCode.OWNER_EXISTS);
    }
  }
  if (accepted.some((grant) => grant.subject === input.subject && grant.scope === input.scope)) {
    problems.add(ErrorCode.ROLE_CONFLICT);
  }
  return problems;
}

/**
 * The error codes an API key attempt deserves; empty when valid. A permission pattern must match some
 * permission, and some permission that is not owner-only: patterns drop owner-only ones.
 */
function keyProblems(definition: ModelDefinition, input: ApiKeyInput): Set<ErrorCode> {
  const problems = new Set<ErrorCode>();
  const names = Object.keys(definition.permissions);
  const ownerOnly = definition.ownerOnly ?? [];
  for (const scope of input.scopes) {
    const matched = names.filter((name) => scopeMatches(scope, name));
    if (matched.length === 0) problems.add(ErrorCode.UNKNOWN_PERMISSION);
    else if (matched.every((name) => ownerOnly.includes(name)))
      problems.add(ErrorCode.OWNER_ONLY_PERMISSION);
  }
  return problems;
}

/**
 * Runs `change` and asserts it throws a GatehouseError with one of `codes`, or succeeds when
 * `codes` is empty. Returns whether it succeeded.
 */
function expectOutcome(change: () => void, codes: ReadonlySet<ErrorCode>, what: string): boolean {
  try {
    change();
  } catch (error) {
    if (!(error instanceof GatehouseError)) throw error;
    if (!codes.has(error.code)) {
      throw new Error(
        `${what}: engine refused with ${error.code} (${error.message}); expected ${codes.size === 0 ? "success" : [...codes].join(" or ")}`,
      );
    }
    return false;
  }
  if (codes.size > 0)
    throw new Error(`${what}: engine accepted; expected ${[...codes].join(" or ")}`);
  return true;
}

/**
 * Builds the engine from a scenario: resources and groups through the constructor, then every
 * grant and key attempt one by one, asserting that exactly the invalid ones are refused (with the
 * right code) and that the revision grows with each accepted one only.
 */
/** An engine's footprint without its estimate: what a restored engine must count the same. */
function counts({ footprint }: Engine): Omit<EngineFootprint, "estimatedBytes"> {
  const { estimatedBytes: _, ...rest } = footprint;
  return rest;
}

function buildWorkspace(scenario: Scenario): Workspace {
  const groups = new Map<`group:${string}`, `user:${string}`[]>();
  for (const { group, user } of scenario.memberships)
    groups.set(group, [...(groups.get(group) ?? []), user]);
  const engine = createEngine(scenario.model, {
    workspace: scenario.workspace,
    clock: () => NOW,
    resources: scenario.resources,
    groups,
    // Half the scenarios page listVisible by scanning the sorted type list, half by gathering.
    gatherLimit: scenario.resources.length % 2 === 0 ? 1 : 2048,
  });
  const grants: ReferenceGrant[] = [];
  for (const input of scenario.grants) {
    const before = engine.revision;
    const problems = grantProblems(scenario.definition, grants, input);
    if (
      expectOutcome(() => engine.addGrant(input), problems, `addGrant ${JSON.stringify(input)}`)
    ) {
      grants.push(referenceGrant(input));
      if (engine.revision <= before) throw new Error("revision did not increase on addGrant");
    } else if (engine.revision !== before) {
      throw new Error("revision changed on a refused grant");
    }
  }
  const apiKeys: ReferenceApiKey[] = [];
  for (const input of scenario.apiKeys) {
    const before = engine.revision;
    const problems = keyProblems(scenario.definition, input);
    if (
      expectOutcome(() => engine.addApiKey(input), problems, `addApiKey ${JSON.stringify(input)}`)
    ) {
      apiKeys.push(referenceKey(input));
      if (engine.revision <= before) throw new Error("revision did not increase on addApiKey");
    } else if (engine.revision !== before) {
      throw new Error("revision changed on a refused API key");
    }
  }
  return { engine, grants, apiKeys, memberships: [...scenario.memberships] };
}

function referenceOf(scenario: Scenario, workspace: Workspace): ReferenceEvaluator {
  return new ReferenceEvaluator({
    model: scenario.definition,
    root: scenario.root,
    resources: scenario.resources,
    grants: workspace.grants,
    groups: workspace.memberships,
    apiKeys: workspace.apiKeys,
    now: NOW,
  });
}

/** Users, groups, an unknown user, and every API key attempted (refused ones included). */
function subjectsOf(scenario: Scenario): SubjectRef[] {
  return [
    ...USERS,
    ...GROUPS,
    "user:nobody",
    ...scenario.apiKeys.map((key): SubjectRef => `apikey:${key.id}`),
  ];
}

/** Every resource plus a few that do not exist here. */
function probedResources(scenario: Scenario, reference: ReferenceEvaluator): ResourceRef[] {
  const missing = Object.keys(scenario.definition.types).map(
    (type): ResourceRef => `${type}:missing`,
  );
  return [...(reference.resources() as ResourceRef[]), ...missing, "workspace:elsewhere"];
}

// ---------------------------------------------------------------- comparisons

function sameGrant(a: ReferenceGrant, b: ReferenceGrant): boolean {
  return (
    a.subject === b.subject &&
    a.role === b.role &&
    a.scope === b.scope &&
    a.expiresAt === b.expiresAt &&
    a.note === b.note &&
    a.fallback?.role === b.fallback?.role &&
    [...a.extras].sort().join() === [...b.extras].sort().join()
  );
}

function assertChecksAgree(
  engine: Engine,
  reference: ReferenceEvaluator,
  subjects: readonly SubjectRef[],
  resources: readonly ResourceRef[],
): void {
  const permissions = Object.keys(reference.state.model.permissions);
  for (const subject of subjects) {
    for (const permission of permissions) {
      for (const resource of resources) {
        const decision = engine.check(subject, permission, resource);
        const allowing = reference.grantsAllowing(subject, permission, resource);
        const where = `check(${subject}, ${permission}, ${resource})`;
        if (decision.allowed !== allowing.length > 0) {
          throw new Error(`${where}: engine ${decision.allowed}, reference ${allowing.length > 0}`);
        }
        if (decision.allowed && !allowing.some((grant) => sameGrant(grant, decision.via))) {
          throw new Error(`${where}: via ${JSON.stringify(decision.via)} is not an allowing grant`);
        }
        // An elevated (noted) grant that allows is named in the explanation; an expired one never allows.
        const note = decision.allowed ? decision.via.note : undefined;
        if (
          note !== undefined &&
          !engine.explain(subject, permission, resource).summary.includes(note)
        ) {
          throw new Error(`${where}: the explanation does not name the note "${note}"`);
        }
      }
    }
  }
}

function assertPermissionsOnAgree(
  engine: Engine,
  reference: ReferenceEvaluator,
  subjects: readonly SubjectRef[],
  resources: readonly ResourceRef[],
): void {
  for (const subject of subjects) {
    for (const resource of resources) {
      const actual = [...engine.permissionsOn(subject, resource)].sort().join(" ");
      const expected = reference.permissionsOn(subject, resource).sort().join(" ");
      if (actual !== expected) {
        throw new Error(
          `permissionsOn(${subject}, ${resource}): engine [${actual}], reference [${expected}]`,
        );
      }
    }
  }
}

/** Follows `next` cursors with page size `limit`, checking each page's shape. */
function pageThrough(
  engine: Engine,
  query: { subject: SubjectRef; type: string; permission: string },
  limit: number,
): string[] {
  const items: string[] = [];
  let after: ResourceRef | undefined;
  for (let pages = 0; pages < 100; pages++) {
    const page = engine.listVisible(query.subject, query.type, query.permission, { limit, after });
    if (page.items.length > limit)
      throw new Error(`a page of ${page.items.length} items exceeds limit ${limit}`);
    items.push(...page.items);
    if (page.next === undefined) return items;
    if (page.next !== page.items[page.items.length - 1])
      throw new Error("next is not the page's last item");
    after = page.next;
  }
  throw new Error("paging did not end");
}

function assertListsAgree(
  engine: Engine,
  reference: ReferenceEvaluator,
  subjects: readonly SubjectRef[],
  probe: Scenario["probe"],
): void {
  const types = Object.keys(reference.state.model.types);
  const permissions = Object.keys(reference.state.model.permissions);
  let round = probe.seed;
  for (const subject of subjects) {
    for (const type of types) {
      for (const permission of permissions) {
        const query = { subject, type, permission };
        const where = `listVisible(${subject}, ${type}, ${permission})`;
        const expected = reference.listVisible(subject, type, permission);
        const actual = engine.listVisible(subject, type, permission);
        if (actual.items.join(" ") !== expected.join(" ") || actual.next !== undefined) {
          throw new Error(
            `${where}: engine [${actual.items.join(" ")}], reference [${expected.join(" ")}]`,
          );
        }
        if (expected.length === 0) continue;
        round++;
        const limit = pick(probe.limits, round);
        const paged = pageThrough(engine, query, limit);
        if (paged.join(" ") !== expected.join(" ")) {
          throw new Error(
            `${where} in pages of ${limit}: [${paged.join(" ")}], reference [${expected.join(" ")}]`,
          );
        }
        const cursors = [`${type}:${pick(probe.cursors, round)}`, pick(expected, round)];
        for (const after of cursors) {
          const rest = engine.listVisible(subject, type, permission, {
            after: after as ResourceRef,
          });
          const wanted = expected.filter((name) => compareNames(name, after) > 0);
          if (rest.items.join(" ") !== wanted.join(" ")) {
            throw new Error(
              `${where} after ${after}: [${rest.items.join(" ")}], reference [${wanted.join(" ")}]`,
            );
          }
        }
      }
    }
  }
}

/**
 * Every resource's children of each type, as a subject sees them and as the host app does: listed
 * (in pages, with a cursor) and counted exactly as the reference filters its list by parent.
 */
function assertChildrenAgree(
  engine: Engine,
  reference: ReferenceEvaluator,
  subjects: readonly SubjectRef[],
  probe: Scenario["probe"],
): void {
  const model = reference.state.model;
  const types = Object.keys(model.types);
  const permissions = Object.keys(model.permissions);
  const parents = reference.resources() as ResourceRef[];
  let round = probe.seed;
  for (const type of types) {
    const all = reference.resources().filter((resource) => typeOf(resource) === type);
    const counts = engine.countChildren(parents, type);
    parents.forEach((parent, index) => {
      const expected = all
        .filter((resource) => reference.parentOf(resource) === parent)
        .sort(compareNames);
      const listed = engine.resourcesOfType(type, { parent }).items;
      if (listed.join(" ") !== expected.join(" ") || counts[index] !== expected.length) {
        throw new Error(
          `children of ${parent} of type ${type}: engine [${listed.join(" ")}] (count ${counts[index]}), reference [${expected.join(" ")}]`,
        );
      }
    });
    for (const subject of subjects) {
      for (const permission of permissions) {
        const where = `children(${subject}, ${type}, ${permission})`;
        const visible = engine.countVisibleChildren(subject, parents, { type, permission });
        parents.forEach((parent, index) => {
          const expected = reference.listChildren(subject, parent, type, permission);
          if (visible[index] !== expected.length) {
            throw new Error(
              `${where} count under ${parent}: engine ${visible[index]}, reference ${expected.length} [${expected.join(" ")}]`,
            );
          }
          round++;
          const limit = pick(probe.limits, round);
          const paged: string[] = [];
          let after: ResourceRef | undefined;
          for (let pages = 0; pages < 100; pages++) {
            const page = engine.listVisible(subject, type, permission, { parent, limit, after });
            if (page.items.length > limit) throw new Error(`${where}: a page exceeds ${limit}`);
            paged.push(...page.items);
            if (page.next === undefined) break;
            after = page.next;
          }
          if (paged.join(" ") !== expected.join(" ")) {
            throw new Error(
              `${where} under ${parent} in pages of ${limit}: [${paged.join(" ")}], reference [${expected.join(" ")}]`,
            );
          }
        });
      }
    }
  }
}

function assertCanGrantAgree(
  engine: Engine,
  reference: ReferenceEvaluator,
  subjects: readonly SubjectRef[],
  resources: readonly ResourceRef[],
  seed: number,
): void {
  const model = reference.state.model;
  const roles = Object.keys(model.roles);
  const permissions = Object.keys(model.permissions);
  let round = seed;
  for (const granter of subjects) {
    for (const role of roles) {
      for (const scope of resources) {
        round++;
        const extraSets = [
          [],
          [pick(permissions, round)],
          [pick(permissions, round * 7 + 3), pick(permissions, round * 13 + 1)],
        ];
        for (const extras of extraSets) {
          const actual = engine.canGrant(granter, role, scope, extras).allowed;
          const expected = reference.canGrant(granter, role, scope, extras);
          if (actual !== expected) {
            throw new Error(
              `canGrant(${granter}, ${role}, ${scope}, [${extras.join(", ")}]): engine ${actual}, reference ${expected}`,
            );
          }
        }
      }
    }
  }
}

function assertAgreesEverywhere(
  engine: Engine,
  reference: ReferenceEvaluator,
  scenario: Scenario,
): void {
  const subjects = subjectsOf(scenario);
  const resources = probedResources(scenario, reference);
  assertChecksAgree(engine, reference, subjects, resources);
  assertPermissionsOnAgree(engine, reference, subjects, resources);
  assertListsAgree(engine, reference, subjects, scenario.probe);
  assertCanGrantAgree(
    engine,
    reference,
    subjects,
    reference.resources() as ResourceRef[],
    scenario.probe.seed,
  );
}

/** Every (subject, permission, resource) the engine allows, as `subject permission resource` lines. */
function allowedSet(
  engine: Engine,
  subjects: readonly SubjectRef[],
  permissions: readonly string[],
  resources: readonly ResourceRef[],
): Set<string> {
  const allowed = new Set<string>();
  for (const subject of subjects) {
    for (const permission of permissions) {
      for (const resource of resources) {
        if (engine.check(subject, permission, resource).allowed)
          allowed.add(`${subject} ${permission} ${resource}`);
      }
    }
  }
  return allowed;
}

// ---------------------------------------------------------------- incremental updates

interface MutableState {
  /** resource → parent, the root excluded. */
  readonly edges: Map<string, string>;
  grants: ReferenceGrant[];
  memberships: ReferenceMembership[];
  apiKeys: ReferenceApiKey[];
  /** Names of deleted resources, for re-creating one under the same name. */
  readonly deleted: string[];
  created: number;
}

function stateReference(scenario: Scenario, state: MutableState): ReferenceEvaluator {
  return new ReferenceEvaluator({
    model: scenario.definition,
    root: scenario.root,
    resources: [...state.edges].map(([resource, parent]) => ({ resource, parent })),
    grants: state.grants,
    groups: state.memberships,
    apiKeys: state.apiKeys,
    now: NOW,
  });
}

const OPERATION_KINDS = [
  "move",
  "delete",
  "create",
  "addGrant",
  "removeGrant",
  "addMember",
  "removeMember",
  "removeSubject",
  "removeKey",
] as const;

const operationArbitrary = fc.record({
  kind: fc.constantFrom(...OPERATION_KINDS),
  a: fc.nat(),
  b: fc.nat(),
  /** Pick the move's parent among all resources, not only those of an allowed type. */
  anyParent: fc.boolean(),
  grant: grantSpecArbitrary,
});

type Operation = typeof operationArbitrary extends fc.Arbitrary<infer V> ? V : never;

/** Operations that change the tree (and a few grants), for listing between writes. */
const writeArbitrary = fc.record({
  kind: fc.constantFrom("create", "create", "create", "delete", "move", "addGrant", "removeGrant"),
  a: fc.nat(),
  b: fc.nat(),
  anyParent: fc.constant(false),
  grant: grantSpecArbitrary,
});

/** What an operation should do to the revision: grow, stay, or either (no visible change). */
type Expectation = "change" | "noop" | "maybe" | ReadonlySet<ErrorCode>;

interface Step {
  readonly description: string;
  readonly expectation: Expectation;
  readonly run: (engine: Engine) => void;
  /** Applies the change to the reference state; called only when the engine accepted it. */
  readonly apply: () => void;
}

function subtreeOf(reference: ReferenceEvaluator, resource: string): string[] {
  return reference
    .resources()
    .filter((candidate) => reference.pathToRoot(candidate).includes(resource));
}

/** Resolves an operation's random picks against the current state. */
function planStep(scenario: Scenario, state: MutableState, operation: Operation): Step | undefined {
  const definition = scenario.definition;
  const reference = stateReference(scenario, state);
  const all = reference.resources();
  const children = [...state.edges.keys()];
  const allowedParents = (resource: string) => definition.types[typeOf(resource)]?.parents ?? [];
  const { a, b } = operation;
  switch (operation.kind) {
    case "move": {
      if (children.length === 0) return undefined;
      const resource = pick(children, a);
      const candidates = operation.anyParent
        ? all
        : all.filter((candidate) => allowedParents(resource).includes(typeOf(candidate)));
      if (candidates.length === 0) return undefined;
      const parent = pick(candidates, b);
      const invalid =
        !allowedParents(resource).includes(typeOf(parent)) ||
        reference.pathToRoot(parent).includes(resource);
      const expectation: Expectation =
        state.edges.get(resource) === parent
          ? "noop"
          : invalid
            ? new Set([ErrorCode.INVALID_PARENT])
            : "change";
      return {
        description: `moveResource(${resource}, ${parent})`,
        expectation,
        run: (engine) => engine.moveResource(resource as ResourceRef, parent as ResourceRef),
        apply: () => state.edges.set(resource, parent),
      };
    }
    case "delete": {
      if (children.length === 0) return undefined;
      const resource = pick(children, a);
      const removed = subtreeOf(reference, resource);
      const removedGrants = state.grants.filter((grant) => removed.includes(grant.scope));
      return {
        description: `deleteResource(${resource})`,
        expectation: "change",
        run: (engine) => {
          const result = engine.deleteResource(resource as ResourceRef);
          expect([...result.resources].sort()).toEqual([...removed].sort());
          expect(result.grants.map((grant) => `${grant.subject} ${grant.scope}`).sort()).toEqual(
            removedGrants.map((grant) => `${grant.subject} ${grant.scope}`).sort(),
          );
        },
        apply: () => {
          for (const name of removed) state.edges.delete(name);
          state.grants = state.grants.filter((grant) => !removed.includes(grant.scope));
          state.deleted.push(...removed);
        },
      };
    }
    case "create": {
      // Re-create a deleted resource under its old name, or add a fresh one.
      const reusable = state.deleted.filter((name) => !reference.exists(name));
      const childTypes = Object.keys(definition.types).filter(
        (type) => (definition.types[type]?.parents ?? []).length > 0,
      );
      if (childTypes.length === 0) return undefined;
      const resource =
        reusable.length > 0 && b % 2 === 1
          ? pick(reusable, a)
          : `${pick(childTypes, a)}:new${state.created}`;
      const candidates = all.filter((candidate) =>
        allowedParents(resource).includes(typeOf(candidate)),
      );
      if (candidates.length === 0) return undefined;
      const parent = pick(candidates, b);
      return {
        description: `upsertResource(${resource}, ${parent})`,
        expectation: "change",
        run: (engine) => engine.upsertResource(resource as ResourceRef, parent as ResourceRef),
        apply: () => {
          state.edges.set(resource, parent);
          state.created++;
        },
      };
    }
    case "addGrant": {
      const input = resolveGrant(definition, all as ResourceRef[], operation.grant);
      const problems = grantProblems(definition, state.grants, input);
      return {
        description: `addGrant(${JSON.stringify(input)})`,
        expectation: problems.size > 0 ? problems : "change",
        run: (engine) => engine.addGrant(input),
        apply: () => state.grants.push(referenceGrant(input)),
      };
    }
    case "removeGrant": {
      const useExisting = state.grants.length > 0 && b % 5 !== 0;
      const subject = useExisting ? pick(state.grants, a).subject : pick(GRANTEES, a);
      const scope = useExisting ? pick(state.grants, a).scope : pick(all, b);
      const held = state.grants.some((grant) => grant.subject === subject && grant.scope === scope);
      return {
        description: `removeGrant(${subject}, ${scope})`,
        expectation: held ? "change" : new Set([ErrorCode.GRANT_NOT_FOUND]),
        run: (engine) => engine.removeGrant(subject as GranteeRef, scope as ResourceRef),
        apply: () => {
          state.grants = state.grants.filter(
            (grant) => !(grant.subject === subject && grant.scope === scope),
          );
        },
      };
    }
    case "addMember":
    case "removeMember": {
      const group = pick(GROUPS, a);
      const user = pick(USERS, b);
      const isMember = state.memberships.some((m) => m.group === group && m.user === user);
      const adding = operation.kind === "addMember";
      return {
        description: `${adding ? "addGroupMember" : "removeGroupMember"}(${group}, ${user})`,
        expectation: adding === isMember ? "noop" : "change",
        run: (engine) =>
          adding ? engine.addGroupMember(group, user) : engine.removeGroupMember(group, user),
        apply: () => {
          state.memberships = state.memberships.filter(
            (m) => !(m.group === group && m.user === user),
          );
          if (adding) state.memberships.push({ group, user });
        },
      };
    }
    case "removeSubject": {
      const subject = pick(GRANTEES, a);
      const affects =
        state.grants.some((grant) => grant.subject === subject) ||
        state.memberships.some((m) => m.group === subject || m.user === subject) ||
        state.apiKeys.some((key) => key.owner === subject);
      return {
        description: `removeSubject(${subject})`,
        // The engine may count a subject it merely knows (e.g. a former group member) as a change.
        expectation: affects ? "change" : "maybe",
        run: (engine) => engine.removeSubject(subject),
        apply: () => {
          state.grants = state.grants.filter((grant) => grant.subject !== subject);
          state.memberships = state.memberships.filter(
            (m) => m.group !== subject && m.user !== subject,
          );
          state.apiKeys = state.apiKeys.filter((key) => key.owner !== subject);
        },
      };
    }
    case "removeKey": {
      const id = `k${a % 4}`;
      const exists = state.apiKeys.some((key) => key.id === id);
      return {
        description: `removeApiKey(${id})`,
        expectation: exists ? "change" : new Set([ErrorCode.API_KEY_NOT_FOUND]),
        run: (engine) => engine.removeApiKey(id),
        apply: () => {
          state.apiKeys = state.apiKeys.filter((key) => key.id !== id);
        },
      };
    }
  }
}

/** Applies one planned step to the engine and the state, checking refusals and the revision. */
function applyStep(engine: Engine, step: Step): void {
  const before = engine.revision;
  const codes = step.expectation instanceof Set ? step.expectation : new Set<ErrorCode>();
  const accepted = expectOutcome(() => step.run(engine), codes, step.description);
  if (accepted) step.apply();
  const after = engine.revision;
  const ok =
    step.expectation === "change"
      ? after > before
      : step.expectation === "maybe"
        ? after >= before
        : after === before;
  if (!ok) {
    const expected = step.expectation instanceof Set ? "refused" : step.expectation;
    throw new Error(`${step.description} (${expected}): revision went from ${before} to ${after}`);
  }
}

/** A fresh engine built from the state alone, as after a restart. */
function rebuild(scenario: Scenario, state: MutableState): Engine {
  const groups = new Map<`group:${string}`, `user:${string}`[]>();
  for (const { group, user } of state.memberships) {
    const typedGroup = group as `group:${string}`;
    groups.set(typedGroup, [...(groups.get(typedGroup) ?? []), user as `user:${string}`]);
  }
  const reference = stateReference(scenario, state);
  // A key whose constrained resources are all gone works nowhere; one can only register live ones.
  const apiKeys = state.apiKeys.flatMap((key): ApiKeyInput[] => {
    const live = key.resources.filter((resource) => reference.exists(resource));
    if (key.resources.length > 0 && live.length === 0) return [];
    return [{ ...key, owner: key.owner as `user:${string}`, resources: live as ResourceRef[] }];
  });
  return createEngine(scenario.model, {
    workspace: scenario.workspace,
    clock: () => NOW,
    // Reversed, so children often come before their parents.
    resources: [...state.edges].reverse().map(([resource, parent]) => ({
      resource: resource as ResourceRef,
      parent: parent as ResourceRef,
    })),
    groups,
    grants: state.grants.map((grant) => ({
      ...grant,
      subject: grant.subject as GranteeRef,
      scope: grant.scope as ResourceRef,
    })),
    apiKeys,
  });
}

function initialState(scenario: Scenario, workspace: Workspace): MutableState {
  return {
    edges: new Map(scenario.resources.map((edge) => [edge.resource, edge.parent])),
    grants: [...workspace.grants],
    memberships: [...workspace.memberships],
    apiKeys: [...workspace.apiKeys],
    deleted: [],
    created: 0,
  };
}

/**
 * `subjectsWith` against the reference: exactly the users and groups it allows, by name; each
 * subject's `via` exactly the grants allowing it (through the named group for a member), with
 * the latest expiry; and paging with every limit gives the same list.
 */
function assertSubjectsAgree(
  engine: Engine,
  reference: ReferenceEvaluator,
  resources: readonly ResourceRef[],
  probe: Scenario["probe"],
): void {
  const permissions = Object.keys(reference.state.model.permissions);
  for (const permission of permissions) {
    for (const resource of resources) {
      const where = `subjectsWith(${permission}, ${resource})`;
      const expected = reference.subjectsWith(permission, resource);
      const page = engine.subjectsWith(permission, resource);
      const actual = page.items.map((item) => item.subject);
      if (actual.join(" ") !== expected.join(" ") || page.next !== undefined)
        throw new Error(
          `${where}: engine [${actual.join(" ")}], reference [${expected.join(" ")}]`,
        );
      for (const item of page.items) {
        const allowing = reference.grantsAllowing(item.subject, permission, resource);
        if (item.via.length !== allowing.length)
          throw new Error(
            `${where}: ${item.subject} via ${item.via.length} grants, reference ${allowing.length}`,
          );
        for (const path of item.via) {
          const grant = path.grant;
          const holder = path.throughGroup ?? item.subject;
          const member =
            path.throughGroup === undefined ||
            reference.state.groups.some(
              (m) => m.group === path.throughGroup && m.user === item.subject,
            );
          if (grant.subject !== holder || !member || !allowing.some((g) => sameGrant(g, grant)))
            throw new Error(
              `${where}: ${item.subject} via ${JSON.stringify(path)} does not give it`,
            );
          if (path.inherited !== (grant.scope !== resource))
            throw new Error(
              `${where}: ${item.subject} via ${grant.scope} inherited=${path.inherited}`,
            );
        }
        const expiries = allowing.map((g) => g.expiresAt ?? Number.POSITIVE_INFINITY);
        const latest = Math.max(...expiries);
        if ((item.expiresAt ?? Number.POSITIVE_INFINITY) !== latest)
          throw new Error(
            `${where}: ${item.subject} expires ${item.expiresAt}, reference ${latest}`,
          );
      }
      for (const limit of probe.limits) {
        const paged: string[] = [];
        let after: string | undefined;
        for (let pages = 0; ; pages++) {
          if (pages > 100) throw new Error(`${where}: paging did not end`);
          const next = engine.subjectsWith(permission, resource, { limit, after });
          if (next.items.length > limit) throw new Error(`${where}: page exceeds ${limit}`);
          paged.push(...next.items.map((item) => item.subject));
          if (next.next === undefined) break;
          if (next.next !== next.items[next.items.length - 1]?.subject)
            throw new Error(`${where}: next is not the page's last subject`);
          after = next.next;
        }
        if (paged.join(" ") !== expected.join(" "))
          throw new Error(
            `${where} by ${limit}: [${paged.join(" ")}], reference [${expected.join(" ")}]`,
          );
      }
    }
  }
}

// ---------------------------------------------------------------- properties

describe("the engine against the reference evaluator", () => {
  it("agrees on check for random models, naming a live allowing grant on the path as via", {
    timeout: PROPERTY_TIMEOUT,
  }, () => {
    fc.assert(
      fc.property(scenarioArbitrary, (scenario) => {
        const workspace = buildWorkspace(scenario);
        const reference = referenceOf(scenario, workspace);
        assertChecksAgree(
          workspace.engine,
          reference,
          subjectsOf(scenario),
          probedResources(scenario, reference),
        );
      }),
      { numRuns: RUNS.check },
    );
  });

  it("returns exactly the permissions the reference allows on each resource", {
    timeout: PROPERTY_TIMEOUT,
  }, () => {
    fc.assert(
      fc.property(scenarioArbitrary, (scenario) => {
        const workspace = buildWorkspace(scenario);
        const reference = referenceOf(scenario, workspace);
        assertPermissionsOnAgree(
          workspace.engine,
          reference,
          subjectsOf(scenario),
          probedResources(scenario, reference),
        );
      }),
      { numRuns: RUNS.permissionsOn },
    );
  });

  it("answers check and permissionsOn as the reference when the permissions take two words", {
    timeout: PROPERTY_TIMEOUT,
  }, () => {
    fc.assert(
      fc.property(wideScenarioArbitrary, (scenario) => {
        const workspace = buildWorkspace(scenario);
        const reference = referenceOf(scenario, workspace);
        const subjects = subjectsOf(scenario);
        const resources = probedResources(scenario, reference);
        assertChecksAgree(workspace.engine, reference, subjects, resources);
        assertPermissionsOnAgree(workspace.engine, reference, subjects, resources);
      }),
      { numRuns: RUNS.wide },
    );
  });

  it("lists the same visible resources in name order, and pages and cursors give the same list", {
    timeout: PROPERTY_TIMEOUT,
  }, () => {
    fc.assert(
      fc.property(scenarioArbitrary, (scenario) => {
        const workspace = buildWorkspace(scenario);
        const reference = referenceOf(scenario, workspace);
        assertListsAgree(workspace.engine, reference, subjectsOf(scenario), scenario.probe);
      }),
      { numRuns: RUNS.listVisible },
    );
  });

  it("lists and counts a resource's visible children exactly as the reference filters its list by parent, paged", {
    timeout: PROPERTY_TIMEOUT,
  }, () => {
    fc.assert(
      fc.property(scenarioArbitrary, (scenario) => {
        const workspace = buildWorkspace(scenario);
        const reference = referenceOf(scenario, workspace);
        assertChildrenAgree(workspace.engine, reference, subjectsOf(scenario), scenario.probe);
      }),
      { numRuns: RUNS.children },
    );
  });

  it("lists exactly the users and groups the reference allows, each via grants that give it, expiry and groups included", {
    timeout: PROPERTY_TIMEOUT,
  }, () => {
    fc.assert(
      fc.property(scenarioArbitrary, (scenario) => {
        const workspace = buildWorkspace(scenario);
        const reference = referenceOf(scenario, workspace);
        assertSubjectsAgree(
          workspace.engine,
          reference,
          probedResources(scenario, reference),
          scenario.probe,
        );
      }),
      { numRuns: RUNS.subjectsWith },
    );
  });

  it("agrees on who may grant which role and extras where", { timeout: PROPERTY_TIMEOUT }, () => {
    fc.assert(
      fc.property(scenarioArbitrary, (scenario) => {
        const workspace = buildWorkspace(scenario);
        const reference = referenceOf(scenario, workspace);
        const resources = [
          ...(reference.resources() as ResourceRef[]),
          "workspace:elsewhere" as const,
        ];
        assertCanGrantAgree(
          workspace.engine,
          reference,
          subjectsOf(scenario),
          resources,
          scenario.probe.seed,
        );
      }),
      { numRuns: RUNS.canGrant },
    );
  });

  it("refuses a second role for one subject on one resource with ROLE_CONFLICT and changes nothing", {
    timeout: PROPERTY_TIMEOUT,
  }, () => {
    fc.assert(
      fc.property(scenarioArbitrary, fc.nat(), (scenario, seed) => {
        const workspace = buildWorkspace(scenario);
        const { engine } = workspace;
        const definition = scenario.definition;
        const nonOwnerRoles = Object.keys(definition.roles).filter(
          (role) => !isOwnerRole(definition, role),
        );
        for (const [index, grant] of workspace.grants.entries()) {
          const roles = nonOwnerRoles.filter((role) =>
            definition.roles[role]?.scopes.includes(typeOf(grant.scope)),
          );
          if (roles.length === 0) continue;
          const before = engine.revision;
          const input = {
            subject: grant.subject as GranteeRef,
            role: pick(roles, seed + index),
            scope: grant.scope as ResourceRef,
          };
          expect(() => engine.addGrant(input)).toThrow(
            expect.objectContaining({
              code: ErrorCode.ROLE_CONFLICT,
              details: { currentRole: grant.role },
            }),
          );
          expect(engine.revision).toBe(before);
        }
        const reference = referenceOf(scenario, workspace);
        assertChecksAgree(
          engine,
          reference,
          subjectsOf(scenario),
          reference.resources() as ResourceRef[],
        );
      }),
      { numRuns: RUNS.admission },
    );
  });
});

describe("engine invariants on random workspaces", () => {
  it("decides for an API key whose resource was deleted and re-created as a rebuild does", () => {
    // The smallest case the incremental property shrinks to, kept as a fixed example.
    const model = defineModel({
      name: "tiny",
      types: { workspace: {}, server: { parents: ["workspace"] } },
      permissions: { "server.view": { on: "server" }, "team.manage": { on: "workspace" } },
      roles: {
        owner: { owner: true, scopes: ["workspace"] },
        admin: { scopes: ["workspace"], permissions: ["server.view"] },
      },
      delegation: "team.manage",
    });
    const grants = [{ subject: "user:cy", role: "admin", scope: "workspace:acme" }] as const;
    const key = {
      id: "k0",
      owner: "user:cy" as const,
      scopes: ["server.view"],
      resources: ["server:a" as const],
    };
    const engine = createEngine(model, {
      workspace: "acme",
      resources: [{ resource: "server:a", parent: "workspace:acme" }],
      grants,
      apiKeys: [key],
    });
    engine.deleteResource("server:a");
    engine.upsertResource("server:a", "workspace:acme");
    const rebuilt = createEngine(model, {
      workspace: "acme",
      resources: [{ resource: "server:a", parent: "workspace:acme" }],
      grants,
      apiKeys: [engine.apiKey("k0")!],
    });
    expect(engine.apiKey("k0")?.resources).toEqual(["server:a"]);
    expect(engine.check("apikey:k0", "server.view", "server:a").allowed).toBe(
      rebuilt.check("apikey:k0", "server.view", "server:a").allowed,
    );
  });

  it("never adds a permission when a grant is removed", { timeout: PROPERTY_TIMEOUT }, () => {
    fc.assert(
      fc.property(
        scenarioArbitrary,
        fc.array(fc.nat(), { minLength: 1, maxLength: 3 }),
        (scenario, picks) => {
          const { engine, grants } = buildWorkspace(scenario);
          const subjects = subjectsOf(scenario);
          const permissions = Object.keys(scenario.definition.permissions);
          const resources = [scenario.root, ...scenario.resources.map((edge) => edge.resource)];
          let before = allowedSet(engine, subjects, permissions, resources);
          let remaining = [...grants];
          for (const index of picks) {
            if (remaining.length === 0) break;
            const grant = pick(remaining, index);
            engine.removeGrant(grant.subject as GranteeRef, grant.scope as ResourceRef);
            remaining = remaining.filter((candidate) => candidate !== grant);
            const after = allowedSet(engine, subjects, permissions, resources);
            for (const line of after) {
              if (!before.has(line))
                throw new Error(
                  `removing ${grant.subject}'s grant on ${grant.scope} allowed ${line}`,
                );
            }
            before = after;
          }
        },
      ),
      { numRuns: RUNS.removal },
    );
  });

  it("never lets an API key exceed its owner", { timeout: PROPERTY_TIMEOUT }, () => {
    fc.assert(
      fc.property(scenarioArbitrary, (scenario) => {
        const { engine, apiKeys } = buildWorkspace(scenario);
        const permissions = Object.keys(scenario.definition.permissions);
        const resources = [scenario.root, ...scenario.resources.map((edge) => edge.resource)];
        const types = Object.keys(scenario.definition.types);
        for (const key of apiKeys) {
          const subject: SubjectRef = `apikey:${key.id}`;
          const owner = key.owner as SubjectRef;
          for (const resource of resources) {
            for (const permission of permissions) {
              if (
                engine.check(subject, permission, resource).allowed &&
                !engine.check(owner, permission, resource).allowed
              ) {
                throw new Error(
                  `${subject} may ${permission} on ${resource}, its owner ${owner} may not`,
                );
              }
            }
            const ownerHolds = new Set(engine.permissionsOn(owner, resource));
            for (const permission of engine.permissionsOn(subject, resource)) {
              if (!ownerHolds.has(permission))
                throw new Error(`${subject} holds ${permission} on ${resource} beyond its owner`);
            }
          }
          for (const type of types) {
            for (const permission of permissions) {
              const ownerSees = new Set(engine.listVisible(owner, type, permission).items);
              for (const item of engine.listVisible(subject, type, permission).items) {
                if (!ownerSees.has(item))
                  throw new Error(`${subject} lists ${item} for ${permission}, its owner does not`);
              }
            }
          }
        }
      }),
      { numRuns: RUNS.apiKeys },
    );
  });

  it("keeps one workspace's decisions unaffected by another workspace's grants on overlapping ids", {
    timeout: PROPERTY_TIMEOUT,
  }, () => {
    fc.assert(
      fc.property(
        scenarioArbitrary,
        fc.array(grantSpecArbitrary, { maxLength: 12 }),
        fc.array(grantSpecArbitrary, { maxLength: 6 }),
        (scenario, otherSpecs, laterSpecs) => {
          const first = buildWorkspace(scenario);
          const reference = referenceOf(scenario, first);
          // The second workspace: same model, same resource ids under its own root.
          const otherRoot: ResourceRef = `workspace:other-${scenario.workspace}`;
          const otherResources = scenario.resources.map((edge) => ({
            resource: edge.resource,
            parent: edge.parent === scenario.root ? otherRoot : edge.parent,
          }));
          // Plus a resource the first workspace does not have.
          const topType = Object.keys(scenario.definition.types).find((type) =>
            (scenario.definition.types[type]?.parents ?? []).includes("workspace"),
          );
          if (topType !== undefined)
            otherResources.push({ resource: `${topType}:only-other`, parent: otherRoot });
          const second = createEngine(scenario.model, {
            workspace: `other-${scenario.workspace}`,
            clock: () => NOW,
            resources: otherResources,
          });
          const otherAll: ResourceRef[] = [
            otherRoot,
            ...otherResources.map((edge) => edge.resource),
          ];
          const addTo = (specs: typeof otherSpecs) => {
            for (const spec of specs) {
              try {
                second.addGrant(resolveGrant(scenario.definition, otherAll, spec));
              } catch (error) {
                if (!(error instanceof GatehouseError)) throw error;
              }
            }
          };
          addTo(otherSpecs);
          const subjects = subjectsOf(scenario);
          const resources = [
            ...probedResources(scenario, reference),
            ...otherAll.filter((name) => !reference.exists(name)),
          ];
          assertChecksAgree(first.engine, reference, subjects, resources);
          assertPermissionsOnAgree(first.engine, reference, subjects, resources);
          // Later changes in the second workspace still leave the first alone.
          addTo(laterSpecs);
          for (const grant of [...second.grants()].slice(0, 3))
            second.removeGrant(grant.subject, grant.scope);
          if (scenario.resources.length > 0) second.deleteResource(scenario.resources[0]!.resource);
          assertChecksAgree(first.engine, reference, subjects, resources);
          assertListsAgree(first.engine, reference, subjects, scenario.probe);
        },
      ),
      { numRuns: RUNS.workspaces },
    );
  });

  it("gives the same decisions after incremental updates as a rebuild from the resulting state", {
    timeout: PROPERTY_TIMEOUT,
  }, () => {
    fc.assert(
      fc.property(
        scenarioArbitrary,
        fc.array(operationArbitrary, { minLength: 1, maxLength: 12 }),
        (scenario, operations) => {
          const workspace = buildWorkspace(scenario);
          const { engine } = workspace;
          const state = initialState(scenario, workspace);
          for (const operation of operations) {
            const step = planStep(scenario, state, operation);
            if (step !== undefined) applyStep(engine, step);
          }
          const reference = stateReference(scenario, state);
          const rebuilt = rebuild(scenario, state);
          const grantKeys = (list: Iterable<{ subject: string; scope: string; role: string }>) =>
            [...list].map((grant) => `${grant.subject} ${grant.role} ${grant.scope}`).sort();
          // A temporary grant past its end reads as its fallback.
          const inForce = state.grants.map((grant) => grantInForce(grant, NOW) ?? grant);
          expect(grantKeys(engine.grants())).toEqual(grantKeys(inForce));
          expect(engine.resourceCount).toBe(state.edges.size + 1);
          for (const [resource, parent] of state.edges)
            expect(engine.parentOf(resource as ResourceRef)).toBe(parent);
          for (const group of GROUPS) {
            const expected = state.memberships
              .filter((m) => m.group === group)
              .map((m) => m.user)
              .sort();
            expect([...engine.membersOf(group)].sort()).toEqual(expected);
          }
          assertAgreesEverywhere(engine, reference, scenario);
          assertAgreesEverywhere(rebuilt, reference, scenario);
          // A snapshot after deletes and moves (nodes renumbered) decides as the engine it came from.
          const restored = Engine.fromSnapshot(scenario.model, engine.snapshot(), {
            workspace: scenario.workspace,
            clock: () => NOW,
          });
          expect(restored.revision).toBe(engine.revision);
          assertAgreesEverywhere(restored, reference, scenario);
        },
      ),
      { numRuns: RUNS.incremental },
    );
  });

  it("builds the same workspace from store rows (loadGrants) and from a snapshot as grant by grant", {
    timeout: PROPERTY_TIMEOUT,
  }, () => {
    fc.assert(
      fc.property(scenarioArbitrary, (scenario) => {
        const workspace = buildWorkspace(scenario);
        const reference = referenceOf(scenario, workspace);
        const groups = new Map<`group:${string}`, `user:${string}`[]>();
        for (const { group, user } of scenario.memberships)
          groups.set(group, [...(groups.get(group) ?? []), user]);
        const bulk = createEngine(scenario.model, {
          workspace: scenario.workspace,
          clock: () => NOW,
          resources: scenario.resources,
          groups,
        });
        // The bulk path refuses exactly what addGrant refuses, with the same codes.
        const accepted: ReferenceGrant[] = [];
        for (const input of scenario.grants) {
          const row = [
            input.subject,
            input.scope,
            input.role,
            input.extras,
            input.expiresAt,
            input.note,
            input.fallback,
          ] as const;
          const problems = grantProblems(scenario.definition, accepted, input);
          if (
            expectOutcome(
              () => bulk.loadGrants([row]),
              problems,
              `loadGrants ${JSON.stringify(row)}`,
            )
          )
            accepted.push(referenceGrant(input));
        }
        for (const key of workspace.apiKeys)
          bulk.addApiKey({
            ...key,
            owner: key.owner as `user:${string}`,
            resources: key.resources as ResourceRef[],
          });
        assertAgreesEverywhere(bulk, reference, scenario);

        const bytes = workspace.engine.snapshot();
        const restored = Engine.fromSnapshot(scenario.model, bytes, {
          workspace: scenario.workspace,
          clock: () => NOW,
        });
        assertAgreesEverywhere(restored, reference, scenario);
        expect(restored.revision).toBe(workspace.engine.revision);
        expect(restored.snapshot()).toEqual(bytes);
      }),
      { numRuns: RUNS.snapshot },
    );
  });

  it("answers from a restored engine written to before its grants are read as the engine it came from (issue 17)", {
    timeout: PROPERTY_TIMEOUT,
  }, () => {
    fc.assert(
      fc.property(
        scenarioArbitrary,
        fc.array(operationArbitrary, { minLength: 1, maxLength: 12 }),
        (scenario, operations) => {
          const workspace = buildWorkspace(scenario);
          const { engine } = workspace;
          // Restored grants stay in the snapshot's columns until read: write first, read after.
          const bytes = engine.snapshot();
          const restored = Engine.fromSnapshot(scenario.model, bytes, {
            workspace: scenario.workspace,
            clock: () => NOW,
          });
          // Encoded again straight from the columns, and forked (the same path).
          expect(restored.snapshot()).toEqual(bytes);
          expect(restored.fork().snapshot()).toEqual(bytes);
          // The same counts; the estimate differs (grants still in the columns weigh less).
          expect(counts(restored)).toEqual(counts(engine));
          expect(restored.ownerGrant).toEqual(engine.ownerGrant);
          const state = initialState(scenario, workspace);
          for (const operation of operations) {
            const step = planStep(scenario, state, operation);
            if (step === undefined) continue;
            applyStep(restored, step);
            const refusals =
              step.expectation instanceof Set ? step.expectation : new Set<ErrorCode>();
            expectOutcome(() => step.run(engine), refusals, step.description);
          }
          expect(restored.revision).toBe(engine.revision);
          expect(counts(restored)).toEqual(counts(engine));
          const reference = stateReference(scenario, state);
          const subjects = subjectsOf(scenario);
          const resources = probedResources(scenario, reference);
          // Reads that build the records of the holders at some nodes, of one principal, of all.
          for (const resource of resources.slice(-2))
            for (const permission of Object.keys(scenario.definition.permissions))
              expect(restored.subjectsWith(permission, resource)).toEqual(
                engine.subjectsWith(permission, resource),
              );
          for (const resource of resources)
            expect(restored.subjectsAt(resource)).toEqual(engine.subjectsAt(resource));
          for (const subject of subjects) {
            if (subject.startsWith("apikey:")) continue;
            const grantee = subject as GranteeRef;
            expect(restored.grantsOf(grantee)).toEqual(engine.grantsOf(grantee));
            for (const resource of resources.slice(0, 3))
              for (const permission of Object.keys(scenario.definition.permissions))
                expect(restored.explain(subject, permission, resource)).toEqual(
                  engine.explain(subject, permission, resource),
                );
          }
          assertAgreesEverywhere(restored, reference, scenario);
          assertSubjectsAgree(restored, reference, resources, scenario.probe);
          expect(restored.snapshot()).toEqual(engine.snapshot());
        },
      ),
      { numRuns: RUNS.incremental },
    );
  });

  it("refuses a snapshot of another workspace, model or format, and damaged bytes", () => {
    fc.assert(
      fc.property(scenarioArbitrary, fc.nat(), (scenario, at) => {
        const bytes = buildWorkspace(scenario).engine.snapshot();
        const load =
          (data: Uint8Array, workspace = scenario.workspace, model = scenario.model) =>
          () =>
            Engine.fromSnapshot(model, data, { workspace, clock: () => NOW });
        const refused = { code: ErrorCode.INVALID_INPUT };
        expect(load(bytes, "elsewhere")).toThrow(expect.objectContaining(refused));
        const other = defineModel({
          ...scenario.definition,
          name: `${scenario.definition.name}-2`,
        });
        expect(load(bytes, scenario.workspace, other)).toThrow(expect.objectContaining(refused));
        const format = bytes.slice();
        format[4] = 99;
        expect(load(format)).toThrow(expect.objectContaining(refused));
        // Cut anywhere (half written) or with bytes after it, it is refused. (Changed bytes are the
        // store's to detect: it keeps a checksum beside the snapshot.)
        expect(load(bytes.slice(0, at % bytes.length))).toThrow(expect.objectContaining(refused));
        expect(load(new Uint8Array([...bytes, 0, 0, 0, 0, 0, 0, 0, 0]))).toThrow(
          expect.objectContaining(refused),
        );
      }),
      { numRuns: RUNS.snapshot },
    );
  });

  it("keeps every type in name order when resources are created, deleted and listed in turn", {
    timeout: PROPERTY_TIMEOUT,
  }, () => {
    fc.assert(
      fc.property(
        scenarioArbitrary,
        fc.array(writeArbitrary, { minLength: 1, maxLength: 16 }),
        (scenario, operations) => {
          const workspace = buildWorkspace(scenario);
          const { engine } = workspace;
          const state = initialState(scenario, workspace);
          const subjects = subjectsOf(scenario);
          const types = Object.keys(scenario.definition.types);
          for (const operation of operations) {
            const step = planStep(scenario, state, operation);
            if (step === undefined) continue;
            applyStep(engine, step);
            // Read after every write, so each write meets an order already settled.
            const reference = stateReference(scenario, state);
            for (const type of types) {
              const expected = reference
                .resources()
                .filter((resource) => typeOf(resource) === type)
                .sort(compareNames);
              expect(engine.resourcesOfType(type).items).toEqual(expected);
            }
            const subject = pick(subjects, operation.a + operation.b);
            assertListsAgree(engine, reference, [subject], scenario.probe);
          }
        },
      ),
      { numRuns: RUNS.interleaved },
    );
  });

  it("increases the revision with each applied change and keeps it for no-ops and refusals", {
    timeout: PROPERTY_TIMEOUT,
  }, () => {
    fc.assert(
      fc.property(
        scenarioArbitrary,
        fc.array(operationArbitrary, { minLength: 1, maxLength: 25 }),
        (scenario, operations) => {
          const workspace = buildWorkspace(scenario);
          const state = initialState(scenario, workspace);
          for (const operation of operations) {
            const step = planStep(scenario, state, operation);
            if (step !== undefined) applyStep(workspace.engine, step);
          }
        },
      ),
      { numRuns: RUNS.revision },
    );
  });
});
