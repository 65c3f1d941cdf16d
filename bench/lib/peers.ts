import { createMongoAbility, type MongoAbility, type RawRuleOf, subject } from "@casl/ability";
import { type Enforcer, newEnforcer, newModelFromString } from "casbin";
import {
  type MzPerm,
  type MzRole,
  type MzType,
  mzpanel,
  type Scenario,
  type UserRef,
} from "./scenario.ts";

const definition = mzpanel.definition;
const PERMISSIONS: readonly MzPerm[] = mzpanel.permissions;

/** The permissions of a role (the owner holds every permission). */
export function rolePermissions(role: MzRole): readonly MzPerm[] {
  const defined = definition.roles[role];
  return defined.owner === true ? PERMISSIONS : (defined.permissions ?? []);
}

/** The resource types a permission acts on. */
function typesOf(permission: MzPerm): readonly MzType[] {
  const on = definition.permissions[permission].on;
  return typeof on === "string" ? [on] : on;
}

function typeOfRef(ref: string): MzType {
  const type = ref.slice(0, ref.indexOf(":"));
  if (type !== "workspace" && type !== "server" && type !== "site")
    throw new Error(`bad ref ${ref}`);
  return type;
}

// ------------------------------------------------------------------------------------------------
// The V8 floor: the same decision written directly with Maps.

/**
 * Direct grants as Map<user, Map<scope, Set<permission>>> and the tree as Map<child, parent>; a
 * check walks from the resource up to the root. Only what the benchmark needs: no groups, keys,
 * expiry, type applicability or decision objects.
 */
export class MapFloor {
  readonly #grants = new Map<string, Map<string, Set<string>>>();
  readonly #parent = new Map<string, string>();
  /** For permissionsOn: the same grants as permission bitmasks. */
  readonly #masks = new Map<string, Map<string, number>>();
  readonly #siteMask: number;
  readonly #names = new Map<number, readonly string[]>();

  constructor(scenario: Scenario) {
    if (PERMISSIONS.length > 31)
      throw new Error("the floor's bitmask holds at most 31 permissions");
    for (const { resource, parent } of scenario.resources) this.#parent.set(resource, parent);
    for (const grant of scenario.grants) {
      const permissions = rolePermissions(grant.role);
      let byScope = this.#grants.get(grant.subject);
      if (byScope === undefined) {
        byScope = new Map();
        this.#grants.set(grant.subject, byScope);
      }
      byScope.set(grant.scope, new Set(permissions));
      let masks = this.#masks.get(grant.subject);
      if (masks === undefined) {
        masks = new Map();
        this.#masks.set(grant.subject, masks);
      }
      masks.set(grant.scope, maskOf(permissions));
    }
    this.#siteMask = maskOf(
      PERMISSIONS.filter((permission) => typesOf(permission).includes("site")),
    );
  }

  check(user: string, permission: string, resource: string): boolean {
    const byScope = this.#grants.get(user);
    if (byScope === undefined) return false;
    for (
      let node: string | undefined = resource;
      node !== undefined;
      node = this.#parent.get(node)
    ) {
      const held = byScope.get(node);
      if (held?.has(permission)) return true;
    }
    return false;
  }

  /** The site-applicable permissions held on a site, as a cached, sorted-by-model list. */
  permissionsOnSite(user: string, site: string): readonly string[] {
    const masks = this.#masks.get(user);
    if (masks === undefined) return EMPTY;
    let held = 0;
    for (let node: string | undefined = site; node !== undefined; node = this.#parent.get(node)) {
      const mask = masks.get(node);
      if (mask !== undefined) held |= mask;
    }
    held &= this.#siteMask;
    if (held === 0) return EMPTY;
    let names = this.#names.get(held);
    if (names === undefined) {
      names = PERMISSIONS.filter((_, index) => (held & (1 << index)) !== 0);
      this.#names.set(held, names);
    }
    return names;
  }
}

const EMPTY: readonly string[] = Object.freeze([]);

/**
 * The true floor: the same decision over integer ids in typed arrays — what any implementation
 * must at least do once names are resolved. Nodes are numbered root 0, servers 1…S, sites S+1…;
 * grants sit in one open-addressing hash table keyed by (member, node), holding permission
 * bitmasks. Queries come as integers (member, permission index, site index): the cost of turning
 * names into ids, which every real caller pays, is not in this floor.
 */
export class IntFloor {
  readonly #parent: Int32Array;
  readonly #siteBase: number;
  readonly #nodes: number;
  readonly #keys: Float64Array;
  readonly #masks: Int32Array;
  readonly #slots: number;
  readonly #siteMask: number;
  readonly #names = new Map<number, readonly string[]>();

  constructor(scenario: Scenario) {
    const servers = scenario.servers.length;
    this.#siteBase = 1 + servers;
    this.#nodes = this.#siteBase + scenario.sites.length;
    this.#parent = new Int32Array(this.#nodes);
    this.#parent[0] = -1;
    for (let server = 0; server < servers; server++) this.#parent[1 + server] = 0;
    for (let site = 0; site < scenario.sites.length; site++)
      this.#parent[this.#siteBase + site] = 1 + scenario.siteServer[site]!;
    const serverIndex = new Map(scenario.servers.map((name, index) => [name, 1 + index]));
    const siteIndex = new Map(scenario.sites.map((name, index) => [name, this.#siteBase + index]));
    const memberIndex = new Map(scenario.members.map((member, index) => [member.subject, index]));
    let slots = 16;
    while (slots < scenario.grants.length * 2) slots *= 2;
    this.#slots = slots;
    this.#keys = new Float64Array(slots).fill(-1);
    this.#masks = new Int32Array(slots);
    for (const grant of scenario.grants) {
      const node =
        grant.scope === scenario.root
          ? 0
          : (serverIndex.get(grant.scope) ?? siteIndex.get(grant.scope)!);
      const key = memberIndex.get(grant.subject as UserRef)! * this.#nodes + node;
      let slot = hashOf(key) & (slots - 1);
      while (this.#keys[slot] !== -1) slot = (slot + 1) & (slots - 1);
      this.#keys[slot] = key;
      this.#masks[slot] = maskOf(rolePermissions(grant.role));
    }
    this.#siteMask = maskOf(
      PERMISSIONS.filter((permission) => typesOf(permission).includes("site")),
    );
  }

  /** The permission's bit, for turning `CHECK_PERMISSIONS` indices into masks once. */
  static bitOf(permission: MzPerm): number {
    return 1 << PERMISSIONS.indexOf(permission);
  }

  #maskAt(member: number, node: number): number {
    const key = member * this.#nodes + node;
    const last = this.#slots - 1;
    for (let slot = hashOf(key) & last; ; slot = (slot + 1) & last) {
      const found = this.#keys[slot]!;
      if (found === key) return this.#masks[slot]!;
      if (found === -1) return 0;
    }
  }

  check(member: number, bit: number, site: number): boolean {
    for (let node = this.#siteBase + site; node !== -1; node = this.#parent[node]!)
      if ((this.#maskAt(member, node) & bit) !== 0) return true;
    return false;
  }

  permissionsOnSite(member: number, site: number): readonly string[] {
    let held = 0;
    for (let node = this.#siteBase + site; node !== -1; node = this.#parent[node]!)
      held |= this.#maskAt(member, node);
    held &= this.#siteMask;
    if (held === 0) return EMPTY;
    let names = this.#names.get(held);
    if (names === undefined) {
      names = PERMISSIONS.filter((_, index) => (held & (1 << index)) !== 0);
      this.#names.set(held, names);
    }
    return names;
  }
}

/**
 * The true floor asked by name: `IntFloor`'s typed-array decision after turning the fresh subject,
 * permission and site names into its integers with one `Map` each — the least a check with fresh
 * strings must do (hash each name, probe its table), then nothing but the integer decision. The
 * permission's map is small (the model's 29 permissions); the subject's and the site's hold every
 * member and every site. An unknown name holds nothing.
 */
export class NamedIntFloor {
  readonly #floor: IntFloor;
  readonly #members: Map<string, number>;
  readonly #sites: Map<string, number>;
  readonly #bits: Map<string, number>;

  constructor(scenario: Scenario) {
    this.#floor = new IntFloor(scenario);
    this.#members = new Map(scenario.members.map((member, index) => [member.subject, index]));
    this.#sites = new Map(scenario.sites.map((site, index) => [site, index]));
    this.#bits = new Map(PERMISSIONS.map((permission, index) => [permission, 1 << index]));
  }

  check(user: string, permission: string, site: string): boolean {
    const member = this.#members.get(user);
    const bit = this.#bits.get(permission);
    const index = this.#sites.get(site);
    if (member === undefined || bit === undefined || index === undefined) return false;
    return this.#floor.check(member, bit, index);
  }

  permissionsOnSite(user: string, site: string): readonly string[] {
    const member = this.#members.get(user);
    const index = this.#sites.get(site);
    if (member === undefined || index === undefined) return EMPTY;
    return this.#floor.permissionsOnSite(member, index);
  }
}

/** A 32-bit mix of a whole number below 2^53. */
function hashOf(key: number): number {
  let h = (key ^ (key / 0x1_0000_0000)) | 0;
  h = Math.imul(h ^ (h >>> 16), 0x45d9f3b);
  h = Math.imul(h ^ (h >>> 16), 0x45d9f3b);
  return (h ^ (h >>> 16)) >>> 0;
}

function maskOf(permissions: readonly MzPerm[]): number {
  let mask = 0;
  for (const permission of permissions) mask |= 1 << PERMISSIONS.indexOf(permission);
  return mask;
}

// ------------------------------------------------------------------------------------------------
// CASL: one MongoAbility per user, built from that user's grants, cached in a Map.

const CASL_TYPE = { workspace: "Workspace", server: "Server", site: "Site" } as const;
type CaslType = (typeof CASL_TYPE)[MzType];

/** What a CASL rule condition can see of a site. */
export interface SiteSubject {
  readonly id: string;
  readonly serverId: string;
  readonly workspaceId: string;
}

export interface CaslPeer {
  readonly abilities: Map<string, MongoAbility>;
  /** Pre-built, type-tagged subject objects, one per site. */
  readonly siteSubjects: Map<string, SiteSubject>;
  readonly rules: number;
}

/**
 * Tree semantics as conditions: a grant at the workspace gives unconditional rules; at a server,
 * `Server { id }` and `Site { serverId }`; at a site, `Site { id }`. One rule per grant and permission.
 */
export function buildCasl(scenario: Scenario): CaslPeer {
  const rulesByUser = new Map<string, RawRuleOf<MongoAbility>[]>();
  let total = 0;
  for (const grant of scenario.grants) {
    let rules = rulesByUser.get(grant.subject);
    if (rules === undefined) {
      rules = [];
      rulesByUser.set(grant.subject, rules);
    }
    const scopeType = typeOfRef(grant.scope);
    const before = rules.length;
    for (const permission of rolePermissions(grant.role)) {
      for (const type of typesOf(permission)) {
        const subjectType: CaslType = CASL_TYPE[type];
        if (scopeType === "workspace") {
          rules.push({ action: permission, subject: subjectType });
        } else if (scopeType === "server") {
          if (type === "server")
            rules.push({
              action: permission,
              subject: subjectType,
              conditions: { id: grant.scope },
            });
          else if (type === "site")
            rules.push({
              action: permission,
              subject: subjectType,
              conditions: { serverId: grant.scope },
            });
        } else if (type === "site") {
          rules.push({ action: permission, subject: subjectType, conditions: { id: grant.scope } });
        }
      }
    }
    total += rules.length - before;
  }
  const abilities = new Map<string, MongoAbility>();
  for (const [user, rules] of rulesByUser) abilities.set(user, createMongoAbility(rules));
  const siteSubjects = new Map<string, SiteSubject>();
  for (let i = 0; i < scenario.sites.length; i++) {
    const site = scenario.sites[i]!;
    siteSubjects.set(
      site,
      subject("Site", {
        id: site,
        serverId: scenario.servers[scenario.siteServer[i]!]!,
        workspaceId: scenario.root,
      }),
    );
  }
  return { abilities, siteSubjects, rules: total };
}

// ------------------------------------------------------------------------------------------------
// casbin: RBAC with domains, the scope resource as the domain.

/**
 * `g(user, role, scope)` holds each grant; `p(role, permission)` each role's permissions. The
 * request carries the site and its ancestors, and the matcher asks for the role at any of them,
 * which reproduces inheritance down the workspace → server → site tree.
 */
export const CASBIN_MODEL = `
[request_definition]
r = sub, site, server, ws, act

[policy_definition]
p = role, act

[role_definition]
g = _, _, _

[policy_effect]
e = some(where (p.eft == allow))

[matchers]
m = r.act == p.act && (g(r.sub, p.role, r.site) || g(r.sub, p.role, r.server) || g(r.sub, p.role, r.ws))
`;

export interface CasbinPeer {
  readonly enforcer: Enforcer;
  /** Site → its server, for the request's ancestor arguments. */
  readonly siteServer: Map<string, string>;
  readonly policies: number;
  readonly groupingPolicies: number;
}

export async function buildCasbin(scenario: Scenario): Promise<CasbinPeer> {
  const enforcer = await newEnforcer(newModelFromString(CASBIN_MODEL));
  const policies: string[][] = [];
  for (const role of mzpanel.roles) {
    for (const permission of rolePermissions(role)) policies.push([role, permission]);
  }
  await enforcer.addPolicies(policies);
  const grouping = scenario.grants.map((grant) => [grant.subject, grant.role, grant.scope]);
  await enforcer.addGroupingPolicies(grouping);
  const siteServer = new Map<string, string>();
  for (let i = 0; i < scenario.sites.length; i++) {
    siteServer.set(scenario.sites[i]!, scenario.servers[scenario.siteServer[i]!]!);
  }
  return { enforcer, siteServer, policies: policies.length, groupingPolicies: grouping.length };
}

/** The permissions that act on sites: what a per-site capability list can contain. */
export const SITE_PERMISSIONS: readonly MzPerm[] = PERMISSIONS.filter((permission) =>
  typesOf(permission).includes("site"),
);
