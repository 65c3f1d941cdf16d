import type { GrantInput, ResourceInput, ResourceRef } from "../../packages/engine/src/index.ts";
import { mzpanel } from "../../packages/engine/src/presets/mzpanel.ts";
import { Prng } from "./prng.ts";

export type Mz = typeof mzpanel;
export type MzType = Mz["types"][number];
export type MzPerm = Mz["permissions"][number];
export type MzRole = Mz["roles"][number];
export type UserRef = `user:${string}`;
export type MzRef = ResourceRef<MzType>;

export { mzpanel };

/**
 * How a member holds access. Two operators are stress cases for listing: `fleet-operator` operates a
 * quarter of all servers, `regional-operator` one in forty (~2.5 % of the sites).
 */
export type MemberKind =
  | "owner"
  | "admin"
  | "operator"
  | "regional-operator"
  | "fleet-operator"
  | "customer";

export interface Member {
  readonly subject: UserRef;
  readonly kind: MemberKind;
  readonly role: MzRole;
  /** Server indices (operators), site indices (customers), empty for workspace-wide roles. */
  readonly scopes: readonly number[];
}

export interface Sizes {
  readonly sites: number;
  readonly servers: number;
  readonly members: number;
  readonly owners: number;
  readonly admins: number;
  readonly operators: number;
  readonly fleetOperatorServers: number;
  readonly regionalOperatorServers: number;
  readonly customers: number;
  readonly grants: number;
  readonly accountGrants: number;
  readonly serverGrants: number;
  readonly siteGrants: number;
}

export interface Scenario {
  readonly seed: number;
  readonly sizes: Sizes;
  readonly root: MzRef;
  readonly servers: readonly MzRef[];
  readonly sites: readonly MzRef[];
  /** Site index → server index. */
  readonly siteServer: Int32Array;
  /** Server index → its site indices. */
  readonly serverSites: readonly (readonly number[])[];
  readonly members: readonly Member[];
  readonly resources: readonly ResourceInput<MzType>[];
  readonly grants: readonly GrantInput<MzType, MzPerm, MzRole>[];
}

export const WORKSPACE = "acme";

/** Site-level permissions the check queries use; `site.delete` is not in the Customer role. */
export const CHECK_PERMISSIONS = [
  "site.deploy",
  "site.view",
  "site.files.manage",
  "site.delete",
] as const satisfies readonly MzPerm[];
/** Relative weights of `CHECK_PERMISSIONS` (site.deploy dominates). */
const CHECK_WEIGHTS = [4, 2, 2, 2] as const;

function pad(value: number, width: number): string {
  return String(value).padStart(width, "0");
}

/**
 * The workspace for `sites` sites, scaled like the full size (100k sites, 2k servers, 10k members):
 * 50 sites per server, one member per 10 sites; an owner and 5 admins at the account, 15 % of members
 * operators of 1–3 servers (plus a fleet operator of a quarter of the servers and a regional one of
 * 2.5 %), the rest customers
 * of 1–8 sites each.
 */
export function generateScenario(sites: number, seed: number): Scenario {
  const prng = new Prng(seed);
  const servers = Math.max(2, Math.round(sites / 50));
  const memberCount = Math.max(20, Math.round(sites / 10));
  const owners = 1;
  const admins = 5;
  const operators = Math.round(memberCount * 0.15);
  const customers = memberCount - owners - admins - operators;
  const fleetOperatorServers = Math.max(1, Math.round(servers / 4));
  const regionalOperatorServers = Math.max(1, Math.round(servers / 40));
  const digits = String(sites).length;

  const root: MzRef = `workspace:${WORKSPACE}`;
  const serverRefs: MzRef[] = [];
  for (let i = 0; i < servers; i++) serverRefs.push(`server:srv${pad(i, 5)}`);
  const siteRefs: MzRef[] = [];
  const siteServer = new Int32Array(sites);
  const serverSites: number[][] = serverRefs.map(() => []);
  for (let i = 0; i < sites; i++) {
    siteRefs.push(`site:s${pad(i, digits)}.example`);
    // Every server gets at least one site, the rest are spread at random.
    const server = i < servers ? i : prng.int(servers);
    siteServer[i] = server;
    serverSites[server]!.push(i);
  }
  const resources: ResourceInput<MzType>[] = [];
  for (const server of serverRefs) resources.push({ resource: server, parent: root });
  for (let i = 0; i < sites; i++) {
    resources.push({ resource: siteRefs[i]!, parent: serverRefs[siteServer[i]!]! });
  }

  const distinct = (count: number, range: number): number[] => {
    const chosen = new Set<number>();
    const wanted = Math.min(count, range);
    while (chosen.size < wanted) chosen.add(prng.int(range));
    return [...chosen];
  };

  const members: Member[] = [];
  let serial = 0;
  const nextUser = (): UserRef => `user:u${pad(serial++, 6)}`;
  members.push({ subject: nextUser(), kind: "owner", role: "owner", scopes: [] });
  for (let i = 0; i < admins; i++)
    members.push({ subject: nextUser(), kind: "admin", role: "admin", scopes: [] });
  for (let i = 0; i < operators; i++) {
    const kind = i === 0 ? "fleet-operator" : i === 1 ? "regional-operator" : "operator";
    const count =
      kind === "fleet-operator"
        ? fleetOperatorServers
        : kind === "regional-operator"
          ? regionalOperatorServers
          : prng.between(1, 3);
    members.push({ subject: nextUser(), kind, role: "operator", scopes: distinct(count, servers) });
  }
  for (let i = 0; i < customers; i++) {
    members.push({
      subject: nextUser(),
      kind: "customer",
      role: "customer",
      scopes: distinct(prng.between(1, 8), sites),
    });
  }
  // Shuffle so member kinds are not clustered by name.
  for (let i = members.length - 1; i > 0; i--) {
    const j = prng.int(i + 1);
    const swap = members[i]!;
    members[i] = members[j]!;
    members[j] = swap;
  }

  const grants: GrantInput<MzType, MzPerm, MzRole>[] = [];
  let accountGrants = 0;
  let serverGrants = 0;
  let siteGrants = 0;
  for (const member of members) {
    if (member.kind === "owner" || member.kind === "admin") {
      grants.push({ subject: member.subject, role: member.role, scope: root });
      accountGrants++;
    } else if (member.kind === "customer") {
      for (const site of member.scopes) {
        grants.push({ subject: member.subject, role: member.role, scope: siteRefs[site]! });
        siteGrants++;
      }
    } else {
      for (const server of member.scopes) {
        grants.push({ subject: member.subject, role: member.role, scope: serverRefs[server]! });
        serverGrants++;
      }
    }
  }

  return {
    seed,
    sizes: {
      sites,
      servers,
      members: memberCount,
      owners,
      admins,
      operators,
      fleetOperatorServers,
      regionalOperatorServers,
      customers,
      grants: grants.length,
      accountGrants,
      serverGrants,
      siteGrants,
    },
    root,
    servers: serverRefs,
    sites: siteRefs,
    siteServer,
    serverSites,
    members,
    resources,
    grants,
  };
}

/** Pre-generated check queries: member × site × permission, indices into the scenario. */
export interface Queries {
  /** A power of two, so `index & mask` cycles through them. */
  readonly length: number;
  readonly mask: number;
  readonly member: Int32Array;
  readonly site: Int32Array;
  /** Index into `CHECK_PERMISSIONS`. */
  readonly permission: Uint8Array;
}

/**
 * Random member × site × permission. Half the queries target a site inside the member's scope (an
 * admin's is every site), half a uniformly random site, so decisions mix allows and denies.
 */
export function generateQueries(scenario: Scenario, count: number, seed: number): Queries {
  if ((count & (count - 1)) !== 0) throw new Error("query count must be a power of two");
  const prng = new Prng(seed);
  const member = new Int32Array(count);
  const site = new Int32Array(count);
  const permission = new Uint8Array(count);
  const totalWeight = CHECK_WEIGHTS.reduce((sum, weight) => sum + weight, 0);
  for (let i = 0; i < count; i++) {
    const m = prng.int(scenario.members.length);
    const chosen = scenario.members[m]!;
    let s = prng.int(scenario.sites.length);
    if (prng.float() < 0.5) {
      if (chosen.kind === "customer") s = prng.pick(chosen.scopes);
      else if (chosen.kind !== "owner" && chosen.kind !== "admin") {
        const onServer = scenario.serverSites[prng.pick(chosen.scopes)]!;
        if (onServer.length > 0) s = prng.pick(onServer);
      }
    }
    let roll = prng.int(totalWeight);
    let p = 0;
    while (roll >= CHECK_WEIGHTS[p]!) roll -= CHECK_WEIGHTS[p++]!;
    member[i] = m;
    site[i] = s;
    permission[i] = p;
  }
  return { length: count, mask: count - 1, member, site, permission };
}
