import { GatehouseError } from "@gatehouse/engine";
import { ErrorCode } from "@gatehouse/service";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { limitKeyOf } from "./caller.ts";
import { routeConfigOf } from "./route-pattern.ts";

declare module "fastify" {
  interface FastifyContextConfig {
    /** Counted by the per-caller rate limit (see rateLimit). */
    rateLimited?: boolean;
  }
}

/** One caller's window: requests counted since it started. */
interface Window {
  count: number;
  startedAt: number;
}

export interface RateLimitOptions {
  /** The window's length: a caller's count starts again this long after its first request. */
  readonly windowMs: number;
  /** Requests a window allows for a caller's key (see limitKeyOf). */
  readonly maxOf: (key: string) => number;
  /** Route patterns never limited (health, readiness, metrics). */
  readonly exempt: ReadonlySet<string>;
  /** Callers remembered at most; the least recently seen is forgotten first. */
  readonly callers?: number;
}

/** "45 seconds", "1 minute": how long until a window ends, in the error's message. */
function inWords(seconds: number): string {
  if (seconds < 60) return `${seconds} second${seconds === 1 ? "" : "s"}`;
  const minutes = Math.round(seconds / 60);
  return `${minutes} minute${minutes === 1 ? "" : "s"}`;
}

/**
 * The per-caller rate limit, in memory on each instance, as @fastify/rate-limit's local store
 * counted it (a fixed window from a caller's first request; `x-ratelimit-limit`, `-remaining`
 * and `-reset` on every answer; past the limit 429 RATE_LIMITED with `Retry-After`) — but
 * counted synchronously, where the plugin spent five awaits and a fresh `routeOptions` object
 * (~2 µs of a check's server CPU in the HTTP benchmark). It applies to the routes registered
 * after it, minus `exempt`, decided once per route (their config's `rateLimited`). Returns the
 * counting to call from the request's own hook, once the caller is resolved: it throws
 * RATE_LIMITED past the limit.
 * @example
 * const countRequest = rateLimit(app, { windowMs: 60_000, maxOf: () => 600, exempt: new Set(["/healthz"]) });
 * app.addHook("onRequest", async (request, reply) => countRequest(request, reply));
 */
export function rateLimit(
  app: FastifyInstance,
  options: RateLimitOptions,
): (request: FastifyRequest, reply: FastifyReply) => void {
  const { windowMs, maxOf, exempt } = options;
  const capacity = options.callers ?? 5_000;
  // Insertion order is recency: a caller seen again moves to the end.
  const windows = new Map<string, Window>();
  // The key last put at the end of `windows`: counted again, it has nowhere to move.
  let newest: string | undefined;

  app.addHook("onRoute", (route) => {
    if (!exempt.has(route.url)) route.config = { ...route.config, rateLimited: true };
  });

  return (request, reply) => {
    if (routeConfigOf(request).rateLimited !== true) return;
    const key = limitKeyOf(request).key;
    const max = maxOf(key);
    const now = Date.now();
    let window = windows.get(key);
    if (window === undefined || window.startedAt + windowMs <= now) {
      window = { count: 1, startedAt: now };
      windows.delete(key);
      windows.set(key, window);
      newest = key;
    } else {
      window.count++;
      if (key !== newest) {
        windows.delete(key);
        windows.set(key, window);
        newest = key;
      }
    }
    if (windows.size > capacity) windows.delete(windows.keys().next().value!);
    const ttl = windowMs - (now - window.startedAt);
    const reset = Math.ceil(ttl / 1000);
    const exceeded = window.count > max;
    reply.header("x-ratelimit-limit", max);
    reply.header("x-ratelimit-remaining", exceeded ? 0 : max - window.count);
    reply.header("x-ratelimit-reset", reset);
    if (!exceeded) return;
    reply.header("retry-after", reset);
    throw new GatehouseError(
      ErrorCode.RATE_LIMITED,
      `too many requests (at most ${max} a minute); try again in ${inWords(reset)}`,
      { details: { retryAfterMs: ttl } },
    );
  };
}
