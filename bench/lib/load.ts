/**
 * Load generation for the HTTP benchmark, on loopback: autocannon for closed-loop runs (a fixed
 * number of connections, each sending its next request when the answer arrives), in a child
 * process of its own per run (load-client.mjs); the same closed loop over a client library's calls
 * (Cerbos's gRPC client) and a paced open-loop generator for latency at a fixed request rate, both
 * in the bench process.
 */
import { execFileSync, spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { connect, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { hrtime } from "node:process";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { percentile } from "./measure.ts";

/** Request bodies cycled in order, one per request, shared by every connection. */
export interface Target {
  readonly url: string;
  readonly path: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly bodies: readonly string[];
}

/**
 * A server driven through a client library instead of raw HTTP/1.1: `call(index)` sends request
 * `index` (the target cycles its own requests) and settles when the answer is decoded.
 */
export interface CallTarget {
  readonly call: (index: number) => Promise<unknown>;
  /**
   * Opens the client's connections before a contender's warm-up and closes them after its run, so
   * they cost this process nothing while other contenders are measured.
   */
  readonly open?: () => void;
  readonly close?: () => void;
}

/** One measured run. Latencies are in milliseconds, per request. */
export interface LoadRun {
  readonly responses: number;
  /** CPU seconds (user + system) the server process spent during the run, if it was watched. */
  readonly serverCpuSeconds?: number | undefined;
  /** CPU seconds this process (the load generator) spent during the run. */
  readonly clientCpuSeconds?: number | undefined;
  readonly seconds: number;
  readonly non2xx: number;
  readonly errors: number;
  readonly timeouts: number;
  readonly latencies: Float64Array;
}

export interface LoadStats {
  readonly requests: number;
  readonly rps: number;
  readonly p50Ms: number;
  readonly p90Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
  readonly non2xx: number;
  readonly errors: number;
  readonly timeouts: number;
}

/** A growable Float64Array. */
class Samples {
  #values = new Float64Array(1 << 16);
  #length = 0;
  push(value: number): void {
    if (this.#length === this.#values.length) {
      const grown = new Float64Array(this.#values.length * 2);
      grown.set(this.#values);
      this.#values = grown;
    }
    this.#values[this.#length++] = value;
  }
  take(): Float64Array {
    return this.#values.slice(0, this.#length);
  }
}

/** CPU seconds (user + system) that process `pid` has used, from /proc; undefined elsewhere. */
export function processCpuSeconds(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "latin1");
    // Fields after the command name (which may hold spaces): state is field 3, utime 14, stime 15.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
  } catch {
    return undefined;
  }
}

/**
 * CPU seconds (user + system) of this process's children that have ended and been waited for,
 * theirs included (cutime + cstime of /proc/self/stat); 0 where /proc is missing.
 */
export function childrenCpuSeconds(): number {
  try {
    const stat = readFileSync("/proc/self/stat", "latin1");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[13]) + Number(fields[14])) / CLOCK_TICKS;
  } catch {
    return 0;
  }
}

/** USER_HZ: /proc reports CPU time in these ticks (100 on Linux on every common architecture). */
const CLOCK_TICKS = (() => {
  try {
    return Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/**
 * Closed loop: `connections` keep-alive connections for `seconds`, each keeping `pipelining`
 * requests in flight (autocannon; the next body goes out as soon as an answer arrives).
 * `overallRate` caps the total with autocannon's limiter, which is a per-second quota per
 * connection (bursts, then waits). With `serverPid` the server's CPU time over the run is read
 * from /proc; the load generator's own (load-client.mjs) is beside it.
 */
export async function closedLoop(
  target: Target,
  options: {
    connections: number;
    seconds: number;
    pipelining?: number;
    overallRate?: number;
    serverPid?: number;
  },
): Promise<LoadRun> {
  const serverBefore =
    options.serverPid === undefined ? undefined : processCpuSeconds(options.serverPid);
  const run = await autocannonRun(target, options);
  const serverAfter =
    options.serverPid === undefined ? undefined : processCpuSeconds(options.serverPid);
  return {
    ...run,
    serverCpuSeconds:
      serverBefore === undefined || serverAfter === undefined
        ? undefined
        : serverAfter - serverBefore,
  };
}

/**
 * Closed loop over a client library's calls: `concurrency` calls in flight for `seconds`, each
 * followed at once by the next; CPU of the server and of this process read as in
 * {@link closedLoop}. Calls still in flight at the end are awaited and counted.
 */
export async function callLoop(
  target: CallTarget,
  options: { concurrency: number; seconds: number; serverPid?: number },
): Promise<LoadRun & { readonly firstError: string | undefined }> {
  const serverBefore =
    options.serverPid === undefined ? undefined : processCpuSeconds(options.serverPid);
  const clientBefore = process.cpuUsage();
  const latencies = new Samples();
  let next = 0;
  let responses = 0;
  let errors = 0;
  let firstError: string | undefined;
  const started = hrtime.bigint();
  const deadline = started + BigInt(Math.round(options.seconds * 1e9));
  await Promise.all(
    Array.from({ length: options.concurrency }, async () => {
      for (let sent = hrtime.bigint(); sent < deadline; sent = hrtime.bigint()) {
        try {
          await target.call(next++);
          latencies.push(Number(hrtime.bigint() - sent) / 1e6);
          responses++;
        } catch (error) {
          errors++;
          firstError ??= error instanceof Error ? error.message : String(error);
        }
      }
    }),
  );
  const seconds = Number(hrtime.bigint() - started) / 1e9;
  const client = process.cpuUsage(clientBefore);
  const serverAfter =
    options.serverPid === undefined ? undefined : processCpuSeconds(options.serverPid);
  return {
    responses,
    seconds,
    non2xx: 0,
    errors,
    timeouts: 0,
    latencies: latencies.take(),
    firstError,
    serverCpuSeconds:
      serverBefore === undefined || serverAfter === undefined
        ? undefined
        : serverAfter - serverBefore,
    clientCpuSeconds: (client.user + client.system) / 1e6,
  };
}

let workDir: string | undefined;
const bodyFiles = new WeakMap<readonly string[], string>();
const LOAD_CLIENT = join(dirname(fileURLToPath(import.meta.url)), "load-client.mjs");

/** Where the load generator's runs keep their bodies and latencies; removed when this process exits. */
function workFolder(): string {
  if (workDir === undefined) {
    const dir = mkdtempSync(join(tmpdir(), "gatehouse-load-"));
    workDir = dir;
    process.once("exit", () => rmSync(dir, { recursive: true, force: true }));
  }
  return workDir;
}

/** The file of `bodies`, one per line, written once per array. */
function bodiesFileOf(bodies: readonly string[]): string {
  let file = bodyFiles.get(bodies);
  if (file === undefined) {
    file = join(workFolder(), `bodies-${randomUUID()}.txt`);
    // JSON text has no raw line breaks: one body per line.
    writeFileSync(file, `${bodies.join("\n")}\n`);
    bodyFiles.set(bodies, file);
  }
  return file;
}

interface LoadClient {
  run(spec: string): Promise<string>;
}
let client: LoadClient | undefined;

/**
 * The load generator's process (load-client.mjs), started on first use and kept warm for every
 * run; it inherits this process's CPU affinity (the load generator's core). It never keeps this
 * process alive: unreferenced between runs, and its input ends when this process exits.
 */
function loadClient(): LoadClient {
  if (client !== undefined) return client;
  const child = spawn(process.execPath, [LOAD_CLIENT], { stdio: ["pipe", "pipe", "inherit"] });
  const pending: ((line: string) => void)[] = [];
  const lines = createInterface({ input: child.stdout! });
  lines.on("line", (line) => pending.shift()?.(line));
  const hold = (on: boolean) => {
    for (const handle of [child, child.stdin, child.stdout] as { ref(): void; unref(): void }[])
      if (on) handle.ref();
      else handle.unref();
  };
  hold(false);
  child.once("exit", (code) => {
    client = undefined;
    for (const settle of pending.splice(0)) settle(JSON.stringify({ error: `exited (${code})` }));
  });
  client = {
    run: (spec) =>
      new Promise((resolve) => {
        hold(true);
        pending.push((line) => {
          if (pending.length === 0) hold(false);
          resolve(line);
        });
        child.stdin!.write(`${spec}\n`);
      }),
  };
  return client;
}

/**
 * One autocannon run in the load generator's process (load-client.mjs), which has a heap of its
 * own: in this process, its garbage collections in the benchmark's large heap made it the
 * bottleneck. Answers the run and the CPU seconds that process spent during it.
 */
async function autocannonRun(
  target: Target,
  options: { connections: number; seconds: number; pipelining?: number; overallRate?: number },
): Promise<LoadRun & { clientCpuSeconds: number }> {
  const bodiesFile = bodiesFileOf(target.bodies);
  const latenciesFile = join(workFolder(), `latencies-${randomUUID()}.bin`);
  const spec = JSON.stringify({
    url: target.url,
    path: target.path,
    headers: target.headers,
    bodiesFile,
    connections: options.connections,
    pipelining: options.pipelining ?? 1,
    seconds: options.seconds,
    overallRate: options.overallRate,
    latenciesFile,
  });
  try {
    const output = await loadClient().run(spec);
    const result = JSON.parse(output) as Omit<LoadRun, "latencies"> & {
      cpuSeconds: number;
      error?: string;
    };
    if (result.error !== undefined) throw new Error(`the load generator failed: ${result.error}`);
    const bytes = readFileSync(latenciesFile);
    return {
      responses: result.responses,
      seconds: result.seconds,
      non2xx: result.non2xx,
      errors: result.errors,
      timeouts: result.timeouts,
      latencies: new Float64Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 8).slice(),
      clientCpuSeconds: result.cpuSeconds,
    };
  } finally {
    rmSync(latenciesFile, { force: true });
  }
}

/**
 * Open loop at `rate` requests per second for `seconds`, paced like wrk2: `connections` keep-alive
 * sockets, each with its own evenly spaced schedule (phases staggered, so the whole is even).
 * A pump runs every millisecond and sends what has come due, so arrivals come in ticks of
 * rate/1000 requests rather than per-second bursts. A request whose socket is still waiting for
 * the previous answer goes out as soon as that answer arrives, and its latency counts from when it
 * came due, so waiting behind a slow answer is included (no coordinated omission); the pump's own
 * timer lateness is not. A minimal HTTP/1.1 client on raw sockets keeps the generator cheap.
 */
export function openLoop(
  target: Target,
  options: { rate: number; seconds: number; connections: number },
): Promise<LoadRun & { readonly scheduled: number }> {
  const url = new URL(target.url);
  const port = Number(url.port);
  const perConnection = Math.max(
    1,
    Math.floor((options.rate * options.seconds) / options.connections),
  );
  const total = perConnection * options.connections;
  const periodNs = (options.connections / options.rate) * 1e9;
  const phaseNs = 1e9 / options.rate;
  const head = [
    `POST ${target.path} HTTP/1.1`,
    `host: ${url.host}`,
    "content-type: application/json",
    ...Object.entries(target.headers).map(([name, value]) => `${name}: ${value}`),
  ].join("\r\n");
  const requests = new Map<number, Buffer>();
  const requestFor = (index: number): Buffer => {
    const slot = index % target.bodies.length;
    let buffer = requests.get(slot);
    if (buffer === undefined) {
      const body = target.bodies[slot]!;
      buffer = Buffer.from(`${head}\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
      requests.set(slot, buffer);
    }
    return buffer;
  };
  const latencies = new Samples();
  let non2xx = 0;
  let errors = 0;
  let completed = 0;
  let sentTotal = 0;
  const startNs = Number(hrtime.bigint()) + 20e6;

  interface Connection {
    readonly socket: Socket;
    readonly phase: number;
    sent: number;
    inFlight: boolean;
    /** When the request in flight came due (as the pump saw it). */
    dueNs: number | undefined;
    /** When the next request came due while the previous one was still out. */
    blockedNs: number | undefined;
    received: string;
    closed: boolean;
  }

  return new Promise((resolve) => {
    let finished = false;
    const connections: Connection[] = [];
    const finish = () => {
      if (finished) return;
      finished = true;
      clearTimeout(guard);
      for (const connection of connections) connection.socket.destroy();
      resolve({
        scheduled: total,
        responses: completed,
        seconds: (Number(hrtime.bigint()) - startNs) / 1e9,
        non2xx,
        errors: errors + (total - completed - errors),
        timeouts: 0,
        latencies: latencies.take(),
      });
    };
    // A run that cannot finish (a dead server) ends after three times its length.
    const guard = setTimeout(finish, options.seconds * 3_000 + 10_000);
    const nextDue = (connection: Connection) =>
      startNs + connection.phase + connection.sent * periodNs;
    const send = (connection: Connection, dueNs: number) => {
      connection.dueNs = dueNs;
      connection.inFlight = true;
      connection.socket.write(requestFor(sentTotal++));
      connection.sent++;
    };
    const settle = (connection: Connection, status: number) => {
      const now = Number(hrtime.bigint());
      if (status >= 200 && status < 300) latencies.push((now - connection.dueNs!) / 1e6);
      else non2xx++;
      completed++;
      connection.inFlight = false;
      connection.dueNs = undefined;
      if (completed + errors >= total) finish();
      else if (connection.blockedNs !== undefined) {
        // The next request came due while this one was out: send it now, timed from then.
        const due = connection.blockedNs;
        connection.blockedNs = undefined;
        send(connection, due);
      }
    };
    for (let i = 0; i < options.connections; i++) {
      const socket = connect({ host: url.hostname, port, noDelay: true });
      const connection: Connection = {
        socket,
        phase: i * phaseNs,
        sent: 0,
        inFlight: false,
        dueNs: undefined,
        blockedNs: undefined,
        received: "",
        closed: false,
      };
      socket.setEncoding("latin1");
      socket.on("data", (chunk: string) => {
        connection.received += chunk;
        const response = completeResponse(connection.received);
        if (response === undefined) return;
        connection.received = "";
        settle(connection, response);
      });
      socket.on("error", () => undefined);
      socket.on("close", () => {
        if (connection.closed) return;
        connection.closed = true;
        // Everything this connection still owed counts as an error.
        errors += perConnection - connection.sent + (connection.inFlight ? 1 : 0);
        if (completed + errors >= total) finish();
      });
      connections.push(connection);
    }
    const pump = () => {
      if (finished) return;
      const now = Number(hrtime.bigint());
      let pending = false;
      for (const connection of connections) {
        if (connection.closed || connection.sent >= perConnection) continue;
        pending = true;
        if (now < nextDue(connection)) continue;
        if (!connection.inFlight) send(connection, now);
        else connection.blockedNs ??= now;
      }
      if (pending) setTimeout(pump, 1);
    };
    setTimeout(pump, 1);
  });
}

/** The status of a complete response in `text` (content-length or chunked), else undefined. */
function completeResponse(text: string): number | undefined {
  const end = text.indexOf("\r\n\r\n");
  if (end < 0) return undefined;
  const headers = text.slice(0, end);
  const length = /\r\ncontent-length:\s*(\d+)/i.exec(headers);
  if (length !== null) {
    if (text.length - end - 4 < Number(length[1])) return undefined;
  } else if (/\r\ntransfer-encoding:\s*chunked/i.test(headers)) {
    if (!text.endsWith("\r\n0\r\n\r\n")) return undefined;
  }
  return Number(headers.slice(9, 12));
}

/** Pools runs: requests per second over the summed time, percentiles over every response. */
export function summarize(runs: readonly LoadRun[]): LoadStats {
  const length = runs.reduce((sum, run) => sum + run.latencies.length, 0);
  const all = new Float64Array(length);
  let offset = 0;
  for (const run of runs) {
    all.set(run.latencies, offset);
    offset += run.latencies.length;
  }
  all.sort();
  const responses = runs.reduce((sum, run) => sum + run.responses, 0);
  const seconds = runs.reduce((sum, run) => sum + run.seconds, 0);
  return {
    requests: responses,
    rps: responses / seconds,
    p50Ms: percentile(all, 0.5),
    p90Ms: percentile(all, 0.9),
    p99Ms: percentile(all, 0.99),
    maxMs: all.length > 0 ? all[all.length - 1]! : Number.NaN,
    non2xx: runs.reduce((sum, run) => sum + run.non2xx, 0),
    errors: runs.reduce((sum, run) => sum + run.errors, 0),
    timeouts: runs.reduce((sum, run) => sum + run.timeouts, 0),
  };
}
