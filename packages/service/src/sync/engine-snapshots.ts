import { createHash } from "node:crypto";
import { applyOps, Engine, type Model, SNAPSHOT_FORMAT } from "@gatehouse/engine";
import { type Kysely, PostgresAdapter, sql } from "kysely";
import type { Database } from "../database/schema.ts";
import { readChanges } from "./load-engine.ts";

/** When workspaces get a persisted engine snapshot, and how often it is refreshed. */
export interface EngineSnapshotOptions {
  /** Workspaces with at least this many grants get a snapshot; 50,000 by default. */
  readonly minGrants?: number;
  /**
   * A cached workspace this many revisions past its stored snapshot gets a new one (in the
   * background); 1,000 by default.
   */
  readonly refreshAfter?: number;
  /**
   * Told when writing a snapshot failed (the database refused it, say); the workspace keeps
   * working from its rows and the next trigger tries again. Nothing by default.
   */
  readonly onError?: (error: unknown, workspaceId: string) => void;
}

const DEFAULTS: Required<EngineSnapshotOptions> = {
  minGrants: 50_000,
  refreshAfter: 1_000,
  onError: () => undefined,
};

function checksumOf(data: Uint8Array): string {
  return createHash("sha256").update(data).digest("hex");
}

/** Bytes of a snapshot per row of PostgreSQL's answer. */
const SLICE_BYTES = 1 << 20;

/** A stored snapshot's bytes, with the revision they describe and the checksum stored with them. */
export interface StoredSnapshot {
  readonly revision: number;
  readonly checksum: string;
  readonly data: Uint8Array;
}

/**
 * The workspace's stored snapshot of this engine format, at its own revision (at most `upTo`), as
 * stored: its checksum is not verified here.
 * @example
 * const stored = await readStoredSnapshot(db, workspaceId, revision);
 */
export async function readStoredSnapshot(
  db: Kysely<Database>,
  workspaceId: string,
  upTo: number,
): Promise<StoredSnapshot | undefined> {
  if (db.getExecutor().adapter instanceof PostgresAdapter) return readSlices(db, workspaceId, upTo);
  return db
    .selectFrom("engine_snapshots")
    .select(["revision", "checksum", "data"])
    .where("workspace_id", "=", workspaceId)
    .where("format", "=", SNAPSHOT_FORMAT)
    .where("revision", "<=", upTo)
    .executeTakeFirst();
}

/**
 * The snapshot from PostgreSQL in one query, a 1 MiB slice per row, each as base64 text decoded
 * straight into the snapshot's buffer. node-postgres receives a `bytea` as hex text (twice its
 * size), decodes it into a buffer of its own and receives one large value into a message buffer it
 * doubles up to the whole row; its binary result format would avoid the text but loses bytes
 * (it decodes every field as UTF-8, brianc/node-postgres#3495). Base64 is a third smaller than hex,
 * cheaper to decode, and one statement reads one consistent row without a round trip per slice.
 */
async function readSlices(
  db: Kysely<Database>,
  workspaceId: string,
  upTo: number,
): Promise<StoredSnapshot | undefined> {
  const { rows } = await sql<{ revision: number; checksum: string; size: number; part: string }>`
    select revision, checksum, octet_length(data) as size,
      encode(substr(data, slice_start, ${SLICE_BYTES}), 'base64') as part
    from engine_snapshots
    cross join generate_series(1, octet_length(data), ${SLICE_BYTES}) as slice_start
    where workspace_id = ${workspaceId} and format = ${SNAPSHOT_FORMAT} and revision <= ${upTo}
    order by slice_start`.execute(db);
  const head = rows[0];
  if (head === undefined) return undefined;
  const size = Number(head.size);
  const data = Buffer.allocUnsafe(size);
  let at = 0;
  for (const row of rows) {
    const written = data.write(row.part, at, "base64");
    if (written !== Math.min(SLICE_BYTES, size - at)) return undefined;
    at += written;
  }
  if (at !== size) return undefined;
  return { revision: head.revision, checksum: head.checksum, data };
}

/** A workspace's engine restored from its snapshot and brought to `revision`. */
export interface RestoredEngine {
  readonly engine: Engine;
  /** The revision of the snapshot it started from. */
  readonly snapshotRevision: number;
}

/**
 * The workspace's stored snapshot decoded, at its own revision (at most `upTo`); `undefined` when
 * there is none usable: of another format or model, or damaged (the checksum, or bytes that do
 * not describe a workspace). Needs no transaction: a snapshot is one revision's state, and the
 * changes after it are read separately (`catchUp`). Decoding a large one takes a while: the
 * service does it before opening the transaction that reads the rest.
 */
export async function readSnapshot(
  db: Kysely<Database>,
  model: Model,
  workspaceId: string,
  upTo: number,
  clock: () => number,
): Promise<RestoredEngine | undefined> {
  const row = await readStoredSnapshot(db, workspaceId, upTo);
  if (row === undefined || checksumOf(row.data) !== row.checksum) return undefined;
  try {
    const engine = Engine.fromSnapshot(model, row.data, { workspace: workspaceId, clock });
    return { engine, snapshotRevision: row.revision };
  } catch {
    // Another model version, or bytes that do not describe a workspace: ignore it.
    return undefined;
  }
}

/**
 * Brings a restored engine from its snapshot's revision to exactly `revision` through the stored
 * changes; false when one is missing (pruned) or does not apply — the engine is then unusable.
 */
export async function catchUp(
  db: Kysely<Database>,
  workspaceId: string,
  restored: RestoredEngine,
  revision: number,
): Promise<boolean> {
  const from = restored.snapshotRevision;
  if (from > revision) return false;
  const changes = await readChanges(db, workspaceId, { after: from, upTo: revision });
  if (changes.length !== revision - from) return false;
  try {
    for (const [index, change] of changes.entries()) {
      if (change.revision !== from + index + 1) return false;
      applyOps(restored.engine, change.ops);
    }
    return true;
  } catch {
    return false;
  }
}

/**
 * A workspace's engine at exactly `revision` from its stored snapshot plus the stored changes
 * since; `undefined` when there is none usable (see `readSnapshot`, `catchUp`), and the caller
 * loads from the rows instead. Call inside the transaction that read the workspace row.
 */
export async function restoreEngine(
  db: Kysely<Database>,
  model: Model,
  workspaceId: string,
  revision: number,
  clock: () => number,
): Promise<RestoredEngine | undefined> {
  const restored = await readSnapshot(db, model, workspaceId, revision, clock);
  if (restored === undefined) return undefined;
  return (await catchUp(db, workspaceId, restored, revision)) ? restored : undefined;
}

/**
 * Stores a snapshot unless a later one is there (another instance may have written it); one at
 * the same revision is replaced, so a damaged one goes. One statement: a snapshot is there whole or
 * not at all.
 */
export async function storeSnapshot(
  db: Kysely<Database>,
  workspaceId: string,
  revision: number,
  data: Uint8Array,
  now: number,
): Promise<void> {
  const row = {
    workspace_id: workspaceId,
    revision,
    format: SNAPSHOT_FORMAT,
    checksum: checksumOf(data),
    data: Buffer.from(data.buffer, data.byteOffset, data.byteLength),
    created_at: now,
  };
  await db
    .insertInto("engine_snapshots")
    .values(row)
    .onConflict((conflict) =>
      conflict
        .column("workspace_id")
        .doUpdateSet(row)
        .where((eb) =>
          eb.or([
            eb("engine_snapshots.revision", "<=", revision),
            eb("engine_snapshots.format", "<>", SNAPSHOT_FORMAT),
          ]),
        ),
    )
    .execute();
}

/** What the writer reads of a cached workspace: its engine and the store revision it reflects. */
export interface SnapshotSource {
  readonly engine: Engine;
  readonly revision: number;
}

/**
 * Writes workspaces' snapshots in the background: after a large workspace loads without a recent
 * one, and again once it has moved `refreshAfter` revisions past it. The engine is encoded in
 * slices between which other work runs (a slice is a few thousand grants); a write to the
 * workspace meanwhile abandons the attempt until the next trigger. A failure is reported to
 * `onError` and otherwise changes nothing: a snapshot only ever saves time.
 */
export class SnapshotWriter {
  readonly #options: Required<EngineSnapshotOptions>;
  readonly #db: Kysely<Database>;
  readonly #clock: () => number;
  /** The revision of each workspace's stored snapshot, as far as this instance knows. */
  readonly #stored = new Map<string, number>();
  readonly #running = new Map<string, Promise<void>>();
  #closed = false;

  constructor(db: Kysely<Database>, clock: () => number, options: EngineSnapshotOptions = {}) {
    this.#options = { ...DEFAULTS, ...options };
    this.#db = db;
    this.#clock = clock;
  }

  /** Records the revision of the snapshot a workspace was restored from (or -1: none). */
  known(workspaceId: string, revision: number): void {
    this.#stored.set(workspaceId, Math.max(revision, this.#stored.get(workspaceId) ?? -1));
  }

  /** Starts writing a snapshot of `source` when it is large and far enough past the stored one. */
  consider(workspaceId: string, source: () => SnapshotSource | undefined): void {
    const current = source();
    if (current === undefined || this.#closed || this.#running.has(workspaceId)) return;
    if (current.engine.footprint.grants < this.#options.minGrants) return;
    const stored = this.#stored.get(workspaceId);
    if (stored !== undefined && current.revision - stored < this.#options.refreshAfter) return;
    const run = this.#write(workspaceId, source)
      .catch((error: unknown) => this.#options.onError(error, workspaceId))
      .finally(() => this.#running.delete(workspaceId));
    this.#running.set(workspaceId, run);
  }

  async #write(workspaceId: string, source: () => SnapshotSource | undefined): Promise<void> {
    await pause();
    const start = source();
    if (start === undefined || this.#closed) return;
    const { engine, revision } = start;
    const engineRevision = engine.revision;
    const steps = engine.snapshotSteps();
    let step = steps.next();
    while (step.done !== true) {
      await pause();
      if (this.#closed || engine.revision !== engineRevision) return;
      step = steps.next();
    }
    if (engine.revision !== engineRevision || source()?.engine !== engine) return;
    await storeSnapshot(this.#db, workspaceId, revision, step.value, this.#clock());
    this.known(workspaceId, revision);
  }

  /** Stops starting writes and waits for those under way (before the store closes). */
  async close(): Promise<void> {
    this.#closed = true;
    await Promise.all(this.#running.values());
  }

  /** Resolves when no write is under way (for tests). */
  async settled(): Promise<void> {
    while (this.#running.size > 0) await Promise.all(this.#running.values());
  }
}

/** Lets pending I/O callbacks and timers run (a macrotask turn). */
function pause(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
