import {
  applyOps,
  createEngine,
  type Decision,
  type Engine,
  extendModel,
  type GrantInput,
  type Model,
  type Page,
  type PageRequest,
  parseModel,
  type ResourceRef,
  type SubjectRef,
} from "@gatehouse/engine";
import type { Freshness, GatehouseApi, Problem, Result } from "./api-types.ts";
import { followChanges, type StreamedChange } from "./change-stream.ts";

export interface LocalDecisionsOptions {
  /**
   * How long a check asking for a revision the cache has not reached waits for the stream before
   * asking the server instead; 250 ms by default.
   */
  readonly waitMs?: number;
  /** Epoch milliseconds, for grants and keys that expire; `Date.now` by default. */
  readonly clock?: () => number;
}

/**
 * - `live`: following the change stream; answers come from memory.
 * - `behind`: the stream dropped or a revision was missing; answers come from the server until
 *   the cache is current again (it reconnects, or reloads the snapshot).
 * - `closed`: closed, or the server ended the stream (the caller lost the team gate, the
 *   workspace closed); answers come from the server.
 */
export type LocalState = "live" | "behind" | "closed";

/** The server's model does not load into this client's engine (versions apart). */
function invalidModel(detail: string): Problem {
  return {
    type: "https://gatehouse.dev/problems/invalid-model",
    title: "The workspace's model does not load here",
    status: 0,
    code: "INVALID_MODEL",
    detail,
  };
}

/**
 * A workspace's decisions answered in-process by the same engine the server runs: its grants are
 * loaded once (`GET …/snapshot`), then kept current from the change stream (`GET …/changes`).
 * While the cache is not current — a dropped stream, a missing revision, a revision asked for
 * that has not arrived — it answers from the server, so an answer is never staler than the
 * server's.
 * @example
 * const { data: local } = await gatehouse.localDecisions(ws);
 * const { data } = await local!.check("user:carol", "site.deploy", "site:shop"); // in-process
 */
export class LocalDecisions {
  readonly #client: GatehouseApi;
  readonly #workspaceId: string;
  /** The workspace's preset, as the server serves it. */
  readonly #preset: Model;
  /** The preset with the workspace's own roles, as of the last snapshot. */
  #model: Model;
  readonly #waitMs: number;
  readonly #clock: () => number;
  #engine: Engine;
  #revision: number;
  #state: LocalState = "behind";
  #stream: { stop(): void } | undefined;
  #resyncing: Promise<void> | undefined;
  readonly #waiters = new Set<{ revision: number; resolve: () => void }>();
  readonly #listeners = new Set<(state: LocalState, revision: number) => void>();
  /** How many answers came from memory and from the server. */
  readonly stats = { local: 0, remote: 0 };

  private constructor(
    client: GatehouseApi,
    workspaceId: string,
    model: Model,
    snapshot: Snapshot,
    options: LocalDecisionsOptions,
  ) {
    this.#client = client;
    this.#workspaceId = workspaceId;
    this.#preset = model;
    this.#model = model;
    this.#waitMs = options.waitMs ?? 250;
    this.#clock = options.clock ?? Date.now;
    this.#engine = this.#build(snapshot);
    this.#revision = snapshot.revision;
  }

  /** Loads the model and the snapshot, and starts following the change stream. */
  static async open(
    client: GatehouseApi,
    workspaceId: string,
    options: LocalDecisionsOptions = {},
  ): Promise<Result<LocalDecisions>> {
    const path = { params: { path: { ws: workspaceId } } };
    const modelAnswer = await client.api.GET("/v1/workspaces/{ws}/model", path);
    if (modelAnswer.error !== undefined) return { error: modelAnswer.error };
    const parsed = parseModel(modelAnswer.data.model);
    if (!parsed.success)
      return { error: invalidModel(parsed.issues.map((issue) => issue.message).join("; ")) };
    const snapshot = await client.api.GET("/v1/workspaces/{ws}/snapshot", path);
    if (snapshot.error !== undefined) return { error: snapshot.error };
    const local = new LocalDecisions(client, workspaceId, parsed.model, snapshot.data, options);
    local.#follow();
    return { data: local };
  }

  /** The workspace revision the cache reflects. */
  get revision(): number {
    return this.#revision;
  }

  get state(): LocalState {
    return this.#state;
  }

  /** Calls `listener` whenever the state or the revision changes. */
  onChange(listener: (state: LocalState, revision: number) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /**
   * May `subject` use `permission` on `resource`? In-process while live (and at `atLeastRevision`
   * or later); otherwise the server answers.
   */
  async check(
    subject: string,
    permission: string,
    resource: string,
    freshness: Freshness = {},
  ): Promise<Result<Decision>> {
    if (await this.#current(freshness)) {
      this.stats.local++;
      return {
        data: this.#engine.check(subject as SubjectRef, permission, resource as ResourceRef),
      };
    }
    this.stats.remote++;
    return this.#client.check(this.#workspaceId, { subject, permission, resource }, freshness);
  }

  /**
   * What `subject` may see of `type` with `permission` (the fleet list), sorted, paged; `match`
   * and `parent` (one resource's children) as the engine's `listVisible`.
   */
  async listVisible(
    subject: string,
    type: string,
    permission: string,
    page: PageRequest = {},
    freshness: Freshness = {},
  ): Promise<Result<Page>> {
    if (await this.#current(freshness)) {
      this.stats.local++;
      return { data: this.#engine.listVisible(subject as SubjectRef, type, permission, page) };
    }
    this.stats.remote++;
    const { data, error } = await this.#client.api.GET("/v1/workspaces/{ws}/resources", {
      params: {
        path: { ws: this.#workspaceId },
        query: {
          subject,
          type,
          permission,
          ...(page.limit === undefined ? {} : { limit: String(page.limit) }),
          ...(page.after === undefined ? {} : { after: page.after }),
          ...(page.match === undefined ? {} : { q: page.match }),
          ...(page.parent === undefined ? {} : { parent: page.parent }),
          ...(freshness.atLeastRevision === undefined
            ? {}
            : { atLeastRevision: String(freshness.atLeastRevision) }),
        },
      },
    });
    if (error !== undefined) return { error };
    return {
      data: {
        items: data.items as ResourceRef[],
        next: (data.next ?? undefined) as ResourceRef | undefined,
      },
    };
  }

  /** Every permission `subject` holds on `resource`, in one call. */
  async permissionsOn(
    subject: string,
    resource: string,
    freshness: Freshness = {},
  ): Promise<Result<readonly string[]>> {
    if (await this.#current(freshness)) {
      this.stats.local++;
      return { data: this.#engine.permissionsOn(subject as SubjectRef, resource as ResourceRef) };
    }
    this.stats.remote++;
    const { data, error } = await this.#client.api.GET("/v1/workspaces/{ws}/capabilities", {
      params: {
        path: { ws: this.#workspaceId },
        query: {
          subject,
          resource,
          ...(freshness.atLeastRevision === undefined
            ? {}
            : { atLeastRevision: String(freshness.atLeastRevision) }),
        },
      },
    });
    return error === undefined ? { data: data.permissions } : { error };
  }

  /**
   * The model's navigation sections `subject` may use anywhere in the workspace — a section shows
   * when one of its permissions is held on at least one resource — as `GET …/access` answers
   * `sections` to that member. A panel builds its navigation from it.
   * @example
   * const { data: sections } = await local.sections("user:carol"); // ["sites"]
   */
  async sections(subject: string, freshness: Freshness = {}): Promise<Result<readonly string[]>> {
    const { definition } = this.#model;
    const shown: string[] = [];
    for (const [name, section] of Object.entries(definition.sections ?? {})) {
      const held = async (permission: string): Promise<Result<boolean>> => {
        const on = definition.permissions[permission]?.on ?? [];
        for (const type of typeof on === "string" ? [on] : on) {
          const { data, error } = await this.listVisible(
            subject,
            type,
            permission,
            { limit: 1 },
            freshness,
          );
          if (error !== undefined) return { error };
          if (data.items.length > 0) return { data: true };
        }
        return { data: false };
      };
      for (const permission of section.anyOf) {
        const { data, error } = await held(permission);
        if (error !== undefined) return { error };
        if (data) {
          shown.push(name);
          break;
        }
      }
    }
    return { data: shown };
  }

  /** Resolves `true` once the cache reflects `revision`, or `false` after `timeoutMs`. */
  waitFor(revision: number, timeoutMs = 5_000): Promise<boolean> {
    if (this.#revision >= revision) return Promise.resolve(true);
    return new Promise((resolve) => {
      const waiter = { revision, resolve: () => resolve(true) };
      this.#waiters.add(waiter);
      setTimeout(() => {
        if (this.#waiters.delete(waiter)) resolve(this.#revision >= revision);
      }, timeoutMs).unref?.();
    });
  }

  /** Stops following; later answers come from the server. */
  close(): void {
    this.#stream?.stop();
    this.#stream = undefined;
    this.#setState("closed");
  }

  /** Whether memory may answer: live, and at the revision asked for (waiting briefly for it). */
  async #current({ atLeastRevision }: Freshness): Promise<boolean> {
    if (this.#state !== "live") return false;
    if (atLeastRevision === undefined || this.#revision >= atLeastRevision) return true;
    return (await this.waitFor(atLeastRevision, this.#waitMs)) && this.#state === "live";
  }

  #build(snapshot: Snapshot): Engine {
    // A change of the workspace's roles comes as a `roles.change` op: a resync, and a new model.
    this.#model = extendModel(
      this.#preset,
      Object.fromEntries(snapshot.roles.map(({ name, ...role }) => [name, role])),
    );
    return createEngine(this.#model, {
      workspace: this.#workspaceId,
      clock: this.#clock,
      resources: snapshot.resources as readonly { resource: ResourceRef; parent: ResourceRef }[],
      grants: snapshot.grants as readonly GrantInput[],
      groups: snapshot.groups.map(
        ({ group, members }) =>
          [group as `group:${string}`, members as `user:${string}`[]] as const,
      ),
      apiKeys: snapshot.apiKeys.map((key) => ({
        ...key,
        owner: key.owner as `user:${string}`,
        resources: (key.resources ?? []) as ResourceRef[],
      })),
    });
  }

  #follow(): void {
    const { baseUrl, apiKey, headers } = this.#client.options;
    this.#stream = followChanges({
      url: `${baseUrl.replace(/\/+$/, "")}/v1/workspaces/${encodeURIComponent(this.#workspaceId)}/changes`,
      headers: {
        ...headers,
        ...(apiKey === undefined ? {} : { authorization: `Bearer ${apiKey}` }),
      },
      fetch: this.#client.options.fetch ?? fetch,
      from: () => this.#revision,
      handlers: {
        change: (change) => this.#apply(change),
        ready: () => {
          if (this.#resyncing === undefined) this.#setState("live");
        },
        disconnected: () => {
          if (this.#state === "live") this.#setState("behind");
        },
        ended: () => {
          this.#stream = undefined;
          this.#setState("closed");
        },
      },
    });
  }

  #apply(change: StreamedChange): void {
    if (this.#resyncing !== undefined || change.revision <= this.#revision) return;
    if (change.revision !== this.#revision + 1) {
      this.#resync();
      return;
    }
    try {
      applyOps(this.#engine, change.ops);
    } catch {
      this.#resync();
      return;
    }
    this.#revision = change.revision;
    for (const waiter of this.#waiters) {
      if (this.#revision >= waiter.revision) {
        this.#waiters.delete(waiter);
        waiter.resolve();
      }
    }
    for (const listener of this.#listeners) listener(this.#state, this.#revision);
  }

  /** A revision is missing or did not apply: reload the snapshot, then follow from it. */
  #resync(): void {
    this.#setState("behind");
    this.#resyncing = (async () => {
      this.#stream?.stop();
      const { data } = await this.#client.api.GET("/v1/workspaces/{ws}/snapshot", {
        params: { path: { ws: this.#workspaceId } },
      });
      if (data === undefined) {
        this.#setState("closed");
        return;
      }
      this.#engine = this.#build(data);
      this.#revision = data.revision;
      this.#follow();
    })().finally(() => {
      this.#resyncing = undefined;
    });
  }

  #setState(state: LocalState): void {
    if (this.#state === state || this.#state === "closed") return;
    this.#state = state;
    for (const listener of this.#listeners) listener(state, this.#revision);
  }
}

type Snapshot = {
  readonly revision: number;
  readonly resources: readonly { resource: string; parent: string }[];
  readonly grants: readonly {
    subject: string;
    role: string;
    scope: string;
    extras?: string[];
    expiresAt?: number;
    note?: string;
    fallback?: { role: string; extras: string[] };
  }[];
  readonly groups: readonly { group: string; members: readonly string[] }[];
  readonly apiKeys: readonly {
    id: string;
    owner: string;
    scopes: string[];
    resources?: string[];
    expiresAt?: number;
  }[];
  /** The workspace's own roles; the model is the preset's plus these. */
  readonly roles: readonly {
    name: string;
    label: string;
    description: string;
    scopes: string[];
    permissions: string[];
  }[];
};
