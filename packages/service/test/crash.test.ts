/**
 * Crash safety (SPEC "Reliability and security targets": kill -9 during writes): no acknowledged
 * write lost, no half-applied change, the audit chain verifies after restart.
 *
 * A child process (support/crash-writer.ts) streams writes to a few workspaces and announces each
 * one before the call (`intent`, with the state it leads to) and after its promise resolved (`ack`,
 * with the revision). The parent kills it with SIGKILL at a random moment, checks the database,
 * starts it again on the same database, and so on; at the end a fresh service reopens it.
 */

import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { sql } from "kysely";
import { afterAll, describe, expect, it } from "vitest";
import { testSchema } from "../../cli/test/once-per-run.ts";
import { asUser, systemActor } from "../src/actor.ts";
import { openPostgres } from "../src/database/postgres/open.ts";
import { openSqlite } from "../src/database/sqlite/open.ts";
import type { Storage } from "../src/database/storage.ts";
import { createGatehouse } from "../src/gatehouse.ts";
import { backends, PASSWORD, TEST_PASSWORD_COST } from "./backends.ts";
import {
  AUDIT_ACTION,
  grantLabel,
  readState,
  type WorkspaceState,
  type WriteOp,
  type WriterConfig,
  type WriterLine,
  workspaceProblems,
} from "./support/crash-writer.ts";

const HERE = dirname(fileURLToPath(import.meta.url));
const WRITER = join(HERE, "support", "crash-writer.ts");
const REPO = resolve(HERE, "..", "..", "..");
const KILLS = 5;
interface Started {
  readonly child: ChildProcess;
  readonly lines: WriterLine[];
  readonly ready: Promise<void>;
  readonly exited: Promise<void>;
  readonly stderr: () => string;
}

/** Spawns the writer; its stdout is split into JSON lines (a torn last line is dropped). */
function startWriter(config: WriterConfig, children: Set<ChildProcess>): Started {
  const child = spawn(
    process.execPath,
    ["--conditions=@gatehouse/source", "--import", "tsx", WRITER],
    {
      cwd: REPO,
      env: { ...process.env, CRASH_WRITER_CONFIG: JSON.stringify(config) },
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  children.add(child);
  const lines: WriterLine[] = [];
  let pending = "";
  let stderr = "";
  let onReady: () => void = () => undefined;
  let onFail: (error: Error) => void = () => undefined;
  const ready = new Promise<void>((resolveReady, reject) => {
    onReady = resolveReady;
    onFail = reject;
  });
  child.stdout!.setEncoding("utf8");
  child.stdout!.on("data", (chunk: string) => {
    pending += chunk;
    let newline = pending.indexOf("\n");
    while (newline >= 0) {
      const line = JSON.parse(pending.slice(0, newline)) as WriterLine;
      pending = pending.slice(newline + 1);
      lines.push(line);
      if (line.t === "ready") onReady();
      newline = pending.indexOf("\n");
    }
  });
  child.stderr!.setEncoding("utf8");
  child.stderr!.on("data", (chunk: string) => {
    stderr += chunk;
  });
  const exited = new Promise<void>((resolveExit) => {
    child.on("exit", (code, signal) => {
      children.delete(child);
      onFail(new Error(`the writer exited (${code ?? signal}) before it was ready:\n${stderr}`));
      resolveExit();
    });
  });
  return { child, lines, ready, exited, stderr: () => stderr };
}

const sleep = (ms: number) => new Promise((resolveSleep) => setTimeout(resolveSleep, ms));

/** Waits until no PostgreSQL session of `application` is left (at most 10 s). */
async function sessionsEnded(url: string, application: string): Promise<void> {
  const admin = await openPostgres({ connectionString: url, migrate: false, maxConnections: 1 });
  try {
    for (let waited = 0; waited < 10_000; waited += 20) {
      const { rows } = await sql<{ sessions: number }>`
        select count(*)::int as sessions from pg_stat_activity where application_name = ${application}`.execute(
        admin.db,
      );
      if (rows[0]?.sessions === 0) return;
      await sleep(20);
    }
    throw new Error(`the killed writer's sessions (${application}) did not end`);
  } finally {
    await admin.close();
  }
}

describe.each(backends)("kill -9 during writes on $name", (backend) => {
  const children = new Set<ChildProcess>();
  const cleanups: (() => Promise<void> | void)[] = [];

  afterAll(async () => {
    for (const child of children) child.kill("SIGKILL");
    for (const cleanup of cleanups.reverse()) await cleanup();
  });

  /** Where the database lives, and how to open it again. */
  function location(): {
    config: Pick<WriterConfig, "dialect" | "target" | "schema">;
    open(): Promise<Storage>;
  } {
    if (backend.name === "sqlite") {
      const folder = mkdtempSync(join(tmpdir(), "gatehouse-crash-"));
      cleanups.push(() => rmSync(folder, { recursive: true, force: true }));
      const file = join(folder, "gatehouse.db");
      return { config: { dialect: "sqlite", target: file }, open: () => openSqlite({ file }) };
    }
    const url = process.env["DATABASE_URL"]!;
    const schema = testSchema("crash");
    cleanups.push(async () => {
      const admin = await openPostgres({
        connectionString: url,
        migrate: false,
        maxConnections: 1,
      });
      await admin.db.schema.dropSchema(schema).ifExists().cascade().execute();
      await admin.close();
    });
    return {
      config: { dialect: "postgres", target: url, schema },
      open: () => openPostgres({ connectionString: url, schema, maxConnections: 4 }),
    };
  }

  it("loses no acknowledged write, applies no change by halves, and keeps the audit chain", async () => {
    const where = location();

    // Three mzpanel workspaces with a server, a site, an admin and a customer each.
    const setup = createGatehouse({
      storage: await where.open(),
      passwordCost: TEST_PASSWORD_COST,
    });
    const users: string[] = [];
    for (let index = 0; index < 8; index++) {
      const { user } = await setup.users.signUp({
        email: `crash${index}@example.com`,
        password: PASSWORD,
      });
      users.push(user.id);
    }
    const workspaces: string[] = [];
    for (let index = 0; index < 3; index++) {
      const owner = users[index]!;
      const ws = await setup.workspaces.create(asUser(owner), {
        name: `Crash ${index}`,
        preset: "mzpanel",
      });
      const root = `workspace:${ws.id}`;
      await setup.resources.upsert(systemActor(), ws.id, { resource: "server:s1", parent: root });
      await setup.resources.upsert(systemActor(), ws.id, {
        resource: "site:a",
        parent: "server:s1",
      });
      await setup.members.add(systemActor(), ws.id, {
        userId: users[(index + 3) % 8]!,
        grants: [{ role: "admin", scope: root }],
      });
      await setup.members.add(systemActor(), ws.id, {
        userId: users[(index + 4) % 8]!,
        grants: [{ role: "customer", scope: "site:a" }],
      });
      workspaces.push(ws.id);
    }
    const expected = new Map<string, WorkspaceState>();
    const revisions = new Map<string, number>();
    for (const ws of workspaces) {
      expected.set(ws, await readState(setup.storage.db, ws));
      const row = await setup.storage.db
        .selectFrom("workspaces")
        .select("revision")
        .where("id", "=", ws)
        .executeTakeFirstOrThrow();
      revisions.set(ws, row.revision);
    }
    await setup.close();

    /** Every acknowledged (or found committed) write: where, at which revision, what. */
    const committed: { ws: string; revision: number; op: WriteOp; acked: boolean }[] = [];
    const stats = { acks: 0, inFlight: 0, committedUnacked: 0 };

    for (let run = 0; run < KILLS; run++) {
      // On PostgreSQL the writer's connections are named, to wait for them to end after the kill.
      const application = `crash_writer_${run}`;
      const target =
        where.config.dialect === "postgres"
          ? `${where.config.target}${where.config.target.includes("?") ? "&" : "?"}application_name=${application}`
          : where.config.target;
      const writer = startWriter(
        { ...where.config, target, workspaces, users, seed: run * 7919 + 17, run },
        children,
      );
      await writer.ready;
      // Kill at a random moment once it is writing (100–900 ms after the ready line).
      await sleep(100 + Math.floor(Math.random() * 800));
      writer.child.kill("SIGKILL");
      await writer.exited;
      // The server may still be finishing a COMMIT the killed process sent: read only once its
      // sessions are gone, or a commit could land after the checks below.
      if (where.config.dialect === "postgres")
        await sessionsEnded(where.config.target, application);

      // What the writer announced, workspace by workspace.
      const pending = new Map<string, Extract<WriterLine, { t: "intent" }>>();
      for (const line of writer.lines) {
        switch (line.t) {
          case "ready":
            for (const ws of workspaces) expect(line.revisions[ws], ws).toBe(revisions.get(ws));
            break;
          case "intent":
            expect(pending.has(line.ws), "one write at a time per workspace").toBe(false);
            pending.set(line.ws, line);
            break;
          case "ack": {
            const intent = pending.get(line.ws);
            expect(intent?.n, "an ack follows its intent").toBe(line.n);
            expect(line.revision, `revision acked for ${line.ws}`).toBe(
              revisions.get(line.ws)! + 1,
            );
            revisions.set(line.ws, line.revision);
            expected.set(line.ws, intent!.expect);
            committed.push({ ws: line.ws, revision: line.revision, op: intent!.op, acked: true });
            pending.delete(line.ws);
            stats.acks++;
            break;
          }
          case "error":
            throw new Error(`the writer failed on ${line.ws}: ${line.message}\n${writer.stderr()}`);
        }
      }

      // After the crash: each workspace is at its last acked revision, or one further when the
      // write in flight committed before the process died — and then exactly in its state.
      const storage = await where.open();
      try {
        for (const ws of workspaces) {
          const row = await storage.db
            .selectFrom("workspaces")
            .select("revision")
            .where("id", "=", ws)
            .executeTakeFirstOrThrow();
          const acked = revisions.get(ws)!;
          const intent = pending.get(ws);
          if (intent !== undefined) stats.inFlight++;
          if (row.revision === acked + 1 && intent !== undefined) {
            expected.set(ws, intent.expect);
            revisions.set(ws, row.revision);
            committed.push({ ws, revision: row.revision, op: intent.op, acked: false });
            stats.committedUnacked++;
          } else {
            expect(row.revision, `revision of ${ws} after kill ${run + 1}`).toBe(acked);
          }
          expect(await readState(storage.db, ws), `state of ${ws} after kill ${run + 1}`).toEqual(
            expected.get(ws),
          );
          expect(await workspaceProblems(storage.db, ws)).toEqual([]);
        }
      } finally {
        await storage.close();
      }
    }
    expect(stats.acks, "the writer got writes done between kills").toBeGreaterThan(20);

    // A fresh service over the reopened database.
    const gatehouse = createGatehouse({
      storage: await where.open(),
      passwordCost: TEST_PASSWORD_COST,
    });
    try {
      const db = gatehouse.storage.db;
      // Every acknowledged write is in the log at the revision it returned.
      for (const write of committed) {
        const change = await db
          .selectFrom("changes")
          .select("revision")
          .where("workspace_id", "=", write.ws)
          .where("revision", "=", write.revision)
          .executeTakeFirst();
        expect(change, `change ${write.revision} of ${write.ws}`).toBeDefined();
        // No write of this stream is ever denied, so audit entry n records revision n.
        const entry = await db
          .selectFrom("audit_log")
          .select(["action", "result"])
          .where("workspace_id", "=", write.ws)
          .where("seq", "=", write.revision)
          .executeTakeFirstOrThrow();
        expect(entry, `audit entry ${write.revision} of ${write.ws}`).toEqual({
          action: AUDIT_ACTION[write.op.kind],
          result: "success",
        });
      }
      for (const ws of workspaces) {
        const state = expected.get(ws)!;
        const row = await db
          .selectFrom("workspaces")
          .selectAll()
          .where("id", "=", ws)
          .executeTakeFirstOrThrow();
        expect(row.revision).toBe(revisions.get(ws));
        expect(row.audit_seq).toBe(row.revision);
        expect(await workspaceProblems(db, ws)).toEqual([]);
        // The service's own view, from engines loaded afresh.
        expect((await gatehouse.workspaces.get(systemActor(), ws)).name).toBe(state.name);
        const members = await gatehouse.members.list(systemActor(), ws);
        expect(
          Object.fromEntries(
            members.map((member) => [member.userId, member.grants.map(grantLabel).sort()]),
          ),
        ).toEqual(state.members);
        expect(members.filter((member) => member.isOwner).map((member) => member.userId)).toEqual([
          state.owner,
        ]);
        expect(
          await gatehouse.decisions.check(asUser(state.owner), ws, {
            permission: "billing.manage",
            resource: `workspace:${ws}`,
          }),
        ).toMatchObject({ allowed: true });
        // Nothing is left locked: the next write goes through at the next revision.
        const renamed = await gatehouse.workspaces.rename(systemActor(), ws, "After the crash");
        expect(renamed.revision).toBe(row.revision + 1);
        expect(await workspaceProblems(db, ws)).toEqual([]);
      }
      // The personal workspaces made at sign-up are consistent too.
      for (const { id } of await db.selectFrom("workspaces").select("id").execute()) {
        expect(await workspaceProblems(db, id)).toEqual([]);
      }
    } finally {
      await gatehouse.close();
    }
    console.info(
      `${backend.name}: ${KILLS} kills, ${stats.acks} acknowledged writes, ` +
        `${stats.inFlight} in flight at a kill, ${stats.committedUnacked} of them committed`,
    );
  }, 60_000);
});
