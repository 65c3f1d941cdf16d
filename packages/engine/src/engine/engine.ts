import type { Model } from "../model/define-model.ts";
import { canGrant, decide, reaches } from "./check.ts";
import { explain } from "./explain.ts";
import { countVisibleChildren, listVisible, permissionsOn } from "./list.ts";
import { invalid, requireNode } from "./names.ts";
import {
  addApiKey,
  addGroupMember,
  allGrants,
  apiKeyById,
  grantsOf,
  insertGrant,
  loadGrantRows,
  membersOf,
  prepareApiKey,
  prepareGrant,
  removeApiKey,
  removeGrant,
  removeGroupMember,
  removeSubject,
} from "./principals.ts";
import { encodeSnapshot, encodeSnapshotSteps, restoreSnapshot } from "./snapshot.ts";
import { EngineState, estimatedBytes, NO_PARENT } from "./state.ts";
import { subjectsAt, subjectsWith } from "./subjects.ts";
import {
  addNode,
  countChildren,
  deleteResource,
  loadResources,
  parentOf,
  placement,
  resourcesOfType,
  subtreeOf,
  upsertResource,
} from "./tree.ts";
import type {
  ApiKey,
  ApiKeyInput,
  Decision,
  Explanation,
  Grant,
  GranteeRef,
  GrantInput,
  GrantRow,
  Page,
  PageRequest,
  ResourceInput,
  ResourceRef,
  SubjectPage,
  SubjectPageRequest,
  SubjectRef,
} from "./types.ts";

export interface EngineOptions<
  T extends string = string,
  P extends string = string,
  R extends string = string,
> {
  /** The workspace id; the root resource is `<root type>:<workspace>`. */
  readonly workspace: string;
  /** Current time in epoch ms, consulted only for grants and keys that expire. Defaults to `Date.now`. */
  readonly clock?: () => number;
  /**
   * A page of `listVisible` collects and sorts the covered resources while there are at most this
   * many (default 2048); past that it reads the type's sorted list instead. A tuning knob.
   */
  readonly gatherLimit?: number;
  /** Starting revision (e.g. the stored workspace revision); defaults to 0. */
  readonly revision?: number;
  /** Initial resources, in any order. */
  readonly resources?: Iterable<ResourceInput<T>>;
  /** Initial group memberships: group → users. */
  readonly groups?: Iterable<readonly [`group:${string}`, Iterable<`user:${string}`>]>;
  readonly grants?: Iterable<GrantInput<T, P, R>>;
  readonly apiKeys?: Iterable<ApiKeyInput<T>>;
}

/** What `Engine.footprint` answers. */
export interface EngineFootprint {
  readonly resources: number;
  readonly subjects: number;
  readonly grants: number;
  /** About how much heap the engine retains, in bytes. */
  readonly estimatedBytes: number;
}

/**
 * One workspace's authorization state: its resource tree, grants, groups and API keys, answering
 * decisions in memory. Pure: no I/O; time comes from the injected clock. The work is done by one
 * file per concern over the shared `EngineState`: `tree.ts`, `principals.ts`, `check.ts`,
 * `list.ts` and `explain.ts`; this class types their answers for the model.
 * @example
 * const engine = createEngine(mzpanel, { workspace: "acme" });
 * engine.upsertResource("server:s1", "workspace:acme");
 * engine.upsertResource("site:shop", "server:s1");
 * engine.addGrant({ subject: "user:carol", role: "customer", scope: "site:shop" });
 * engine.check("user:carol", "site.files.manage", "site:shop").allowed; // true
 */
export class Engine<
  T extends string = string,
  P extends string = string,
  R extends string = string,
> {
  readonly model: Model<T, P, R>;
  /** The workspace's root resource, e.g. `workspace:acme`. */
  readonly root: ResourceRef<T>;
  readonly #state: EngineState;

  constructor(model: Model<T, P, R>, options: EngineOptions<T, P, R>) {
    if (typeof options.workspace !== "string" || options.workspace === "")
      throw invalid("workspace id must be a non-empty string");
    this.model = model;
    const state = new EngineState(model.compiled, {
      clock: options.clock,
      gatherLimit: options.gatherLimit,
      revision: options.revision,
    });
    this.#state = state;
    this.root = `${model.rootType}:${options.workspace}` as ResourceRef<T>;
    addNode(state, this.root, state.model.rootType, NO_PARENT);
    if (options.resources !== undefined) loadResources(state, options.resources);
    for (const [group, users] of options.groups ?? [])
      for (const user of users) addGroupMember(state, group, user);
    if (options.grants !== undefined) this.addGrants(options.grants);
    for (const key of options.apiKeys ?? []) addApiKey(state, key);
    state.revision = options.revision ?? 0;
  }

  /**
   * Rebuilds an engine from `Engine.snapshot` bytes without a per-grant input or check: what a
   * store persists so that a large workspace loads fast. The bytes must come from the same model
   * (definition) and workspace and this snapshot format; otherwise, or when they are damaged, it
   * throws `INVALID_INPUT` (load from the source instead).
   * @example
   * const engine = Engine.fromSnapshot(model, bytes, { workspace: "acme" });
   */
  static fromSnapshot<T extends string, P extends string, R extends string>(
    model: Model<T, P, R>,
    bytes: Uint8Array,
    options: Pick<EngineOptions<T, P, R>, "workspace" | "clock" | "gatherLimit">,
  ): Engine<T, P, R> {
    const engine = new Engine(model, options);
    restoreSnapshot(engine.#state, JSON.stringify(model.definition), bytes);
    return engine;
  }

  /**
   * The engine as compact bytes (typed arrays and one string table) for `Engine.fromSnapshot`,
   * with its revision. Deleted resources' slots are dropped and nodes renumbered.
   */
  snapshot(): Uint8Array {
    return encodeSnapshot(this.#state, JSON.stringify(this.model.definition));
  }

  /**
   * `snapshot` in slices: each `next()` encodes a few thousand items, the last returns the bytes.
   * Run it between other work; the bytes are this engine's only if `revision` did not change
   * from the first slice to the last.
   * @example
   * const steps = engine.snapshotSteps();
   * for (let step = steps.next(); ; step = steps.next()) { if (step.done) return step.value; await tick(); }
   */
  snapshotSteps(): Generator<void, Uint8Array> {
    return encodeSnapshotSteps(this.#state, JSON.stringify(this.model.definition));
  }

  /** Increases with every change to the tree, the grants, the groups or the keys. */
  get revision(): number {
    return this.#state.revision;
  }

  // ---------------------------------------------------------------- decisions

  /**
   * May `subject` use `permission` on `resource`? Held at an ancestor, a permission holds below;
   * nothing leaks upward.
   * @example
   * const decision = engine.check("user:olga", "site.deploy", "site:shop");
   * if (!decision.allowed) console.log(decision.reason); // "no_grant"
   */
  check(subject: SubjectRef, permission: P, resource: ResourceRef<T>): Decision<T, P, R> {
    return decide(this.#state, subject, permission, resource, true) as Decision<T, P, R>;
  }

  /**
   * Whether `subject` holds `permission` through a grant at `resource` or above, whatever types the
   * permission acts on: the question for workflow gates such as people management at a scope.
   * @example
   * engine.holds("user:ada", "permissions.manage", "customer:c1");
   */
  holds(subject: SubjectRef, permission: P, resource: ResourceRef<T>): Decision<T, P, R> {
    return decide(this.#state, subject, permission, resource, false) as Decision<T, P, R>;
  }

  /**
   * Whether `resource` is within the subject's reach: it lies at or below a live grant of theirs (or,
   * for a key, of its owner, inside the key's resources); the workspace root is within reach of
   * anyone holding a grant. Outside it, a resource answers as if it did not exist (nothing leaks
   * upward): a site grant does not reveal the server.
   * @example
   * engine.reaches("user:carol", "server:s1"); // false for a customer of one of its sites
   */
  reaches(subject: SubjectRef, resource: ResourceRef<T>): boolean {
    return reaches(this.#state, subject, resource);
  }

  /**
   * Every permission `subject` holds on `resource`, in one call: exactly those for which `check`
   * allows. Empty for unknown resources.
   * @example
   * engine.permissionsOn("user:carol", "site:shop"); // ["site.view", "site.files.manage", ...]
   */
  permissionsOn(subject: SubjectRef, resource: ResourceRef<T>): readonly P[] {
    return permissionsOn(this.#state, subject, resource) as readonly P[];
  }

  /**
   * The resources of `type` on which `subject` holds `permission`, found by expanding the subject's
   * own grants down the tree (never by checking every resource). Sorted by name; page with `after`;
   * `parent` keeps one resource's children (throws RESOURCE_NOT_FOUND for an unknown parent).
   * @example
   * const { items, next } = engine.listVisible("user:olga", "site", "site.view", { limit: 100 });
   * engine.listVisible("user:olga", "site", "site.view", { parent: "server:fra-1", limit: 20 });
   */
  listVisible(subject: SubjectRef, type: T, permission: P, page: PageRequest<T> = {}): Page<T> {
    return listVisible(this.#state, subject, type, permission, page) as Page<T>;
  }

  /**
   * How many children of `type` each of `parents` has on which `subject` holds `permission` — what
   * `listVisible` with `parent` would list, counted for many parents at once (0 for an unknown one).
   * @example
   * engine.countVisibleChildren("user:olga", ["server:fra-1", "server:fra-2"], { type: "site", permission: "site.view" }); // [12, 0]
   */
  countVisibleChildren(
    subject: SubjectRef,
    parents: readonly ResourceRef<T>[],
    query: { readonly type: T; readonly permission: P },
  ): number[] {
    return countVisibleChildren(this.#state, subject, parents, query);
  }

  /**
   * Who holds `permission` on `resource` — the reverse of `check`: every user and group with a live
   * grant carrying it at the resource or an ancestor (a group's members through the group), each
   * with every such grant, sorted by name and paged with `after`; `next` is set whenever more
   * exist. API keys are not listed: they act for their owners. Empty for an unknown resource or a
   * permission that does not act on its type.
   * @example
   * const { items, next } = engine.subjectsWith("site.deploy", "site:shop", { limit: 50 });
   * // items[0]: { subject: "group:web", via: [{ grant, throughGroup: undefined, inherited: true }], expiresAt: undefined }
   */
  subjectsWith(
    permission: P,
    resource: ResourceRef<T>,
    page: SubjectPageRequest = {},
  ): SubjectPage<T, P, R> {
    return subjectsWith(this.#state, permission, resource, page) as SubjectPage<T, P, R>;
  }

  /**
   * Who has access in the part of the tree `resource` heads — a resource's Permissions card: every
   * user and group with a live grant at the resource, at an ancestor (carrying a permission that
   * acts on the resource's type or a type below it; `inherited`), or below it (a path whose grant
   * scope is a descendant), each with every such grant, nearest first, sorted by name and paged
   * with `after`. Empty for an unknown resource.
   * @example
   * const { items } = engine.subjectsAt("customer:acme", { limit: 50 });
   */
  subjectsAt(resource: ResourceRef<T>, page: SubjectPageRequest = {}): SubjectPage<T, P, R> {
    return subjectsAt(this.#state, resource, page) as SubjectPage<T, P, R>;
  }

  /**
   * May `granter` give `role` (plus `extras`) at `scope`? Only with the model's people-management
   * permission there, and never more than the granter holds there. The owner role is never granted.
   * @example
   * engine.canGrant("user:ada", "operator", "server:s1").allowed;
   */
  canGrant(
    granter: SubjectRef,
    role: R,
    scope: ResourceRef<T>,
    extras: readonly P[] = [],
  ): Decision<T, P, R> {
    return canGrant(this.#state, granter, role, scope, extras) as Decision<T, P, R>;
  }

  /**
   * Why `check` answers as it does: every grant considered and its outcome, and the least role at
   * the narrowest scope that would allow the request.
   * @example
   * console.log(engine.explain("user:bill", "server.restart", "server:s1").summary);
   */
  explain(subject: SubjectRef, permission: P, resource: ResourceRef<T>): Explanation<T, P, R> {
    return explain(this.#state, subject, permission, resource) as Explanation<T, P, R>;
  }

  // ---------------------------------------------------------------- reading state

  /** True when the resource exists in this workspace. */
  hasResource(resource: string): boolean {
    return this.#state.nodeIndex.has(resource);
  }

  /** The parent of a resource; `undefined` for the root or an unknown resource. */
  parentOf(resource: ResourceRef<T>): ResourceRef<T> | undefined {
    return parentOf(this.#state, resource) as ResourceRef<T> | undefined;
  }

  /** The resource and every resource below it, parents before children. */
  subtreeOf(resource: ResourceRef<T>): ResourceRef<T>[] {
    return subtreeOf(this.#state, resource) as ResourceRef<T>[];
  }

  /** Every resource of `type`, sorted by name and paged like `listVisible` (for the host app). */
  resourcesOfType(type: T, page: PageRequest<T> = {}): Page<T> {
    return resourcesOfType(this.#state, type, page) as Page<T>;
  }

  /**
   * How many children of `type` each of `parents` has, all of them (for the host app; 0 for an
   * unknown resource).
   * @example
   * engine.countChildren(["server:fra-1"], "site"); // [12]
   */
  countChildren(parents: readonly ResourceRef<T>[], type: T): number[] {
    return countChildren(this.#state, parents, type);
  }

  /** The number of resources, the root included. */
  get resourceCount(): number {
    return this.#state.nodeIndex.size;
  }

  /**
   * What this workspace holds and about how much heap that takes: resource slots (deleted ones
   * included until a reload), subjects (users, groups, API keys) and grants. An estimate from the
   * counts, for caches that keep many engines within a memory budget.
   * @example
   * engine.footprint.estimatedBytes; // about 26_000_000 for 100k sites, 10k members, 40k grants
   */
  get footprint(): EngineFootprint {
    const state = this.#state;
    return {
      resources: state.nodeCount,
      subjects: state.principals.size,
      grants: state.grantCount,
      estimatedBytes: estimatedBytes(state),
    };
  }

  /** Every grant, in no particular order. */
  grants(): IterableIterator<Grant<T, P, R>> {
    return allGrants(this.#state) as IterableIterator<Grant<T, P, R>>;
  }

  /** The grants held directly by a user or group (not through groups). */
  grantsOf(subject: GranteeRef): readonly Grant<T, P, R>[] {
    return grantsOf(this.#state, subject) as readonly Grant<T, P, R>[];
  }

  /** The grant of the owner role, if any. */
  get ownerGrant(): Grant<T, P, R> | undefined {
    return this.#state.ownerGrant?.grant as Grant<T, P, R> | undefined;
  }

  /** The users of a group. */
  membersOf(group: `group:${string}`): readonly `user:${string}`[] {
    return membersOf(this.#state, group);
  }

  /** The groups (teams) a user belongs to. */
  groupsOf(user: `user:${string}`): readonly `group:${string}`[] {
    const principal = this.#state.principals.get(user);
    return principal === undefined
      ? []
      : principal.groups.map((group) => group.name as `group:${string}`);
  }

  /** The ids of the API keys a user owns. */
  apiKeysOf(user: `user:${string}`): readonly string[] {
    const principal = this.#state.principals.get(user);
    return principal === undefined
      ? []
      : [...principal.keys].map((key) => key.name.slice("apikey:".length));
  }

  /**
   * An independent copy at the same revision (through the snapshot encoding, about as costly as
   * `snapshot` plus `fromSnapshot`): for trying changes without touching this engine.
   * @example
   * const trial = engine.fork();
   * trial.deleteResource("site:shop"); // engine still has site:shop
   */
  fork(): Engine<T, P, R> {
    const state = this.#state;
    return Engine.fromSnapshot(this.model, this.snapshot(), {
      workspace: this.root.slice(this.root.indexOf(":") + 1),
      clock: state.clock,
      gatherLimit: state.gatherLimit,
    });
  }

  apiKey(id: string): ApiKey<T, P> | undefined {
    return apiKeyById(this.#state, id) as ApiKey<T, P> | undefined;
  }

  // ---------------------------------------------------------------- changes

  /**
   * Adds a resource under `parent`, or moves it there when it exists. The parent's type must be one
   * of the type's allowed parents.
   * @example
   * engine.upsertResource("site:shop", "server:s1");
   */
  upsertResource(resource: ResourceRef<T>, parent: ResourceRef<T>): void {
    upsertResource(this.#state, resource, parent);
  }

  /** Moves an existing resource (and its subtree) under another parent. A no-op when already there. */
  moveResource(resource: ResourceRef<T>, parent: ResourceRef<T>): void {
    requireNode(this.#state, resource);
    upsertResource(this.#state, resource, parent);
  }

  /**
   * Checks that `upsertResource(resource, parent)` would succeed, without applying it.
   * @example
   * engine.validateResource("site:shop", "server:s1");
   */
  validateResource(resource: ResourceRef<T>, parent: ResourceRef<T>): void {
    placement(this.#state, resource, parent);
  }

  /**
   * Deletes a resource with its whole subtree, and every grant at those resources. Returns what was
   * removed so a store can mirror it.
   */
  deleteResource(resource: ResourceRef<T>): {
    resources: ResourceRef<T>[];
    grants: Grant<T, P, R>[];
  } {
    return deleteResource(this.#state, resource) as {
      resources: ResourceRef<T>[];
      grants: Grant<T, P, R>[];
    };
  }

  /**
   * Checks a grant against the model and the tree without applying it: subject kind, role, scope
   * type, extras (never owner-only) and expiry. It does not look at the subject's other grants (one
   * role per subject per resource) or at the current owner; `addGrant` does. Throws the same errors
   * as `addGrant`.
   * @example
   * engine.validateGrant({ subject: "user:olga", role: "operator", scope: "server:s1" });
   */
  validateGrant(input: GrantInput<T, P, R>): void {
    prepareGrant(this.#state, input);
  }

  /**
   * Grants `role` at `scope` to a user or group. At most one role per subject per resource; extras
   * never owner-only; the owner role only at the root, to a user, once.
   * @example
   * engine.addGrant({ subject: "user:olga", role: "operator", scope: "server:s1" });
   */
  addGrant(input: GrantInput<T, P, R>): Grant<T, P, R> {
    return insertGrant(this.#state, input).grant as Grant<T, P, R>;
  }

  /**
   * Adds many grants, in order, as `addGrant` would — for loading a workspace: nothing is built
   * for the answer. Throws at the first grant that does not apply; those before it stay.
   * @example
   * engine.addGrants(rows.map((row) => ({ subject: row.subject, role: row.role, scope: row.scope })));
   */
  addGrants(inputs: Iterable<GrantInput<T, P, R>>): void {
    const state = this.#state;
    for (const input of inputs) insertGrant(state, input);
  }

  /**
   * Adds grants as a store holds them (rows it validated when writing them), without a
   * `GrantInput` per grant: each row is checked only for what would leave the engine inconsistent
   * (subject kind, known role grantable at an existing scope, one role per subject per resource,
   * one owner); rows with extras are checked in full. Rows sorted by subject load fastest. Throws
   * like `addGrant` at the first row that does not apply; those before it stay.
   * @example
   * engine.loadGrants([["user:olga", "server:s1", "operator"]]);
   */
  loadGrants(rows: Iterable<GrantRow>): void {
    loadGrantRows(this.#state, rows);
  }

  /** Removes the grant `subject` holds at `scope` and returns it. */
  removeGrant(subject: GranteeRef, scope: ResourceRef<T>): Grant<T, P, R> {
    return removeGrant(this.#state, subject, scope) as Grant<T, P, R>;
  }

  /**
   * Removes a user or group from the workspace's decisions: every grant it holds, its group
   * memberships, and (for a user) the API keys it owns.
   */
  removeSubject(subject: GranteeRef): void {
    removeSubject(this.#state, subject);
  }

  /** Adds a user to a group (a team); the user then holds the group's grants. */
  addGroupMember(group: `group:${string}`, user: `user:${string}`): void {
    addGroupMember(this.#state, group, user);
  }

  removeGroupMember(group: `group:${string}`, user: `user:${string}`): void {
    removeGroupMember(this.#state, group, user);
  }

  /**
   * Checks an API key against the model without registering it: id, owner, scopes (never
   * owner-only) and resource names. Throws the same errors as `addApiKey`.
   */
  validateApiKey(input: ApiKeyInput<T>): void {
    prepareApiKey(this.#state, input);
  }

  /**
   * Registers an API key; it is then a subject `apikey:<id>` whose permissions are its owner's
   * current ones ∩ its scopes ∩ its resources. Keys never carry owner-only permissions.
   * @example
   * engine.addApiKey({ id: "k1", owner: "user:ada", scopes: ["site.*"], resources: ["project:p1"] });
   * engine.check("apikey:k1", "site.deploy", "site:blog");
   */
  addApiKey(input: ApiKeyInput<T>): ApiKey<T, P> {
    return addApiKey(this.#state, input) as ApiKey<T, P>;
  }

  removeApiKey(id: string): ApiKey<T, P> {
    return removeApiKey(this.#state, id) as ApiKey<T, P>;
  }
}

/**
 * Creates the decision engine for one workspace of `model`.
 * @example
 * const engine = createEngine(presets.company, { workspace: "acme" });
 */
export function createEngine<T extends string, P extends string, R extends string>(
  model: Model<T, P, R>,
  options: EngineOptions<T, NoInfer<P>, NoInfer<R>>,
): Engine<T, P, R> {
  return new Engine(model, options);
}
