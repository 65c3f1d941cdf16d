import { readdirSync, readFileSync } from "node:fs";
import os from "node:os";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";

setFlagsFromString("--expose-gc");
const collect = runInNewContext("gc") as (options?: { type: "major" | "minor" }) => void;

/** A full garbage collection, then the heap in use, in bytes. */
export function settledHeap(): number {
  collect();
  collect();
  return process.memoryUsage().heapUsed;
}

/**
 * A full garbage collection, or with `minor`, a scavenge of the young generation only: the garbage
 * a contender just made (parsed query strings, answers), without the ~0.2–0.3 s of CPU a full
 * collection costs once the 100k-site peers are built (~200 MiB of heap).
 */
export function collectGarbage(kind: "full" | "minor" = "full"): void {
  if (kind === "minor") collect({ type: "minor" });
  else collect();
}

export interface Machine {
  readonly cpu: string;
  readonly cores: number;
  readonly totalMemoryGiB: number;
  readonly node: string;
  readonly v8: string;
  readonly os: string;
  /** 1-minute load average when the run started (other processes share the cores if ≳ 0.5). */
  readonly loadAverage1m: number;
}

export function machine(): Machine {
  const cpus = os.cpus();
  return {
    cpu: cpus[0]?.model.trim() ?? "unknown",
    cores: cpus.length,
    totalMemoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    v8: process.versions.v8,
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    loadAverage1m: loadAverage(),
  };
}

/** The 1-minute load average, rounded. */
export function loadAverage(): number {
  return Math.round((os.loadavg()[0] ?? 0) * 100) / 100;
}

/**
 * CPU seconds of this process, its reaped children and its live descendants (servers under test,
 * Cerbos), from /proc; `undefined` where /proc is missing.
 */
export function familyCpuSeconds(): number | undefined {
  try {
    const stats = new Map<number, { ppid: number; cpu: number }>();
    for (const entry of readdirSync("/proc")) {
      if (!/^\d+$/.test(entry)) continue;
      let stat: string;
      try {
        stat = readFileSync(`/proc/${entry}/stat`, "latin1");
      } catch {
        continue; // exited meanwhile
      }
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      // After the name: state ppid … utime (14th field of the line) stime cutime cstime.
      const own = Number(fields[11]) + Number(fields[12]);
      const reaped = Number(fields[13]) + Number(fields[14]);
      stats.set(Number(entry), { ppid: Number(fields[1]), cpu: own + reaped });
    }
    let ticks = 0;
    for (const [pid, { cpu }] of stats) {
      for (let p: number | undefined = pid; p !== undefined && p > 1; p = stats.get(p)?.ppid) {
        if (p === process.pid) {
          ticks += cpu;
          break;
        }
      }
    }
    return ticks / 100;
  } catch {
    return undefined;
  }
}

/**
 * Wall and CPU time per named part of a benchmark, summed over repeats: `lap(part)` charges the
 * time since the previous lap to `part`. CPU is this process's (all its threads), or with
 * `family`, also that of the processes it started (see `familyCpuSeconds`). What `--quick`'s
 * two-minute budget goes to; CPU time follows the load less than wall time does.
 */
export class Laps {
  readonly #parts = new Map<string, { wall: number; cpu: number }>();
  readonly #cpuNow: () => number;
  #wall = performance.now();
  #cpu: number;

  constructor(options: { family?: boolean } = {}) {
    const own = () => {
      const usage = process.cpuUsage();
      return (usage.user + usage.system) / 1e6;
    };
    this.#cpuNow =
      options.family === true && familyCpuSeconds() !== undefined
        ? () => familyCpuSeconds() ?? 0
        : own;
    this.#cpu = this.#cpuNow();
  }

  lap(part: string): void {
    const wall = performance.now();
    const cpu = this.#cpuNow();
    const spent = this.#parts.get(part) ?? { wall: 0, cpu: 0 };
    spent.wall += (wall - this.#wall) / 1000;
    spent.cpu += cpu - this.#cpu;
    this.#parts.set(part, spent);
    this.#wall = wall;
    this.#cpu = cpu;
  }

  /** `part wall s (CPU s), …` in the order the parts first ran. */
  summary(): string {
    return [...this.#parts]
      .map(([part, { wall, cpu }]) => `${part} ${wall.toFixed(1)} s (CPU ${cpu.toFixed(1)} s)`)
      .join(", ");
  }
}
