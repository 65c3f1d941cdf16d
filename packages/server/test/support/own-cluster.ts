/**
 * A PostgreSQL cluster a test owns: Debian's `initdb` and `pg_ctl` on a free loopback port, its
 * data and socket in a temporary folder, so a test may stop, crash and restart it without
 * touching any shared server.
 */
import { spawn } from "node:child_process";
import { chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "./instances.ts";

/** The newest installed PostgreSQL's `bin` folder with `initdb` and `pg_ctl`, if any. */
export function postgresBinaries(): string | undefined {
  const root = "/usr/lib/postgresql";
  if (!existsSync(root)) return undefined;
  const versions = readdirSync(root)
    .filter((name) => /^\d+$/.test(name))
    .sort((a, b) => Number(b) - Number(a));
  for (const version of versions) {
    const bin = join(root, version, "bin");
    if (existsSync(join(bin, "initdb")) && existsSync(join(bin, "pg_ctl"))) return bin;
  }
  return undefined;
}

export interface OwnCluster {
  /** `postgres://postgres@127.0.0.1:<port>/postgres` */
  readonly url: string;
  readonly port: number;
  /** Starts the cluster and resolves once it accepts connections. */
  start(): Promise<void>;
  /** Stops it: `immediate` is a crash (recovery from WAL on the next start), `fast` a clean stop. */
  stop(mode?: "fast" | "immediate"): Promise<void>;
  /** Stops it and deletes its folder. */
  destroy(): Promise<void>;
}

/** Runs a command (as `postgres` when this process is root: initdb refuses root) and waits for its exit. */
function run(command: string, args: readonly string[], cwd: string): Promise<string> {
  const asRoot = process.getuid?.() === 0;
  const [file, ...rest] = asRoot
    ? ["runuser", "-u", "postgres", "--", command, ...args]
    : [command, ...args];
  return new Promise((resolve, reject) => {
    const child = spawn(file!, rest, { cwd, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (chunk: Buffer) => {
      output += chunk.toString("utf8");
    });
    child.stderr.on("data", (chunk: Buffer) => {
      output += chunk.toString("utf8");
    });
    child.once("error", reject);
    // 'exit', not 'close': the postmaster pg_ctl leaves running may hold inherited pipes open.
    child.once("exit", (code) => {
      if (code === 0) resolve(output);
      else reject(new Error(`${command} ${args.join(" ")} exited with ${code}:\n${output}`));
    });
  });
}

function postgresUser(): { uid: number; gid: number } {
  const line = readFileSync("/etc/passwd", "utf8")
    .split("\n")
    .find((entry) => entry.startsWith("postgres:"));
  const [, , uid, gid] = line?.split(":") ?? [];
  if (uid === undefined || gid === undefined) throw new Error("no postgres user to run initdb as");
  return { uid: Number(uid), gid: Number(gid) };
}

/**
 * Creates a cluster in a fresh temporary folder (trust authentication, loopback only) and starts it.
 * @example
 * const cluster = await startOwnCluster(postgresBinaries()!);
 * try { await cluster.stop(); await cluster.start(); } finally { await cluster.destroy(); }
 */
export async function startOwnCluster(bin: string): Promise<OwnCluster> {
  const asRoot = process.getuid?.() === 0;
  // As root the cluster runs as postgres, which must reach the folder: /tmp, not a private TMPDIR.
  const folder = mkdtempSync(join(asRoot ? "/tmp" : tmpdir(), "gatehouse-pg-"));
  if (asRoot) {
    const { uid, gid } = postgresUser();
    chownSync(folder, uid, gid);
  }
  const data = join(folder, "data");
  const logFile = join(folder, "server.log");
  const port = await freePort();
  await run(
    join(bin, "initdb"),
    ["-D", data, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync", "--no-instructions"],
    folder,
  );
  const pgCtl = join(bin, "pg_ctl");
  // The socket lives in the folder too: nothing is shared with a system cluster.
  const serverOptions = `-p ${port} -k ${folder} -c listen_addresses=127.0.0.1 -c max_connections=50`;
  let running = false;
  const serverLog = () => {
    try {
      return readFileSync(logFile, "utf8").slice(-5_000);
    } catch {
      return "";
    }
  };
  const cluster: OwnCluster = {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    port,
    async start() {
      try {
        await run(
          pgCtl,
          ["-D", data, "-l", logFile, "-o", serverOptions, "-w", "-t", "60", "start"],
          folder,
        );
      } catch (error) {
        throw new Error(`${(error as Error).message}\nserver log:\n${serverLog()}`);
      }
      running = true;
    },
    async stop(mode = "fast") {
      await run(pgCtl, ["-D", data, "-m", mode, "-w", "-t", "60", "stop"], folder);
      running = false;
    },
    async destroy() {
      if (running) await cluster.stop("immediate").catch(() => undefined);
      rmSync(folder, { recursive: true, force: true });
    },
  };
  await cluster.start();
  return cluster;
}
