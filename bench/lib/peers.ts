import { createMongoAbility, type MongoAbility, type RawRuleOf, subject } from "@casl/ability";
import { type Enforcer, newEnforcer, newModelFromString } from "casbin";
import { type MzPerm, type MzRole, type MzType, mzpanel, type Scenario } from "./scenario.ts";

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
