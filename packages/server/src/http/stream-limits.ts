import { GatehouseError } from "@gatehouse/engine";
import { ErrorCode } from "@gatehouse/service";

/** How long a refused stream is told to wait before trying again. */
const RETRY_AFTER_MS = 5_000;

/** Counts open long-lived responses (change streams) per caller and in all, on this instance. */
export interface StreamLimits {
  /**
   * Takes one place for `key`, or throws 429 RATE_LIMITED (with Retry-After) when the caller or
   * the instance is full. Call the returned release exactly once, when the stream ends.
   */
  acquire(key: string): () => void;
}

/**
 * Per-caller and total caps on open streams: each holds a socket, a store subscription and a
 * loop, so one caller may not hold many and the instance stays responsive.
 * @example
 * const release = limits.acquire("user:usr_1"); // … stream …; then release()
 */
export function createStreamLimits(limits: { perCaller: number; total: number }): StreamLimits {
  const open = new Map<string, number>();
  let total = 0;
  return {
    acquire(key) {
      const held = open.get(key) ?? 0;
      if (held >= limits.perCaller)
        throw new GatehouseError(
          ErrorCode.RATE_LIMITED,
          `at most ${limits.perCaller} change streams may be open at once; close one first`,
          { details: { retryAfterMs: RETRY_AFTER_MS } },
        );
      if (total >= limits.total)
        throw new GatehouseError(
          ErrorCode.RATE_LIMITED,
          "this server holds as many change streams as it may; try again shortly",
          { details: { retryAfterMs: RETRY_AFTER_MS } },
        );
      open.set(key, held + 1);
      total++;
      let released = false;
      return () => {
        if (released) return;
        released = true;
        total--;
        const left = (open.get(key) ?? 1) - 1;
        if (left > 0) open.set(key, left);
        else open.delete(key);
      };
    },
  };
}
