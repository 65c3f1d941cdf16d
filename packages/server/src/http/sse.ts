import type { ServerResponse } from "node:http";
import type { FastifyInstance, FastifyReply } from "fastify";

/** One Server-Sent Event; `data` may span lines. */
export interface SSEMessage {
  readonly event?: string;
  readonly id?: string | number;
  readonly data: string;
}

/** The open event stream a handler writes to. */
export interface SSEStream {
  /** Writes one event; resolves once the socket takes more (backpressure). A no-op once aborted. */
  writeSSE(message: SSEMessage): Promise<void>;
  /** True once the client went away or the server is closing. */
  readonly aborted: boolean;
  /** Runs `listener` when the stream ends, whoever ends it (at once when it already has). */
  onAbort(listener: () => void): void;
  /** Runs `listener` after each heartbeat comment (`heartbeatMs`), until the stream ends. */
  onHeartbeat(listener: () => void): void;
}

export interface SSEOptions {
  /** Writes a `: heartbeat` comment this often, keeping proxies from closing an idle stream. */
  readonly heartbeatMs?: number;
}

/** Streams events to one reply; the stream ends when `run` settles or the client goes away. */
export type StreamSSE = (
  reply: FastifyReply,
  run: (stream: SSEStream) => Promise<void>,
  options?: SSEOptions,
) => void;

function formatEvent(message: SSEMessage): string {
  const id = message.id === undefined ? "" : `id: ${message.id}\n`;
  const event = message.event === undefined ? "" : `event: ${message.event}\n`;
  const data = message.data
    .split("\n")
    .map((line) => `data: ${line}\n`)
    .join("");
  return `${id}${event}${data}\n`;
}

/**
 * Server-Sent Events for an app's routes, in the manner of Hono's `streamSSE`: the reply is taken
 * over, the headers are flushed at once (the client learns the stream is open before any event),
 * and streams still open when the app closes are ended — they never end on their own, and
 * `close()` would wait for them.
 * @example
 * const streamSSE = createStreamSSE(app);
 * app.get("/ticks", async (_request, reply) =>
 *   streamSSE(reply, async (stream) => {
 *     await stream.writeSSE({ event: "tick", data: JSON.stringify({ at: Date.now() }) });
 *   }),
 * );
 */
export function createStreamSSE(app: FastifyInstance): StreamSSE {
  const open = new Set<ServerResponse>();
  app.addHook("onClose", async () => {
    for (const response of open) response.end();
  });
  return (reply, run, options = {}) => {
    reply.hijack();
    const response = reply.raw;
    response.writeHead(200, {
      "content-type": "text/event-stream; charset=utf-8",
      "cache-control": "no-cache, no-transform",
      connection: "keep-alive",
      "x-accel-buffering": "no",
    });
    response.flushHeaders();
    open.add(response);
    let aborted = false;
    const abortListeners: (() => void)[] = [];
    const heartbeatListeners: (() => void)[] = [];
    const abort = (): void => {
      if (aborted) return;
      aborted = true;
      open.delete(response);
      for (const listener of abortListeners.splice(0)) listener();
    };
    response.on("close", abort);
    if (options.heartbeatMs !== undefined) {
      const heartbeat = setInterval(() => {
        response.write(": heartbeat\n\n");
        for (const listener of heartbeatListeners) listener();
      }, options.heartbeatMs);
      heartbeat.unref();
      abortListeners.push(() => clearInterval(heartbeat));
    }
    // A client gone while the route was still checking (its "close" already fired) ends it now.
    if (response.destroyed || response.socket?.destroyed === true) abort();
    const stream: SSEStream = {
      get aborted() {
        return aborted;
      },
      onAbort(listener) {
        if (aborted) listener();
        else abortListeners.push(listener);
      },
      onHeartbeat(listener) {
        heartbeatListeners.push(listener);
      },
      async writeSSE(message) {
        if (aborted) return;
        if (response.write(formatEvent(message))) return;
        await new Promise((resolve) => {
          response.once("drain", resolve);
          response.once("close", resolve);
        });
      },
    };
    void run(stream)
      .catch((error: unknown) => app.log.error({ err: error }, "event stream failed"))
      .finally(() => {
        abort();
        response.end();
      });
  };
}
