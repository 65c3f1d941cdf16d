import type { AddressInfo } from "node:net";
import { fileURLToPath } from "node:url";
import {
  createGatehouse,
  type Gatehouse,
  openStorage,
  preparePasswordChecks,
} from "@gatehouse/service";
import type { FastifyInstance } from "fastify";
import { buildApp } from "./app.ts";
import { type ServerConfig, secretKeyOf, servedModelsOf, storageTarget } from "./config.ts";
import { type DemoAccount, seedDemo } from "./demo.ts";
import { createMailer } from "./mail/mailer.ts";
import { signInMail } from "./mail/sign-in-mail.ts";

/** How long after listening the password strength checker's dictionaries are loaded. */
const PREPARE_PASSWORD_CHECKS_AFTER_MS = 10_000;

export interface RunningServer {
  readonly app: FastifyInstance;
  readonly gatehouse: Gatehouse;
  /** The port actually bound (differs from the configured one when that is 0). */
  readonly port: number;
  /** The demo accounts created on this start (an empty database with DEMO=true). */
  readonly demo: { workspaceId: string; accounts: DemoAccount[] } | undefined;
  /** Stops listening and closes the database. */
  close(): Promise<void>;
}

/**
 * What `npm start` and `gatehouse serve` run: opens (and migrates) the configured database, seeds
 * the demo workspace on an empty one when `DEMO` is on, listens, prints where, and closes cleanly
 * on SIGINT/SIGTERM.
 * @example
 * await startServer(loadConfig(process.env));
 */
export async function startServer(
  config: ServerConfig,
  {
    log = console.log,
    handleSignals = true,
  }: { log?: (line: string) => void; handleSignals?: boolean } = {},
): Promise<RunningServer> {
  // Every problem of every model file stops the start before the database is touched.
  const { models, personalPreset } = await servedModelsOf(config);
  const storage = await openStorage(storageTarget(config), {
    schema: config.databaseSchema,
    connectTimeoutMs: config.databaseTimeouts.connectMs,
    statementTimeoutMs: config.databaseTimeouts.statementMs,
  });
  // SMTP, or the development outbox; mail is sent once the server runs, and logged through it.
  let app: FastifyInstance | undefined;
  const mailer = createMailer({
    smtpUrl: config.smtpUrl,
    from: config.mailFrom,
    log: (message) => app?.log.info(message),
  });
  const gatehouse = createGatehouse({
    storage,
    models,
    personalPreset,
    signInMail: signInMail(mailer, config),
    secretKey: secretKeyOf(config),
    follow: config.follow,
    engineCacheBytes: config.engineCacheBytes,
    // A snapshot only saves time at the next load; one that could not be written is worth a line.
    engineSnapshots: {
      onError: (error, workspace) =>
        app?.log.warn({ err: error, workspace }, "engine snapshot not written"),
    },
    // Assertions (sign-in handoff, forwarded tool calls) name this server as their issuer.
    issuer: config.publicUrl,
  });
  try {
    // A model that changed since the last start is checked against the stored data first.
    await gatehouse.modelChanges.accept();
  } catch (error) {
    await gatehouse.close();
    throw error;
  }
  // The first signing key exists before anyone fetches /.well-known/jwks.json.
  await gatehouse.signingKeys.prepare();
  const demo = config.demo ? await seedDemo(gatehouse) : undefined;
  // The console's build, shipped in this package's console/ folder (npm start builds it first; see
  // packages/console). The same folder from src/ in development and from dist/ when installed.
  const consoleDir = fileURLToPath(new URL("../console", import.meta.url));
  const server = await buildApp({ gatehouse, config, consoleDir, mailer });
  app = server;
  const stopSweeping = sweepExpiries(gatehouse, config.expirySweepMs, server.log);
  const close = async () => {
    stopSweeping();
    await server.close();
    await gatehouse.close();
  };
  if (handleSignals) {
    const shutdown = async () => {
      await close();
      process.exit(0);
    };
    process.once("SIGINT", shutdown);
    process.once("SIGTERM", shutdown);
  }
  await server.listen({ port: config.port, host: config.host });
  // The strength checker's dictionaries (~0.1 s of CPU) load 10 s after the start, out of the way
  // of the first requests (a cold start's first decision loads the workspace) and usually before
  // a sign-up flood (a new password before then loads them itself, once).
  setTimeout(preparePasswordChecks, PREPARE_PASSWORD_CHECKS_AFTER_MS).unref();
  const { port } = server.server.address() as AddressInfo;
  const where = config.databaseUrl === undefined ? storageTarget(config) : "PostgreSQL";
  log(`Gatehouse is listening on ${config.host}:${port} (database: ${where})`);
  log(`  Console: ${config.publicUrl}/`);
  log(`  API docs: ${config.publicUrl}/docs   OpenAPI: ${config.publicUrl}/openapi.json`);
  if (demo !== undefined) {
    log(`\nDemo workspace ${demo.workspaceId} created. Sign in as:`);
    for (const account of demo.accounts)
      log(`  ${account.role.padEnd(26)} ${account.email}  password: ${account.password}`);
    log("(These passwords are shown once; they are stored hashed.)");
  }
  return { app: server, gatehouse, port, demo, close };
}

/**
 * Runs `gatehouse.expiries.sweep()` every `intervalMs` (0: never) on a timer that keeps no process
 * alive, one sweep at a time. A fault is logged and the next tick tries again: it never throws.
 * Answers the function that stops it.
 */
export function sweepExpiries(
  gatehouse: Gatehouse,
  intervalMs: number,
  log: { warn(details: object, message: string): void },
): () => void {
  if (intervalMs <= 0) return () => {};
  let running = false;
  const timer = setInterval(() => {
    if (running) return;
    running = true;
    gatehouse.expiries
      .sweep()
      .then((result) => {
        if (result.failed > 0) log.warn({ result }, "expiry sweep: some workspaces failed");
      })
      .catch((error: unknown) => log.warn({ err: error }, "expiry sweep failed"))
      .finally(() => {
        running = false;
      });
  }, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
