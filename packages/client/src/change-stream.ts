import type { ChangeOp } from "@gatehouse/engine";
import { createParser } from "eventsource-parser";

/** One committed revision, as the change stream sends it. */
export interface StreamedChange {
  readonly revision: number;
  readonly at: number;
  readonly ops: readonly ChangeOp[];
}

export interface ChangeStreamHandlers {
  readonly change: (change: StreamedChange) => void;
  /** Everything committed before the connection opened has been sent. */
  readonly ready: (revision: number) => void;
  /** The connection dropped; it is being reopened from the last revision applied. */
  readonly disconnected: () => void;
  /** The server refused or ended the stream for good (lost gate, closed workspace). */
  readonly ended: (code: string) => void;
}

export interface ChangeStreamOptions {
  readonly url: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly fetch: typeof fetch;
  /** The revision to resume after, asked at every (re)connection. */
  readonly from: () => number;
  readonly handlers: ChangeStreamHandlers;
  /** Silence after which the connection counts as dead (the server beats every 15 s). */
  readonly idleMs?: number;
}

const RETRY_MIN_MS = 50;
const RETRY_MAX_MS = 5_000;

/** Statuses worth retrying: the server or a proxy in between is having trouble. */
const isTransient = (status: number) => status === 429 || status >= 500;

/**
 * Follows `GET …/changes` as Server-Sent Events, reopening it after `from()` (as `Last-Event-ID`)
 * whenever it drops, until `stop()` or a refusal.
 */
export function followChanges(options: ChangeStreamOptions): { stop(): void } {
  const { handlers } = options;
  const idleMs = options.idleMs ?? 45_000;
  let stopped = false;
  let current: AbortController | undefined;

  const connectOnce = async (): Promise<"ended" | "dropped"> => {
    const controller = new AbortController();
    current = controller;
    let idle: NodeJS.Timeout | undefined;
    const alive = () => {
      if (idle !== undefined) clearTimeout(idle);
      idle = setTimeout(() => controller.abort(), idleMs);
      idle.unref?.();
    };
    alive();
    try {
      const from = String(options.from());
      const response = await options.fetch(`${options.url}?from=${from}`, {
        headers: { ...options.headers, accept: "text/event-stream", "last-event-id": from },
        signal: controller.signal,
      });
      if (!response.ok || response.body === null) {
        const problem = (await response.json().catch(() => ({}))) as { code?: string };
        if (isTransient(response.status)) return "dropped";
        handlers.ended(problem.code ?? `HTTP_${response.status}`);
        return "ended";
      }
      let endedWith: string | undefined;
      const parser = createParser({
        onEvent(event) {
          const data = JSON.parse(event.data) as Record<string, unknown>;
          if (event.event === "change") handlers.change(data as unknown as StreamedChange);
          else if (event.event === "ready") handlers.ready(data["revision"] as number);
          else if (event.event === "error") endedWith = String(data["code"]);
        },
      });
      const decoder = new TextDecoder();
      for await (const chunk of response.body) {
        alive();
        parser.feed(decoder.decode(chunk, { stream: true }));
        if (stopped) return "ended";
      }
      if (endedWith !== undefined) {
        handlers.ended(endedWith);
        return "ended";
      }
      return "dropped";
    } catch {
      return "dropped";
    } finally {
      if (idle !== undefined) clearTimeout(idle);
    }
  };

  void (async () => {
    let retryMs = RETRY_MIN_MS;
    while (!stopped) {
      const started = Date.now();
      const outcome = await connectOnce();
      if (outcome === "ended" || stopped) return;
      handlers.disconnected();
      // A connection that lived a while starts the backoff over.
      retryMs =
        Date.now() - started > RETRY_MAX_MS ? RETRY_MIN_MS : Math.min(retryMs * 2, RETRY_MAX_MS);
      await new Promise((resolve) => setTimeout(resolve, retryMs));
    }
  })();

  return {
    stop() {
      stopped = true;
      current?.abort();
    },
  };
}
