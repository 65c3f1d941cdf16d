import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { GatehouseError, isGatehouseError } from "@gatehouse/engine";
import type { Gatehouse, RequestContext } from "@gatehouse/service";
import { ErrorCode } from "@gatehouse/service";
import { type Static, Type } from "@sinclair/typebox";
import { limitKeyOf, requireCaller, SESSION_COOKIE } from "../http/caller.ts";
import { AtLeastRevisionQuery, GrantFallbackSchema, WorkspaceParams } from "../http/schemas.ts";
import { createStreamSSE, type SSEStream } from "../http/sse.ts";
import { createStreamLimits } from "../http/stream-limits.ts";
import type { RouteOptions } from "./route-options.ts";

const PAGE = 500;

const Grant = Type.Object({
  subject: Type.String(),
  role: Type.String(),
  scope: Type.String(),
  extras: Type.Optional(Type.Array(Type.String())),
  expiresAt: Type.Optional(Type.Number()),
  note: Type.Optional(Type.String()),
  fallback: Type.Optional(GrantFallbackSchema),
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
  roles: Type.Array(
    Type.Object({
      name: Type.String(),
      label: Type.String(),
      description: Type.String(),
      scopes: Type.Array(Type.String()),
      permissions: Type.Array(Type.String()),
    }),
    {
      description:
        "The workspace's own roles (docs/workspace-roles.md): extend the preset's model with them (`extendModel`) before loading the grants",
    },
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
  const streamSSE = createStreamSSE(app);
  const limits = createStreamLimits(config.streamLimits);

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
      // Freed when the stream ends, whoever ends it (the client, the server closing, a lost gate).
      const release = limits.acquire(limitKeyOf(request).key);
      const token = request.cookies[SESSION_COOKIE];
      // A session ended elsewhere (logout, revoked) ends its streams at the next heartbeat.
      const revalidate =
        request.sessionId === undefined || token === undefined
          ? undefined
          : async () => void (await gatehouse.sessions.authenticate(token));
      streamSSE(
        reply,
        (stream) => {
          stream.onAbort(release);
          return sendChanges(stream, {
            gatehouse,
            caller,
            workspaceId: ws,
            after: start ?? first.revision,
            revalidate,
          });
        },
        { heartbeatMs: config.streamHeartbeatMs },
      );
    },
  );
};

/** Something to wait for: `wake` ends the current (or the next) `next()`. */
function wakeups(): { wake(): void; next(): Promise<void> } {
  let pending = false;
  let waiting: (() => void) | undefined;
  return {
    wake() {
      pending = true;
      waiting?.();
    },
    next() {
      if (pending) {
        pending = false;
        return Promise.resolve();
      }
      return new Promise((resolve) => {
        waiting = () => {
          waiting = undefined;
          pending = false;
          resolve();
        };
      });
    },
  };
}

/**
 * One client's change stream: sends every change after `after`, then `ready`, then each new
 * change as it commits — woken by change events and heartbeats; the store is the truth, events
 * only wake. Ends with an `error` event when the caller loses the gate, the workspace closes or
 * `revalidate` (run at every heartbeat) throws.
 */
async function sendChanges(
  stream: SSEStream,
  options: {
    gatehouse: Gatehouse;
    caller: RequestContext;
    workspaceId: string;
    after: number;
    revalidate: (() => Promise<void>) | undefined;
  },
): Promise<void> {
  const { gatehouse, caller, workspaceId, revalidate } = options;
  let last = options.after;
  let failure: string | undefined;
  const signal = wakeups();
  stream.onAbort(gatehouse.changes.watch(workspaceId));
  stream.onAbort(
    gatehouse.onChange((event) => {
      if (event.workspaceId === workspaceId && event.revision > last) signal.wake();
    }),
  );
  stream.onAbort(() => signal.wake());
  stream.onHeartbeat(() => {
    if (revalidate === undefined) {
      signal.wake();
      return;
    }
    revalidate().then(
      () => signal.wake(),
      (error: unknown) => {
        failure = isGatehouseError(error) ? error.code : "INVALID_CREDENTIALS";
        signal.wake();
      },
    );
  });
  const send = (event: string, data: unknown, id?: number) =>
    stream.writeSSE({ event, data: JSON.stringify(data), ...(id === undefined ? {} : { id }) });
  try {
    let ready = false;
    while (!stream.aborted && failure === undefined) {
      const { changes } = await gatehouse.changes.list(caller, workspaceId, {
        after: last,
        limit: PAGE,
      });
      for (const change of changes) {
        if (stream.aborted || failure !== undefined) break;
        await send("change", change, change.revision);
        last = change.revision;
      }
      if (changes.length === PAGE) continue;
      if (!ready) {
        // Everything committed before the stream opened is sent.
        ready = true;
        await send("ready", { revision: last });
      }
      await signal.next();
    }
  } catch (error) {
    // The caller lost the gate, or the workspace closed: say so and end the stream.
    failure = isGatehouseError(error) ? error.code : "INTERNAL";
  }
  if (failure !== undefined) await send("error", { code: failure });
}
