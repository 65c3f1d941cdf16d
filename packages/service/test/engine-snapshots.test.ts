/** Persisted engine snapshots: written in the background, restored plus the changes since, or ignored. */
import { createHash, randomBytes } from "node:crypto";
import { createEngine, type Engine, type ResourceRef, type SubjectRef } from "@gatehouse/engine";
import { presets } from "@gatehouse/engine/presets";
import { type Kysely, sql } from "kysely";
import { afterEach, describe, expect, it } from "vitest";
import { asUser, systemActor } from "../src/actor.ts";
import * as snapshotStorage from "../src/database/migrations/0020-snapshot-storage.ts";
import type { Gatehouse } from "../src/gatehouse.ts";
import {
  readSnapshot,
  readStoredSnapshot,
  restoreEngine,
  storeSnapshot,
} from "../src/sync/engine-snapshots.ts";
import { loadEngine } from "../src/sync/load-engine.ts";
import { backends, openPeerServices, signUpPerson } from "./backends.ts";

const model = presets.mzpanel;

/** Byte-for-byte equality, compared as buffers: vitest's deep equality over a snapshot's megabytes takes seconds. */
function expectSameBytes(actual: Uint8Array | undefined, expected: Uint8Array): void {
  expect(actual?.byteLength).toBe(expected.byteLength);
  expect(Buffer.compare(Buffer.from(actual!), Buffer.from(expected))).toBe(0);
}
const clock = { now: Date.UTC(2026, 10, 23, 12, 0, 0) };

/** Every permission each subject holds on each resource: the engine's decisions, as data. */
function decisions(engine: Engine, subjects: readonly string[], resources: readonly string[]) {
  const answers: string[] = [];
  for (const subject of subjects)
    for (const resource of resources)
      answers.push(
        `${subject} ${resource}: ${[...engine.permissionsOn(subject as SubjectRef, resource as ResourceRef)].sort().join(",")}`,
      );
  for (const subject of subjects)
    answers.push(
      `${subject} sites: ${engine.listVisible(subject as SubjectRef, "site", "site.view").items.join(",")}`,
    );
  return answers;
}

describe.each(backends)("engine snapshots on $name", (backend) => {
  let close: (() => Promise<void>) | undefined;
  afterEach(async () => {
    await close?.();
    close = undefined;
  });

  /** Two instances on one database; snapshots from the first grant on, refreshed after 50 revisions. */
  async function setUp(onError?: (error: unknown, workspaceId: string) => void) {
    const peers = await openPeerServices(backend, 2, clock, {
      personalPreset: null,
      engineSnapshots: {
        minGrants: 1,
        refreshAfter: 50,
        ...(onError === undefined ? {} : { onError }),
      },
    });
    close = peers.close;
    const [a, b] = peers.instances as [Gatehouse, Gatehouse];
    const olivia = await signUpPerson(a, "olivia");
    const ws = await a.workspaces.create(asUser(olivia.id), { name: "Hosting", preset: "mzpanel" });
    const host = systemActor();
    for (const server of ["s1", "s2"]) {
      await a.resources.upsert(host, ws.id, {
        resource: `server:${server}`,
        parent: `workspace:${ws.id}`,
      });
      for (const site of ["a", "b"])
        await a.resources.upsert(host, ws.id, {
          resource: `site:${server}${site}`,
          parent: `server:${server}`,
        });
    }
    const people = [];
    for (const name of ["ben", "cleo", "dan"]) people.push(await signUpPerson(a, name));
    const [ben, cleo, dan] = people as [(typeof people)[0], (typeof people)[0], (typeof people)[0]];
    await a.members.add(host, ws.id, {
      userId: ben.id,
      grants: [{ role: "operator", scope: "server:s1" }],
    });
    await a.members.add(host, ws.id, {
      userId: cleo.id,
      grants: [{ role: "customer", scope: "site:s2a" }],
    });
    await a.members.add(host, ws.id, {
      userId: dan.id,
      grants: [{ role: "customer", scope: "site:s1b" }],
    });
    const { group } = await a.members.createGroup(asUser(olivia.id), ws.id, { name: "Ops" });
    await a.members.grant(asUser(olivia.id), ws.id, {
      subject: `group:${group.id}`,
      role: "operator",
      scope: "server:s2",
    });
    await a.members.addToGroup(asUser(olivia.id), ws.id, group.id, dan.id);
    const subjects = [olivia, ben, cleo, dan]
      .map((user) => `user:${user.id}`)
      .concat(`group:${group.id}`);
    const resources = [
      `workspace:${ws.id}`,
      "server:s1",
      "server:s2",
      "site:s1a",
      "site:s1b",
      "site:s2a",
      "site:s2b",
    ];
    return { a, b, ws, olivia, ben, cleo, dan, group, subjects, resources };
  }

  async function storedSnapshot(gatehouse: Gatehouse, workspaceId: string) {
    return gatehouse.storage.db
      .selectFrom("engine_snapshots")
      .selectAll()
      .where("workspace_id", "=", workspaceId)
      .executeTakeFirst();
  }

  /**
   * Waits for the background writer (no timing: polls until a snapshot is there). It snapshots
   * the workspace when first loaded, then every 50 revisions: the one found may predate the setup.
   */
  async function written(gatehouse: Gatehouse, workspaceId: string) {
    for (;;) {
      const row = await storedSnapshot(gatehouse, workspaceId);
      if (row !== undefined) return row;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  async function workspaceRevision(gatehouse: Gatehouse, workspaceId: string) {
    const row = await gatehouse.storage.db
      .selectFrom("workspaces")
      .select("revision")
      .where("id", "=", workspaceId)
      .executeTakeFirstOrThrow();
    return row.revision;
  }

  /** The engine a fresh load from the rows builds, at the current revision. */
  async function freshLoad(gatehouse: Gatehouse, workspaceId: string) {
    const { storage } = gatehouse;
    return loadEngine(storage.db, storage.dialect, model, workspaceId, () => clock.now);
  }

  it("writes a snapshot after a load, and restores it plus later changes to a fresh load's decisions", async () => {
    const { a, b, ws, olivia, ben, cleo, group, subjects, resources } = await setUp();
    // A read loads the workspace; the snapshot follows in the background.
    await a.decisions.check(systemActor(), ws.id, {
      subject: `user:${ben.id}`,
      permission: "site.view",
      resource: "site:s1a",
    });
    const snapshot = await written(a, ws.id);
    expect(snapshot.checksum).toBe(createHash("sha256").update(snapshot.data).digest("hex"));

    // Changes after the snapshot: a grant, a revocation, a deletion, a move, a group change.
    const owner = asUser(olivia.id);
    await a.members.grant(owner, ws.id, {
      subject: `user:${cleo.id}`,
      role: "customer",
      scope: "site:s1b",
    });
    await a.members.revoke(owner, ws.id, { subject: `user:${ben.id}`, scope: "server:s1" });
    await a.resources.delete(systemActor(), ws.id, "site:s2a");
    await a.resources.upsert(systemActor(), ws.id, { resource: "site:s1a", parent: "server:s2" });
    await a.members.removeFromGroup(owner, ws.id, group.id, subjects[3]!.slice("user:".length));
    const now = await workspaceRevision(a, ws.id);
    expect(now).toBeGreaterThan(snapshot.revision);

    const restored = await restoreEngine(b.storage.db, model, ws.id, now, () => clock.now);
    expect(restored?.snapshotRevision).toBe(snapshot.revision);
    const fresh = await freshLoad(b, ws.id);
    expect(decisions(restored!.engine, subjects, resources)).toEqual(
      decisions(fresh, subjects, resources),
    );
    // The second instance loads through the snapshot and answers like the first.
    for (const subject of subjects)
      for (const resource of resources)
        expect(
          await b.decisions.check(systemActor(), ws.id, {
            subject,
            permission: "site.view",
            resource,
          }),
        ).toEqual(
          await a.decisions.check(systemActor(), ws.id, {
            subject,
            permission: "site.view",
            resource,
          }),
        );
  });

  it("restores a snapshot larger than one read slice (PostgreSQL reads 1 MiB per row)", async () => {
    const { a, ws } = await setUp();
    const engine = createEngine(model, { workspace: ws.id });
    for (let s = 0; s < 50; s++) engine.upsertResource(`server:big${s}`, `workspace:${ws.id}`);
    for (let s = 0; s < 5_000; s++) engine.upsertResource(`site:big${s}`, `server:big${s % 50}`);
    for (let u = 0; u < 30_000; u++)
      for (let k = 0; k < 3; k++)
        engine.addGrant({
          subject: `user:big${u}`,
          role: "customer",
          scope: `site:big${(u * 3 + k) % 5_000}`,
        });
    const bytes = engine.snapshot();
    expect(bytes.byteLength).toBeGreaterThan(1 << 20);
    await storeSnapshot(a.storage.db, ws.id, engine.revision, bytes, clock.now);
    const read = await readSnapshot(a.storage.db, model, ws.id, engine.revision, () => clock.now);
    expect(read?.snapshotRevision).toBe(engine.revision);
    expectSameBytes(read?.engine.snapshot(), bytes);
  });

  it("reads back exactly the stored bytes, whatever they are, on and around PostgreSQL's 1 MiB rows", async () => {
    const { a, ws } = await setUp();
    const db = a.storage.db;
    // Revisions far past the workspace's: the background writer's own snapshot never replaces these.
    const slice = 1 << 20;
    // Every byte value, then random bytes: a whole slice, one byte either side, a short last row.
    const everyByte = Uint8Array.from({ length: 256 }, (_, index) => index);
    for (const size of [1, 256, slice - 1, slice, slice + 1, 3 * slice + 5]) {
      const bytes = new Uint8Array(size);
      bytes.set(randomBytes(size));
      bytes.set(everyByte.subarray(0, Math.min(256, size)));
      await storeSnapshot(db, ws.id, 1_000 + size, bytes, clock.now);
      const stored = await readStoredSnapshot(db, ws.id, 1_000 + size);
      expect(stored?.revision).toBe(1_000 + size);
      expect(stored?.checksum).toBe(createHash("sha256").update(bytes).digest("hex"));
      expect(stored?.data.byteLength).toBe(size);
      expect(Buffer.compare(Buffer.from(stored!.data), Buffer.from(bytes))).toBe(0);
    }
    // Newer than the revision asked for: none.
    expect(await readStoredSnapshot(db, ws.id, 1_000)).toBeUndefined();
  });

  it.runIf(backend.name === "postgres")(
    "stores snapshots uncompressed on PostgreSQL, so a slice reads only its own bytes — old ones rewritten by the migration",
    async () => {
      const { a, ws } = await setUp();
      const db = a.storage.db;
      const engine = createEngine(model, { workspace: ws.id });
      // Repetitive enough that PostgreSQL's default storage would compress it.
      for (let s = 0; s < 20_000; s++)
        engine.upsertResource(`server:same${s}`, `workspace:${ws.id}`);
      const bytes = engine.snapshot();
      const stored = async () =>
        (
          await sql<{ size: number; stored: number }>`
            SELECT octet_length(data) AS size, pg_column_size(data) AS stored
            FROM engine_snapshots WHERE workspace_id = ${ws.id}`.execute(db)
        ).rows[0]!;
      // As a database migrated before 0020 stored them: compressed.
      await sql`ALTER TABLE engine_snapshots ALTER COLUMN data SET STORAGE EXTENDED`.execute(db);
      await storeSnapshot(db, ws.id, engine.revision, bytes, clock.now);
      const before = await stored();
      expect(Number(before.stored)).toBeLessThan(Number(before.size) / 2);
      await snapshotStorage.up(db as Kysely<unknown>);
      const after = await stored();
      expect(Number(after.size)).toBe(bytes.byteLength);
      expect(Number(after.stored)).toBeGreaterThanOrEqual(bytes.byteLength);
      const read = await readSnapshot(db, model, ws.id, engine.revision, () => clock.now);
      expectSameBytes(read?.engine.snapshot(), bytes);
      // A snapshot written now is stored the same way.
      await storeSnapshot(db, ws.id, engine.revision + 1, bytes, clock.now);
      expect(Number((await stored()).stored)).toBeGreaterThanOrEqual(bytes.byteLength);
    },
  );

  it("reports a snapshot it could not write, and keeps answering from the rows", async () => {
    const failures: { error: unknown; workspaceId: string }[] = [];
    const setup = await setUp((error, workspaceId) => failures.push({ error, workspaceId }));
    const { a, ws, ben } = setup;
    // The first instance's snapshot from the setup is gone, and the database refuses every
    // snapshot from now on (reads still work).
    await written(a, ws.id);
    await a.storage.db.deleteFrom("engine_snapshots").execute();
    if (backend.name === "sqlite")
      await sql`create trigger refuse_snapshots before insert on engine_snapshots begin select raise(abort, 'refused'); end`.execute(
        a.storage.db,
      );
    else {
      await sql`create function refuse_snapshots() returns trigger language plpgsql as $$ begin raise exception 'refused'; end $$`.execute(
        a.storage.db,
      );
      await sql`create trigger refuse_snapshots before insert or update on engine_snapshots for each row execute function refuse_snapshots()`.execute(
        a.storage.db,
      );
    }
    // The second instance has not loaded the workspace: its first read loads it and tries a snapshot.
    const check = () =>
      setup.b.decisions.check(systemActor(), ws.id, {
        subject: `user:${ben.id}`,
        permission: "site.view",
        resource: "site:s1a",
      });
    expect((await check()).allowed).toBe(true);
    // The writer runs in the background: wait for its report (no timing; the test's timeout bounds it).
    while (failures.length === 0) await new Promise((resolve) => setTimeout(resolve, 10));
    expect(failures.map((failure) => failure.workspaceId)).toContain(ws.id);
    expect(failures[0]?.error).toBeInstanceOf(Error);
    expect((await check()).allowed).toBe(true);
  });

  it("ignores a damaged, half-written or foreign snapshot, loads the rows, and writes a good one", async () => {
    const { a, b, ws, subjects, resources } = await setUp();
    await a.decisions.check(systemActor(), ws.id, {
      subject: subjects[1]! as SubjectRef,
      permission: "site.view",
      resource: "site:s1a",
    });
    const revision = await workspaceRevision(a, ws.id);
    const good = await written(a, ws.id);
    const db = a.storage.db;
    const restore = () => restoreEngine(db, model, ws.id, revision, () => clock.now);
    expect(await restore()).toBeDefined();
    const data = Uint8Array.from(good.data);
    const replace = (patch: Partial<typeof good>) =>
      db.updateTable("engine_snapshots").set(patch).where("workspace_id", "=", ws.id).execute();

    // A flipped byte: the checksum no longer matches.
    const flipped = data.slice();
    flipped[flipped.length >> 1] = flipped[flipped.length >> 1]! ^ 0xff;
    await replace({ data: Buffer.from(flipped) });
    expect(await restore()).toBeUndefined();
    // Cut short (a write torn mid-way), even with a checksum that matches what is there.
    const torn = data.slice(0, data.length - 16);
    await replace({
      data: Buffer.from(torn),
      checksum: createHash("sha256").update(torn).digest("hex"),
    });
    expect(await restore()).toBeUndefined();
    // Of another model: the snapshot names its model's definition.
    await replace({ data: Buffer.from(data), checksum: good.checksum });
    expect(
      await restoreEngine(db, presets.company, ws.id, revision, () => clock.now),
    ).toBeUndefined();
    // Of another engine format.
    await replace({ format: good.format + 1 });
    expect(await restore()).toBeUndefined();
    // Newer than the revision asked for (a reader on an older database snapshot).
    await replace({ format: good.format });
    expect(
      await restoreEngine(db, model, ws.id, good.revision - 1, () => clock.now),
    ).toBeUndefined();

    // Damaged again: the second instance loads from the rows and writes a good one in its place.
    await replace({ data: Buffer.from(flipped) });
    const answer = await b.decisions.check(systemActor(), ws.id, {
      subject: subjects[1]! as SubjectRef,
      permission: "site.view",
      resource: "site:s1a",
    });
    expect(answer.allowed).toBe(true);
    for (;;) {
      const row = await storedSnapshot(b, ws.id);
      if (row !== undefined && row.checksum === createHash("sha256").update(row.data).digest("hex"))
        break;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    const restored = await restore();
    expect(decisions(restored!.engine, subjects, resources)).toEqual(
      decisions(await freshLoad(a, ws.id), subjects, resources),
    );
  });

  it("keeps a later snapshot when an instance offers an older one, and ignores one past a gap", async () => {
    const { a, ws, olivia, subjects } = await setUp();
    const db = a.storage.db;
    const engine = await freshLoad(a, ws.id);
    const revision = await workspaceRevision(a, ws.id);
    await storeSnapshot(db, ws.id, revision, engine.snapshot(), clock.now);
    await storeSnapshot(db, ws.id, revision - 1, new Uint8Array(8), clock.now);
    expect((await storedSnapshot(a, ws.id))?.revision).toBe(revision);
    // The changes after it are gone (as if pruned): restoring would skip them, so it is refused.
    await a.members.grant(asUser(olivia.id), ws.id, {
      subject: subjects[2]! as `user:${string}`,
      role: "customer",
      scope: "site:s1a",
    });
    await db
      .deleteFrom("changes")
      .where("workspace_id", "=", ws.id)
      .where("revision", ">", revision)
      .execute();
    expect(await restoreEngine(db, model, ws.id, revision + 1, () => clock.now)).toBeUndefined();
  });
});
