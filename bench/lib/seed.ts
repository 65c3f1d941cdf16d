/**
 * Seeds benchmark workspaces into a Gatehouse database. The workspace, its owner, a team manager
 * and API keys go through the service layer; the bulk (resources, users, members, grants) is
 * inserted with plain multi-row SQL in the tables of packages/service/src/database, which is what
 * the service would write minus the activity log and change rows. That is sound because no engine
 * of the workspace is loaded anywhere before the bulk rows are in: every reader loads them.
 */
import {
  asUser,
  createGatehouse,
  type Database,
  type Gatehouse,
  type Storage,
  systemActor,
} from "@gatehouse/service";
import type { Insertable, Kysely } from "kysely";
import { Prng } from "./prng.ts";
import type { MzRef, Scenario } from "./scenario.ts";

/** Rows per INSERT: 8 columns × 1,000 stays under SQLite's and PostgreSQL's parameter limits. */
const CHUNK = 1_000;
const SEEDED_AT = Date.UTC(2026, 0, 1);
/** The manager's password (the benchmark signs in with it over HTTP). */
export const MANAGER_PASSWORD = "bench manager passphrase";

async function insertChunked<T extends keyof Database>(
  db: Kysely<Database>,
  table: T,
  rows: Iterable<Insertable<Database[T]>>,
): Promise<number> {
  let chunk: Insertable<Database[T]>[] = [];
  let count = 0;
  const flush = async () => {
    if (chunk.length === 0) return;
    // Kysely's generic insert over a union of tables needs the row type widened once here.
    await db
      .insertInto(table)
      .values(chunk as never)
      .execute();
    count += chunk.length;
    chunk = [];
  };
  for (const row of rows) {
    chunk.push(row);
    if (chunk.length >= CHUNK) await flush();
  }
  await flush();
  return count;
}

function userRow(id: string): Insertable<Database["users"]> {
  return {
    id,
    email: `${id}@bench.gatehouse.test`,
    name: id,
    password_hash: null,
    created_at: SEEDED_AT,
  };
}

/** What a seeded workspace gives the benchmark. */
export interface SeededWorkspace {
  readonly workspaceId: string;
  /** `workspace:<id>`: the scenario's root renamed. */
  readonly root: MzRef;
  readonly manager: { readonly userId: string; readonly email: string; readonly password: string };
}

/**
 * The bulk of a workspace, streamed: users (ids without `user:`), resources under `root` and
 * grants. The first user is the owner; the service creates the workspace with them.
 */
export interface BulkWorkspace {
  readonly owner: string;
  users(): Iterable<string>;
  resources(root: MzRef): Iterable<{ resource: string; parent: string }>;
  grants(root: MzRef): Iterable<{ subject: string; role: string; scope: string }>;
}

/**
 * Creates the workspace through the service, inserts the bulk rows in one transaction, then adds
 * a team manager (an admin who signs in with {@link MANAGER_PASSWORD}) through the service.
 */
export async function seedWorkspace(
  gatehouse: Gatehouse,
  bulk: BulkWorkspace,
  name = "Bench Hosting",
): Promise<SeededWorkspace> {
  const db = gatehouse.storage.db;
  await insertChunked(db, "users", [userRow(bulk.owner)]);
  const workspace = await gatehouse.workspaces.create(systemActor("bench"), {
    name,
    preset: "mzpanel",
    ownerId: bulk.owner,
  });
  const workspaceId = workspace.id;
  const root: MzRef = `workspace:${workspaceId}`;
  await gatehouse.storage.transaction(async (trx) => {
    await insertChunked(
      trx,
      "users",
      (function* () {
        for (const id of bulk.users()) if (id !== bulk.owner) yield userRow(id);
      })(),
    );
    await insertChunked(
      trx,
      "members",
      (function* () {
        for (const id of bulk.users())
          if (id !== bulk.owner)
            yield { workspace_id: workspaceId, user_id: id, joined_at: SEEDED_AT };
      })(),
    );
    await insertChunked(
      trx,
      "resources",
      (function* () {
        for (const { resource, parent } of bulk.resources(root))
          yield { workspace_id: workspaceId, resource, parent, created_at: SEEDED_AT };
      })(),
    );
    await insertChunked(
      trx,
      "grants",
      (function* () {
        for (const { subject, role, scope } of bulk.grants(root)) {
          if (subject === `user:${bulk.owner}` && scope === root) continue;
          yield {
            workspace_id: workspaceId,
            subject,
            scope,
            role,
            extras: "[]",
            expires_at: null,
            created_at: SEEDED_AT,
            created_by: "system:bench-seed",
          };
        }
      })(),
    );
  });
  const email = `manager@${workspaceId.replaceAll("_", "-")}.bench.gatehouse.test`;
  const { user } = await gatehouse.users.signUp({
    email,
    password: MANAGER_PASSWORD,
    name: "Bench manager",
  });
  await gatehouse.members.add(systemActor("bench"), workspaceId, {
    userId: user.id,
    grants: [{ role: "admin", scope: root }],
  });
  return { workspaceId, root, manager: { userId: user.id, email, password: MANAGER_PASSWORD } };
}

/** A scenario of bench/lib/scenario.ts as bulk rows, the workspace `acme` renamed to `root`. */
export function scenarioBulk(scenario: Scenario): BulkWorkspace {
  const rename = (root: MzRef, ref: MzRef): string => (ref === scenario.root ? root : ref);
  const owner = scenario.members.find((member) => member.kind === "owner")!;
  return {
    owner: owner.subject.slice("user:".length),
    *users() {
      for (const member of scenario.members) yield member.subject.slice("user:".length);
    },
    *resources(root) {
      for (const { resource, parent } of scenario.resources)
        yield { resource, parent: rename(root, parent) };
    },
    *grants(root) {
      for (const { subject, role, scope } of scenario.grants)
        yield { subject, role, scope: rename(root, scope) };
    },
  };
}

/** Sizes of the cold-start workspace. */
export interface ColdStartSizes {
  readonly servers: number;
  readonly sites: number;
  readonly grants: number;
}

export const COLD_START_SIZES: ColdStartSizes = {
  servers: 2_000,
  sites: 200_000,
  grants: 1_000_000,
};

/**
 * The cold-start workspace: `servers` servers, `sites` sites spread over them, and members until
 * there are `grants` grants — an owner and 5 admins, one operator of 1–3 servers per server, the
 * rest customers of 1–9 sites each (≈ 200k members at 1M grants). Deterministic (sfc32).
 */
export function coldStartBulk(
  sizes: ColdStartSizes,
  seed: number,
): BulkWorkspace & {
  readonly members: number;
} {
  const siteServer = new Int32Array(sizes.sites);
  const prng = new Prng(seed);
  for (let i = 0; i < sizes.sites; i++)
    siteServer[i] = i < sizes.servers ? i : prng.int(sizes.servers);
  const server = (i: number) => `server:srv${String(i).padStart(5, "0")}`;
  const site = (i: number) => `site:s${String(i).padStart(6, "0")}.example`;
  const user = (i: number) => `u${String(i).padStart(7, "0")}`;
  // Grants per member, fixed up front so users() and grants() agree.
  const plan: { role: string; scopes: number[] }[] = [{ role: "owner", scopes: [] }];
  for (let i = 0; i < 5; i++) plan.push({ role: "admin", scopes: [] });
  let total = 6;
  const distinct = (count: number, range: number) => {
    const chosen = new Set<number>();
    while (chosen.size < count) chosen.add(prng.int(range));
    return [...chosen];
  };
  for (let i = 0; i < sizes.servers && total < sizes.grants; i++) {
    const scopes = distinct(Math.min(prng.between(1, 3), sizes.grants - total), sizes.servers);
    plan.push({ role: "operator", scopes });
    total += scopes.length;
  }
  while (total < sizes.grants) {
    const scopes = distinct(Math.min(prng.between(1, 9), sizes.grants - total), sizes.sites);
    plan.push({ role: "customer", scopes });
    total += scopes.length;
  }
  return {
    owner: user(0),
    members: plan.length,
    *users() {
      for (let i = 0; i < plan.length; i++) yield user(i);
    },
    *resources(root) {
      for (let i = 0; i < sizes.servers; i++) yield { resource: server(i), parent: root };
      for (let i = 0; i < sizes.sites; i++)
        yield { resource: site(i), parent: server(siteServer[i]!) };
    },
    *grants(root) {
      for (let i = 0; i < plan.length; i++) {
        const { role, scopes } = plan[i]!;
        const subject = `user:${user(i)}`;
        if (role === "owner" || role === "admin") yield { subject, role, scope: root };
        else if (role === "operator")
          for (const s of scopes) yield { subject, role, scope: server(s) };
        else for (const s of scopes) yield { subject, role, scope: site(s) };
      }
    },
  };
}

/**
 * An API key of the workspace's manager, created through the service (so the instance under test
 * need not load the workspace first); returns the `Authorization` header.
 */
export async function managerKey(
  gatehouse: Gatehouse,
  seeded: SeededWorkspace,
  name = "bench panel backend",
): Promise<{ id: string; authorization: Readonly<Record<string, string>> }> {
  const { key, secret } = await gatehouse.apiKeys.create(
    asUser(seeded.manager.userId),
    seeded.workspaceId,
    { name, scopes: ["team.view"] },
  );
  return { id: key.id, authorization: { authorization: `Bearer ${secret}` } };
}

/** A Gatehouse over `storage` for seeding (the default password cost: the manager signs in for real). */
export function seedingService(storage: Storage): Gatehouse {
  return createGatehouse({ storage });
}
