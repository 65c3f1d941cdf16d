import { existsSync } from "node:fs";
import { GatehouseError } from "@gatehouse/engine";
import {
  ConfigError,
  loadConfig,
  type ServerConfig,
  servedModelsOf,
  storageTarget,
} from "@gatehouse/server/config";
import type { Gatehouse, RequestContext, Storage } from "@gatehouse/service";
import { ErrorCode } from "@gatehouse/service";
import type { Command } from "commander";

/** The flags every database command takes; each overrides its environment variable. */
export interface ConnectionOptions {
  readonly database?: string;
  readonly schema?: string;
  readonly dataDir?: string;
  readonly config?: string;
}

/** Adds the connection flags to a command. */
export function withConnection(command: Command): Command {
  return command
    .option("--database <url>", "PostgreSQL URL (DATABASE_URL); SQLite under --data-dir otherwise")
    .option("--schema <name>", "PostgreSQL schema (DATABASE_SCHEMA), public by default")
    .option("--data-dir <dir>", "folder of the embedded SQLite database (DATA_DIR)")
    .option("--config <file>", "JSON configuration file (GATEHOUSE_CONFIG)");
}

/**
 * The server's configuration (packages/server/src/config.ts): the environment, the file named by
 * GATEHOUSE_CONFIG, and these flags on top. Bad values fail with every problem listed.
 */
export function configOf(
  options: ConnectionOptions,
  overrides: Readonly<Record<string, string | undefined>> = {},
): ServerConfig {
  const env: Record<string, string | undefined> = { ...process.env, ...overrides };
  if (options.database !== undefined) env["DATABASE_URL"] = options.database;
  if (options.schema !== undefined) env["DATABASE_SCHEMA"] = options.schema;
  if (options.dataDir !== undefined) env["DATA_DIR"] = options.dataDir;
  if (options.config !== undefined) env["GATEHOUSE_CONFIG"] = options.config;
  try {
    return loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) {
      throw new GatehouseError(ErrorCode.INVALID_INPUT, "invalid configuration", {
        issues: error.problems.map((problem) => ({ path: "config", message: problem })),
      });
    }
    throw error;
  }
}

/** Where the configuration points, for messages: the SQLite file or PostgreSQL (with its schema). */
export function describeTarget(config: ServerConfig): string {
  if (config.databaseUrl === undefined) return storageTarget(config);
  const url = new URL(config.databaseUrl);
  url.password = url.password === "" ? "" : "***";
  return `${url.toString()} (schema ${config.databaseSchema ?? "public"})`;
}

/** Opens the configured database; unless `create`, an embedded database must already exist. */
export async function openConfiguredStorage(
  config: ServerConfig,
  { create = false, migrate = true }: { create?: boolean; migrate?: boolean } = {},
): Promise<Storage> {
  const target = storageTarget(config);
  if (config.databaseUrl === undefined && !create && !existsSync(target)) {
    throw new GatehouseError(
      ErrorCode.NOT_FOUND,
      `no Gatehouse database at ${target}; pass --data-dir (or DATA_DIR), or run "gatehouse migrate" first`,
    );
  }
  // Loaded on use, so that --help, `model show` and `test` start fast.
  const { openStorage } = await import("@gatehouse/service");
  return openStorage(target, { schema: config.databaseSchema, migrate });
}

/**
 * Runs `work` with the service over the configured database, and closes it afterwards. `operator`
 * is the trusted system actor "cli" that the operator's commands act as.
 */
export async function withGatehouse<T>(
  options: ConnectionOptions,
  work: (gatehouse: Gatehouse, operator: RequestContext) => Promise<T>,
  {
    create = false,
    servedModel: served,
  }: {
    create?: boolean;
    /** Serve this model as the database last served it (the old one while a change is applied). */
    servedModel?: string;
  } = {},
): Promise<T> {
  const config = configOf(options);
  const { createGatehouse, servedModel, systemActor } = await import("@gatehouse/service");
  const { models, personalPreset } = await servedModelsOf(config);
  const storage = await openConfiguredStorage(config, { create });
  const previous = served === undefined ? undefined : await servedModel(storage.db, served);
  const gatehouse = createGatehouse({
    storage,
    models: previous === undefined ? models : { ...models, [previous.name]: previous },
    personalPreset,
  });
  try {
    return await work(gatehouse, systemActor("cli"));
  } finally {
    await gatehouse.close();
  }
}
