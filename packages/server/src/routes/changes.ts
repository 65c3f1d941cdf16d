import type { ServerResponse } from "node:http";
import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { GatehouseError, isGatehouseError } from "@gatehouse/engine";
import type { Change, Gatehouse, RequestContext } from "@gatehouse/service";
import { ErrorCode } from "@gatehouse/service";
import { type Static, Type } from "@sinclair/typebox";
import { requireCaller, SESSION_COOKIE } from "../http/caller.ts";
import { AtLeastRevisionQuery, WorkspaceParams } from "../http/schemas.ts";
import type { RouteOptions } from "./route-options.ts";

const PAGE = 500;

const Grant = Type.Object({
  subject: Type.String(),
  role: Type.String(),
  scope: Type.String(),
  extras: Type.Optional(Type.Array(Type.String())),
  expiresAt: Type.Optional(Type.Number()),
});

const Snapshot = Type.Object({
  workspaceId: Type.String(),
  preset: Type.String(),
  revision: Type.Integer(),
  resources: Type.Array(Type.Object({ resource: Type.String(), parent: Type.String() })),
  grants: Type.Array(Grant),
  groups: Type.Array(Type.Object({ group: Type.String(), members: Type.Array(Type.String()) })),
  apiKeys: Type.Array(
    Type.Object({
      id: Type.String(),
      owner: Type.String(),
      scopes: Type.Array(Type.String()),
      resources: Type.Optional(Type.Array(Type.String())),
      expiresAt: Type.Optional(Type.Number()),
    }),
  ),
});

/** `from` in the query, or the stream's `Last-Event-ID` when resuming (it wins). */
function startOf(query: string | undefined, lastEventId: string | string[] | undefined) {
  const header = Array.isArray(lastEventId) ? lastEventId[0] : lastEventId;
  const text = header ?? query;
  if (text === undefined) return undefined;
  if (!/^[0-9]{1,15}$/.test(text))
    throw new GatehouseError(ErrorCode.INVALID_INPUT, "Last-Event-ID is a revision number");
  return Number(text);
}

/**
 * The change stream: a snapshot of a workspace's engine state, then its committed changes
 * as Server-Sent Events, resumable by `Last-Event-ID`. Both need the team gate.
 */
export const changeRoutes: FastifyPluginAsyncTypebox<RouteOptions> = async (
  app,
  { gatehouse, config },
) => {
  const tags = ["changes"];
  const open = new Set<ServerResponse>();
  // Streams never end on their own: end them when the server closes, or close() would wait.
  app.addHook("onClose", async () => {
    for (const response of open) response.end();
  });

  app.get(
    "/v1/workspaces/:ws/snapshot",
    {
      schema: {
        tags,
        summary: "The workspace's resources, grants, groups and API keys at one revision",
        description:
          "Load it into an engine, then follow `/changes?from=<revision>` to stay current (the client SDK's local cache). Needs the team gate.",
        params: WorkspaceParams,
        response: { 200: Snapshot },
      },
    },
    async (request) =>
      // Readonly arrays as the schema's: nothing copied, however large the workspace.
      (await gatehouse.changes.snapshot(requireCaller(request), request.params.ws)) as Static<
        typeof Snapshot
      >,
  );

  app.get(
    "/v1/workspaces/:ws/changes",
    {
      schema: {
        tags,
        summary: "Committed changes as Server-Sent Events, from a revision on",
        description: [
          "`text/event-stream`. Each `change` event has `id: <revision>` and `data: { revision, at, ops }`, in revision order, with no gaps.",
          "Starts after `from` (or the `Last-Event-ID` header when resuming); without either, after the current revision. Once the changes already committed are sent, a `ready` event `{ revision }` says the client is current.",
          "The stream ends with an `error` event `{ code }` when the caller loses the team gate (or the workspace closes). Needs the team gate.",
        ].join(" "),
        params: WorkspaceParams,
        querystring: Type.Object(
          { from: Type.Optional(AtLeastRevisionQuery) },
          { additionalProperties: false },
        ),
        produces: ["text/event-stream"],
      },
    },
    async (request, reply) => {
      const caller = requireCaller(request);
      const ws = request.params.ws;
      const start = startOf(request.query.from, request.headers["last-event-id"]);
      // Checks the gate (and the revision) before the stream begins, so refusals are problems.
      const first = await gatehouse.changes.list(caller, ws, { after: start ?? 0, limit: 1 });
      reply.hijack();
      const response = reply.raw;
      response.writeHead(200, {
        "content-type": "text/event-stream; charset=utf-8",
        "cache-control": "no-cache, no-transform",
        connection: "keep-alive",
        "x-accel-buffering": "no",
      });
      response.flushHeaders(); // the client learns the stream is open before any event
      open.add(response);
      const token = request.cookies[SESSION_COOKIE];
      const stream = new ChangeStream({
        gatehouse,
        caller,
        workspaceId: ws,
        response,
        after: start ?? first.revision,
        heartbeatMs: config.streamHeartbeatMs,
        // A session ended elsewhere (logout, revoked) ends its streams at the next heartbeat.
        ...(request.sessionId === undefined || token === undefined
          ? {}
          : { revalidate: async () => void (await gatehouse.sessions.authenticate(token)) }),
      });
      response.on("close", () => {
        stream.stop();
        open.delete(response);
      });
      stream.start();
    },
  );
};

/** One client's stream: wakes on change events and heartbeats, sends what the store holds. */
class ChangeStream {
  #last: number;
  #busy = false;
  #again = false;
  #stopped = false;
  /** Whether the `ready` event (everything committed before the stream opened is sent) went out. */
  #ready = false;
  readonly #cleanups: (() => void)[] = [];
  readonly gatehouse: Gatehouse;
  readonly caller: RequestContext;
  readonly workspaceId: string;
  readonly response: ServerResponse;
  readonly #revalidate: (() => Promise<void>) | undefined;
  readonly heartbeatMs: number;

  constructor(options: {
    gatehouse: Gatehouse;
    caller: RequestContext;
    workspaceId: string;
    response: ServerResponse;
    /** Send the changes after this revision. */
    after: number;
    /** Throws once the caller's credentials no longer hold; run at every heartbeat. */
    revalidate?: () => Promise<void>;
    heartbeatMs: number;
  }) {
    this.gatehouse = options.gatehouse;
    this.caller = options.caller;
    this.workspaceId = options.workspaceId;
    this.response = options.response;
    this.#last = options.after;
    this.#revalidate = options.revalidate;
    this.heartbeatMs = options.heartbeatMs;
  }

  start(): void {
    this.#cleanups.push(this.gatehouse.changes.watch(this.workspaceId));
    this.#cleanups.push(
      this.gatehouse.onChange((event) => {
        if (event.workspaceId === this.workspaceId && event.revision > this.#last) this.wake();
      }),
    );
    const heartbeat = setInterval(() => {
      this.response.write(": heartbeat\n\n");
      if (this.#revalidate === undefined) {
        this.wake();
        return;
      }
      this.#revalidate().then(
        () => this.wake(),
        (error: unknown) => this.end(isGatehouseError(error) ? error.code : "INVALID_CREDENTIALS"),
      );
    }, this.heartbeatMs);
    heartbeat.unref();
    this.#cleanups.push(() => clearInterval(heartbeat));
    this.wake();
  }

  stop(): void {
    this.#stopped = true;
    for (const cleanup of this.#cleanups.splice(0)) cleanup();
  }

  send(event: string, id: number | undefined, data: unknown): boolean {
    const head = id === undefined ? "" : `id: ${id}\n`;
    return this.response.write(`${head}event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
  }

  /** Sends every change after the last one sent; the store is the truth, events only wake. */
  wake(): void {
    if (this.#busy) {
      this.#again = true;
      return;
    }
    this.#busy = true;
    void this.#drain().finally(() => {
      this.#busy = false;
    });
  }

  async #drain(): Promise<void> {
    try {
      do {
        this.#again = false;
        let page: readonly Change[];
        do {
          if (this.#stopped) return;
          ({ changes: page } = await this.gatehouse.changes.list(this.caller, this.workspaceId, {
            after: this.#last,
            limit: PAGE,
          }));
          for (const change of page) {
            if (this.#stopped) return;
            const flowing = this.send("change", change.revision, change);
            this.#last = change.revision;
            if (!flowing)
              await new Promise((resolve) => {
                this.response.once("drain", resolve);
                this.response.once("close", resolve);
              });
          }
        } while (page.length === PAGE);
        if (!this.#ready) {
          this.#ready = true;
          this.send("ready", undefined, { revision: this.#last });
        }
      } while (this.#again);
    } catch (error) {
      // The caller lost the gate, or the workspace closed: say so and end the stream.
      this.end(isGatehouseError(error) ? error.code : "INTERNAL");
    }
  }

  /** A last `error` event with the code, and the end of the stream. */
  end(code: string): void {
    if (!this.#stopped) this.send("error", undefined, { code });
    this.stop();
    this.response.end();
  }
}
