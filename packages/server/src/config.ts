import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { GatehouseError, type Issue, Issues, type Model } from "@gatehouse/engine";

/** What the server reads from the environment (and an optional JSON file), validated at start. */
export interface ServerConfig {
  readonly port: number;
  readonly host: string;
  /** Folder of the embedded SQLite file (`gatehouse.db`). */
  readonly dataDir: string;
  /** `postgres://…` switches to PostgreSQL; otherwise the SQLite file under `dataDir`. */
  readonly databaseUrl: string | undefined;
  /** PostgreSQL only: the schema holding Gatehouse's tables (created when missing); `public` by default. */
  readonly databaseSchema: string | undefined;
  /**
   * PostgreSQL only: `DATABASE_CONNECT_TIMEOUT_MS` (5000), how long a request waits for a
   * connection, and `DATABASE_STATEMENT_TIMEOUT_MS` (15000), how long one statement may run.
   */
  readonly databaseTimeouts: { readonly connectMs: number; readonly statementMs: number };
  /** `smtp://user:pass@host:port`; without it mail goes to a development outbox and the log. */
  readonly smtpUrl: string | undefined;
  readonly mailFrom: string;
  /** The address people use to reach the server, for links in mail. */
  readonly publicUrl: string;
  /** Secure cookies: `true` behind TLS, `false` for plain HTTP, `auto` from `publicUrl`. */
  readonly cookieSecure: boolean;
  /** Creates a demo workspace on first start. */
  readonly demo: boolean;
  readonly logLevel: "fatal" | "error" | "warn" | "info" | "debug" | "trace" | "silent";
  /**
   * 64 hex characters sealing integration credentials and TOTP secrets. Without it, the embedded
   * setup keeps a generated key in `DATA_DIR/secret.key`; several instances must share one.
   */
  readonly secretKey: string | undefined;
  /**
   * `STREAM_HEARTBEAT_MS` (15000): how often an open change stream sends a comment line (keeping
   * proxies from closing it), re-reads the store and re-checks a session's sign-in.
   */
  readonly streamHeartbeatMs: number;
  /**
   * `MODELS`: the panel's own model files (JSON or built `.js`/`.mjs`), comma-separated or a JSON
   * array in the file, served beside the five presets.
   */
  readonly modelFiles: readonly string[];
  /** `PERSONAL_WORKSPACE_MODEL`: the model of a sign-up's personal workspace; `null` (`none`) for none. */
  readonly personalWorkspaceModel: string | null;
  /**
   * `ENGINE_CACHE_MB` (512): the memory budget of the workspace engines held in memory, in bytes
   * here; past it the least recently used workspaces are dropped and reloaded when next used.
   */
  readonly engineCacheBytes: number;
  /** How this instance follows other instances' commits on a shared database. */
  readonly follow: {
    /** LISTEN/NOTIFY on PostgreSQL (`CHANGE_NOTIFICATIONS`); off e.g. behind a transaction pooler. */
    readonly notifications: boolean;
    /** `SYNC_POLL_MS`: how often cached workspaces are compared with the store. */
    readonly pollIntervalMs: number;
    /** `SYNC_MAX_STALENESS_MS`: how long a cached workspace answers without asking the store. */
    readonly maxStalenessMs: number;
  };
}

/** Every bad setting, each an issue whose path is the setting's name (`PORT`, `SECRET_KEY`, …). */
export class ConfigError extends Error {
  override readonly name = "ConfigError";
  /** Each issue as one line: the setting, then what is wrong with it. */
  readonly problems: readonly string[];
  constructor(readonly issues: readonly Issue[]) {
    const problems = issues.map((issue) => `${issue.path} ${issue.message}`);
    super(`invalid configuration:\n${problems.map((problem) => `  - ${problem}`).join("\n")}`);
    this.problems = problems;
  }
}

const KNOWN = [
  "PORT",
  "HOST",
  "DATA_DIR",
  "DATABASE_URL",
  "DATABASE_SCHEMA",
  "DATABASE_CONNECT_TIMEOUT_MS",
  "DATABASE_STATEMENT_TIMEOUT_MS",
  "SMTP_URL",
  "MAIL_FROM",
  "PUBLIC_URL",
  "COOKIE_SECURE",
  "DEMO",
  "LOG_LEVEL",
  "SECRET_KEY",
  "CHANGE_NOTIFICATIONS",
  "SYNC_POLL_MS",
  "SYNC_MAX_STALENESS_MS",
  "STREAM_HEARTBEAT_MS",
  "MODELS",
  "PERSONAL_WORKSPACE_MODEL",
  "ENGINE_CACHE_MB",
] as const;
type Key = (typeof KNOWN)[number];

const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;

/**
 * Reads the configuration: defaults, then the JSON file named by `GATEHOUSE_CONFIG` (keys as the
 * environment names), then the environment. Every bad value is reported, each with its reason.
 * @example
 * const config = loadConfig(process.env); // PORT=8080, DATA_DIR=./data, …
 */
export function loadConfig(env: Readonly<Record<string, string | undefined>>): ServerConfig {
  const issues = new Issues();
  const fromFile: Partial<Record<Key, string>> = {};
  const file = env["GATEHOUSE_CONFIG"];
  if (file !== undefined && file !== "") {
    try {
      const parsed: unknown = JSON.parse(readFileSync(file, "utf8"));
      if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed))
        throw new Error("not a JSON object");
      for (const [key, value] of Object.entries(parsed)) {
        if (!(KNOWN as readonly string[]).includes(key))
          issues.add("GATEHOUSE_CONFIG", `${file}: unknown key ${key}`);
        else fromFile[key as Key] = String(value);
      }
    } catch (error) {
      issues.add("GATEHOUSE_CONFIG", `${file}: ${(error as Error).message}`);
    }
  }
  const get = (key: Key): string | undefined => {
    const value = env[key] ?? fromFile[key];
    return value === undefined || value === "" ? undefined : value;
  };

  const portText = get("PORT") ?? "8080";
  const port = Number(portText);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    issues.add("PORT", `must be a port number (0–65535), not "${portText}"`);

  const databaseUrl = get("DATABASE_URL");
  if (databaseUrl !== undefined && !/^postgres(ql)?:\/\//.test(databaseUrl)) {
    issues.add(
      "DATABASE_URL",
      "must be a postgres:// URL; leave it unset for the embedded SQLite database",
    );
  }
  const databaseSchema = get("DATABASE_SCHEMA");
  if (databaseSchema !== undefined && !/^[a-z_][a-z0-9_]{0,62}$/.test(databaseSchema))
    issues.add("DATABASE_SCHEMA", "is a lower-case PostgreSQL identifier (a-z, 0-9, _)");
  if (databaseSchema !== undefined && databaseUrl === undefined)
    issues.add("DATABASE_SCHEMA", "applies to PostgreSQL only: set DATABASE_URL too");
  const connectText = get("DATABASE_CONNECT_TIMEOUT_MS") ?? "5000";
  const connectMs = Number(connectText);
  if (!Number.isInteger(connectMs) || connectMs < 100 || connectMs > 120_000)
    issues.add(
      "DATABASE_CONNECT_TIMEOUT_MS",
      `is a whole number of milliseconds, 100–120000, not "${connectText}"`,
    );
  const statementText = get("DATABASE_STATEMENT_TIMEOUT_MS") ?? "15000";
  const statementMs = Number(statementText);
  if (!Number.isInteger(statementMs) || statementMs < 100 || statementMs > 3_600_000)
    issues.add(
      "DATABASE_STATEMENT_TIMEOUT_MS",
      `is a whole number of milliseconds, 100–3600000, not "${statementText}"`,
    );
  const smtpUrl = get("SMTP_URL");
  if (smtpUrl !== undefined && !/^smtps?:\/\//.test(smtpUrl))
    issues.add("SMTP_URL", "must be an smtp:// or smtps:// URL");

  const host = get("HOST") ?? "0.0.0.0";
  const publicUrl = (
    get("PUBLIC_URL") ?? `http://localhost:${Number.isInteger(port) ? port : 8080}`
  ).replace(/\/+$/, "");
  try {
    const url = new URL(publicUrl);
    if (url.protocol !== "http:" && url.protocol !== "https:") throw new Error();
  } catch {
    issues.add("PUBLIC_URL", `must be an http(s) URL, not "${publicUrl}"`);
  }

  const secureText = get("COOKIE_SECURE") ?? "auto";
  if (!["auto", "true", "false"].includes(secureText))
    issues.add("COOKIE_SECURE", `is auto, true or false, not "${secureText}"`);
  const cookieSecure =
    secureText === "auto" ? publicUrl.startsWith("https://") : secureText === "true";

  const demoText = get("DEMO") ?? "true";
  if (!["true", "false"].includes(demoText))
    issues.add("DEMO", `is true or false, not "${demoText}"`);

  const logLevel = (get("LOG_LEVEL") ?? "info") as ServerConfig["logLevel"];
  if (!LOG_LEVELS.includes(logLevel))
    issues.add("LOG_LEVEL", `is one of ${LOG_LEVELS.join(", ")}, not "${logLevel}"`);

  const secretKey = get("SECRET_KEY");
  if (secretKey !== undefined && !/^[0-9a-fA-F]{64}$/.test(secretKey))
    issues.add("SECRET_KEY", "must be 64 hex characters (32 random bytes)");
  if (databaseUrl !== undefined && secretKey === undefined) {
    issues.add(
      "SECRET_KEY",
      "is required with DATABASE_URL: every instance must seal secrets with the same key",
    );
  }

  const notificationsText = get("CHANGE_NOTIFICATIONS") ?? "on";
  if (!["on", "off"].includes(notificationsText))
    issues.add("CHANGE_NOTIFICATIONS", `is on or off, not "${notificationsText}"`);
  const pollText = get("SYNC_POLL_MS") ?? "100";
  const pollIntervalMs = Number(pollText);
  if (!Number.isInteger(pollIntervalMs) || pollIntervalMs < 10 || pollIntervalMs > 60_000)
    issues.add("SYNC_POLL_MS", `is a whole number of milliseconds, 10–60000, not "${pollText}"`);
  const stalenessText = get("SYNC_MAX_STALENESS_MS") ?? String(Math.max(350, pollIntervalMs * 3));
  const maxStalenessMs = Number(stalenessText);
  if (!Number.isInteger(maxStalenessMs) || !(maxStalenessMs > pollIntervalMs))
    issues.add(
      "SYNC_MAX_STALENESS_MS",
      `is a whole number of milliseconds above SYNC_POLL_MS, not "${stalenessText}"`,
    );

  const heartbeatText = get("STREAM_HEARTBEAT_MS") ?? "15000";
  const streamHeartbeatMs = Number(heartbeatText);
  if (
    !Number.isInteger(streamHeartbeatMs) ||
    streamHeartbeatMs < 100 ||
    streamHeartbeatMs > 300_000
  )
    issues.add(
      "STREAM_HEARTBEAT_MS",
      `is a whole number of milliseconds, 100–300000, not "${heartbeatText}"`,
    );

  const cacheText = get("ENGINE_CACHE_MB") ?? "512";
  const engineCacheMb = Number(cacheText);
  if (!Number.isInteger(engineCacheMb) || engineCacheMb < 16 || engineCacheMb > 1_048_576)
    issues.add("ENGINE_CACHE_MB", `is a whole number of MiB, 16–1048576, not "${cacheText}"`);

  const modelFiles = (get("MODELS") ?? "")
    .split(",")
    .map((name) => name.trim())
    .filter((name) => name !== "")
    .map((name) => resolve(name));
  const personalText = get("PERSONAL_WORKSPACE_MODEL") ?? "mzpanel";
  if (!/^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/.test(personalText))
    issues.add("PERSONAL_WORKSPACE_MODEL", `is a model's name or none, not "${personalText}"`);

  if (!issues.isEmpty) throw new ConfigError(issues.list);
  return {
    port,
    host,
    dataDir: resolve(get("DATA_DIR") ?? "./data"),
    databaseUrl,
    databaseSchema,
    databaseTimeouts: { connectMs, statementMs },
    smtpUrl,
    mailFrom: get("MAIL_FROM") ?? "Gatehouse <gatehouse@localhost>",
    publicUrl,
    cookieSecure,
    demo: demoText === "true",
    logLevel,
    secretKey,
    streamHeartbeatMs,
    modelFiles,
    personalWorkspaceModel: personalText === "none" ? null : personalText,
    engineCacheBytes: engineCacheMb * 2 ** 20,
    follow: { notifications: notificationsText === "on", pollIntervalMs, maxStalenessMs },
  };
}

/** Where the embedded database lives, or the PostgreSQL URL. */
export function storageTarget(config: ServerConfig): string {
  return config.databaseUrl ?? join(config.dataDir, "gatehouse.db");
}

/** The configured key, or the one kept in `DATA_DIR/secret.key` (created on first start, mode 600). */
export function secretKeyOf(config: ServerConfig): string {
  if (config.secretKey !== undefined) return config.secretKey;
  const file = join(config.dataDir, "secret.key");
  if (existsSync(file)) return readFileSync(file, "utf8").trim();
  mkdirSync(config.dataDir, { recursive: true });
  const key = randomBytes(32).toString("hex");
  writeFileSync(file, `${key}\n`, { mode: 0o600, flag: "wx" });
  return key;
}

/**
 * The models a configuration serves — the presets and the files in `MODELS`, every problem of
 * every file reported at once — and the model of personal workspaces, which must be one of them.
 * What `serve` and every database command of the CLI run on.
 * @example
 * const { models, personalPreset } = await servedModelsOf(loadConfig(process.env));
 */
export async function servedModelsOf(config: ServerConfig): Promise<{
  models: Readonly<Record<string, Model>>;
  personalPreset: string | null;
}> {
  // Loaded on use: the CLI's commands that open no database start without the service.
  const { loadModelFiles } = await import("@gatehouse/service");
  const models = await loadModelFiles(config.modelFiles);
  const personal = config.personalWorkspaceModel;
  if (personal !== null && !Object.hasOwn(models, personal)) {
    throw new GatehouseError(
      "UNKNOWN_PRESET",
      `PERSONAL_WORKSPACE_MODEL "${personal}" is not a served model; models: ${Object.keys(models).join(", ")}, or none`,
    );
  }
  return { models, personalPreset: personal };
}
