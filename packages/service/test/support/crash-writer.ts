/**
 * The child process of `crash.test.ts`, plus the consistency checks the crash and race tests share.
 *
 * Run as `node --conditions=@gatehouse/source --import tsx crash-writer.ts` with `CRASH_WRITER_CONFIG` (a JSON `WriterConfig`) in
 * the environment. It opens the storage named there (a SQLite file, or a PostgreSQL URL and schema),
 * reads the current state of the given workspaces, prints a `ready` line, then writes to every
 * workspace at once — one write at a time per workspace — until it is killed. Around each write it
 * prints one JSON line to stdout, synchronously:
 *
 * - `intent` before the call: the operation and the state the workspace must be in if it commits;
 * - `ack` after the call's promise resolved: the revision it returned.
 *
 * So the parent knows, for every workspace, the last acknowledged state and the one write that may
 * have been in flight when the process died.
 */
import { writeSync } from "node:fs";
import { pathToFileURL } from "node:url";
import {
  applyOps,
  type ChangeOp,
  createEngine,
  type GranteeRef,
  type Model,
} from "@gatehouse/engine";
import { presets } from "@gatehouse/engine/presets";
import type { Kysely } from "kysely";
import { asUser, type RequestContext, systemActor } from "../../src/actor.ts";
import { verifyChain } from "../../src/audit/chain.ts";
import { openPostgres } from "../../src/database/postgres/open.ts";
import type { Database } from "../../src/database/schema.ts";
import { openSqlite } from "../../src/database/sqlite/open.ts";
import type { Storage } from "../../src/database/storage.ts";
import { createGatehouse, type Gatehouse } from "../../src/gatehouse.ts";
import { TEST_PASSWORD_COST } from "../backends.ts";

export interface WriterConfig {
  readonly dialect: "sqlite" | "postgres";
  /** The SQLite file, or the PostgreSQL URL. */
  readonly target: string;
  /** PostgreSQL only: the schema holding the tables. */
  readonly schema?: string | undefined;
  /** The `mzpanel` workspaces to write to. */
  readonly workspaces: readonly string[];
  /** The users who may be added to them. */
  readonly users: readonly string[];
  readonly seed: number;
  /** Which start this is; names created by different starts never collide. */
  readonly run: number;
}

/** A workspace as the tables hold it, in a form that compares with `toEqual`. */
export interface WorkspaceState {
  readonly name: string;
  /** The owner's user id; `"<n owners>"` when there is not exactly one owner grant. */
  readonly owner: string;
  /** Member (or grant subject) → its grants as sorted `role@scope`. */
  readonly members: Readonly<Record<string, readonly string[]>>;
  /** Registered resource → parent. */
  readonly resources: Readonly<Record<string, string>>;
}

export interface Spec {
  readonly role: string;
  readonly scope: string;
}

type Actor = "owner" | "system";

export type WriteOp =
  | { readonly kind: "add"; readonly actor: Actor; readonly user: string; readonly grants: Spec[] }
  | {
      readonly kind: "setGrants";
      readonly actor: Actor;
      readonly user: string;
      readonly grants: Spec[];
    }
  | { readonly kind: "remove"; readonly actor: Actor; readonly user: string }
  | {
      readonly kind: "upsert";
      readonly actor: Actor;
      readonly resource: string;
      readonly parent: string;
    }
  | {
      readonly kind: "move";
      readonly actor: Actor;
      readonly resource: string;
      readonly parent: string;
    }
  | { readonly kind: "delete"; readonly actor: Actor; readonly resource: string }
  | { readonly kind: "rename"; readonly actor: Actor; readonly name: string }
  | { readonly kind: "transfer"; readonly actor: Actor; readonly user: string };

/** The audit action each kind of write records. */
export const AUDIT_ACTION: Readonly<Record<WriteOp["kind"], string>> = {
  add: "member.add",
  setGrants: "member.grants.set",
  remove: "member.remove",
  upsert: "resource.create",
  move: "resource.move",
  delete: "resource.delete",
  rename: "workspace.rename",
  transfer: "workspace.transfer_ownership",
};

export type WriterLine =
  | { readonly t: "ready"; readonly revisions: Readonly<Record<string, number>> }
  | {
      readonly t: "intent";
      readonly ws: string;
      readonly n: number;
      readonly op: WriteOp;
      readonly expect: WorkspaceState;
    }
  | { readonly t: "ack"; readonly ws: string; readonly n: number; readonly revision: number }
  | { readonly t: "error"; readonly ws: string; readonly n: number; readonly message: string };

export function grantLabel(grant: { role: string; scope: string }): string {
  return `${grant.role}@${grant.scope}`;
}

/** Reads a workspace's name, owner, members with grants, and resources straight from the tables. */
export async function readState(
  db: Kysely<Database>,
  workspaceId: string,
): Promise<WorkspaceState> {
  const [row, members, grants, resources] = await Promise.all([
    db
      .selectFrom("workspaces")
      .select("name")
      .where("id", "=", workspaceId)
      .executeTakeFirstOrThrow(),
    db.selectFrom("members").select("user_id").where("workspace_id", "=", workspaceId).execute(),
    db
      .selectFrom("grants")
      .select(["subject", "role", "scope"])
      .where("workspace_id", "=", workspaceId)
      .execute(),
    db
      .selectFrom("resources")
      .select(["resource", "parent"])
      .where("workspace_id", "=", workspaceId)
      .execute(),
  ]);
  const byMember: Record<string, string[]> = {};
  for (const member of members) byMember[member.user_id] = [];
  for (const grant of grants) {
    const key = grant.subject.startsWith("user:") ? grant.subject.slice(5) : grant.subject;
    byMember[key] = [...(byMember[key] ?? []), grantLabel(grant)];
  }
  const owners = grants.filter((grant) => grant.role === "owner");
  return {
    name: row.name,
    owner: owners.length === 1 ? owners[0]!.subject.slice(5) : `<${owners.length} owners>`,
    members: sortedRecord(
      Object.fromEntries(Object.entries(byMember).map(([key, list]) => [key, list.sort()])),
    ),
    resources: sortedRecord(
      Object.fromEntries(resources.map((resource) => [resource.resource, resource.parent])),
    ),
  };
}

function sortedRecord<T>(record: Record<string, T>): Record<string, T> {
  return Object.fromEntries(Object.entries(record).sort(([a], [b]) => (a < b ? -1 : 1)));
}

/**
 * What must hold for every workspace at rest, whatever happened before: the revision counts the
 * stored changes, the audit head counts the log and the chain verifies, exactly one owner grant at
 * the root held by a member, every member holds a grant, every grant belongs to a member (or group)
 * and sits on a registered resource, and replaying the stored changes gives the tables' grants and
 * resources. Returns the problems found (empty when consistent).
 */
export async function workspaceProblems(
  db: Kysely<Database>,
  workspaceId: string,
  models: Readonly<Record<string, Model>> = presets,
): Promise<string[]> {
  const problems: string[] = [];
  const row = await db
    .selectFrom("workspaces")
    .selectAll()
    .where("id", "=", workspaceId)
    .executeTakeFirstOrThrow();
  const model = models[row.preset]!;
  const root = `${model.rootType}:${workspaceId}`;
  const [changes, audit, members, grants, resources, groups] = await Promise.all([
    db
      .selectFrom("changes")
      .select(["revision", "ops"])
      .where("workspace_id", "=", workspaceId)
      .orderBy("revision")
      .execute(),
    db
      .selectFrom("audit_log")
      .select((eb) => eb.fn.countAll<number>().as("count"))
      .where("workspace_id", "=", workspaceId)
      .executeTakeFirstOrThrow(),
    db.selectFrom("members").select("user_id").where("workspace_id", "=", workspaceId).execute(),
    db
      .selectFrom("grants")
      .select(["subject", "role", "scope"])
      .where("workspace_id", "=", workspaceId)
      .execute(),
    db
      .selectFrom("resources")
      .select(["resource", "parent"])
      .where("workspace_id", "=", workspaceId)
      .execute(),
    db.selectFrom("groups").select("group_id").where("workspace_id", "=", workspaceId).execute(),
  ]);
  const where = `workspace ${workspaceId}`;
  if (row.revision !== changes.length)
    problems.push(`${where}: revision ${row.revision} but ${changes.length} stored changes`);
  changes.forEach((change, index) => {
    if (change.revision !== index + 1)
      problems.push(`${where}: change #${index + 1} is stored as revision ${change.revision}`);
  });
  if (row.audit_seq !== Number(audit.count))
    problems.push(`${where}: audit_seq ${row.audit_seq} but ${audit.count} audit entries`);
  const chain = await verifyChain(db, workspaceId, { seq: row.audit_seq, hash: row.audit_head });
  if (!chain.valid) problems.push(`${where}: audit chain broken: ${chain.message}`);

  if (row.closed_at !== null) return problems;
  const memberIds = new Set(members.map((member) => member.user_id));
  const groupIds = new Set(groups.map((group) => group.group_id));
  const resourceNames = new Set([root, ...resources.map((resource) => resource.resource)]);
  const owners = grants.filter((grant) => grant.role === model.ownerRole);
  if (owners.length !== 1)
    problems.push(
      `${where}: ${owners.length} owner grants (${owners.map((g) => g.subject).join(", ")})`,
    );
  for (const owner of owners) {
    if (owner.scope !== root) problems.push(`${where}: owner grant on ${owner.scope}`);
    if (!owner.subject.startsWith("user:") || !memberIds.has(owner.subject.slice(5)))
      problems.push(`${where}: the owner ${owner.subject} is not a member`);
  }
  for (const grant of grants) {
    const [kind, id] = [grant.subject.slice(0, grant.subject.indexOf(":")), grant.subject];
    const holderExists =
      kind === "user" ? memberIds.has(id.slice(5)) : kind === "group" && groupIds.has(id.slice(6));
    if (!holderExists)
      problems.push(`${where}: grant ${grantLabel(grant)} of ${grant.subject}, not a member`);
    if (!resourceNames.has(grant.scope))
      problems.push(`${where}: grant ${grantLabel(grant)} on an unregistered resource`);
  }
  for (const member of memberIds) {
    if (!grants.some((grant) => grant.subject === `user:${member}`))
      problems.push(`${where}: member ${member} holds no grant`);
  }
  for (const resource of resources) {
    if (!resourceNames.has(resource.parent))
      problems.push(`${where}: ${resource.resource} under missing parent ${resource.parent}`);
  }

  // Replaying the stored changes must give what the tables hold.
  try {
    const engine = createEngine(model, { workspace: workspaceId });
    const subjects = new Set<GranteeRef>();
    const named = new Set<string>();
    for (const change of changes) {
      const ops = JSON.parse(change.ops) as ChangeOp[];
      for (const op of ops) {
        if (op.op === "grant.add") subjects.add(op.grant.subject);
        if (op.op === "resource.upsert") named.add(op.resource);
      }
      applyOps(engine, ops);
    }
    for (const grant of grants) subjects.add(grant.subject as GranteeRef);
    for (const subject of subjects) {
      const replayed = engine.grantsOf(subject).map(grantLabel).sort();
      const stored = grants
        .filter((grant) => grant.subject === subject)
        .map(grantLabel)
        .sort();
      if (JSON.stringify(replayed) !== JSON.stringify(stored))
        problems.push(
          `${where}: replayed changes give ${subject} [${replayed}] but the table has [${stored}]`,
        );
    }
    const parents = new Map(resources.map((resource) => [resource.resource, resource.parent]));
    for (const resource of new Set([...named, ...parents.keys()])) {
      const replayed = engine.hasResource(resource)
        ? engine.parentOf(resource as `${string}:${string}`)
        : undefined;
      if (replayed !== parents.get(resource))
        problems.push(
          `${where}: replayed changes put ${resource} under ${replayed} but the table says ${parents.get(resource)}`,
        );
    }
  } catch (error) {
    problems.push(`${where}: the stored changes do not replay: ${String(error)}`);
  }
  return problems;
}

/** A small seeded generator (mulberry32). */
export function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function pick<T>(next: () => number, list: readonly T[]): T {
  return list[Math.floor(next() * list.length)]!;
}

/** The next write for a workspace in `state`, always one that succeeds and changes something. */
function nextOp(
  next: () => number,
  workspaceId: string,
  state: WorkspaceState,
  config: WriterConfig,
  n: number,
): WriteOp {
  const root = `workspace:${workspaceId}`;
  const actor = (): Actor => (next() < 0.5 ? "owner" : "system");
  const nonOwners = Object.keys(state.members).filter((user) => user !== state.owner);
  const outsiders = config.users.filter((user) => state.members[user] === undefined);
  const servers = Object.keys(state.resources).filter((name) => name.startsWith("server:"));
  const sites = Object.keys(state.resources).filter((name) => name.startsWith("site:"));
  const granted = new Set(Object.values(state.members).flat());
  const subtree = (resource: string): string[] => [
    resource,
    ...Object.entries(state.resources)
      .filter(([, parent]) => parent === resource)
      .flatMap(([child]) => subtree(child)),
  ];
  const deletable = [...sites, ...(servers.length > 1 ? servers : [])].filter((resource) =>
    subtree(resource).every((name) => ![...granted].some((grant) => grant.endsWith(`@${name}`))),
  );
  const specs = (): Spec[] => {
    const options: Spec[] = [
      { role: "admin", scope: root },
      ...servers.map((scope) => ({ role: "operator", scope })),
      ...sites.map((scope) => ({ role: "customer", scope })),
    ];
    const first = pick(next, options);
    const second = pick(next, options);
    return next() < 0.4 && second.scope !== first.scope ? [first, second] : [first];
  };
  const tag = `r${config.run}-${n}`;
  const choices: [number, () => WriteOp][] = [
    [
      outsiders.length > 0 ? 3 : 0,
      () => ({ kind: "add", actor: actor(), user: pick(next, outsiders), grants: specs() }),
    ],
    [
      nonOwners.length > 0 ? 3 : 0,
      () => ({ kind: "setGrants", actor: actor(), user: pick(next, nonOwners), grants: specs() }),
    ],
    [
      nonOwners.length > 1 ? 2 : 0,
      () => ({ kind: "remove", actor: actor(), user: pick(next, nonOwners) }),
    ],
    [
      servers.length < 5 ? 1 : 0,
      () => ({ kind: "upsert", actor: actor(), resource: `server:${tag}`, parent: root }),
    ],
    [
      servers.length > 0 && sites.length < 10 ? 2 : 0,
      () => ({
        kind: "upsert",
        actor: actor(),
        resource: `site:${tag}`,
        parent: pick(next, servers),
      }),
    ],
    [
      servers.length > 1 && sites.length > 0 ? 1 : 0,
      () => {
        const site = pick(next, sites);
        const others = servers.filter((server) => server !== state.resources[site]);
        return { kind: "move", actor: actor(), resource: site, parent: pick(next, others) };
      },
    ],
    [
      deletable.length > 0 ? 2 : 0,
      () => ({ kind: "delete", actor: actor(), resource: pick(next, deletable) }),
    ],
    [1, () => ({ kind: "rename", actor: actor(), name: `Workspace ${tag}` })],
    [
      nonOwners.length > 0 ? 1 : 0,
      () => ({ kind: "transfer", actor: actor(), user: pick(next, nonOwners) }),
    ],
  ];
  const total = choices.reduce((sum, [weight]) => sum + weight, 0);
  let roll = next() * total;
  for (const [weight, make] of choices) {
    if (roll < weight) return make();
    roll -= weight;
  }
  return choices.at(-1)![1]();
}

/** The state a workspace is in after `op` commits. */
export function expectedAfter(
  workspaceId: string,
  state: WorkspaceState,
  op: WriteOp,
): WorkspaceState {
  const root = `workspace:${workspaceId}`;
  const members: Record<string, readonly string[]> = { ...state.members };
  const resources: Record<string, string> = { ...state.resources };
  let { name, owner } = state;
  switch (op.kind) {
    case "add":
    case "setGrants":
      members[op.user] = op.grants.map(grantLabel).sort();
      break;
    case "remove":
      delete members[op.user];
      break;
    case "upsert":
    case "move":
      resources[op.resource] = op.parent;
      break;
    case "delete": {
      const doomed = new Set([op.resource]);
      for (let grew = true; grew; ) {
        grew = false;
        for (const [resource, parent] of Object.entries(resources)) {
          if (doomed.has(parent) && !doomed.has(resource)) {
            doomed.add(resource);
            grew = true;
          }
        }
      }
      for (const resource of doomed) delete resources[resource];
      for (const [user, grants] of Object.entries(members)) {
        members[user] = grants.filter((grant) => !doomed.has(grant.slice(grant.indexOf("@") + 1)));
      }
      break;
    }
    case "rename":
      name = op.name;
      break;
    case "transfer":
      members[owner] = [
        ...members[owner]!.filter((grant) => grant !== `owner@${root}`),
        `admin@${root}`,
      ].sort();
      members[op.user] = [
        ...members[op.user]!.filter((grant) => !grant.endsWith(`@${root}`)),
        `owner@${root}`,
      ].sort();
      owner = op.user;
      break;
  }
  return { name, owner, members: sortedRecord(members), resources: sortedRecord(resources) };
}

async function perform(
  gatehouse: Gatehouse,
  workspaceId: string,
  state: WorkspaceState,
  op: WriteOp,
): Promise<number> {
  const request: RequestContext = op.actor === "owner" ? asUser(state.owner) : systemActor();
  switch (op.kind) {
    case "add":
      return (
        await gatehouse.members.add(systemActor(), workspaceId, {
          userId: op.user,
          grants: op.grants,
        })
      ).revision;
    case "setGrants":
      return (await gatehouse.members.setGrants(request, workspaceId, op.user, op.grants)).revision;
    case "remove":
      return (await gatehouse.members.remove(request, workspaceId, op.user)).revision;
    case "upsert":
    case "move":
      return (
        await gatehouse.resources.upsert(request, workspaceId, {
          resource: op.resource,
          parent: op.parent,
        })
      ).revision;
    case "delete":
      return (await gatehouse.resources.delete(request, workspaceId, op.resource)).revision;
    case "rename":
      return (await gatehouse.workspaces.rename(request, workspaceId, op.name)).revision;
    case "transfer":
      return (await gatehouse.workspaces.transferOwnership(request, workspaceId, op.user)).revision;
  }
}

/** Writes one line to stdout synchronously, so that it is out before the next write starts. */
function emit(line: WriterLine): void {
  const buffer = Buffer.from(`${JSON.stringify(line)}\n`);
  let offset = 0;
  while (offset < buffer.length) {
    try {
      offset += writeSync(1, buffer, offset);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EAGAIN") throw error;
    }
  }
}

export async function openWriterStorage(config: WriterConfig): Promise<Storage> {
  return config.dialect === "sqlite"
    ? openSqlite({ file: config.target })
    : openPostgres({
        connectionString: config.target,
        ...(config.schema === undefined ? {} : { schema: config.schema }),
        maxConnections: config.workspaces.length + 2,
      });
}

async function main(): Promise<void> {
  const config = JSON.parse(process.env["CRASH_WRITER_CONFIG"] ?? "") as WriterConfig;
  const storage = await openWriterStorage(config);
  const gatehouse = createGatehouse({ storage, passwordCost: TEST_PASSWORD_COST });
  const states = new Map<string, WorkspaceState>();
  const revisions: Record<string, number> = {};
  for (const workspaceId of config.workspaces) {
    states.set(workspaceId, await readState(storage.db, workspaceId));
    const row = await storage.db
      .selectFrom("workspaces")
      .select("revision")
      .where("id", "=", workspaceId)
      .executeTakeFirstOrThrow();
    revisions[workspaceId] = row.revision;
  }
  emit({ t: "ready", revisions });
  // A safety stop, should the parent never kill this process.
  const deadline = Date.now() + 30_000;
  await Promise.all(
    config.workspaces.map(async (workspaceId, index) => {
      const next = random(config.seed * 31 + index);
      let state = states.get(workspaceId)!;
      for (let n = 1; Date.now() < deadline; n++) {
        const op = nextOp(next, workspaceId, state, config, n);
        const expect = expectedAfter(workspaceId, state, op);
        emit({ t: "intent", ws: workspaceId, n, op, expect });
        let revision: number;
        try {
          revision = await perform(gatehouse, workspaceId, state, op);
        } catch (error) {
          emit({ t: "error", ws: workspaceId, n, message: String(error) });
          process.exit(1);
        }
        emit({ t: "ack", ws: workspaceId, n, revision });
        state = expect;
      }
    }),
  );
  await gatehouse.close();
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await main();
}
