/**
 * The access diff against the reference evaluator: for random workspaces and random lists of change
 * ops, who gains and loses what where equals the difference of the reference's answers before and
 * after the ops, and the engine asked is left as it was.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { accessDiff } from "../src/changes/access-diff.ts";
import { applyOps, type ChangeOp } from "../src/changes/change-op.ts";
import { createEngine, type Engine } from "../src/engine/engine.ts";
import type { ApiKeyInput, GranteeRef, ResourceRef, SubjectRef } from "../src/engine/types.ts";
import { ErrorCode, GatehouseError } from "../src/errors.ts";
import { mzpanel } from "../src/presets/mzpanel.ts";
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
} from "./random-workspace.ts";
import {
  type ReferenceApiKey,
  ReferenceEvaluator,
  type ReferenceGrant,
  type ReferenceMembership,
  typeOf,
} from "./reference-evaluator.ts";

/** The workspace as the reference reads it, changed op by op alongside the engine's fork. */
interface State {
  readonly edges: Map<string, string>;
  grants: ReferenceGrant[];
  memberships: ReferenceMembership[];
  apiKeys: ReferenceApiKey[];
}

function referenceOf(scenario: Scenario, state: State): ReferenceEvaluator {
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

/** The engine of a scenario, keeping the grants and keys it accepts, and the same state for the reference. */
function build(scenario: Scenario): { engine: Engine; state: State } {
  const groups = new Map<`group:${string}`, `user:${string}`[]>();
  for (const { group, user } of scenario.memberships)
    groups.set(group, [...(groups.get(group) ?? []), user]);
  const engine = createEngine(scenario.model, {
    workspace: scenario.workspace,
    clock: () => NOW,
    resources: scenario.resources,
    groups,
  });
  const state: State = {
    edges: new Map(scenario.resources.map((edge) => [edge.resource, edge.parent])),
    grants: [],
    memberships: [...scenario.memberships],
    apiKeys: [],
  };
  for (const input of scenario.grants) {
    if (!applies(() => engine.addGrant(input))) continue;
    state.grants.push({ ...input, extras: input.extras ?? [], expiresAt: input.expiresAt });
  }
  for (const input of scenario.apiKeys) {
    if (applies(() => engine.addApiKey(input))) state.apiKeys.push(referenceKey(input));
  }
  return { engine, state };
}

function referenceKey(input: ApiKeyInput): ReferenceApiKey {
  return { ...input, resources: input.resources ?? [], expiresAt: input.expiresAt };
}

function applies(change: () => void): boolean {
  try {
    change();
    return true;
  } catch (error) {
    if (error instanceof GatehouseError) return false;
    throw error;
  }
}

const OP_KINDS = [
  "resource.upsert",
  "resource.upsert",
  "resource.delete",
  "grant.add",
  "grant.remove",
  "subject.remove",
  "group.add_member",
  "group.remove_member",
  "key.add",
  "key.remove",
] as const;

const opSpecArbitrary = fc.record({
  kind: fc.constantFrom(...OP_KINDS),
  a: fc.nat(),
  b: fc.nat(),
  grant: grantSpecArbitrary,
});

type OpSpec = typeof opSpecArbitrary extends fc.Arbitrary<infer V> ? V : never;

/** One change op from random picks, resolved against the state (some do not apply). */
function opOf(scenario: Scenario, state: State, spec: OpSpec, index: number): ChangeOp {
  const all = [scenario.root, ...state.edges.keys()] as ResourceRef[];
  const children = [...state.edges.keys(), `${typeOf(pick(all, spec.b))}:new${index}`];
  const { a, b } = spec;
  switch (spec.kind) {
    case "resource.upsert":
      return {
        op: spec.kind,
        resource: pick(children, a) as ResourceRef,
        parent: pick(all, b),
      };
    case "resource.delete":
      return { op: spec.kind, resource: pick(all.slice(1).length > 0 ? all.slice(1) : all, a) };
    case "grant.add":
      return { op: spec.kind, grant: resolveGrant(scenario.definition, all, spec.grant) };
    case "grant.remove": {
      const held = state.grants.length > 0 && b % 4 !== 0 ? pick(state.grants, a) : undefined;
      return {
        op: spec.kind,
        subject: (held?.subject ?? pick(GRANTEES, a)) as GranteeRef,
        scope: (held?.scope ?? pick(all, b)) as ResourceRef,
      };
    }
    case "subject.remove":
      return { op: spec.kind, subject: pick(GRANTEES, a) };
    case "group.add_member":
    case "group.remove_member":
      return { op: spec.kind, group: pick(GROUPS, a), user: pick(USERS, b) };
    case "key.add": {
      const permissions = Object.keys(scenario.definition.permissions);
      return {
        op: spec.kind,
        key: {
          id: `n${index}`,
          owner: pick(USERS, a),
          scopes: b % 3 === 0 ? ["*"] : [pick(permissions, b)],
          resources: b % 2 === 0 ? [] : [pick(all, a + b)],
        },
      };
    }
    case "key.remove":
      return {
        op: spec.kind,
        id: state.apiKeys.length > 0 ? pick(state.apiKeys, a).id : "none",
      };
  }
}

/** What the op does to the reference's state, as the store would record it. */
function applyToState(state: State, change: ChangeOp): void {
  switch (change.op) {
    case "resource.upsert":
      state.edges.set(change.resource, change.parent);
      break;
    case "resource.delete": {
      // Everything whose chain of parents reaches the deleted resource.
      const isUnder = (resource: string): boolean =>
        resource === change.resource ||
        (state.edges.has(resource) && isUnder(state.edges.get(resource)!));
      const removed = [...state.edges.keys()].filter(isUnder);
      for (const resource of removed) state.edges.delete(resource);
      state.grants = state.grants.filter((grant) => !removed.includes(grant.scope));
      break;
    }
    case "grant.add":
      state.grants.push({
        ...change.grant,
        extras: change.grant.extras ?? [],
        expiresAt: change.grant.expiresAt,
      });
      break;
    case "grant.remove":
      state.grants = state.grants.filter(
        (grant) => !(grant.subject === change.subject && grant.scope === change.scope),
      );
      break;
    case "subject.remove":
      state.grants = state.grants.filter((grant) => grant.subject !== change.subject);
      state.memberships = state.memberships.filter(
        (m) => m.group !== change.subject && m.user !== change.subject,
      );
      state.apiKeys = state.apiKeys.filter((key) => key.owner !== change.subject);
      break;
    case "group.add_member":
    case "group.remove_member":
      state.memberships = state.memberships.filter(
        (m) => !(m.group === change.group && m.user === change.user),
      );
      if (change.op === "group.add_member") state.memberships.push(change);
      break;
    case "key.add":
      state.apiKeys.push(referenceKey(change.key));
      break;
    case "key.remove":
      state.apiKeys = state.apiKeys.filter((key) => key.id !== change.id);
      break;
    case "workspace.close":
      break;
  }
}

function cloneState(state: State): State {
  return {
    edges: new Map(state.edges),
    grants: [...state.grants],
    memberships: [...state.memberships],
    apiKeys: [...state.apiKeys],
  };
}

/** "subject resource +gained -lost" lines, for comparing diffs regardless of order. */
function lines(
  changes: readonly {
    subject: string;
    resource: string;
    gained: readonly string[];
    lost: readonly string[];
  }[],
): string[] {
  return changes
    .map(
      (change) =>
        `${change.subject} ${change.resource} +${[...change.gained].sort().join(",")} -${[...change.lost].sort().join(",")}`,
    )
    .sort();
}

describe("accessDiff", () => {
  it("equals the difference of the reference evaluator's answers before and after the ops", () => {
    fc.assert(
      fc.property(
        scenarioArbitrary,
        fc.array(opSpecArbitrary, { minLength: 1, maxLength: 6 }),
        (scenario, specs) => {
          const { engine, state: before } = build(scenario);
          // Keep the ops that apply, in order, as the service only records ops that do.
          const after = cloneState(before);
          let trial = engine.fork();
          const ops: ChangeOp[] = [];
          specs.forEach((spec, index) => {
            const change = opOf(scenario, after, spec, index);
            const next = trial.fork();
            if (!applies(() => applyOps(next, [change]))) return;
            trial = next;
            ops.push(change);
            applyToState(after, change);
          });
          const revision = engine.revision;
          const diff = accessDiff(engine, ops);

          const was = referenceOf(scenario, before);
          const now = referenceOf(scenario, after);
          const keyIds = new Set([...before.apiKeys, ...after.apiKeys].map((key) => key.id));
          const subjects: SubjectRef[] = [
            ...USERS,
            ...GROUPS,
            ...[...keyIds].map((id): SubjectRef => `apikey:${id}`),
          ];
          const resources = [...new Set([...was.resources(), ...now.resources()])];
          const expected = subjects.flatMap((subject) =>
            resources.flatMap((resource) => {
              const held = was.permissionsOn(subject, resource);
              const holds = now.permissionsOn(subject, resource);
              const gained = holds.filter((permission) => !held.includes(permission));
              const lost = held.filter((permission) => !holds.includes(permission));
              return gained.length > 0 || lost.length > 0
                ? [{ subject, resource, gained, lost }]
                : [];
            }),
          );
          expect(lines(diff.changes)).toEqual(lines(expected));
          // The engine asked is untouched: same revision, same answers as before the ops.
          expect(engine.revision).toBe(revision);
          for (const subject of subjects)
            for (const resource of was.resources())
              expect([...engine.permissionsOn(subject, resource as ResourceRef)].sort()).toEqual(
                was.permissionsOn(subject, resource).sort(),
              );
        },
      ),
      { numRuns: propertyRuns(1000) },
    );
  });

  it("names who loses what when a site moves to another server", () => {
    const engine = createEngine(mzpanel, { workspace: "acme" });
    engine.upsertResource("server:s1", "workspace:acme");
    engine.upsertResource("server:s2", "workspace:acme");
    engine.upsertResource("site:shop", "server:s1");
    engine.addGrant({ subject: "user:olga", role: "operator", scope: "server:s1" });
    const { changes } = accessDiff(engine, [
      { op: "resource.upsert", resource: "site:shop", parent: "server:s2" },
    ]);
    expect(changes.map((change) => [change.subject, change.resource, change.gained])).toEqual([
      ["user:olga", "site:shop", []],
    ]);
    expect(changes[0]?.lost).toContain("site.deploy");
    expect(engine.parentOf("site:shop")).toBe("server:s1");
  });

  it("refuses past its limit with ACCESS_DIFF_TOO_LARGE, and as applyOps when an op does not apply", () => {
    const engine = createEngine(mzpanel, { workspace: "acme" });
    engine.upsertResource("server:s1", "workspace:acme");
    for (let index = 0; index < 20; index++) engine.upsertResource(`site:s${index}`, "server:s1");
    engine.addGrant({ subject: "user:olga", role: "operator", scope: "server:s1" });
    const remove: ChangeOp = { op: "grant.remove", subject: "user:olga", scope: "server:s1" };
    expect(accessDiff(engine, [remove]).changes).toHaveLength(21);
    expect(() => accessDiff(engine, [remove], { limit: 10 })).toThrow(
      expect.objectContaining({ code: ErrorCode.ACCESS_DIFF_TOO_LARGE }),
    );
    expect(() => accessDiff(engine, [remove, remove])).toThrow(
      expect.objectContaining({ code: ErrorCode.GRANT_NOT_FOUND }),
    );
    expect(engine.grantsOf("user:olga")).toHaveLength(1);
  });
});
