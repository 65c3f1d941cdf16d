import {
  type Bits,
  emptyBits,
  hasBit,
  indicesOf,
  isEmptyBits,
  missingFrom,
  orInto,
  setBit,
} from "../bitset.ts";
import { ErrorCode, GatehouseError } from "../errors.ts";
import type { CompiledModel, CompiledRole, Model } from "../model/define-model.ts";
import type {
  ApiKey,
  ApiKeyInput,
  ConsideredGrant,
  Decision,
  DenyReason,
  Explanation,
  Grant,
  GranteeRef,
  GrantInput,
  GrantOutcome,
  Page,
  PageRequest,
  ResourceInput,
  ResourceRef,
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

enum Kind {
  User = 0,
  Group = 1,
  Key = 2,
}

/**
 * A grant as the engine holds it. Its public `Grant` and the `allow` decision naming it are built
 * on first use and kept, so a check still allocates nothing while loading a million grants does not
 * build two million objects nobody may ask for.
 */
class GrantRecord {
  #grant: Grant | undefined = undefined;
  #allow: Decision | undefined = undefined;
  constructor(
    readonly holder: Principal,
    readonly node: number,
    readonly role: string,
    readonly scope: string,
    readonly extras: readonly string[],
    readonly bits: Bits,
    /** `Infinity` when the grant never expires. */
    readonly expiresAt: number,
  ) {}

  get grant(): Grant {
    this.#grant ??= Object.freeze({
      subject: this.holder.name as GranteeRef,
      role: this.role,
      scope: this.scope as ResourceRef,
      extras: this.extras,
      expiresAt: this.expiresAt === Number.POSITIVE_INFINITY ? undefined : this.expiresAt,
    });
    return this.#grant;
  }

  get allow(): Decision {
    this.#allow ??= Object.freeze({ allowed: true, via: this.grant });
    return this.#allow;
  }
}

interface KeyRecord {
  readonly key: ApiKey;
  readonly owner: Principal;
  readonly bits: Bits;
  /** The nodes now carrying the names in `key.resources`, as of tree version `nodesAt`. */
  nodes: ReadonlySet<number>;
  nodesAt: number;
  readonly expiresAt: number;
}

/** Shared by every principal without groups, members or keys: most users of a large workspace. */
const NO_PRINCIPALS: readonly Principal[] = Object.freeze([]);
const NO_SET: ReadonlySet<Principal> = new Set();
const NO_EXTRAS: readonly string[] = Object.freeze([]);

class Principal {
  readonly grants = new Map<number, GrantRecord>();
  /** For users: the groups they belong to (replaced, never mutated). */
  groups: readonly Principal[] = NO_PRINCIPALS;
  /** For groups: their members; allocated on the first. */
  members: ReadonlySet<Principal> = NO_SET;
  /** For users: the API keys they own; allocated on the first. */
  keys: ReadonlySet<Principal> = NO_SET;
  key: KeyRecord | undefined = undefined;
  constructor(
    readonly name: SubjectRef,
    readonly kind: Kind,
  ) {}

  addMember(member: Principal): void {
    if (this.members === NO_SET) this.members = new Set();
    (this.members as Set<Principal>).add(member);
  }

  /** Deleting from the shared empty set finds nothing: no allocation needed first. */
  deleteMember(member: Principal): void {
    (this.members as Set<Principal>).delete(member);
  }

  addKey(key: Principal): void {
    if (this.keys === NO_SET) this.keys = new Set();
    (this.keys as Set<Principal>).add(key);
  }

  deleteKey(key: Principal): void {
    (this.keys as Set<Principal>).delete(key);
  }
}

function deny(reason: DenyReason): Decision {
  return Object.freeze({ allowed: false, reason });
}
const DENY = {
  not_found: deny("not_found"),
  not_applicable: deny("not_applicable"),
  no_grant: deny("no_grant"),
  key_expired: deny("key_expired"),
  key_scope: deny("key_scope"),
  key_resource: deny("key_resource"),
  owner_not_grantable: deny("owner_not_grantable"),
  role_not_grantable_at_scope: deny("role_not_grantable_at_scope"),
  owner_only_permission: deny("owner_only_permission"),
  no_people_management: deny("no_people_management"),
} as const satisfies Partial<Record<DenyReason, Decision>>;

const NO_PARENT = -1;

function typeOfRef(ref: string): string {
  const colon = ref.indexOf(":");
  return colon <= 0 ? "" : ref.slice(0, colon);
}

function invalid(message: string, details?: Record<string, unknown>): GatehouseError {
  return new GatehouseError(
    ErrorCode.INVALID_INPUT,
    message,
    details === undefined ? {} : { details },
  );
}

/**
 * One workspace's authorization state: its resource tree, grants, groups and API keys, answering
 * decisions in memory. Pure: no I/O; time comes from the injected clock.
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
  readonly #model: CompiledModel;
  readonly #clock: () => number;
  #revision: number;
  /** Bumped when resources are added or deleted, to refresh API keys' resource constraints. */
  #treeVersion = 0;

  // The resource tree, one slot per node; slots are never reused.
  readonly #nodeIndex = new Map<string, number>();
  #parent = new Int32Array(1024);
  #type = new Uint8Array(1024);
  #nodeCount = 0;
  readonly #keys: string[] = [];
  readonly #children: (number[] | undefined)[] = [];
  readonly #grantsAt: (Set<GrantRecord> | undefined)[] = [];
  /** Per type: resource names, sorted lazily for listing. */
  readonly #byType: string[][];
  readonly #byTypeDirty: boolean[];
  /** Per type: the nodes of `#byType`, in the same (sorted) order, once sorted. */
  readonly #sortedNodes: Int32Array[];

  readonly #principals = new Map<string, Principal>();
  /** The principal `#principal` answered last (forgotten when any principal is removed). */
  #lastPrincipal: Principal | undefined = undefined;
  #ownerGrant: GrantRecord | undefined = undefined;
  readonly #scratch: Bits;
  /** Decoded permission lists by bitset, keyed by the word itself when one word holds them all. */
  readonly #namesCache = new Map<string | number, readonly P[]>();
  readonly #gatherLimit: number;

  constructor(model: Model<T, P, R>, options: EngineOptions<T, P, R>) {
    if (typeof options.workspace !== "string" || options.workspace === "")
      throw invalid("workspace id must be a non-empty string");
    this.model = model;
    this.#model = model.compiled;
    this.#clock = options.clock ?? Date.now;
    this.#gatherLimit = options.gatherLimit ?? 2048;
    this.#revision = options.revision ?? 0;
    this.#byType = this.#model.typeNames.map(() => []);
    this.#byTypeDirty = this.#model.typeNames.map(() => false);
    this.#sortedNodes = this.#model.typeNames.map(() => new Int32Array(0));
    this.#scratch = emptyBits(this.#model.words);
    this.root = `${model.rootType}:${options.workspace}` as ResourceRef<T>;
    this.#addNode(this.root, this.#model.rootType, NO_PARENT);
    if (options.resources !== undefined) this.#loadResources(options.resources);
    for (const [group, users] of options.groups ?? [])
      for (const user of users) this.addGroupMember(group, user);
    if (options.grants !== undefined) this.addGrants(options.grants);
    for (const key of options.apiKeys ?? []) this.addApiKey(key);
    this.#revision = options.revision ?? 0;
  }

  /** Increases with every change to the tree, the grants, the groups or the keys. */
  get revision(): number {
    return this.#revision;
  }

  // ---------------------------------------------------------------- decisions

  /**
   * May `subject` use `permission` on `resource`? Held at an ancestor, a permission holds below (R7);
   * nothing leaks upward (R10).
   * @example
   * const decision = engine.check("user:olga", "site.deploy", "site:shop");
   * if (!decision.allowed) console.log(decision.reason); // "no_grant"
   */
  check(subject: SubjectRef, permission: P, resource: ResourceRef<T>): Decision<T, P, R> {
    const model = this.#model;
    const p = model.permissionIndex.get(permission);
    if (p === undefined) throw unknownPermission(permission);
    const node = this.#nodeIndex.get(resource);
    if (node === undefined) return DENY.not_found as Decision<T, P, R>;
    if ((model.permissionTypeMask[p]! & (1 << this.#type[node]!)) === 0)
      return DENY.not_applicable as Decision<T, P, R>;
    const principal = this.#principals.get(subject);
    if (principal === undefined) return DENY.no_grant as Decision<T, P, R>;
    const key = principal.key;
    if (key !== undefined) {
      const denied = this.#keyDenial(key, p, node);
      if (denied !== undefined) return denied as Decision<T, P, R>;
      return this.#find(key.owner, p, node) as Decision<T, P, R>;
    }
    return this.#find(principal, p, node) as Decision<T, P, R>;
  }

  /**
   * Whether `subject` holds `permission` through a grant at `resource` or above, whatever types the
   * permission acts on: the question for workflow gates such as people management at a scope.
   * @example
   * engine.holds("user:ada", "permissions.manage", "customer:c1");
   */
  holds(subject: SubjectRef, permission: P, resource: ResourceRef<T>): Decision<T, P, R> {
    const p = this.#model.permissionIndex.get(permission);
    if (p === undefined) throw unknownPermission(permission);
    const node = this.#nodeIndex.get(resource);
    if (node === undefined) return DENY.not_found as Decision<T, P, R>;
    const principal = this.#principals.get(subject);
    if (principal === undefined) return DENY.no_grant as Decision<T, P, R>;
    const key = principal.key;
    if (key !== undefined) {
      const denied = this.#keyDenial(key, p, node);
      if (denied !== undefined) return denied as Decision<T, P, R>;
      return this.#find(key.owner, p, node) as Decision<T, P, R>;
    }
    return this.#find(principal, p, node) as Decision<T, P, R>;
  }

  /**
   * Whether `resource` is within the subject's reach: it lies at or below a live grant of theirs (or,
   * for a key, of its owner, inside the key's resources); the workspace root is within reach of
   * anyone holding a grant. Outside it, a resource answers as if it did not exist (R10): a site
   * grant does not reveal the server.
   * @example
   * engine.reaches("user:carol", "server:s1"); // false for a customer of one of its sites
   */
  reaches(subject: SubjectRef, resource: ResourceRef<T>): boolean {
    const node = this.#nodeIndex.get(resource);
    const principal = this.#principals.get(subject);
    if (node === undefined || principal === undefined) return false;
    const key = principal.key;
    if (key !== undefined && this.#isExpired(key.expiresAt)) return false;
    const holder = key?.owner ?? principal;
    const related = (record: GrantRecord) =>
      !this.#isExpired(record.expiresAt) && (node === 0 || this.#isUnder(node, record.node));
    if (key !== undefined && node !== 0 && !this.#isInKeyResources(key, node)) return false;
    for (const record of holder.grants.values()) if (related(record)) return true;
    for (const group of holder.groups)
      for (const record of group.grants.values()) if (related(record)) return true;
    return false;
  }

  /**
   * Every permission `subject` holds on `resource`, in one call (R11): exactly those for which
   * `check` allows. Empty for unknown resources.
   * @example
   * engine.permissionsOn("user:carol", "site:shop"); // ["site.view", "site.files.manage", ...]
   */
  permissionsOn(subject: SubjectRef, resource: ResourceRef<T>): readonly P[] {
    const node = this.#nodeIndex.get(resource);
    const principal = this.#principals.get(subject);
    if (node === undefined || principal === undefined) return [];
    const held = this.#scratch;
    held.fill(0);
    const key = principal.key;
    if (key !== undefined) {
      if (this.#isExpired(key.expiresAt) || !this.#isInKeyResources(key, node)) return [];
      this.#collect(key.owner, node, held);
      for (let word = 0; word < held.length; word++) held[word]! &= key.bits[word]!;
    } else {
      this.#collect(principal, node, held);
    }
    const applicable = this.#model.typeBits[this.#type[node]!]!;
    for (let word = 0; word < held.length; word++) held[word]! &= applicable[word]!;
    return this.#namesOf(held);
  }

  /**
   * The resources of `type` on which `subject` holds `permission`, found by expanding the subject's
   * own grants down the tree (never by checking every resource). Sorted by name; page with `after`.
   * @example
   * const { items, next } = engine.listVisible("user:olga", "site", "site.view", { limit: 100 });
   */
  listVisible(subject: SubjectRef, type: T, permission: P, page: PageRequest<T> = {}): Page<T> {
    const model = this.#model;
    const t = model.typeIndex.get(type);
    if (t === undefined)
      throw new GatehouseError(ErrorCode.UNKNOWN_RESOURCE_TYPE, `unknown resource type "${type}"`);
    const p = model.permissionIndex.get(permission);
    if (p === undefined) throw unknownPermission(permission);
    const limit = page.limit ?? Number.POSITIVE_INFINITY;
    if (!(limit >= 0) || (Number.isFinite(limit) && !Number.isInteger(limit)))
      throw invalid("limit must be a whole number ≥ 0");
    if ((model.permissionTypeMask[p]! & (1 << t)) === 0) return { items: [], next: undefined };
    const principal = this.#principals.get(subject);
    if (principal === undefined) return { items: [], next: undefined };
    const covering = this.#minimalCover(this.#coveringNodes(principal, p));
    const after = page.after;
    let candidates: readonly string[];
    let start = 0;
    if (covering.length === 1 && covering[0] === 0) {
      candidates = this.#sortedOfType(t);
      if (after !== undefined) start = upperBound(candidates, after);
    } else {
      // Few covered resources: collect and sort them. Many, for one page: walk the sorted list of
      // the type from the cursor and keep those under a covering grant.
      const gathered: string[] = [];
      // For the full set, past an eighth of the type, filtering its sorted list beats sorting names.
      const budget = Number.isFinite(limit)
        ? Math.max(this.#gatherLimit, limit * 4)
        : Math.max(this.#gatherLimit, this.#byType[t]!.length / 8);
      const bit = 1 << t;
      let seen = 0;
      for (const node of covering) {
        seen = this.#gather(node, t, bit, gathered, after, seen, budget);
        if (seen > budget) return this.#scanPage(covering, t, after, limit);
      }
      gathered.sort(compareNames);
      candidates = gathered;
    }
    const end = Math.min(candidates.length, start + limit);
    const items = candidates.slice(start, end) as ResourceRef<T>[];
    const next = end < candidates.length && items.length > 0 ? items[items.length - 1] : undefined;
    return { items, next };
  }

  /**
   * May `granter` give `role` (plus `extras`) at `scope` (R8)? Only with the model's people-management
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
    const model = this.#model;
    const compiledRole = this.#role(role);
    const extraBits = this.#bitsOfNames(extras);
    const node = this.#nodeIndex.get(scope);
    if (node === undefined) return DENY.not_found as Decision<T, P, R>;
    if (compiledRole.isOwner) return DENY.owner_not_grantable as Decision<T, P, R>;
    const type = this.#type[node]!;
    if ((compiledRole.scopeMask & (1 << type)) === 0)
      return DENY.role_not_grantable_at_scope as Decision<T, P, R>;
    if (missingFrom(extraBits, model.delegableBits).length > 0)
      return DENY.owner_only_permission as Decision<T, P, R>;
    if (missingFrom(extraBits, model.underBits[type]!).length > 0)
      return DENY.not_applicable as Decision<T, P, R>;
    // People management held at the scope or above, whatever types the permission acts on.
    const allowed = this.holds(granter, model.permissionNames[model.delegation] as P, scope);
    if (!allowed.allowed) return DENY.no_people_management as Decision<T, P, R>;
    const principal = this.#principals.get(granter)!;
    const key = principal.key;
    const holder = key?.owner ?? principal;
    const held = emptyBits(model.words);
    this.#collect(holder, node, held);
    if (key !== undefined)
      for (let word = 0; word < held.length; word++) held[word]! &= key.bits[word]!;
    const wanted = emptyBits(model.words);
    orInto(wanted, compiledRole.bits);
    orInto(wanted, extraBits);
    const missing = missingFrom(wanted, held);
    if (missing.length > 0) {
      return Object.freeze({
        allowed: false,
        reason: "exceeds_granter",
        missing: Object.freeze(missing.map((index) => model.permissionNames[index] as P)),
      });
    }
    return allowed as Decision<T, P, R>;
  }

  /**
   * Why `check` answers as it does: every grant considered and its outcome, and the least role at
   * the narrowest scope that would allow the request.
   * @example
   * console.log(engine.explain("user:bill", "server.restart", "server:s1").summary);
   */
  explain(subject: SubjectRef, permission: P, resource: ResourceRef<T>): Explanation<T, P, R> {
    const decision = this.check(subject, permission, resource);
    const model = this.#model;
    const p = model.permissionIndex.get(permission)!;
    const node = this.#nodeIndex.get(resource);
    const principal = this.#principals.get(subject);
    const keyRecord = principal?.key;
    const holder = keyRecord?.owner ?? principal;
    const considered: ConsideredGrant<T, P, R>[] = [];
    if (holder !== undefined) {
      const applicable =
        node !== undefined && (model.permissionTypeMask[p]! & (1 << this.#type[node]!)) !== 0;
      const onPath = new Set<number>();
      for (let n = node ?? NO_PARENT; n !== NO_PARENT; n = this.#parent[n]!) onPath.add(n);
      const outcomeOf = (record: GrantRecord): GrantOutcome => {
        if (!onPath.has(record.node)) return "not_on_path";
        if (!hasBit(record.bits, p)) return "lacks_permission";
        if (this.#isExpired(record.expiresAt)) return "expired";
        return applicable ? "allows" : "not_applicable";
      };
      const add = (record: GrantRecord, group: Principal | undefined) => {
        considered.push({
          grant: record.grant as Grant<T, P, R>,
          throughGroup: group?.name as GranteeRef | undefined,
          outcome: outcomeOf(record),
        });
      };
      for (const record of holder.grants.values()) add(record, undefined);
      for (const group of holder.groups)
        for (const record of group.grants.values()) add(record, group);
    }
    const key =
      keyRecord === undefined
        ? undefined
        : {
            id: keyRecord.key.id,
            outcome: this.#isExpired(keyRecord.expiresAt)
              ? ("expired" as const)
              : !hasBit(keyRecord.bits, p)
                ? ("lacks_scope" as const)
                : node !== undefined && !this.#isInKeyResources(keyRecord, node)
                  ? ("outside_resources" as const)
                  : ("passes" as const),
          };
    const ownerOnly = hasBit(model.ownerOnlyBits, p) || !this.#anyRoleBut(model.ownerRole, p);
    const suggestion =
      !decision.allowed && decision.reason === "no_grant" ? this.#suggest(p, node!) : undefined;
    return {
      subject,
      permission,
      resource,
      decision,
      considered,
      key,
      suggestion,
      ownerOnly,
      summary: this.#summarize(subject, permission, resource, decision, suggestion, ownerOnly),
    };
  }

  // ---------------------------------------------------------------- reading state

  /** True when the resource exists in this workspace. */
  hasResource(resource: string): boolean {
    return this.#nodeIndex.has(resource);
  }

  /** The parent of a resource; `undefined` for the root or an unknown resource. */
  parentOf(resource: ResourceRef<T>): ResourceRef<T> | undefined {
    const node = this.#nodeIndex.get(resource);
    if (node === undefined || node === 0) return undefined;
    return this.#keys[this.#parent[node]!] as ResourceRef<T>;
  }

  /** The resource and every resource below it, parents before children. */
  subtreeOf(resource: ResourceRef<T>): ResourceRef<T>[] {
    const node = this.#nodeIndex.get(resource);
    if (node === undefined) return [];
    const names: ResourceRef<T>[] = [];
    const queue = [node];
    for (let index = 0; index < queue.length; index++) {
      const current = queue[index]!;
      names.push(this.#keys[current] as ResourceRef<T>);
      for (const child of this.#children[current] ?? []) queue.push(child);
    }
    return names;
  }

  /** Every resource of `type`, sorted by name and paged like `listVisible` (for the host app). */
  resourcesOfType(type: T, page: PageRequest<T> = {}): Page<T> {
    const t = this.#model.typeIndex.get(type);
    if (t === undefined)
      throw new GatehouseError(ErrorCode.UNKNOWN_RESOURCE_TYPE, `unknown resource type "${type}"`);
    const sorted = this.#sortedOfType(t);
    const start = page.after === undefined ? 0 : upperBound(sorted, page.after);
    const end = Math.min(sorted.length, start + (page.limit ?? Number.POSITIVE_INFINITY));
    const items = sorted.slice(start, end) as ResourceRef<T>[];
    return {
      items,
      next: end < sorted.length && items.length > 0 ? items[items.length - 1] : undefined,
    };
  }

  /** The number of resources, the root included. */
  get resourceCount(): number {
    return this.#nodeIndex.size;
  }

  /** Every grant, in no particular order. */
  *grants(): IterableIterator<Grant<T, P, R>> {
    for (const principal of this.#principals.values()) {
      for (const record of principal.grants.values()) yield record.grant as Grant<T, P, R>;
    }
  }

  /** The grants held directly by a user or group (not through groups). */
  grantsOf(subject: GranteeRef): readonly Grant<T, P, R>[] {
    const principal = this.#principals.get(subject);
    return principal === undefined
      ? []
      : [...principal.grants.values()].map((record) => record.grant as Grant<T, P, R>);
  }

  /** The grant of the owner role, if any. */
  get ownerGrant(): Grant<T, P, R> | undefined {
    return this.#ownerGrant?.grant as Grant<T, P, R> | undefined;
  }

  /** The users of a group. */
  membersOf(group: `group:${string}`): readonly `user:${string}`[] {
    const principal = this.#principals.get(group);
    return principal === undefined
      ? []
      : [...principal.members].map((member) => member.name as `user:${string}`);
  }

  apiKey(id: string): ApiKey<T, P> | undefined {
    return this.#principals.get(`apikey:${id}`)?.key?.key as ApiKey<T, P> | undefined;
  }

  // ---------------------------------------------------------------- changes

  /**
   * Adds a resource under `parent`, or moves it there when it exists. The parent's type must be one
   * of the type's allowed parents.
   * @example
   * engine.upsertResource("site:shop", "server:s1");
   */
  upsertResource(resource: ResourceRef<T>, parent: ResourceRef<T>): void {
    const placement = this.#placement(resource, parent);
    if (placement.node === undefined) {
      this.#addNode(resource, placement.type, placement.parentNode);
    } else {
      if (this.#parent[placement.node] === placement.parentNode) return;
      removeItem(this.#children[this.#parent[placement.node]!]!, placement.node);
      this.#parent[placement.node] = placement.parentNode;
      this.#childrenOf(placement.parentNode).push(placement.node);
    }
    this.#revision++;
  }

  /** Moves an existing resource (and its subtree) under another parent. A no-op when already there. */
  moveResource(resource: ResourceRef<T>, parent: ResourceRef<T>): void {
    this.#requireNode(resource);
    this.upsertResource(resource, parent);
  }

  /**
   * Checks that `upsertResource(resource, parent)` would succeed, without applying it.
   * @example
   * engine.validateResource("site:shop", "server:s1");
   */
  validateResource(resource: ResourceRef<T>, parent: ResourceRef<T>): void {
    this.#placement(resource, parent);
  }

  #placement(resource: string, parent: string) {
    const type = this.#typeOfResource(resource);
    const node = this.#nodeIndex.get(resource);
    if (node === 0) throw invalid("the workspace root cannot be moved");
    const parentNode = this.#requireNode(parent);
    this.#requireParentType(resource, type, parentNode);
    if (node !== undefined) {
      for (let n = parentNode; n !== NO_PARENT; n = this.#parent[n]!) {
        if (n === node) {
          throw new GatehouseError(
            ErrorCode.INVALID_PARENT,
            `cannot move ${resource} under its own descendant ${parent}`,
          );
        }
      }
    }
    return { type, node, parentNode };
  }

  /**
   * Deletes a resource with its whole subtree, and every grant at those resources. Returns what was
   * removed so a store can mirror it.
   */
  deleteResource(resource: ResourceRef<T>): {
    resources: ResourceRef<T>[];
    grants: Grant<T, P, R>[];
  } {
    const node = this.#requireNode(resource);
    if (node === 0)
      throw invalid("the workspace root cannot be deleted; close the workspace instead");
    removeItem(this.#children[this.#parent[node]!]!, node);
    const resources: ResourceRef<T>[] = [];
    const grants: Grant<T, P, R>[] = [];
    const stack = [node];
    while (stack.length > 0) {
      const current = stack.pop()!;
      const name = this.#keys[current]!;
      resources.push(name as ResourceRef<T>);
      this.#nodeIndex.delete(name);
      this.#byTypeDirty[this.#type[current]!] = true;
      for (const record of this.#grantsAt[current] ?? []) {
        this.#dropGrant(record);
        grants.push(record.grant as Grant<T, P, R>);
      }
      this.#grantsAt[current] = undefined;
      stack.push(...(this.#children[current] ?? []));
      this.#children[current] = undefined;
      this.#parent[current] = NO_PARENT;
    }
    this.#treeVersion++;
    this.#revision++;
    return { resources, grants };
  }

  /**
   * Checks a grant against the model and the tree without applying it: subject kind, role, scope
   * type, extras (R19) and expiry. It does not look at the subject's other grants (R6) or at the
   * current owner; `addGrant` does. Throws the same errors as `addGrant`.
   * @example
   * engine.validateGrant({ subject: "user:olga", role: "operator", scope: "server:s1" });
   */
  validateGrant(input: GrantInput<T, P, R>): void {
    this.#prepareGrant(input);
  }

  /**
   * Grants `role` at `scope` to a user or group. At most one role per subject per resource (R6);
   * extras never owner-only (R19); the owner role only at the root, to a user, once.
   * @example
   * engine.addGrant({ subject: "user:olga", role: "operator", scope: "server:s1" });
   */
  addGrant(input: GrantInput<T, P, R>): Grant<T, P, R> {
    return this.#insertGrant(input).grant as Grant<T, P, R>;
  }

  /**
   * Adds many grants, in order, as `addGrant` would — for loading a workspace: nothing is built
   * for the answer. Throws at the first grant that does not apply; those before it stay.
   * @example
   * engine.addGrants(rows.map((row) => ({ subject: row.subject, role: row.role, scope: row.scope })));
   */
  addGrants(inputs: Iterable<GrantInput<T, P, R>>): void {
    for (const input of inputs) this.#insertGrant(input);
  }

  #insertGrant(input: GrantInput<T, P, R>): GrantRecord {
    const model = this.#model;
    const { kind, role, node, extras, extraBits, expiresAt } = this.#prepareGrant(input);
    if (role.isOwner && this.#ownerGrant !== undefined) {
      throw new GatehouseError(
        ErrorCode.OWNER_EXISTS,
        `the workspace already has an owner (${this.#ownerGrant.grant.subject})`,
      );
    }
    const holder = this.#principal(input.subject, kind);
    if (holder.grants.has(node)) {
      const current = holder.grants.get(node)!.grant.role;
      throw new GatehouseError(
        ErrorCode.ROLE_CONFLICT,
        `${input.subject} already holds "${current}" on ${input.scope}; roles cannot be combined on one resource — replace it or pick a broader role`,
        { details: { currentRole: current } },
      );
    }
    // Without extras a grant holds exactly its role's bits: share them (bits are never mutated).
    let bits = role.bits;
    if (extraBits !== undefined) {
      bits = emptyBits(model.words);
      orInto(bits, role.bits);
      orInto(bits, extraBits);
    }
    // The role's, the principal's and the node's names: one string each, however many grants.
    const record = new GrantRecord(
      holder,
      node,
      role.name,
      this.#keys[node]!,
      extras === NO_EXTRAS ? NO_EXTRAS : Object.freeze(extras),
      bits,
      expiresAt ?? Number.POSITIVE_INFINITY,
    );
    holder.grants.set(node, record);
    this.#grantsOn(node).add(record);
    if (role.isOwner) this.#ownerGrant = record;
    this.#revision++;
    return record;
  }

  /** Removes the grant `subject` holds at `scope` and returns it. */
  removeGrant(subject: GranteeRef, scope: ResourceRef<T>): Grant<T, P, R> {
    const node = this.#nodeIndex.get(scope);
    const record = node === undefined ? undefined : this.#principals.get(subject)?.grants.get(node);
    if (record === undefined)
      throw new GatehouseError(ErrorCode.GRANT_NOT_FOUND, `${subject} holds no grant on ${scope}`);
    this.#dropGrant(record);
    this.#grantsAt[record.node]!.delete(record);
    this.#revision++;
    return record.grant as Grant<T, P, R>;
  }

  /**
   * Removes a user or group from the workspace's decisions: every grant it holds, its group
   * memberships, and (for a user) the API keys it owns (R17, R20).
   */
  removeSubject(subject: GranteeRef): void {
    const principal = this.#principals.get(subject);
    if (principal === undefined) return;
    for (const record of [...principal.grants.values()]) {
      this.#dropGrant(record);
      this.#grantsAt[record.node]!.delete(record);
    }
    for (const group of principal.groups) group.deleteMember(principal);
    for (const member of principal.members)
      member.groups = member.groups.filter((group) => group !== principal);
    for (const key of principal.keys) this.#principals.delete(key.name);
    this.#principals.delete(subject);
    this.#lastPrincipal = undefined;
    this.#revision++;
  }

  /** Adds a user to a group (seed 001's teams); the user then holds the group's grants. */
  addGroupMember(group: `group:${string}`, user: `user:${string}`): void {
    if (subjectKind(group) !== Kind.Group) throw invalid(`"${group}" is not a group subject`);
    if (subjectKind(user) !== Kind.User) throw invalid(`"${user}" is not a user subject`);
    const groupPrincipal = this.#principal(group, Kind.Group);
    const userPrincipal = this.#principal(user, Kind.User);
    if (groupPrincipal.members.has(userPrincipal)) return;
    groupPrincipal.addMember(userPrincipal);
    userPrincipal.groups = [...userPrincipal.groups, groupPrincipal];
    this.#revision++;
  }

  removeGroupMember(group: `group:${string}`, user: `user:${string}`): void {
    const groupPrincipal = this.#principals.get(group);
    const userPrincipal = this.#principals.get(user);
    if (
      groupPrincipal === undefined ||
      userPrincipal === undefined ||
      !groupPrincipal.members.has(userPrincipal)
    )
      return;
    groupPrincipal.deleteMember(userPrincipal);
    userPrincipal.groups = userPrincipal.groups.filter((candidate) => candidate !== groupPrincipal);
    this.#revision++;
  }

  /**
   * Checks an API key against the model without registering it: id, owner, scopes (never
   * owner-only) and resource names. Throws the same errors as `addApiKey`.
   */
  validateApiKey(input: ApiKeyInput<T>): void {
    this.#prepareApiKey(input);
  }

  #prepareApiKey(input: ApiKeyInput<T>) {
    const model = this.#model;
    if (typeof input.id !== "string" || input.id === "")
      throw invalid("API key id must be a non-empty string");
    if (this.#principals.has(`apikey:${input.id}`))
      throw invalid(`API key "${input.id}" already exists`);
    if (subjectKind(input.owner) !== Kind.User)
      throw invalid(`API keys are owned by a user, not "${String(input.owner)}"`);
    if (!Array.isArray(input.scopes) || input.scopes.length === 0)
      throw invalid("an API key needs at least one scope");
    const bits = emptyBits(model.words);
    for (const scope of input.scopes) {
      const matched = expandScope(model, scope);
      if (matched.length === 0)
        throw new GatehouseError(
          ErrorCode.UNKNOWN_PERMISSION,
          `scope "${scope}" matches no permission`,
        );
      // A pattern takes the delegable permissions it matches; naming an owner-only one is refused.
      const delegable = matched.filter((index) => hasBit(model.delegableBits, index));
      if (delegable.length === 0) {
        throw new GatehouseError(
          ErrorCode.OWNER_ONLY_PERMISSION,
          `API keys cannot carry owner-only permissions (scope "${scope}")`,
        );
      }
      for (const index of delegable) setBit(bits, index);
    }
    const resources = [...new Set(input.resources ?? [])];
    // Names need not exist yet: the constraint holds by name and only ever narrows the key. The
    // service checks existence when a person creates a key; a store restores keys as they were.
    for (const resource of resources) this.#typeOfResource(resource);
    const expiresAt = input.expiresAt;
    if (expiresAt !== undefined && !Number.isFinite(expiresAt))
      throw invalid("expiresAt must be a finite epoch-milliseconds number");
    return { bits, resources, expiresAt };
  }

  /**
   * Registers an API key; it is then a subject `apikey:<id>` whose permissions are its owner's
   * current ones ∩ its scopes ∩ its resources (R20). Keys never carry owner-only permissions.
   * @example
   * engine.addApiKey({ id: "k1", owner: "user:ada", scopes: ["site.*"], resources: ["project:p1"] });
   * engine.check("apikey:k1", "site.deploy", "site:blog");
   */
  addApiKey(input: ApiKeyInput<T>): ApiKey<T, P> {
    const model = this.#model;
    const { bits, resources, expiresAt } = this.#prepareApiKey(input);
    const key: ApiKey<T, P> = Object.freeze({
      id: input.id,
      owner: input.owner,
      scopes: Object.freeze([...input.scopes]),
      permissions: Object.freeze(indicesOf(bits).map((index) => model.permissionNames[index] as P)),
      resources: Object.freeze(resources),
      expiresAt,
    });
    const owner = this.#principal(input.owner, Kind.User);
    const principal = this.#principal(`apikey:${input.id}`, Kind.Key);
    principal.key = {
      key,
      owner,
      bits,
      nodes: new Set(),
      nodesAt: -1,
      expiresAt: expiresAt ?? Number.POSITIVE_INFINITY,
    };
    owner.addKey(principal);
    this.#revision++;
    return key;
  }

  removeApiKey(id: string): ApiKey<T, P> {
    const principal = this.#principals.get(`apikey:${id}`);
    if (principal?.key === undefined)
      throw new GatehouseError(ErrorCode.API_KEY_NOT_FOUND, `no API key "${id}"`);
    principal.key.owner.deleteKey(principal);
    this.#principals.delete(principal.name);
    this.#lastPrincipal = undefined;
    this.#revision++;
    return principal.key.key as ApiKey<T, P>;
  }

  // ---------------------------------------------------------------- internals

  #prepareGrant(input: GrantInput<T, P, R>) {
    const model = this.#model;
    const kind = subjectKind(input.subject);
    if (kind !== Kind.User && kind !== Kind.Group)
      throw invalid(`grants go to "user:…" or "group:…" subjects, not "${String(input.subject)}"`);
    const role = this.#role(input.role);
    const node = this.#requireNode(input.scope);
    const type = this.#type[node]!;
    if ((role.scopeMask & (1 << type)) === 0) {
      throw new GatehouseError(
        ErrorCode.ROLE_NOT_GRANTABLE_AT_SCOPE,
        `role "${input.role}" cannot be granted at a ${model.typeNames[type]}; it is granted at ${this.#scopeTypesOf(role)}`,
      );
    }
    const extras =
      input.extras === undefined || input.extras.length === 0
        ? (NO_EXTRAS as readonly string[])
        : [...new Set(input.extras)];
    let extraBits: Bits | undefined;
    if (extras.length > 0) {
      extraBits = this.#bitsOfNames(extras);
      const ownerOnly = missingFrom(extraBits, model.delegableBits);
      if (ownerOnly.length > 0) {
        throw new GatehouseError(
          ErrorCode.OWNER_ONLY_PERMISSION,
          `owner-only permissions cannot be granted as extras: ${ownerOnly.map((i) => model.permissionNames[i]).join(", ")}`,
        );
      }
      const outside = missingFrom(extraBits, model.underBits[type]!);
      if (outside.length > 0) {
        throw new GatehouseError(
          ErrorCode.PERMISSION_NOT_APPLICABLE_AT_SCOPE,
          `extras do not act at or below a ${model.typeNames[type]}: ${outside.map((i) => model.permissionNames[i]).join(", ")}`,
        );
      }
    }
    const expiresAt = input.expiresAt;
    if (expiresAt !== undefined && !Number.isFinite(expiresAt))
      throw invalid("expiresAt must be a finite epoch-milliseconds number");
    if (role.isOwner) {
      if (kind !== Kind.User) throw invalid("the owner role is held by a user, never a group");
      if (expiresAt !== undefined) throw invalid("the owner role cannot expire");
    }
    return { kind, role, node, extras, extraBits, expiresAt };
  }

  #find(principal: Principal, p: number, node: number): Decision {
    const word = p >>> 5;
    const bit = 1 << (p & 31);
    const parent = this.#parent;
    const own = principal.grants;
    const groups = principal.groups;
    for (let n = node; n !== NO_PARENT; n = parent[n]!) {
      const record = own.get(n);
      if (
        record !== undefined &&
        (record.bits[word]! & bit) !== 0 &&
        !this.#isExpired(record.expiresAt)
      )
        return record.allow;
      for (let g = 0; g < groups.length; g++) {
        const shared = groups[g]!.grants.get(n);
        if (
          shared !== undefined &&
          (shared.bits[word]! & bit) !== 0 &&
          !this.#isExpired(shared.expiresAt)
        )
          return shared.allow;
      }
    }
    return DENY.no_grant;
  }

  #keyDenial(key: KeyRecord, p: number, node: number): Decision | undefined {
    if (this.#isExpired(key.expiresAt)) return DENY.key_expired;
    if (!hasBit(key.bits, p)) return DENY.key_scope;
    if (!this.#isInKeyResources(key, node)) return DENY.key_resource;
    return undefined;
  }

  /**
   * The key's resource constraint holds by name: a resource deleted and created again under the same
   * name is inside it again; while none of its resources exists, the key reaches nothing.
   */
  #keyNodes(key: KeyRecord): ReadonlySet<number> {
    if (key.nodesAt !== this.#treeVersion) {
      const nodes = new Set<number>();
      for (const name of key.key.resources) {
        const node = this.#nodeIndex.get(name);
        if (node !== undefined) nodes.add(node);
      }
      key.nodes = nodes;
      key.nodesAt = this.#treeVersion;
    }
    return key.nodes;
  }

  /** Whether `node` is `ancestor` or lies below it. */
  #isUnder(node: number, ancestor: number): boolean {
    for (let n = node; n !== NO_PARENT; n = this.#parent[n]!) if (n === ancestor) return true;
    return false;
  }

  #isInKeyResources(key: KeyRecord, node: number): boolean {
    return key.key.resources.length === 0 || this.#isWithin(node, this.#keyNodes(key));
  }

  /** ORs into `held` the bits of every live grant of `principal` (and its groups) at `node` or above. */
  #collect(principal: Principal, node: number, held: Bits): void {
    for (let n = node; n !== NO_PARENT; n = this.#parent[n]!) {
      const record = principal.grants.get(n);
      if (record !== undefined && !this.#isExpired(record.expiresAt)) orInto(held, record.bits);
      for (const group of principal.groups) {
        const shared = group.grants.get(n);
        if (shared !== undefined && !this.#isExpired(shared.expiresAt)) orInto(held, shared.bits);
      }
    }
  }

  #isExpired(expiresAt: number): boolean {
    return expiresAt !== Number.POSITIVE_INFINITY && this.#clock() >= expiresAt;
  }

  #isWithin(node: number, scopes: ReadonlySet<number>): boolean {
    for (let n = node; n !== NO_PARENT; n = this.#parent[n]!) if (scopes.has(n)) return true;
    return false;
  }

  /** Nodes where the subject holds `p` through a live grant, before narrowing by a key's resources. */
  #coveringNodes(principal: Principal, p: number): number[] {
    const key = principal.key;
    if (key !== undefined) {
      if (this.#isExpired(key.expiresAt) || !hasBit(key.bits, p)) return [];
      const owned = this.#coveringNodes(key.owner, p);
      if (key.key.resources.length === 0) return owned;
      // Intersect subtrees: of two nested subtrees the deeper one remains.
      const constraints = this.#keyNodes(key);
      const ownedSet = new Set(owned);
      const result = owned.filter((node) => this.#isWithin(node, constraints));
      for (const constraint of constraints)
        if (this.#isWithin(constraint, ownedSet)) result.push(constraint);
      return result;
    }
    const nodes: number[] = [];
    const add = (record: GrantRecord) => {
      if (hasBit(record.bits, p) && !this.#isExpired(record.expiresAt)) nodes.push(record.node);
    };
    for (const record of principal.grants.values()) add(record);
    for (const group of principal.groups) for (const record of group.grants.values()) add(record);
    return nodes;
  }

  /** Drops nodes that have another covering node above them, so subtrees are disjoint. */
  #minimalCover(nodes: number[]): number[] {
    if (nodes.length <= 1) return nodes;
    const set = new Set(nodes);
    const minimal: number[] = [];
    for (const node of set) {
      let covered = false;
      for (let n = this.#parent[node]!; n !== NO_PARENT && !covered; n = this.#parent[n]!)
        covered = set.has(n);
      if (!covered) minimal.push(node);
    }
    return minimal;
  }

  /** Appends the names of nodes of type `t` in the subtree of `node` that sort after `after`. */
  /**
   * Appends the names of type-`t` nodes in `node`'s subtree that sort after `after`; returns the
   * running count of type-`t` nodes seen, stopping once it passes `budget`.
   */
  #gather(
    node: number,
    t: number,
    bit: number,
    out: string[],
    after: string | undefined,
    seen: number,
    budget: number,
  ): number {
    const reach = this.#model.reachMask;
    const stack = [node];
    while (stack.length > 0 && seen <= budget) {
      const current = stack.pop()!;
      const type = this.#type[current]!;
      if ((reach[type]! & bit) === 0) continue;
      if (type === t) {
        seen++;
        const name = this.#keys[current]!;
        if (after === undefined || name > after) out.push(name);
      }
      const children = this.#children[current];
      if (children !== undefined)
        for (let i = 0; i < children.length; i++) stack.push(children[i]!);
    }
    return seen;
  }

  /** One page of type-`t` resources under `covering`, read off the type's sorted list. */
  #scanPage(
    covering: readonly number[],
    t: number,
    after: string | undefined,
    limit: number,
  ): Page<T> {
    const sorted = this.#sortedOfType(t);
    const nodes = this.#sortedNodes[t]!;
    const cover = new Set(covering);
    const items: ResourceRef<T>[] = [];
    let index = after === undefined ? 0 : upperBound(sorted, after);
    for (; index < nodes.length && items.length < limit; index++) {
      if (this.#isWithin(nodes[index]!, cover)) items.push(sorted[index] as ResourceRef<T>);
    }
    // Look ahead for one more, so that `next` is set only when another page has items.
    let more = false;
    for (; index < nodes.length && !more; index++) more = this.#isWithin(nodes[index]!, cover);
    return { items, next: more && items.length > 0 ? items[items.length - 1] : undefined };
  }

  #sortedOfType(t: number): readonly string[] {
    if (this.#byTypeDirty[t]) {
      const live = this.#byType[t]!.filter((name) => this.#nodeIndex.has(name));
      live.sort(compareNames);
      let unique = 0;
      for (let i = 0; i < live.length; i++)
        if (i === 0 || live[i] !== live[unique - 1]) live[unique++] = live[i]!;
      live.length = unique;
      this.#byType[t] = live;
      this.#sortedNodes[t] = Int32Array.from(live, (name) => this.#nodeIndex.get(name)!);
      this.#byTypeDirty[t] = false;
    }
    return this.#byType[t]!;
  }

  #suggest(p: number, node: number): { role: R; scope: ResourceRef<T> } {
    for (let n = node; n !== NO_PARENT; n = this.#parent[n]!) {
      let best: CompiledRole | undefined;
      for (const role of this.#model.roles.values()) {
        if (role.isOwner || (role.scopeMask & (1 << this.#type[n]!)) === 0 || !hasBit(role.bits, p))
          continue;
        if (
          best === undefined ||
          role.size < best.size ||
          (role.size === best.size && role.name < best.name)
        )
          best = role;
      }
      if (best !== undefined)
        return { role: best.name as R, scope: this.#keys[n] as ResourceRef<T> };
    }
    const owner = this.#model.ownerRole;
    return { role: owner.name as R, scope: this.root };
  }

  #anyRoleBut(except: CompiledRole, p: number): boolean {
    for (const role of this.#model.roles.values())
      if (role !== except && hasBit(role.bits, p)) return true;
    return false;
  }

  #summarize(
    subject: SubjectRef,
    permission: string,
    resource: string,
    decision: Decision,
    suggestion: { role: string; scope: string } | undefined,
    ownerOnly: boolean,
  ): string {
    if (decision.allowed) {
      const via = decision.via;
      const through = via.subject === subject ? "" : ` (through ${via.subject})`;
      return `allowed: ${subject} holds role "${via.role}" on ${via.scope}${through}, which includes ${permission} on ${resource}`;
    }
    const reasons: Record<DenyReason, string> = {
      not_found: `${resource} does not exist in this workspace`,
      not_applicable: `${permission} does not act on a ${typeOfRef(resource)}`,
      no_grant: `no live grant of ${subject} on ${resource} or above includes ${permission}`,
      key_expired: "the API key has expired",
      key_scope: `the API key's scopes do not include ${permission}`,
      key_resource: `${resource} is outside the API key's resources`,
      owner_not_grantable: "the owner role is transferred, never granted",
      role_not_grantable_at_scope: "the role cannot be granted at that scope",
      owner_only_permission: "owner-only permissions are never delegated",
      no_people_management: "the granter may not manage people there",
      exceeds_granter: "the grant would exceed what the granter holds",
    };
    const fix =
      suggestion === undefined || decision.reason !== "no_grant"
        ? ""
        : ownerOnly
          ? `; only the owner holds ${permission}`
          : `; the least grant that would allow it is role "${suggestion.role}" on ${suggestion.scope}`;
    return `denied: ${reasons[decision.reason]}${fix}`;
  }

  #namesOf(bits: Bits): readonly P[] {
    if (isEmptyBits(bits)) return [];
    const cacheKey = bits.length === 1 ? bits[0]! : bits.join(",");
    let names = this.#namesCache.get(cacheKey);
    if (names === undefined) {
      names = Object.freeze(
        indicesOf(bits).map((index) => this.#model.permissionNames[index] as P),
      );
      if (this.#namesCache.size < 4096) this.#namesCache.set(cacheKey, names);
    }
    return names;
  }

  #bitsOfNames(names: readonly string[]): Bits {
    const bits = emptyBits(this.#model.words);
    for (const name of names) {
      const index = this.#model.permissionIndex.get(name);
      if (index === undefined) throw unknownPermission(name);
      setBit(bits, index);
    }
    return bits;
  }

  #role(name: string): CompiledRole {
    const role = this.#model.roles.get(name);
    if (role === undefined)
      throw new GatehouseError(
        ErrorCode.UNKNOWN_ROLE,
        `unknown role "${name}"; roles: ${[...this.#model.roles.keys()].join(", ")}`,
      );
    return role;
  }

  #scopeTypesOf(role: CompiledRole): string {
    return this.#model.typeNames
      .filter((_, type) => (role.scopeMask & (1 << type)) !== 0)
      .join(" or ");
  }

  #principal(name: SubjectRef, kind: Kind): Principal {
    // Loading reads grants by subject: the same one, again and again, skips the map.
    const last = this.#lastPrincipal;
    if (last !== undefined && last.name === name) return last;
    let principal = this.#principals.get(name);
    if (principal === undefined) {
      principal = new Principal(name, kind);
      this.#principals.set(name, principal);
    }
    this.#lastPrincipal = principal;
    return principal;
  }

  #dropGrant(record: GrantRecord): void {
    record.holder.grants.delete(record.node);
    if (this.#ownerGrant === record) this.#ownerGrant = undefined;
  }

  #typeOfResource(resource: string): number {
    if (typeof resource !== "string") throw invalid("a resource is named type:id");
    const name = typeOfRef(resource);
    const type = this.#model.typeIndex.get(name);
    if (type === undefined || resource.length === name.length + 1) {
      throw new GatehouseError(
        ErrorCode.UNKNOWN_RESOURCE_TYPE,
        `"${resource}" is not a resource of this model (type:id with type one of ${this.#model.typeNames.join(", ")})`,
      );
    }
    return type;
  }

  #requireNode(resource: string): number {
    const node = this.#nodeIndex.get(resource);
    if (node === undefined) {
      this.#typeOfResource(resource);
      throw new GatehouseError(
        ErrorCode.RESOURCE_NOT_FOUND,
        `no resource ${resource} in this workspace`,
      );
    }
    return node;
  }

  #requireParentType(resource: string, type: number, parentNode: number): void {
    const parentType = this.#type[parentNode]!;
    if ((this.#model.parentMask[type]! & (1 << parentType)) === 0) {
      const model = this.#model;
      const allowed = model.typeNames.filter((_, t) => (model.parentMask[type]! & (1 << t)) !== 0);
      throw new GatehouseError(
        ErrorCode.INVALID_PARENT,
        `a ${model.typeNames[type]} cannot hang under a ${model.typeNames[parentType]} (${resource}); allowed parents: ${allowed.join(", ") || "none"}`,
      );
    }
  }

  #childrenOf(node: number): number[] {
    let children = this.#children[node];
    if (children === undefined) {
      children = [];
      this.#children[node] = children;
    }
    return children;
  }

  #grantsOn(node: number): Set<GrantRecord> {
    let records = this.#grantsAt[node];
    if (records === undefined) {
      records = new Set();
      this.#grantsAt[node] = records;
    }
    return records;
  }

  #addNode(name: string, type: number, parent: number): number {
    const node = this.#nodeCount++;
    if (node >= this.#parent.length) {
      const parents = new Int32Array(this.#parent.length * 2);
      parents.set(this.#parent);
      this.#parent = parents;
      const types = new Uint8Array(this.#type.length * 2);
      types.set(this.#type);
      this.#type = types;
    }
    this.#parent[node] = parent;
    this.#type[node] = type;
    this.#keys[node] = name;
    this.#nodeIndex.set(name, node);
    if (parent !== NO_PARENT) this.#childrenOf(parent).push(node);
    this.#byType[type]!.push(name);
    this.#byTypeDirty[type] = true;
    this.#treeVersion++;
    return node;
  }

  /** Adds resources given in any order, parents first; rejects unknown parents and cycles. */
  #loadResources(resources: Iterable<ResourceInput<T>>): void {
    const waiting = new Map<string, ResourceInput<T>[]>();
    const place = (input: ResourceInput<T>) => {
      const queue = [input];
      while (queue.length > 0) {
        const next = queue.pop()!;
        this.upsertResource(next.resource, next.parent);
        const children = waiting.get(next.resource);
        if (children !== undefined) {
          waiting.delete(next.resource);
          queue.push(...children);
        }
      }
    };
    for (const input of resources) {
      if (this.#nodeIndex.has(input.parent)) place(input);
      else {
        const list = waiting.get(input.parent) ?? [];
        list.push(input);
        waiting.set(input.parent, list);
      }
    }
    if (waiting.size > 0) {
      const [parent, children] = waiting.entries().next().value!;
      throw new GatehouseError(
        ErrorCode.INVALID_PARENT,
        `${children[0]!.resource} names parent ${parent}, which is not among the resources (or forms a cycle)`,
      );
    }
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

function unknownPermission(name: string): GatehouseError {
  return new GatehouseError(ErrorCode.UNKNOWN_PERMISSION, `unknown permission "${name}"`);
}

function subjectKind(subject: string): Kind | undefined {
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

/** Permission indices matched by an API key scope: a name, `area.*` (any depth) or `*`. */
function expandScope(model: CompiledModel, scope: string): number[] {
  if (scope === "*" || scope.endsWith(".*")) {
    const prefix = scope === "*" ? "" : scope.slice(0, -1);
    return model.permissionNames.flatMap((name, index) => (name.startsWith(prefix) ? [index] : []));
  }
  const index = model.permissionIndex.get(scope);
  return index === undefined ? [] : [index];
}

function compareNames(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The first index whose name sorts after `name`. */
function upperBound(sorted: readonly string[], name: string): number {
  let low = 0;
  let high = sorted.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (sorted[middle]! <= name) low = middle + 1;
    else high = middle;
  }
  return low;
}

function removeItem(list: number[], item: number): void {
  const index = list.indexOf(item);
  if (index >= 0) list.splice(index, 1);
}
