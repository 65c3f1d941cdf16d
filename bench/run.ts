/**
 * `npm run bench`: the engine benchmark, then the HTTP benchmark, into one results file
 * (bench/results/latest.json, or latest-quick.json with `--quick`). Arguments go to both;
 * `--only=engine`, `--only=http`, `--only=sync` or `--only=sign-in` runs one of them (sync: the
 * resource sync, in process; sign-in: logins under a sign-up flood).
 */
import { spawnSync } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { loadAverage } from "./lib/env.ts";
import { childrenCpuSeconds } from "./lib/load.ts";

const here = dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const only = args.find((arg) => arg.startsWith("--only="))?.slice("--only=".length);
const benches = ["engine", "http", "sync", "sign-in"] as const;
if (only !== undefined && !(benches as readonly string[]).includes(only)) {
  process.stderr.write(`--only is engine, http, sync or sign-in, not "${only}"\n`);
  process.exit(2);
}
const forwarded = args.filter((arg) => !arg.startsWith("--only="));
// The engine benchmark writes the file afresh; the HTTP benchmark then merges its metrics in.
const started = performance.now();
const seconds = (since: number) => ((performance.now() - since) / 1000).toFixed(0);
// CPU time beside wall time: on a shared machine the wall time follows the load, CPU time less.
const cpuStarted = childrenCpuSeconds();
const took: string[] = [];
for (const name of benches) {
  if (only !== undefined && only !== name) continue;
  const script = join(here, `${name}.bench.ts`);
  const benchStarted = performance.now();
  const benchCpu = childrenCpuSeconds();
  const run = spawnSync(
    process.execPath,
    ["--conditions=@gatehouse/source", "--import", "tsx", script, ...forwarded],
    {
      cwd: join(here, ".."),
      stdio: "inherit",
    },
  );
  if (run.status !== 0) {
    process.stderr.write(`\n${name} benchmark failed (exit ${run.status ?? run.signal})\n`);
    process.exit(run.status ?? 1);
  }
  took.push(
    `${name} ${seconds(benchStarted)} s, CPU ${(childrenCpuSeconds() - benchCpu).toFixed(0)} s`,
  );
}
// What the quick run leaves out or judges on too few samples (docs/benchmarks.md, the quick budget).
if (forwarded.includes("--quick"))
  process.stdout.write(
    "\nnot judged by --quick (run the full mode): the HTTP check at 1,000 sites (10k and 100k only); " +
      "Cerbos and the batch route at 1k and 100k (10k only); the start from rows of the cold start when a snapshot " +
      "from this engine code is stored; the fixed-rate p99 (1 s paced); and, from few samples, the listVisible " +
      "full-set p99 at 100k (a handful of calls), propagation p99 (of 50 trials) and the sign-in p99 (max of 3 and 4 logins)\n",
  );
// `--quick` is meant to stay under two minutes: the wall time shows whether it does.
process.stdout.write(
  `\nwall time: ${seconds(started)} s, CPU ${(childrenCpuSeconds() - cpuStarted).toFixed(0)} s of the benchmarks and the servers they started (${took.join("; ")}); load average ${loadAverage()}\n`,
);
