/**
 * Exactly one owner, under concurrency (SPEC "Reliability and security targets": concurrent transfers/removals →
 * always exactly one owner). Several service instances share one database; each round fires a
 * random mix of demotions, removals, leaves and ownership transfers (several transfers at once,
 * too) from different instances and actors, then checks the database, a fresh instance and every
 * instance's cached view.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { GatehouseError, isGatehouseError } from "@gatehouse/engine";
import type { Kysely } from "kysely";
import { afterAll, describe, expect, it } from "vitest";
import { asUser, systemActor } from "../src/actor.ts";
import type { Database } from "../src/database/schema.ts";
import { openSqlite } from "../src/database/sqlite/open.ts";
import type { Storage } from "../src/database/storage.ts";
import { createGatehouse, type Gatehouse } from "../src/gatehouse.ts";
import type { Member } from "../src/team/members.ts";
import { backends, PASSWORD, postgresBackend, TEST_PASSWORD_COST } from "./backends.ts";
import { grantLabel, random, readState, workspaceProblems } from "./support/crash-writer.ts";

const HERE = dirname(fileURLToPath(import.meta.url));
const REPO = resolve(HERE, "..", "..", "..");
/** What a racing call may answer besides success; anything else fails the test. */
const EXPECTED_FAILURES = new Set([
  "LAST_OWNER",
  "PERMISSION_DENIED",
  "MEMBER_NOT_FOUND",
  "WORKSPACE_NOT_FOUND",
  "ROLE_CONFLICT",
  "GRANT_NOT_FOUND",
]);

type Area = "users" | "workspaces" | "members" | "resources" | "decisions";

/** One service instance: in this process, or a peer process reached over its stdin/stdout. */
interface Instance {
  readonly name: string;
  call<T>(area: Area, method: string, ...args: unknown[]): Promise<T>;
}

function localInstance(name: string, gatehouse: Gatehouse): Instance {
  return {
    name,
    call: async <T>(area: Area, method: string, ...args: unknown[]) => {
      const service = gatehouse[area] as unknown as Record<
        string,
        (...args: unknown[]) => Promise<unknown>
      >;
      return (await service[method]!.call(service, ...args)) as T;
    },
  };
}

/**
 * A service instance in a child process on the SQLite file `file`: it runs the calls it reads on
 * stdin (one JSON line each) and answers each on stdout.
 */
const PEER_SOURCE = `
const env = process.env;
const { createGatehouse } = await import(env.PEER_SRC + "/gatehouse.ts");
const { openSqlite } = await import(env.PEER_SRC + "/database/sqlite/open.ts");
const { createInterface } = await import("node:readline");
const gatehouse = createGatehouse({
  storage: await openSqlite({ file: env.PEER_FILE }),
  passwordCost: JSON.parse(env.PEER_COST),
});
const send = (message) => process.stdout.write(JSON.stringify(message) + "\\n");
const input = createInterface({ input: process.stdin });
input.on("line", async (line) => {
  const { id, area, method, args } = JSON.parse(line);
  try {
    const value = await gatehouse[area][method](...args);
    send({ id, ok: true, value: value ?? null });
  } catch (error) {
    send({ id, ok: false, gatehouse: error?.name === "GatehouseError", code: error?.code, message: String(error?.message ?? error) });
  }
});
input.on("close", () => gatehouse.close());
send({ ready: true });
`;

async function peerInstance(
  name: string,
  file: string,
  children: Set<ChildProcess>,
): Promise<Instance> {
  const child = spawn(
    process.execPath,
    ["--conditions=@gatehouse/source", "--import", "tsx", "--input-type=module", "-e", PEER_SOURCE],
    {
      cwd: REPO,
      env: {
        ...process.env,
        PEER_SRC: join(REPO, "packages", "service", "src"),
        PEER_FILE: file,
        PEER_COST: JSON.stringify(TEST_PASSWORD_COST),
      },
      stdio: ["pipe", "pipe", "pipe"],
    },
  );
  children.add(child);
  child.on("exit", () => children.delete(child));
  const waiting = new Map<number, (message: Record<string, unknown>) => void>();
  let stderr = "";
  child.stderr!.setEncoding("utf8");
  child.stderr!.on("data", (chunk: string) => {
    stderr += chunk;
  });
  let onReady: () => void = () => undefined;
  const ready = new Promise<void>((resolveReady, reject) => {
    onReady = resolveReady;
    child.on("exit", (code) => reject(new Error(`peer exited (${code}):\n${stderr}`)));
  });
  let buffer = "";
  child.stdout!.setEncoding("utf8");
  child.stdout!.on("data", (chunk: string) => {
    buffer += chunk;
    for (let newline = buffer.indexOf("\n"); newline >= 0; newline = buffer.indexOf("\n")) {
      const message = JSON.parse(buffer.slice(0, newline)) as Record<string, unknown>;
      buffer = buffer.slice(newline + 1);
      if (message["ready"] === true) onReady();
      else {
        waiting.get(message["id"] as number)?.(message);
        waiting.delete(message["id"] as number);
      }
    }
  });
  await ready;
  let nextId = 0;
  return {
    name,
    call: <T>(area: Area, method: string, ...args: unknown[]) =>
      new Promise<T>((resolveCall, reject) => {
        const id = nextId++;
        waiting.set(id, (message) => {
          if (message["ok"] === true) resolveCall(message["value"] as T);
          else if (message["gatehouse"] === true)
            reject(new GatehouseError(message["code"] as never, String(message["message"])));
          else reject(new Error(`${String(message["code"])}: ${String(message["message"])}`));
        });
        child.stdin!.write(`${JSON.stringify({ id, area, method, args })}\n`);
      }),
  };
}

interface RaceOptions {
  /** The instances racing; the first must be able to sign users up. */
  readonly instances: readonly Instance[];
  /** A new service over the database, with nothing cached. */
  readonly fresh: () => Gatehouse;
  readonly db: Kysely<Database>;
  readonly rounds: number;
  readonly workspaces: number;
  /** Members per workspace besides the owner. */
  readonly admins: number;
  readonly opsPerWorkspace: number;
  readonly seed: number;
}

interface RaceOp {
  readonly kind: "demote" | "remove" | "leave" | "transfer";
  readonly instance: number;
  readonly actor: string;
  readonly target: string;
  readonly grants?: readonly { role: string; scope: string }[];
}

const ACTION: Readonly<Record<RaceOp["kind"], string>> = {
  demote: "member.grants.set",
  remove: "member.remove",
  leave: "member.leave",
  transfer: "workspace.transfer_ownership",
};

const sleep = (ms: number) => new Promise((resolveSleep) => setTimeout(resolveSleep, ms));

/** Runs the rounds; returns counts for the log line. */
async function race(options: RaceOptions): Promise<{ ops: number; ok: number; transfers: number }> {
  const { instances, db } = options;
  const next = random(options.seed);
  const pick = <T>(list: readonly T[]): T => list[Math.floor(next() * list.length)]!;
  const first = instances[0]!;
  const tally = { ops: 0, ok: 0, transfers: 0 };

  // Setup: per workspace an owner and `admins` admins, a server and two sites.
  const workspaces: { id: string; root: string; pool: string[]; auditSeq: number }[] = [];
  for (let w = 0; w < options.workspaces; w++) {
    const pool: string[] = [];
    for (let u = 0; u <= options.admins; u++) {
      const { user } = await first.call<{ user: { id: string } }>("users", "signUp", {
        email: `race-${options.seed}-${w}-${u}@example.com`,
        password: PASSWORD,
      });
      pool.push(user.id);
    }
    const owner = asUser(pool[0]!);
    const ws = await first.call<{ id: string }>("workspaces", "create", owner, {
      name: `Race ${w}`,
      preset: "mzpanel",
    });
    const root = `workspace:${ws.id}`;
    for (const [resource, parent] of [
      ["server:s1", root],
      ["site:a", "server:s1"],
      ["site:b", "server:s1"],
    ] as const) {
      await first.call("resources", "upsert", systemActor(), ws.id, { resource, parent });
    }
    for (const user of pool.slice(1)) {
      await first.call("members", "add", systemActor(), ws.id, {
        userId: user,
        grants: [{ role: "admin", scope: root }],
      });
    }
    const row = await db
      .selectFrom("workspaces")
      .select("audit_seq")
      .where("id", "=", ws.id)
      .executeTakeFirstOrThrow();
    workspaces.push({ id: ws.id, root, pool, auditSeq: row.audit_seq });
  }

  const demotions = (root: string) => [
    [{ role: "operator", scope: "server:s1" }],
    [{ role: "customer", scope: "site:a" }],
    [
      { role: "customer", scope: "site:b" },
      { role: "operator", scope: "server:s1" },
    ],
    [{ role: "admin", scope: root }],
  ];

  for (let round = 0; round < options.rounds; round++) {
    // Bring the teams back: re-add most of those who left or were removed, re-promote some.
    const succeeded = new Map<string, Map<string, number>>();
    const count = (ws: string, action: string) => {
      const counts = succeeded.get(ws) ?? new Map<string, number>();
      counts.set(action, (counts.get(action) ?? 0) + 1);
      succeeded.set(ws, counts);
    };
    const plans = await Promise.all(
      workspaces.map(async (ws) => {
        let state = await readState(db, ws.id);
        const owner = asUser(state.owner);
        for (const user of ws.pool) {
          const grants = state.members[user];
          if (grants === undefined && next() < 0.8) {
            await pick(instances).call("members", "add", systemActor(), ws.id, {
              userId: user,
              grants: [{ role: "admin", scope: ws.root }],
            });
            count(ws.id, "member.add");
          } else if (
            grants !== undefined &&
            user !== state.owner &&
            !grants.includes(`admin@${ws.root}`) &&
            next() < 0.6
          ) {
            await pick(instances).call("members", "setGrants", owner, ws.id, user, [
              { role: "admin", scope: ws.root },
            ]);
            count(ws.id, "member.grants.set");
          }
        }
        state = await readState(db, ws.id);

        // The racing calls: random actors (the owner half of the time), targets and instances.
        const ops: (RaceOp & { ws: string })[] = [];
        const actor = () => (next() < 0.5 ? state.owner : pick(ws.pool));
        const other = (than: string) => pick(ws.pool.filter((user) => user !== than));
        while (ops.length < options.opsPerWorkspace) {
          const roll = next();
          const instance = Math.floor(next() * instances.length);
          if (roll < 0.25) {
            const by = actor();
            const target = next() < 0.25 ? state.owner : other(by);
            ops.push({
              ws: ws.id,
              kind: "demote",
              instance,
              actor: by,
              target,
              grants: pick(demotions(ws.root)),
            });
          } else if (roll < 0.4) {
            const by = actor();
            ops.push({
              ws: ws.id,
              kind: "remove",
              instance,
              actor: by,
              target: next() < 0.25 ? state.owner : other(by),
            });
          } else if (roll < 0.55) {
            const by = pick(ws.pool);
            ops.push({ ws: ws.id, kind: "leave", instance, actor: by, target: by });
          } else if (roll < 0.8) {
            const by = actor();
            ops.push({ ws: ws.id, kind: "transfer", instance, actor: by, target: other(by) });
          } else {
            // Concurrent transfers by the owner to different members, from different instances.
            const targets = ws.pool.filter((user) => user !== state.owner);
            const burst = 2 + Math.floor(next() * 2);
            for (let index = 0; index < burst && targets.length > 0; index++) {
              const target = targets.splice(Math.floor(next() * targets.length), 1)[0]!;
              ops.push({
                ws: ws.id,
                kind: "transfer",
                instance: (instance + index) % instances.length,
                actor: state.owner,
                target,
              });
            }
          }
        }
        return ops;
      }),
    );

    // Fire everything at once (a few calls a moment later), with reads racing alongside.
    const ops = plans.flat().sort(() => next() - 0.5);
    const delays = ops.map(() => (next() < 0.5 ? 0 : Math.floor(next() * 4)));
    const readDelays = workspaces.flatMap((ws) =>
      [0, 1, 2].map(() => ({ ws, instance: pick(instances), delay: Math.floor(next() * 6) })),
    );
    const [outcomes, reads] = await Promise.all([
      Promise.all(
        ops.map(async (op, index) => {
          if (delays[index]! > 0) await sleep(delays[index]!);
          const instance = instances[op.instance]!;
          const request = asUser(op.actor);
          try {
            switch (op.kind) {
              case "demote":
                await instance.call("members", "setGrants", request, op.ws, op.target, op.grants);
                break;
              case "remove":
                await instance.call("members", "remove", request, op.ws, op.target);
                break;
              case "leave":
                await instance.call("members", "leave", request, op.ws);
                break;
              case "transfer":
                await instance.call("workspaces", "transferOwnership", request, op.ws, op.target);
                break;
            }
            return { op, code: "OK" };
          } catch (error) {
            if (isGatehouseError(error)) return { op, code: error.code, message: error.message };
            return { op, code: "UNEXPECTED", message: String(error) };
          }
        }),
      ),
      Promise.all(
        readDelays.map(async ({ ws, instance, delay }) => {
          await sleep(delay);
          const members = await instance.call<Member[]>("members", "list", systemActor(), ws.id);
          return { ws: ws.id, instance: instance.name, members };
        }),
      ),
    ]);
    tally.ops += outcomes.length;
    const unexpected = outcomes.filter(({ code }) => code !== "OK" && !EXPECTED_FAILURES.has(code));
    expect(unexpected, `round ${round}: unexpected failures`).toEqual([]);
    for (const { op, code } of outcomes) {
      if (code !== "OK") continue;
      tally.ok++;
      if (op.kind === "transfer") tally.transfers++;
      count(op.ws, ACTION[op.kind]);
    }
    // A read racing the writes still shows one owner, who is among the members listed.
    for (const read of reads) {
      const owners = read.members.filter((member) => member.isOwner);
      expect(owners.length, `round ${round}: owners in a racing read on ${read.instance}`).toBe(1);
    }

    // At rest: the database, a fresh instance and every instance agree on one owner.
    const fresh = options.fresh();
    for (const ws of workspaces) {
      const where = `round ${round}, workspace ${ws.id}`;
      expect(await workspaceProblems(db, ws.id), where).toEqual([]);
      const state = await readState(db, ws.id);
      expect(ws.pool, `${where}: the owner`).toContain(state.owner);
      // (A demoted member who then receives ownership keeps their narrower grants too.)
      expect(state.members[state.owner], `${where}: the owner's grants`).toContain(
        `owner@${ws.root}`,
      );

      // Every call that answered success is in the log, and nothing else is.
      const row = await db
        .selectFrom("workspaces")
        .select(["audit_seq"])
        .where("id", "=", ws.id)
        .executeTakeFirstOrThrow();
      const entries = await db
        .selectFrom("audit_log")
        .select(["action", "result"])
        .where("workspace_id", "=", ws.id)
        .where("seq", ">", ws.auditSeq)
        .orderBy("seq")
        .execute();
      ws.auditSeq = row.audit_seq;
      const logged = new Map<string, number>();
      for (const entry of entries) {
        if (entry.result === "success")
          logged.set(entry.action, (logged.get(entry.action) ?? 0) + 1);
      }
      expect(logged, `${where}: successes in the log`).toEqual(succeeded.get(ws.id) ?? new Map());

      // The transfers form one chain from the first owner to the current one.
      const transfers = await db
        .selectFrom("audit_log")
        .select("details")
        .where("workspace_id", "=", ws.id)
        .where("action", "=", "workspace.transfer_ownership")
        .where("result", "=", "success")
        .orderBy("seq")
        .execute();
      let holder = `user:${ws.pool[0]}`;
      for (const transfer of transfers) {
        const details = JSON.parse(transfer.details) as { from: string; to: string };
        expect(details.from, `${where}: a transfer from a non-owner`).toBe(holder);
        holder = details.to;
      }
      expect(holder, `${where}: the last transfer's recipient`).toBe(`user:${state.owner}`);

      const expectedMembers = state.members;
      const views: [
        string,
        (area: Area, method: string, ...args: unknown[]) => Promise<unknown>,
      ][] = [
        ["fresh", localInstance("fresh", fresh).call],
        ...instances.map(
          (instance) => [instance.name, instance.call] as [string, Instance["call"]],
        ),
      ];
      const nonOwner = Object.keys(expectedMembers).find((user) => user !== state.owner);
      for (const [name, call] of views) {
        const members = (await call("members", "list", systemActor(), ws.id)) as Member[];
        expect(
          Object.fromEntries(
            members.map((member) => [member.userId, member.grants.map(grantLabel).sort()]),
          ),
          `${where}: members seen by ${name}`,
        ).toEqual(expectedMembers);
        expect(
          members.filter((member) => member.isOwner).map((member) => member.userId),
          `${where}: owner seen by ${name}`,
        ).toEqual([state.owner]);
        const ownerOnly = { permission: "billing.manage", resource: ws.root };
        expect(
          await call("decisions", "check", asUser(state.owner), ws.id, ownerOnly),
          `${where}: the owner's billing on ${name}`,
        ).toMatchObject({ allowed: true });
        if (nonOwner !== undefined) {
          expect(
            await call("decisions", "check", asUser(nonOwner), ws.id, ownerOnly),
            `${where}: a non-owner's billing on ${name}`,
          ).toMatchObject({ allowed: false });
        }
      }
    }
  }
  return tally;
}

describe.skipIf(postgresBackend === undefined)("ownership races on postgres", () => {
  const storages: Storage[] = [];
  afterAll(async () => {
    // The first storage drops the schema when closed, so it goes last.
    for (const storage of storages.reverse()) await storage.close();
  });

  it("keeps exactly one owner with four instances racing demotions, removals, leaves and transfers", async () => {
    storages.push(...(await postgresBackend!.openPeers(4)));
    const instances = storages.map((storage, index) =>
      localInstance(
        `instance ${index + 1}`,
        createGatehouse({ storage, passwordCost: TEST_PASSWORD_COST }),
      ),
    );
    const tally = await race({
      instances,
      fresh: () => createGatehouse({ storage: storages[0]!, passwordCost: TEST_PASSWORD_COST }),
      db: storages[0]!.db,
      rounds: 20,
      workspaces: 3,
      admins: 5,
      opsPerWorkspace: 14,
      seed: 20261123,
    });
    expect(tally.transfers).toBeGreaterThan(0);
    console.info(
      `postgres: ${tally.ops} racing calls, ${tally.ok} succeeded, ${tally.transfers} transfers`,
    );
  }, 60_000);
});

describe("ownership races on sqlite", () => {
  const sqlite = backends.find((backend) => backend.name === "sqlite")!;
  const children = new Set<ChildProcess>();
  const cleanups: (() => Promise<void> | void)[] = [];
  afterAll(async () => {
    for (const child of children) child.kill("SIGKILL");
    for (const cleanup of cleanups.reverse()) await cleanup();
  });

  it("keeps exactly one owner with two instances, in two processes, on one file", async () => {
    const folder = mkdtempSync(join(tmpdir(), "gatehouse-race-"));
    cleanups.push(() => rmSync(folder, { recursive: true, force: true }));
    const file = join(folder, "gatehouse.db");
    const storage = await openSqlite({ file });
    cleanups.push(() => storage.close());
    const peer = await peerInstance("instance 2 (child process)", file, children);
    const tally = await race({
      instances: [
        localInstance("instance 1", createGatehouse({ storage, passwordCost: TEST_PASSWORD_COST })),
        peer,
      ],
      fresh: () => createGatehouse({ storage, passwordCost: TEST_PASSWORD_COST }),
      db: storage.db,
      rounds: 15,
      workspaces: 2,
      admins: 4,
      opsPerWorkspace: 10,
      seed: 1123,
    });
    expect(tally.transfers).toBeGreaterThan(0);
    console.info(
      `sqlite: ${tally.ops} racing calls, ${tally.ok} succeeded, ${tally.transfers} transfers`,
    );
  }, 60_000);

  /**
   * Two storages opened in one process on one SQLite file (what `openPeers(2)` gives) must both
   * write: better-sqlite3 is synchronous, so a blocking busy wait in one would stop the other from
   * committing. The adapter waits for the write lock asynchronously instead.
   */
  it("two in-process instances on one SQLite file (openPeers(2)) write concurrently", async () => {
    const [a, b] = await sqlite.openPeers(2);
    cleanups.push(async () => {
      await b!.close();
      await a!.close();
    });
    const first = createGatehouse({ storage: a!, passwordCost: TEST_PASSWORD_COST });
    const second = createGatehouse({ storage: b!, passwordCost: TEST_PASSWORD_COST });
    const { user } = await first.users.signUp({ email: "peers@example.com", password: PASSWORD });
    const ws = await first.workspaces.create(asUser(user.id), { name: "Peers", preset: "mzpanel" });
    const root = `workspace:${ws.id}`;
    const results = await Promise.allSettled([
      first.resources.upsert(systemActor(), ws.id, { resource: "server:s1", parent: root }),
      second.resources.upsert(systemActor(), ws.id, { resource: "server:s2", parent: root }),
    ]);
    expect(
      results.map((result) => (result.status === "fulfilled" ? "ok" : String(result.reason))),
    ).toEqual(["ok", "ok"]);
  }, 30_000);
});
