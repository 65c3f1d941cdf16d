/**
 * The closed-loop load generator (autocannon) in a process of its own, started once by load.ts
 * and kept for every run, warm: it then has a heap of its own, a few MiB, instead of sharing the
 * benchmark's (the scenarios, every contender's bodies and the peers' requests: over 1 GiB in the
 * full run), where its garbage collections made it the bottleneck — the servers under test were
 * 55–80 % busy. Plain JavaScript, so it starts without a TypeScript loader.
 *
 * `node bench/lib/load-client.mjs`, then one JSON spec per line on standard input: the target (url,
 * path, headers), a file of bodies (one per line, cycled in order, one per request), connections,
 * pipelining, seconds, an optional overall rate and the file to write the latencies to (Float64,
 * ms, one per 2xx answer). Each run answers one JSON line: responses, seconds, non2xx, errors,
 * timeouts and the CPU seconds this process spent during the run (or `error`).
 */
import { readFileSync, writeFileSync } from "node:fs";
import { createInterface } from "node:readline";
import autocannon from "autocannon";

/** Runs one spec; answers its result line. */
function run(spec) {
  const bodies = readFileSync(spec.bodiesFile, "utf8").split("\n");
  bodies.pop(); // the last line's newline
  let next = 0;
  let latencies = new Float64Array(1 << 16);
  let count = 0;
  const cpuBefore = process.cpuUsage();
  return new Promise((resolve, reject) => {
    const instance = autocannon(
      {
        url: spec.url,
        connections: spec.connections,
        pipelining: spec.pipelining,
        duration: spec.seconds,
        ...(spec.overallRate == null ? {} : { overallRate: spec.overallRate }),
        // Latency is recorded per response below; autocannon's own histogram rounds to 1 ms.
        requests: [
          {
            method: "POST",
            path: spec.path,
            headers: { "content-type": "application/json", ...spec.headers },
            setupRequest: (request) => {
              request.body = bodies[next++ % bodies.length];
              return request;
            },
          },
        ],
      },
      (error, result) => {
        if (error) {
          reject(error);
          return;
        }
        const cpu = process.cpuUsage(cpuBefore);
        writeFileSync(spec.latenciesFile, latencies.subarray(0, count));
        resolve({
          responses: result.requests.total,
          seconds: result.duration,
          non2xx: result.non2xx,
          errors: result.errors,
          timeouts: result.timeouts,
          cpuSeconds: (cpu.user + cpu.system) / 1e6,
        });
      },
    );
    instance.on("response", (_client, statusCode, _bytes, responseTime) => {
      if (statusCode < 200 || statusCode >= 300) return;
      if (count === latencies.length) {
        const grown = new Float64Array(latencies.length * 2);
        grown.set(latencies);
        latencies = grown;
      }
      latencies[count++] = responseTime;
    });
  });
}

// One spec per line in, one result per line out, in order; it ends when its input does.
for await (const line of createInterface({ input: process.stdin })) {
  try {
    process.stdout.write(`${JSON.stringify(await run(JSON.parse(line)))}\n`);
  } catch (error) {
    process.stdout.write(`${JSON.stringify({ error: String(error?.stack ?? error) })}\n`);
  }
}
