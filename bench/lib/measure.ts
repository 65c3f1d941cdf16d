import { hrtime } from "node:process";

/**
 * Runs `count` calls starting at query `start` (wrapping with the query mask) and returns a number
 * derived from the results, so the work cannot be optimized away. Each contender writes its own
 * loop, so every call site in a hot loop sees exactly one implementation.
 */
export type BatchRunner = (start: number, count: number) => number;

export interface BatchOptions {
  /** Calls per timed batch. */
  readonly batch: number;
  /** Runs before each batch, untimed: e.g. parsing the batch's fresh query strings. */
  readonly prepare?: ((start: number, count: number) => void) | undefined;
  readonly warmupMs: number;
  readonly durationMs: number;
}

export interface Stats {
  readonly calls: number;
  readonly opsPerSec: number;
  readonly meanNs: number;
  readonly p50Ns: number;
  readonly p99Ns: number;
  readonly maxNs: number;
  /** How many latency samples the percentiles come from. */
  readonly samples: number;
}

let sink = 0;
/** The accumulated results of every measured call; print it so nothing is dead code. */
export function sinkValue(): number {
  return sink;
}

function nowNs(): bigint {
  return hrtime.bigint();
}

/** Nearest-rank percentile of sorted samples. */
export function percentile(sorted: Float64Array, q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[rank]!;
}

function summarize(samples: Float64Array, calls: number, totalNs: number): Stats {
  samples.sort();
  return {
    calls,
    opsPerSec: calls / (totalNs / 1e9),
    meanNs: totalNs / calls,
    p50Ns: percentile(samples, 0.5),
    p99Ns: percentile(samples, 0.99),
    maxNs: samples.length > 0 ? samples[samples.length - 1]! : Number.NaN,
    samples: samples.length,
  };
}

/** The raw outcome of one timed round: per-call latency of each batch. */
export interface Round {
  readonly samples: Float64Array;
  readonly calls: number;
  readonly totalNs: number;
}

/**
 * Times batches of `batch` calls with `process.hrtime.bigint()` and divides, so the timer's own
 * cost (~tens of ns) does not dominate calls of a few ns. Each sample is the per-call mean of one
 * batch. `position` carries on where the previous round of the same runner stopped.
 */
export function measureRound(
  run: BatchRunner,
  options: BatchOptions,
  position: number,
): Round & { readonly position: number } {
  const { batch, warmupMs, durationMs, prepare } = options;
  const warmupEnd = nowNs() + BigInt(Math.round(warmupMs * 1e6));
  while (nowNs() < warmupEnd) {
    prepare?.(position, batch);
    sink += run(position, batch);
    position += batch;
  }
  const capacity = 1 << 16;
  const samples = new Float64Array(capacity);
  let count = 0;
  let totalNs = 0;
  const budgetNs = durationMs * 1e6;
  while (totalNs < budgetNs && count < capacity) {
    prepare?.(position, batch);
    const started = nowNs();
    sink += run(position, batch);
    const elapsed = Number(nowNs() - started);
    position += batch;
    samples[count++] = elapsed / batch;
    totalNs += elapsed;
  }
  return { samples: samples.slice(0, count), calls: count * batch, totalNs, position };
}

/** Throughput over rounds: the median round's, with the slowest and fastest round beside it. */
export interface RoundsSummary {
  readonly rounds: number;
  readonly opsPerSec: number;
  readonly minOpsPerSec: number;
  readonly maxOpsPerSec: number;
  /** (fastest − slowest) / median, e.g. 0.08 for rounds within 8 %. */
  readonly spread: number;
}

/** The median of the rounds' throughputs (not pooled: one disturbed round does not drag it). */
export function medianOfRounds(rounds: readonly Round[]): RoundsSummary {
  const ops = rounds.map((round) => round.calls / (round.totalNs / 1e9)).sort((a, b) => a - b);
  const middle = ops.length >> 1;
  const median = ops.length % 2 === 1 ? ops[middle]! : (ops[middle - 1]! + ops[middle]!) / 2;
  return {
    rounds: ops.length,
    opsPerSec: median,
    minOpsPerSec: ops[0]!,
    maxOpsPerSec: ops[ops.length - 1]!,
    spread: (ops[ops.length - 1]! - ops[0]!) / median,
  };
}

/** Percentiles of single calls, each timed on its own (the timer's cost included). */
export interface SingleCalls {
  readonly samples: number;
  readonly p50Ns: number;
  readonly p99Ns: number;
  readonly p999Ns: number;
  readonly maxNs: number;
}

/**
 * Times `count` single calls, one `hrtime.bigint()` pair around each: real per-call latency,
 * outliers (GC, preemption) included, unlike the per-call means of batches. `prepare` runs
 * untimed before each call (e.g. to parse fresh strings).
 */
export function sampleSingleCalls(
  call: (i: number) => number,
  count: number,
  prepare?: (i: number) => void,
): SingleCalls {
  const samples = new Float64Array(count);
  for (let i = 0; i < count; i++) {
    prepare?.(i);
    const started = nowNs();
    sink += call(i);
    samples[i] = Number(nowNs() - started);
  }
  samples.sort();
  return {
    samples: count,
    p50Ns: percentile(samples, 0.5),
    p99Ns: percentile(samples, 0.99),
    p999Ns: percentile(samples, 0.999),
    maxNs: samples[count - 1]!,
  };
}

export interface CallOptions {
  readonly warmupMs: number;
  readonly durationMs: number;
  /** Stop after this many timed calls even if time remains. */
  readonly maxCalls: number;
}

/** Times every call on its own: for calls long enough (≥ 1 µs) that the timer does not matter. */
export function measureCalls(call: (i: number) => number, options: CallOptions): Stats {
  let i = 0;
  const warmupEnd = nowNs() + BigInt(Math.round(options.warmupMs * 1e6));
  while (nowNs() < warmupEnd) sink += call(i++);
  const samples = new Float64Array(options.maxCalls);
  let count = 0;
  let totalNs = 0;
  const budgetNs = options.durationMs * 1e6;
  while (totalNs < budgetNs && count < options.maxCalls) {
    const started = nowNs();
    sink += call(i++);
    const elapsed = Number(nowNs() - started);
    samples[count++] = elapsed;
    totalNs += elapsed;
  }
  return summarize(samples.subarray(0, count), count, totalNs);
}

/** Wall time of `work` in milliseconds. */
export function timeMs<V>(work: () => V): { value: V; ms: number } {
  const started = nowNs();
  const value = work();
  return { value, ms: Number(nowNs() - started) / 1e6 };
}

export async function timeMsAsync<V>(work: () => Promise<V>): Promise<{ value: V; ms: number }> {
  const started = nowNs();
  const value = await work();
  return { value, ms: Number(nowNs() - started) / 1e6 };
}
