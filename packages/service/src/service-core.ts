import { createHash } from "node:crypto";
import { EventEmitter } from "node:events";
import {
  accessDiff,
  type ChangeOp,
  type Engine,
  extendModel,
  GatehouseError,
  isGatehouseError,
  type Model,
  type ResourceRef,
} from "@gatehouse/engine";
import { presets } from "@gatehouse/engine/presets";
import type { Kysely } from "kysely";
import { personOf, type RequestContext, reachesWorkspace, subjectOf } from "./actor.ts";
import { type AuditRecord, appendAudit } from "./audit/chain.ts";
import type { Database } from "./database/schema.ts";
import type { Storage } from "./database/storage.ts";
import { type AccessDiffEntry, describeAccessDiff } from "./decisions/access-diff.ts";
import { ErrorCode } from "./support/error-codes.ts";
import { notFound } from "./support/errors.ts";
import { KeyedMutex } from "./support/keyed-mutex.ts";
import {
  OWASP_SCRYPT,
  PasswordHasher,
  type PasswordHashingOptions,
  type ScryptCost,
} from "./support/passwords.ts";
import { DAY_MS } from "./support/time.ts";
import { ChangeFollower, type FollowOptions } from "./sync/change-follower.ts";
import { type CachedWorkspace, EngineCache, type WorkspaceRow } from "./sync/engine-cache.ts";
import {
  catchUp,
  type EngineSnapshotOptions,
  type RestoredEngine,
  readSnapshot,
  restoreEngine,
  SnapshotWriter,
} from "./sync/engine-snapshots.ts";
import { loadEngine, readChanges } from "./sync/load-engine.ts";
import { readWorkspaceRoles } from "./team/workspace-roles.ts";

export type { WorkspaceRow };

/** Options of a read: how fresh it must be. */
export interface ReadOptions {
  /**
   * Answer from this workspace revision or a later one — e.g. the `revision` a write answered — so
   * a change made through another instance is never missed ("new enemy"). A revision the
   * workspace has not reached is INVALID_INPUT.
   */
  readonly atLeastRevision?: number | undefined;
}

/** Beyond this many revisions behind, a cached engine is reloaded rather than caught up. */
const MAX_CATCH_UP = 1_000;

export interface GatehouseOptions {
  readonly storage: Storage;
  /** The models workspaces may use, by name; the five presets by default. */
  readonly models?: Readonly<Record<string, Model>>;
  /**
   * The model of personal workspaces created on sign-up (where its policy asks for one); `mzpanel`
   * by default, `null` for none.
   */
  readonly personalPreset?: string | null;
  /** Epoch milliseconds; `Date.now` by default. */
  readonly clock?: () => number;
  /** scrypt cost for passwords; OWASP's parameters by default. */
  readonly passwordCost?: ScryptCost;
  /** How many password hashes run at once and how many may wait (see `PasswordHasher`). */
  readonly passwordHashing?: PasswordHashingOptions;
  /**
   * A hasher shared with other services in this process, so they share one bound (its cost then
   * applies, not `passwordCost`); each service has its own by default.
   */
  readonly passwordHasher?: PasswordHasher;
  /** How long an invitation stays valid; 7 days by default. */
  readonly invitationTtlMs?: number;
  /**
   * The 32-byte key sealing integration credentials and TOTP secrets (AES-256-GCM): bytes, 64 hex
   * characters or base64. Without it, credential writes answer CONFIGURATION_REQUIRED.
   */
  readonly secretKey?: Uint8Array | string;
  /** How this instance follows other instances' commits (notifications and polling). */
  readonly follow?: FollowOptions;
  /**
   * The memory budget of the workspace engines kept in memory, in bytes (estimated from their
   * resources, subjects and grants); past it the least recently used go. 512 MiB by default.
   */
  readonly engineCacheBytes?: number;
  /**
   * When large workspaces get a persisted engine snapshot (loaded on the next start instead of the
   * grant rows, then caught up through the changes since), and how often it is refreshed.
   */
  readonly engineSnapshots?: EngineSnapshotOptions;
}

/**
 * How a structural write runs. `dryRun`: every check of the real change, then — instead of
 * committing — who would gain and lose which permissions where; nothing is written (nor a denial).
 */
export interface WriteOptions {
  readonly dryRun?: boolean | undefined;
}

/** What a structural write answers: the revision, and on a dry run the access diff instead of a change. */
export interface WriteResult {
  readonly revision: number;
  readonly diff?: readonly AccessDiffEntry[];
}

/** Thrown inside a dry run's transaction to roll it back, carrying the answer out. */
class DryRunRollback {
  readonly value: unknown;
  readonly revision: number;
  readonly diff: readonly AccessDiffEntry[];
  constructor(value: unknown, revision: number, diff: readonly AccessDiffEntry[]) {
    this.value = value;
    this.revision = revision;
    this.diff = diff;
  }
}

/** A committed change, as emitted to listeners (caches, other instances, the change stream). */
export interface ChangeEvent {
  readonly workspaceId: string;
  readonly revision: number;
  readonly ops: readonly ChangeOp[];
}

/**
 * What every workflow shares: storage, models, the clock, the engines kept in step with the
 * store, and the one way to write to a workspace.
 */
export class ServiceCore {
  readonly storage: Storage;
  readonly models: Readonly<Record<string, Model>>;
  readonly personalPreset: string | null;
  readonly clock: () => number;
  /** Every password hash and check goes through it: bounded concurrency, sign-ins first. */
  readonly passwords: PasswordHasher;
  readonly invitationTtlMs: number;
  readonly engines: EngineCache;
  readonly events = new EventEmitter<{ change: [ChangeEvent] }>();
  readonly follower: ChangeFollower;
  /** Writes large workspaces' engine snapshots in the background. */
  readonly snapshots: SnapshotWriter;
  readonly #mutex = new KeyedMutex();
  /** Refreshes in flight per workspace, shared by concurrent reads. */
  readonly #refreshing = new Map<string, Promise<CachedWorkspace>>();
  /** Per workspace with roles of its own: its model with them, and the rows it was built from. */
  readonly #workspaceModels = new Map<string, { readonly rows: string; readonly model: Model }>();

  constructor(options: GatehouseOptions) {
    this.storage = options.storage;
    this.models = options.models ?? presets;
    this.personalPreset = options.personalPreset === undefined ? "mzpanel" : options.personalPreset;
    this.clock = options.clock ?? Date.now;
    this.passwords =
      options.passwordHasher ??
      new PasswordHasher(options.passwordCost ?? OWASP_SCRYPT, options.passwordHashing);
    this.invitationTtlMs = options.invitationTtlMs ?? 7 * DAY_MS;
    this.engines = new EngineCache(options.engineCacheBytes);
    if (this.personalPreset !== null && this.models[this.personalPreset] === undefined) {
      throw new GatehouseError(ErrorCode.UNKNOWN_PRESET, `unknown preset "${this.personalPreset}"`);
    }
    this.follower = new ChangeFollower(this, this.storage.changeFeed, options.follow);
    this.snapshots = new SnapshotWriter(this.storage.db, this.clock, options.engineSnapshots);
  }

  get db(): Kysely<Database> {
    return this.storage.db;
  }

  modelOf(preset: string): Model {
    const model = this.models[preset];
    if (model === undefined) {
      throw new GatehouseError(
        ErrorCode.UNKNOWN_PRESET,
        `unknown preset "${preset}"; presets: ${Object.keys(this.models).join(", ")}`,
      );
    }
    return model;
  }

  /**
   * The model a workspace decides with: its preset's, plus the roles the workspace defined where
   * the model allows (docs/workspace-roles.md), read with `db`. The same object while those rows
   * stay the same, so a decoded snapshot and a cached engine keep matching it.
   */
  async workspaceModel(db: Kysely<Database>, row: WorkspaceRow): Promise<Model> {
    const model = this.modelOf(row.preset);
    if (!model.policy.workspaceRoles) return model;
    const roles = await readWorkspaceRoles(db, row.id);
    if (roles.length === 0) {
      this.#workspaceModels.delete(row.id);
      return model;
    }
    const rows = JSON.stringify([row.preset, roles]);
    const known = this.#workspaceModels.get(row.id);
    if (known?.rows === rows) return known.model;
    const extended = extendModel(
      model,
      Object.fromEntries(roles.map(({ name, ...role }) => [name, role])),
    );
    this.#workspaceModels.set(row.id, { rows, model: extended });
    return extended;
  }

  /** The open workspace row, or WORKSPACE_NOT_FOUND. */
  async workspace(
    db: Kysely<Database>,
    workspaceId: string,
    { lock = false } = {},
  ): Promise<WorkspaceRow> {
    if (typeof workspaceId !== "string") throw notFound();
    const row = await db
      .selectFrom("workspaces")
      .selectAll()
      .where("id", "=", workspaceId)
      .$if(lock && this.storage.locksRows, (query) => query.forUpdate())
      .executeTakeFirst();
    if (row === undefined || row.closed_at !== null) {
      this.engines.evict(workspaceId);
      this.#workspaceModels.delete(workspaceId);
      throw notFound();
    }
    return row;
  }

  /**
   * The workspace's state at exactly `row.revision`, read with `db` (inside a transaction holding
   * `row`): the cached engine when it is there, caught up through the stored changes when it is
   * behind, loaded otherwise. When the cache is already past `row` (a reader on an older snapshot),
   * the answer is a private engine at `row` that is not cached.
   */
  async stateAt(
    db: Kysely<Database>,
    row: WorkspaceRow,
    verifiedAt: number,
    /** The workspace's snapshot, decoded before the transaction began (see `#refresh`). */
    decoded?: RestoredEngine,
  ): Promise<CachedWorkspace> {
    const entry = this.engines.peek(row.id);
    if (entry?.revision === row.revision) {
      this.engines.verified(entry, row, verifiedAt);
      this.engines.use(entry);
      return entry;
    }
    if (entry !== undefined && entry.revision < row.revision) {
      const from = entry.revision;
      if (row.revision - from <= MAX_CATCH_UP) {
        const changes = await readChanges(db, row.id, { after: from, upTo: row.revision });
        if (this.engines.advance(row.id, changes, row, verifiedAt)) {
          for (const change of changes) this.#emit(row.id, change.revision, change.ops);
          this.engines.use(entry);
          this.#considerSnapshot(row.id);
          return entry;
        }
      }
    }
    // A large workspace's stored snapshot and the changes since, else its rows.
    const model = await this.workspaceModel(db, row);
    const restored =
      decoded !== undefined && decoded.engine.model === model
        ? (await catchUp(db, row.id, decoded, row.revision))
          ? decoded
          : undefined
        : await restoreEngine(db, model, row.id, row.revision, this.clock);
    if (restored !== undefined) this.snapshots.known(row.id, restored.snapshotRevision);
    const engine =
      restored?.engine ?? (await loadEngine(db, this.storage.dialect, model, row.id, this.clock));
    if (entry !== undefined && entry.revision > row.revision)
      return { engine, revision: row.revision, row, verifiedAt, usedAt: verifiedAt };
    const stored = this.engines.store(engine, row, verifiedAt);
    this.#considerSnapshot(row.id);
    return stored;
  }

  /** Snapshots a large cached workspace in the background when it has none recent enough. */
  #considerSnapshot(workspaceId: string): void {
    this.snapshots.consider(workspaceId, () => this.engines.peek(workspaceId));
  }

  /** The cached state if it may answer without asking the store (within the staleness bound). */
  cached(workspaceId: string): CachedWorkspace | undefined {
    const entry = this.engines.peek(workspaceId);
    if (entry === undefined) return undefined;
    const now = performance.now();
    return now - entry.verifiedAt <= this.follower.options.maxStalenessMs ? entry : undefined;
  }

  /**
   * The workspace's cached state, answered from memory while the store was seen at its revision
   * within the follower's staleness bound, and otherwise brought up to the store first.
   */
  async current(workspaceId: string, options: ReadOptions = {}): Promise<CachedWorkspace> {
    const { atLeastRevision } = options;
    if (
      atLeastRevision !== undefined &&
      !(Number.isSafeInteger(atLeastRevision) && atLeastRevision >= 0)
    )
      throw new GatehouseError(ErrorCode.INVALID_INPUT, "atLeastRevision is a whole number ≥ 0");
    let entry = this.cached(workspaceId);
    if (
      entry === undefined ||
      (atLeastRevision !== undefined && entry.revision < atLeastRevision)
    ) {
      entry = await this.refresh(workspaceId);
      // A refresh already under way may have read the store before the wanted revision committed.
      if (atLeastRevision !== undefined && entry.revision < atLeastRevision)
        entry = await this.refresh(workspaceId, { join: false });
      if (atLeastRevision !== undefined && entry.revision < atLeastRevision) {
        throw new GatehouseError(
          ErrorCode.INVALID_INPUT,
          `atLeastRevision ${atLeastRevision} is ahead of this workspace (at revision ${entry.revision})`,
        );
      }
    }
    entry.usedAt = performance.now();
    this.engines.use(entry);
    return entry;
  }

  /**
   * Brings a workspace's cached state up to the store: one row read when it is current, else the
   * changes since its revision replayed from one snapshot (or a reload). Concurrent callers share
   * one refresh unless `join` is false.
   */
  refresh(workspaceId: string, { join = true } = {}): Promise<CachedWorkspace> {
    const running = this.#refreshing.get(workspaceId);
    if (join && running !== undefined) return running;
    const refresh = this.#refresh(workspaceId).finally(() => {
      if (this.#refreshing.get(workspaceId) === refresh) this.#refreshing.delete(workspaceId);
    });
    this.#refreshing.set(workspaceId, refresh);
    return refresh;
  }

  async #refresh(workspaceId: string): Promise<CachedWorkspace> {
    const startedAt = performance.now();
    const row = await this.workspace(this.db, workspaceId);
    const entry = this.engines.peek(workspaceId);
    if (entry?.revision === row.revision) {
      this.engines.verified(entry, row, startedAt);
      return entry;
    }
    // Not cached: decode its snapshot (if any) first, so no transaction stays open meanwhile.
    const decoded =
      entry === undefined
        ? await readSnapshot(
            this.db,
            await this.workspaceModel(this.db, row),
            row.id,
            row.revision,
            this.clock,
          )
        : undefined;
    return this.storage.snapshot(async (trx) =>
      this.stateAt(trx, await this.workspace(trx, workspaceId), startedAt, decoded),
    );
  }

  /**
   * A consistent read of a workspace for a caller who must be a member (or the system actor);
   * others get WORKSPACE_NOT_FOUND, as if it did not exist.
   */
  async read(
    request: RequestContext,
    workspaceId: string,
    options: ReadOptions = {},
  ): Promise<WorkspaceReader> {
    if (typeof workspaceId !== "string") throw notFound();
    requirePreviewOf(request, workspaceId);
    const state = await this.current(workspaceId, options);
    const reader = new WorkspaceReader(this, request, state.row, state.engine);
    if (await reader.isMember()) return reader;
    // A key the store authenticated but this cache does not know was created through another
    // instance since the cache was last verified: catch up once rather than deny it.
    if ("keyId" in request.actor && request.actor.keyId !== undefined) {
      const caughtUp = await this.refresh(workspaceId, { join: false });
      const retried = new WorkspaceReader(this, request, caughtUp.row, caughtUp.engine);
      if (await retried.isMember()) return retried;
    }
    throw notFound();
  }

  /**
   * Like `read`, but `work` runs inside one database snapshot whose rows match the engine's
   * revision exactly — for answers that join rows with decisions (the member list and its owner).
   * Do not write (or record denials) inside `work`.
   */
  async readSnapshot<T>(
    request: RequestContext,
    workspaceId: string,
    work: (reader: WorkspaceReader) => Promise<T>,
  ): Promise<T> {
    const startedAt = performance.now();
    requirePreviewOf(request, workspaceId);
    return this.storage.snapshot(async (trx) => {
      const row = await this.workspace(trx, workspaceId);
      const state = await this.stateAt(trx, row, startedAt);
      const reader = new WorkspaceReader(this, request, row, state.engine, trx);
      if (!(await reader.isMember())) throw notFound();
      return work(reader);
    });
  }

  /**
   * Runs one change to a workspace: locks its row, gives `work` the engine at the current
   * revision, and — when `work` recorded changes — bumps the revision, appends the audit entries
   * to the hash chain and stores the engine ops, all in one transaction. After commit the cached
   * engine advances and a change event is emitted. A denial recorded with `deny` is written to the
   * activity log in its own transaction, then thrown. With `dryRun`, the same `work` runs, the
   * engine ops it recorded are diffed (`accessDiff`) and the transaction rolls back: the preview
   * and the change cannot differ.
   */
  async write<T>(
    request: RequestContext,
    workspaceId: string,
    work: (tx: WorkspaceWriter) => Promise<T>,
    options: WriteOptions = {},
  ): Promise<{ value: T; revision: number; diff?: readonly AccessDiffEntry[] }> {
    if (request.actor.type === "preview") {
      throw new GatehouseError(
        ErrorCode.PERMISSION_DENIED,
        "viewing as a member is read-only; stop viewing as them to make changes",
      );
    }
    if (typeof workspaceId !== "string") throw notFound();
    requirePreviewOf(request, workspaceId);
    return this.#mutex.run(workspaceId, async () => {
      let writer: WorkspaceWriter | undefined;
      let revision = 0;
      let committed: WorkspaceRow | undefined;
      try {
        const value = await this.storage.transaction(async (trx) => {
          const row = await this.workspace(trx, workspaceId, { lock: true });
          const state = await this.stateAt(trx, row, performance.now());
          writer = new WorkspaceWriter(this, request, row, state.engine, trx);
          const result = await work(writer);
          revision = row.revision;
          if (options.dryRun === true) {
            const diff = accessDiff(state.engine, writer.ops);
            throw new DryRunRollback(result, revision, await describeAccessDiff(writer, diff));
          }
          if (writer.changed) {
            committed = await this.commitChange(trx, writer);
            revision = committed.revision;
          }
          return result;
        });
        if (writer !== undefined && committed !== undefined) {
          // A closing change does not apply (`workspace.close`): advancing evicts the engine.
          this.engines.advance(
            workspaceId,
            [{ revision, ops: writer.ops }],
            committed,
            performance.now(),
          );
          this.#emit(workspaceId, revision, writer.ops);
          this.#considerSnapshot(workspaceId);
        }
        return { value, revision };
      } catch (error) {
        if (error instanceof DryRunRollback)
          return { value: error.value as T, revision: error.revision, diff: error.diff };
        if (
          options.dryRun !== true &&
          writer?.denial !== undefined &&
          isGatehouseError(error) &&
          error === writer.denial.error
        ) {
          await this.recordDenial(request, workspaceId, writer.denial.record);
        }
        // A unique key lost to a concurrent writer (e.g. a join key taken meanwhile).
        if (this.storage.isUniqueViolation(error)) {
          throw new GatehouseError(
            ErrorCode.CONFLICT,
            "a concurrent change took this value; try again",
            {
              cause: error,
            },
          );
        }
        throw error;
      }
    });
  }

  /** Appends audit entries to the instance-level log (closing workspaces, operator actions). */
  async appendInstanceLog(
    trx: Kysely<Database>,
    entry: {
      action: string;
      workspaceId: string | null;
      actor: string;
      details: Record<string, unknown>;
    },
  ): Promise<void> {
    const head = await trx
      .selectFrom("instance")
      .selectAll()
      .where("id", "=", 1)
      .$if(this.storage.locksRows, (query) => query.forUpdate())
      .executeTakeFirstOrThrow();
    const row = {
      seq: head.log_seq + 1,
      at: this.clock(),
      action: entry.action,
      workspace_id: entry.workspaceId,
      actor: entry.actor,
      details: JSON.stringify(entry.details),
      prev_hash: head.log_head,
    };
    const hash = createHash("sha256")
      .update(JSON.stringify(Object.values(row)))
      .digest("hex");
    await trx
      .insertInto("instance_log")
      .values({ ...row, hash })
      .execute();
    await trx
      .updateTable("instance")
      .set({ log_seq: row.seq, log_head: hash })
      .where("id", "=", 1)
      .execute();
  }

  /**
   * The last revision of each workspace told to `onChange` listeners. A change is told once: on
   * PostgreSQL the change follower can catch the cached engine up to this instance's own commit
   * before the writer advances it, and both would tell it. Revisions reach `#emit` in order (a
   * writer catches up before it writes), so an older one is one already told.
   */
  readonly #told = new Map<string, number>();

  #emit(workspaceId: string, revision: number, ops: readonly ChangeOp[]): void {
    if ((this.#told.get(workspaceId) ?? -1) >= revision) return;
    this.#told.set(workspaceId, revision);
    this.events.emit("change", { workspaceId, revision, ops });
  }

  /**
   * Commits one change to a locked workspace row, inside `trx`: the audit entries appended to the
   * hash chain, the row updated at the next revision, the engine ops stored under it and announced
   * to other instances. Answers the workspace row as it now is. `write` commits through it; so
   * does a workflow that creates a workspace and fills it in one transaction (import).
   */
  async commitChange(
    trx: Kysely<Database>,
    change: {
      readonly workspace: WorkspaceRow;
      readonly request: RequestContext;
      readonly now: number;
      readonly records: readonly AuditRecord[];
      readonly ops: readonly ChangeOp[];
      readonly rowUpdates: WorkspaceWriter["rowUpdates"];
    },
  ): Promise<WorkspaceRow> {
    const row = change.workspace;
    const revision = row.revision + 1;
    const at = change.now;
    let head = { seq: row.audit_seq, hash: row.audit_head };
    for (const record of change.records) {
      head = await appendAudit(trx, {
        workspaceId: row.id,
        head,
        at,
        actor: (record.by ?? change.request).actor,
        origin: (record.by ?? change.request).origin,
        result: "success",
        record,
      });
    }
    const updated = { ...change.rowUpdates, revision, audit_seq: head.seq, audit_head: head.hash };
    await trx.updateTable("workspaces").set(updated).where("id", "=", row.id).execute();
    await trx
      .insertInto("changes")
      .values({ workspace_id: row.id, revision, at, ops: JSON.stringify(change.ops) })
      .execute();
    await this.storage.changeFeed.announce(trx, { workspaceId: row.id, revision });
    return { ...row, ...updated };
  }

  /** Writes a denied attempt to the workspace's activity log, in its own transaction. */
  async recordDenial(
    request: RequestContext,
    workspaceId: string,
    record: AuditRecord,
  ): Promise<void> {
    await this.storage.transaction(async (trx) => {
      const row = await this.workspace(trx, workspaceId, { lock: true });
      const head = await appendAudit(trx, {
        workspaceId,
        head: { seq: row.audit_seq, hash: row.audit_head },
        at: this.clock(),
        actor: request.actor,
        origin: request.origin,
        result: "denied",
        record,
      });
      await trx
        .updateTable("workspaces")
        .set({ audit_seq: head.seq, audit_head: head.hash })
        .where("id", "=", workspaceId)
        .execute();
    });
  }
}

/**
 * A preview ("view as") is bound to its one workspace, a host credential to its workspaces: any
 * other answers as if it did not exist.
 */
function requirePreviewOf(request: RequestContext, workspaceId: string): void {
  if (request.actor.type === "preview" && request.actor.workspaceId !== workspaceId)
    throw notFound();
  if (!reachesWorkspace(request.actor, workspaceId)) throw notFound();
}

/** A workspace as one caller sees it, with decisions answered by its engine. */
export class WorkspaceReader {
  readonly #core: ServiceCore;
  readonly request: RequestContext;
  readonly workspace: WorkspaceRow;
  readonly engine: Engine;
  readonly model: Model;
  readonly db: Kysely<Database>;

  constructor(
    core: ServiceCore,
    request: RequestContext,
    workspace: WorkspaceRow,
    engine: Engine,
    db?: Kysely<Database>,
  ) {
    this.#core = core;
    this.request = request;
    this.workspace = workspace;
    this.engine = engine;
    // The workspace's model: its preset's plus any roles it defined (`ServiceCore.workspaceModel`).
    this.model = engine.model;
    this.db = db ?? core.db;
  }

  get core(): ServiceCore {
    return this.#core;
  }

  get root(): ResourceRef {
    return this.engine.root;
  }

  get isSystem(): boolean {
    return this.request.actor.type === "system";
  }

  /** The system actor, or a person (directly, by API key or through the assistant) who is a member. */
  async isMember(): Promise<boolean> {
    const person = personOf(this.request.actor);
    if (person === undefined) return true;
    // A live key implies a member owner: removal drops the owner's keys in the same revision.
    const keyId = "keyId" in this.request.actor ? this.request.actor.keyId : undefined;
    if (keyId !== undefined) return this.engine.apiKey(keyId)?.owner === `user:${person}`;
    const row = await this.db
      .selectFrom("members")
      .select(["user_id", "support_until"])
      .where("workspace_id", "=", this.workspace.id)
      .where("user_id", "=", person)
      .executeTakeFirst();
    // A support person (docs/support-access.md) is a member only until their access ends.
    return (
      row !== undefined && (row.support_until === null || row.support_until > this.#core.clock())
    );
  }

  /**
   * Requires a workflow gate of the model (team view, activity log) held at the root; otherwise the
   * attempt is written to the activity log as denied and PERMISSION_DENIED is thrown.
   */
  async requireGate(name: "teamView" | "auditView", message: string): Promise<void> {
    if (
      this.holds(this.model.definition.gates?.[name] ?? this.model.definition.delegation, this.root)
    )
      return;
    await this.#core.recordDenial(this.request, this.workspace.id, {
      action: name === "teamView" ? "team.view" : "audit.view",
      target: this.root,
    });
    throw new GatehouseError(ErrorCode.PERMISSION_DENIED, message);
  }

  /** Whether `check` allows the caller `permission` on `resource` (the system actor always may). */
  can(permission: string, resource: ResourceRef): boolean {
    const subject = subjectOf(this.request.actor);
    return subject === undefined || this.engine.check(subject, permission, resource).allowed;
  }

  /**
   * Whether the caller holds `permission` at `resource` or above, whatever types it acts on: the
   * test for workflow gates (team view, people management, settings).
   */
  holds(permission: string, resource: ResourceRef): boolean {
    const subject = subjectOf(this.request.actor);
    return subject === undefined || this.engine.holds(subject, permission, resource).allowed;
  }
}

/** A workspace inside a write transaction: reads, authorization, and the change being built. */
export class WorkspaceWriter extends WorkspaceReader {
  readonly trx: Kysely<Database>;
  readonly now: number;
  readonly ops: ChangeOp[] = [];
  readonly records: AuditRecord[] = [];
  rowUpdates: Partial<Omit<WorkspaceRow, "id" | "revision" | "audit_seq" | "audit_head">> = {};
  denial: { record: AuditRecord; error: GatehouseError } | undefined;
  #touched = false;

  constructor(
    core: ServiceCore,
    request: RequestContext,
    workspace: WorkspaceRow,
    engine: Engine,
    trx: Kysely<Database>,
  ) {
    super(core, request, workspace, engine, trx);
    this.trx = trx;
    this.now = core.clock();
  }

  /** True once the work recorded an audit entry, an op or a row update. */
  get changed(): boolean {
    return this.#touched || this.ops.length > 0 || this.records.length > 0;
  }

  /** Records the audit entry of this change (one per successful mutation). */
  audit(record: AuditRecord): void {
    this.records.push(record);
  }

  /** Records engine ops to apply once committed. */
  apply(...ops: ChangeOp[]): void {
    this.ops.push(...ops);
  }

  /** Sets workspace columns along with the revision bump. */
  update(
    values: Partial<Omit<WorkspaceRow, "id" | "revision" | "audit_seq" | "audit_head">>,
  ): void {
    this.rowUpdates = { ...this.rowUpdates, ...values };
    this.#touched = true;
  }

  /**
   * Refuses the attempt: it is written to the activity log as denied, and the caller gets
   * `error` (PERMISSION_DENIED by default; WORKSPACE_NOT_FOUND for non-members).
   */
  deny(record: AuditRecord, message: string, code: ErrorCode = ErrorCode.PERMISSION_DENIED): never {
    const error = new GatehouseError(code, message);
    this.denial = { record, error };
    throw error;
  }

  /** Requires membership (or the system actor); outsiders are denied as if the workspace did not exist. */
  async requireMember(record: AuditRecord): Promise<void> {
    if (!(await this.isMember()))
      this.deny(record, "no such workspace", ErrorCode.WORKSPACE_NOT_FOUND);
  }

  /** Requires `permission` held at `resource` or above; otherwise denies (and logs) the attempt. */
  async require(permission: string, resource: ResourceRef, record: AuditRecord): Promise<void> {
    await this.requireMember(record);
    if (!this.holds(permission, resource)) {
      this.deny(record, `${permission} on ${resource} is not granted to you`);
    }
  }

  /** Requires the caller to be the owner (or the system actor, for operator paths). */
  async requireOwner(record: AuditRecord): Promise<void> {
    await this.requireMember(record);
    const person = personOf(this.request.actor);
    if (person === undefined) return;
    if (
      this.request.actor.type !== "user" ||
      this.engine.ownerGrant?.subject !== `user:${person}`
    ) {
      this.deny(record, "only the workspace owner may do this");
    }
  }
}
