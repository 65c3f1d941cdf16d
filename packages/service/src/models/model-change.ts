import { createHash } from "node:crypto";
import {
  createEngine,
  type Engine,
  extendModel,
  GatehouseError,
  type GrantInput,
  type Issue,
  type Model,
  parseModel,
  type ResourceRef,
  type WorkspaceRoleDefinition,
  workspaceRoleIssues,
} from "@gatehouse/engine";
import type { Kysely } from "kysely";
import { type RequestContext, systemActor } from "../actor.ts";
import { actorLabel } from "../audit/actor-label.ts";
import type { Database } from "../database/schema.ts";
import {
  describeModelAccessDiff,
  MODEL_DIFF_LINES,
  type ModelAccessDiff,
  modelAccessChanges,
} from "../decisions/model-access-diff.ts";
import type { ServiceCore } from "../service-core.ts";
import { ErrorCode } from "../support/error-codes.ts";
import { type EngineState, loadEngineState } from "../sync/load-engine.ts";
import type { ApiKeys } from "../team/api-keys.ts";
import type { Members } from "../team/members.ts";
import type { Resources } from "../team/resources.ts";
import { readWorkspaceRoles, type WorkspaceRole, WorkspaceRoles } from "../team/workspace-roles.ts";

/** What a conflict is about: a resource, a grant, an API key, a workspace's own role, or a whole model. */
export type ConflictTarget =
  | { readonly kind: "resource"; readonly resource: string }
  | { readonly kind: "grant"; readonly subject: string; readonly scope: string }
  | { readonly kind: "api_key"; readonly keyId: string }
  | { readonly kind: "model"; readonly model: string }
  | { readonly kind: "role"; readonly role: string };

/** Stored data a model can no longer hold: a resource, grant or API key of one workspace. */
export interface ModelConflict {
  readonly workspaceId: string;
  readonly target: ConflictTarget;
  /** What conflicts, e.g. `grant user:42 admin at hosting:web1`, `resource domain:a.example`. */
  readonly item: string;
  /** The engine's code for it: `UNKNOWN_ROLE`, `ROLE_NOT_GRANTABLE_AT_SCOPE`, `INVALID_PARENT`, … */
  readonly code: string;
  readonly message: string;
}

/** Permissions one grant gives under the served model and would no longer give under the new one. */
export interface LostAccess {
  readonly workspaceId: string;
  readonly subject: string;
  readonly role: string;
  readonly scope: string;
  readonly permissions: readonly string[];
}

/** How a configured model compares with the one the instance served before. */
export interface ModelChangeReport {
  readonly model: string;
  /**
   * `unchanged`; `new` (never served); `compatible` (every stored row still valid);
   * `incompatible` (see `conflicts`); `missing` (workspaces use a model no longer configured).
   */
  readonly status: "unchanged" | "new" | "compatible" | "incompatible" | "missing";
  /** Open workspaces of this model. */
  readonly workspaces: number;
  readonly conflicts: readonly ModelConflict[];
  /** Member by member, what the change takes away (known when the served model is stored). */
  readonly lostAccess: readonly LostAccess[];
  /**
   * Per workspace whose decisions change, who gains and who loses which permissions where: counts,
   * then the first lines (docs/access-diff.md). Known when the served model is stored.
   */
  readonly accessDiff: readonly ModelAccessDiff[];
}

/** The fingerprint a stored model is compared by. */
function fingerprintOf(model: Model): string {
  return createHash("sha256").update(JSON.stringify(model.definition)).digest("hex");
}

/** `error`'s code and message, for a conflict. */
function reasonOf(error: unknown): { code: string; message: string } {
  if (error instanceof GatehouseError) return { code: error.code, message: error.message };
  throw error;
}

/** Resources ordered parents first from the root; those not reachable from it are orphans. */
function parentsFirst(
  root: ResourceRef,
  resources: EngineState["resources"],
): { ordered: EngineState["resources"]; orphans: EngineState["resources"] } {
  const children = new Map<string, (typeof resources)[number][]>();
  for (const row of resources) {
    const list = children.get(row.parent);
    if (list === undefined) children.set(row.parent, [row]);
    else list.push(row);
  }
  const ordered: (typeof resources)[number][] = [];
  const queue: string[] = [root];
  for (let index = 0; index < queue.length; index++) {
    for (const row of children.get(queue[index]!) ?? []) {
      ordered.push(row);
      queue.push(row.resource);
    }
  }
  const placed = new Set(ordered.map((row) => row.resource));
  return { ordered, orphans: resources.filter((row) => !placed.has(row.resource)) };
}

function grantItem(grant: GrantInput): string {
  return `grant ${grant.subject} ${grant.role} at ${grant.scope}`;
}

/** Every stored row of one workspace that `model` refuses, found by building its engine row by row. */
function conflictsOf(
  model: Model,
  workspaceId: string,
  state: EngineState,
  now: () => number,
): { conflicts: ModelConflict[]; dropped: Set<GrantInput>; engine: Engine } {
  const conflicts: ModelConflict[] = [];
  const dropped = new Set<GrantInput>();
  const engine: Engine = createEngine(model, {
    workspace: workspaceId,
    clock: now,
    groups: state.groups,
  });
  const { ordered, orphans } = parentsFirst(engine.root, state.resources);
  for (const row of ordered) {
    try {
      engine.upsertResource(row.resource, row.parent);
    } catch (error) {
      conflicts.push({
        workspaceId,
        target: { kind: "resource", resource: row.resource },
        item: `resource ${row.resource}`,
        ...reasonOf(error),
      });
    }
  }
  for (const row of orphans) {
    conflicts.push({
      workspaceId,
      target: { kind: "resource", resource: row.resource },
      item: `resource ${row.resource}`,
      code: ErrorCode.INVALID_PARENT,
      message: `its parent ${row.parent} is not in the ${model.rootType} tree`,
    });
  }
  for (const grant of state.grants) {
    try {
      engine.addGrant(grant);
    } catch (error) {
      conflicts.push({
        workspaceId,
        target: { kind: "grant", subject: grant.subject, scope: grant.scope },
        item: grantItem(grant),
        ...reasonOf(error),
      });
      dropped.add(grant);
    }
  }
  for (const key of state.apiKeys) {
    try {
      engine.addApiKey(key);
    } catch (error) {
      conflicts.push({
        workspaceId,
        target: { kind: "api_key", keyId: key.id },
        item: `API key ${key.id}`,
        ...reasonOf(error),
      });
    }
  }
  return { conflicts, dropped, engine };
}

/** A grant's permissions under `model`: its role's and its extras; none when the role is gone. */
function permissionsOf(model: Model, grant: GrantInput): Set<string> {
  const role = model.compiled.roles.get(grant.role);
  return new Set([...(role?.permissions ?? []), ...(grant.extras ?? [])]);
}

function lostAccessOf(
  served: Model,
  next: Model,
  workspaceId: string,
  grants: readonly GrantInput[],
  dropped: ReadonlySet<GrantInput>,
): LostAccess[] {
  const lost: LostAccess[] = [];
  for (const grant of grants) {
    const before = permissionsOf(served, grant);
    const after = dropped.has(grant) ? new Set<string>() : permissionsOf(next, grant);
    const permissions = [...before].filter((permission) => !after.has(permission)).sort();
    if (permissions.length > 0) {
      lost.push({
        workspaceId,
        subject: grant.subject,
        role: grant.role,
        scope: grant.scope,
        permissions,
      });
    }
  }
  return lost;
}

/**
 * `model` with the workspace's own roles (docs/workspace-roles.md); each role the model no longer
 * allows is a conflict, and the model is extended with the others only.
 */
function withWorkspaceRoles(
  model: Model,
  workspaceId: string,
  roles: readonly WorkspaceRole[],
): { model: Model; conflicts: ModelConflict[] } {
  const conflicts: ModelConflict[] = [];
  const kept: Record<string, WorkspaceRoleDefinition> = {};
  for (const { name, ...role } of roles) {
    const issues = workspaceRoleIssues(model, { ...kept, [name]: role });
    if (issues.length === 0) kept[name] = role;
    else
      conflicts.push({
        workspaceId,
        target: { kind: "role", role: name },
        item: `workspace role ${name}`,
        code: ErrorCode.INVALID_MODEL,
        message: issues.map((issue) => `${issue.path}: ${issue.message}`).join("; "),
      });
  }
  return { model: extendModel(model, kept), conflicts };
}

async function openWorkspacesOf(db: Kysely<Database>, model: string): Promise<string[]> {
  const rows = await db
    .selectFrom("workspaces")
    .select("id")
    .where("preset", "=", model)
    .where("closed_at", "is", null)
    .orderBy("id")
    .execute();
  return rows.map((row) => row.id);
}

/** The workflows that drop conflicting rows, each audited in its workspace's activity log. */
export interface DropWorkflows {
  readonly resources: Resources;
  readonly members: Members;
  readonly apiKeys: ApiKeys;
}

function incompatible(reports: readonly ModelChangeReport[]): GatehouseError | undefined {
  const issues: Issue[] = reports.flatMap((report) =>
    report.conflicts.map((conflict) => ({
      path: `models.${report.model}.workspaces.${conflict.workspaceId}: ${conflict.item}`,
      message: `${conflict.message} [${conflict.code}]`,
    })),
  );
  if (issues.length === 0) return undefined;
  const names = reports.filter((report) => report.conflicts.length > 0).map((r) => r.model);
  const one = names.length === 1;
  return new GatehouseError(
    ErrorCode.MODEL_INCOMPATIBLE,
    `the model${one ? "" : "s"} ${names.join(", ")} no longer fit${one ? "s" : ""} the stored data (${issues.length} conflict${issues.length === 1 ? "" : "s"}); see docs/adopt.md#changing-a-model`,
    { issues },
  );
}

/**
 * The model a database was last served with under `name`, if one was recorded — for a tool that
 * must load the stored workspaces before the new model applies (`gatehouse model apply`).
 */
export async function servedModel(db: Kysely<Database>, name: string): Promise<Model | undefined> {
  const row = await db
    .selectFrom("models")
    .select("definition")
    .where("name", "=", name)
    .executeTakeFirst();
  return row === undefined ? undefined : storedModel(row.definition);
}

/** A stored definition as a model; `undefined` when today's engine no longer accepts it. */
function storedModel(definition: string): Model | undefined {
  const parsed = parseModel(JSON.parse(definition));
  return parsed.success ? parsed.model : undefined;
}

/** True for the codes of a row that is gone already (a resource deleted with its ancestor). */
function isGone(error: unknown): boolean {
  return (
    error instanceof GatehouseError &&
    [
      ErrorCode.RESOURCE_NOT_FOUND,
      ErrorCode.GRANT_NOT_FOUND,
      ErrorCode.MEMBER_NOT_FOUND,
      ErrorCode.API_KEY_NOT_FOUND,
      ErrorCode.NOT_FOUND,
    ].includes(error.code as never)
  );
}

/**
 * Model changes between starts: each configured model is compared with the one this database was
 * last served with and, where it changed, checked against every stored row of its workspaces.
 */
export class ModelChanges {
  readonly #core: ServiceCore;
  readonly #workflows: DropWorkflows;

  constructor(core: ServiceCore, workflows: DropWorkflows) {
    this.#core = core;
    this.#workflows = workflows;
  }

  /** The model this database was last served with under `name`, if one was recorded. */
  served(name: string): Promise<Model | undefined> {
    return servedModel(this.#core.storage.db, name);
  }

  /**
   * Compares `models` (the configured ones by default) with the served ones, changing nothing.
   * @example
   * const reports = await gatehouse.modelChanges.check({ ...gatehouse.models, reseller: nextReseller });
   * reports.filter((report) => report.status === "incompatible"); // what refuses to apply, row by row
   */
  async check(
    models: Readonly<Record<string, Model>> = this.#core.models,
    {
      reportMissing = models === this.#core.models,
      diffLines = MODEL_DIFF_LINES,
    }: {
      /** Report workspaces whose model is not among `models` (by default when checking the served set). */
      reportMissing?: boolean;
      /** How many lines of each workspace's access diff to list (all are counted). */
      diffLines?: number;
    } = {},
  ): Promise<ModelChangeReport[]> {
    const core = this.#core;
    const db = core.storage.db;
    const stored = new Map(
      (await db.selectFrom("models").selectAll().execute()).map((row) => [row.name, row]),
    );
    // Open workspaces per model, in one query: an unchanged model needs only its count.
    const used = new Map(
      (
        await db
          .selectFrom("workspaces")
          .select((eb) => ["preset", eb.fn.countAll<number>().as("count")])
          .where("closed_at", "is", null)
          .groupBy("preset")
          .execute()
      ).map((entry) => [entry.preset, Number(entry.count)]),
    );
    const reports: ModelChangeReport[] = [];
    for (const [name, model] of Object.entries(models)) {
      const row = stored.get(name);
      if (row !== undefined && row.fingerprint === fingerprintOf(model)) {
        reports.push({
          model: name,
          status: "unchanged",
          workspaces: used.get(name) ?? 0,
          conflicts: [],
          lostAccess: [],
          accessDiff: [],
        });
        continue;
      }
      const workspaces = await openWorkspacesOf(db, name);
      const served = row === undefined ? undefined : storedModel(row.definition);
      const conflicts: ModelConflict[] = [];
      const lostAccess: LostAccess[] = [];
      const accessDiff: ModelAccessDiff[] = [];
      for (const workspaceId of workspaces) {
        const [state, roles] = await core.storage.snapshot((trx) =>
          Promise.all([
            loadEngineState(trx, core.storage.dialect, workspaceId),
            readWorkspaceRoles(trx, workspaceId),
          ]),
        );
        const next = withWorkspaceRoles(model, workspaceId, roles);
        conflicts.push(...next.conflicts);
        const found = conflictsOf(next.model, workspaceId, state, core.clock);
        conflicts.push(...found.conflicts);
        if (served !== undefined) {
          const before = withWorkspaceRoles(served, workspaceId, roles).model;
          lostAccess.push(
            ...lostAccessOf(before, next.model, workspaceId, state.grants, found.dropped),
          );
          // Decisions before and after, by permission name: the two bit layouts differ.
          const servedEngine = conflictsOf(before, workspaceId, state, core.clock).engine;
          const changes = modelAccessChanges(servedEngine, found.engine);
          if (changes.length > 0)
            accessDiff.push(await describeModelAccessDiff(db, workspaceId, changes, diffLines));
        }
      }
      reports.push({
        model: name,
        status: conflicts.length > 0 ? "incompatible" : row === undefined ? "new" : "compatible",
        workspaces: workspaces.length,
        conflicts,
        lostAccess,
        accessDiff,
      });
    }
    if (!reportMissing) return reports;
    for (const [preset, count] of used) {
      if (Object.hasOwn(models, preset)) continue;
      reports.push({
        model: preset,
        status: "missing",
        workspaces: count,
        conflicts: [
          {
            workspaceId: "*",
            target: { kind: "model", model: preset },
            item: `model ${preset}`,
            code: ErrorCode.UNKNOWN_PRESET,
            message: `${count} open workspace(s) use the model "${preset}", which is not configured`,
          },
        ],
        lostAccess: [],
        accessDiff: [],
      });
    }
    return reports;
  }

  /**
   * Checks the configured models and records those that are new or changed compatibly, each in
   * the instance log; throws `MODEL_INCOMPATIBLE` with every conflict (and records nothing) when
   * any model no longer fits the stored data. The server runs it before it serves.
   */
  async accept(request: RequestContext = systemActor("startup")): Promise<ModelChangeReport[]> {
    const reports = await this.check();
    const refused = incompatible(reports);
    if (refused !== undefined) throw refused;
    await this.#record(reports, this.#core.models, request, {});
    return reports;
  }

  /**
   * The operator's way through an incompatible change (`gatehouse model apply`): with
   * `dropConflicts`, every conflicting resource (with its subtree), grant and API key is removed
   * through the ordinary workflows — each removal in its workspace's activity log, as `request` —
   * and the new model is recorded in the instance log. Run it on a service serving the old model
   * (`served`); the owner's grant is never dropped, so a model without the owner's role or scope
   * stays refused.
   * @example
   * const old = await gatehouse.modelChanges.served("reseller");
   * await gatehouse.modelChanges.apply(systemActor("cli"), next, { dropConflicts: true });
   */
  async apply(
    request: RequestContext,
    next: Model,
    { dropConflicts = false }: { dropConflicts?: boolean } = {},
  ): Promise<{ report: ModelChangeReport; dropped: number }> {
    const models = { ...this.#core.models, [next.name]: next };
    const [report] = (await this.check({ [next.name]: next })).filter(
      (entry) => entry.model === next.name,
    );
    let dropped = 0;
    if (report!.conflicts.length > 0) {
      if (!dropConflicts) throw incompatible([report!])!;
      const { resources, members, apiKeys } = this.#workflows;
      // A workspace's own role goes once the grants giving it have.
      const order = ["resource", "grant", "api_key", "role"] as const;
      for (const kind of order) {
        for (const conflict of report!.conflicts) {
          const target = conflict.target;
          if (target.kind !== kind) continue;
          try {
            if (target.kind === "resource")
              await resources.delete(request, conflict.workspaceId, target.resource);
            else if (target.kind === "grant")
              await members.revoke(request, conflict.workspaceId, target);
            else if (target.kind === "api_key")
              await apiKeys.revoke(request, conflict.workspaceId, target.keyId);
            else if (target.kind === "role")
              await new WorkspaceRoles(this.#core).remove(
                request,
                conflict.workspaceId,
                target.role,
              );
            dropped++;
          } catch (error) {
            if (!isGone(error)) throw error;
          }
        }
      }
      const again = incompatible(await this.check({ [next.name]: next }));
      if (again !== undefined) throw again;
    }
    await this.#record([report!], models, request, { dropped });
    return { report: report!, dropped };
  }

  async #record(
    reports: readonly ModelChangeReport[],
    models: Readonly<Record<string, Model>>,
    request: RequestContext,
    details: Record<string, unknown>,
  ): Promise<void> {
    const core = this.#core;
    const changed = reports.filter(
      (report) => report.status !== "unchanged" && report.status !== "missing",
    );
    if (changed.length === 0) return;
    await core.storage.transaction(async (trx) => {
      for (const report of changed) {
        const model = models[report.model]!;
        const row = {
          definition: JSON.stringify(model.definition),
          fingerprint: fingerprintOf(model),
          applied_at: core.clock(),
        };
        await trx
          .insertInto("models")
          .values({ name: report.model, ...row })
          .onConflict((conflict) => conflict.column("name").doUpdateSet(row))
          .execute();
        await core.appendInstanceLog(trx, {
          action: report.status === "new" ? "model.add" : "model.update",
          workspaceId: null,
          actor: actorLabel(request),
          details: {
            model: report.model,
            fingerprint: row.fingerprint,
            workspaces: report.workspaces,
            conflicts: report.conflicts.length,
            lostAccess: report.lostAccess.length,
            accessChanges: report.accessDiff.reduce((sum, diff) => sum + diff.changes, 0),
            ...details,
          },
        });
      }
    });
  }
}
