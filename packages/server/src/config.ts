import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { isIP } from "node:net";
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
   * `EXPIRY_SWEEP_MS` (60000): how often expired temporary grants are replaced by their fallback
   * (or removed) with an activity entry each, and ended support memberships removed; `0` for never.
   * Decisions never wait for it.
   */
  readonly expirySweepMs: number;
  /**
   * Open change streams: `STREAM_LIMIT` (10) per caller (a person, an API key, a host credential),
   * `STREAM_LIMIT_TOTAL` (1000) on this instance.
   */
  readonly streamLimits: { readonly perCaller: number; readonly total: number };
  /**
   * API requests per caller and minute: `RATE_LIMIT` (600) for a person, an API key or, when
   * anonymous, a client address; `RATE_LIMIT_HOST` (6000) for a host credential.
   */
  readonly rateLimits: { readonly perCaller: number; readonly host: number };
  /**
   * `TRUST_PROXY`: the reverse proxies whose `X-Forwarded-For`/`-Proto` are believed — addresses
   * and CIDR ranges, or a number of hops; `false` (unset) believes none.
   */
  readonly trustProxy: false | number | readonly string[];
  /**
   * `MODELS`: the panel's own model files (JSON or built `.js`/`.mjs`), comma-separated or a JSON
   * array in the file, served beside the five presets.
   */
  readonly modelFiles: readonly string[];
  /** `PERSONAL_WORKSPACE_MODEL`: the model of a sign-up's personal workspace; `null` (`none`) for none. */
  readonly personalWorkspaceModel: string | null;
  /** OpenID Connect sign-in to the console (`OIDC_ISSUER` and friends); off when unset. */
  readonly oidc: OidcConfig | undefined;
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

/** OpenID Connect sign-in against the panel's own identity provider. */
export interface OidcConfig {
  /** `OIDC_ISSUER`: the provider's issuer URL; its discovery document is read from there. */
  readonly issuer: string;
  /** `OIDC_CLIENT_ID`: Gatehouse's client at the provider. */
  readonly clientId: string;
  /** `OIDC_CLIENT_SECRET`: a confidential client's secret; unset for a public client (PKCE only). */
  readonly clientSecret: string | undefined;
  /** `OIDC_REDIRECT_URL`: registered at the provider; `PUBLIC_URL/v1/auth/oidc/callback` by default. */
  readonly redirectUrl: string;
  /** `OIDC_SUBJECT_CLAIM`: the ID token claim holding the host's user id; `sub` by default. */
  readonly subjectClaim: string;
  /** `OIDC_SCOPES`: asked for at the provider; `openid` by default. */
  readonly scopes: string;
  /** `OIDC_NAME`: the provider's name on the console's button ("Sign in with …"). */
  readonly name: string;
  /** Plain-HTTP issuers are accepted on loopback addresses only (development and tests). */
  readonly allowHttp: boolean;
}

/** Every bad setting, each an issue whose path is the setting's name (`PORT`, `SECRET_KEY`, …). */
export class ConfigError extends Error {
  override readonly name = "ConfigError";
  /** Each issue as one line: the setting, then what is wrong with it. */
  readonly problems: readonly string[];
  readonly issues: readonly Issue[];
  constructor(issues: readonly Issue[]) {
    const problems = issues.map((issue) => `${issue.path} ${issue.message}`);
    super(`invalid configuration:\n${problems.map((problem) => `  - ${problem}`).join("\n")}`);
    this.issues = issues;
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
  "EXPIRY_SWEEP_MS",
  "STREAM_LIMIT",
  "STREAM_LIMIT_TOTAL",
  "RATE_LIMIT",
  "RATE_LIMIT_HOST",
  "TRUST_PROXY",
  "MODELS",
  "PERSONAL_WORKSPACE_MODEL",
  "OIDC_ISSUER",
  "OIDC_CLIENT_ID",
  "OIDC_CLIENT_SECRET",
  "OIDC_REDIRECT_URL",
  "OIDC_SUBJECT_CLAIM",
  "OIDC_SCOPES",
  "OIDC_NAME",
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

  const sweepText = get("EXPIRY_SWEEP_MS") ?? "60000";
  const expirySweepMs = Number(sweepText);
  if (
    !Number.isInteger(expirySweepMs) ||
    (expirySweepMs !== 0 && (expirySweepMs < 1000 || expirySweepMs > 86_400_000))
  )
    issues.add(
      "EXPIRY_SWEEP_MS",
      `is 0 (off) or a whole number of milliseconds, 1000–86400000, not "${sweepText}"`,
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

  const count = (key: Key, fallback: number, max: number, what: string): number => {
    const text = get(key) ?? String(fallback);
    const value = Number(text);
    if (!/^[0-9]+$/.test(text) || value < 1 || value > max)
      issues.add(key, `is a whole number of ${what}, 1–${max}, not "${text}"`);
    return value;
  };
  const streamLimits = {
    perCaller: count("STREAM_LIMIT", 10, 10_000, "streams"),
    total: count("STREAM_LIMIT_TOTAL", 1000, 1_000_000, "streams"),
  };
  const rateLimits = {
    perCaller: count("RATE_LIMIT", 600, 10_000_000, "requests a minute"),
    host: count("RATE_LIMIT_HOST", 6000, 10_000_000, "requests a minute"),
  };
  const trustProxy = trustedProxies(get("TRUST_PROXY"), issues);
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

  const oidc = oidcConfigOf(get, publicUrl, issues);

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
    expirySweepMs,
    streamLimits,
    rateLimits,
    trustProxy,
    modelFiles,
    personalWorkspaceModel: personalText === "none" ? null : personalText,
    oidc,
    engineCacheBytes: engineCacheMb * 2 ** 20,
    follow: { notifications: notificationsText === "on", pollIntervalMs, maxStalenessMs },
  };
}

const LOOPBACK_HOSTS = new Set(["localhost", "127.0.0.1", "[::1]"]);

/** The `OIDC_*` settings: all unset turns OpenID Connect off; `OIDC_ISSUER` turns it on. */
function oidcConfigOf(
  get: (key: Key) => string | undefined,
  publicUrl: string,
  issues: Issues,
): OidcConfig | undefined {
  const issuer = get("OIDC_ISSUER");
  if (issuer === undefined) {
    for (const key of KNOWN.filter((name) => name.startsWith("OIDC_")))
      if (get(key) !== undefined) issues.add(key, "applies to OpenID Connect: set OIDC_ISSUER too");
    return undefined;
  }
  const httpUrl = (key: Key, text: string): URL | undefined => {
    try {
      const url = new URL(text);
      if (url.protocol === "https:" || url.protocol === "http:") return url;
    } catch {}
    issues.add(key, `must be an http(s) URL, not "${text}"`);
    return undefined;
  };
  const issuerUrl = httpUrl("OIDC_ISSUER", issuer);
  const allowHttp = issuerUrl !== undefined && LOOPBACK_HOSTS.has(issuerUrl.hostname);
  if (issuerUrl?.protocol === "http:" && !allowHttp)
    issues.add("OIDC_ISSUER", "must be an https:// URL (plain http only on localhost)");
  const clientId = get("OIDC_CLIENT_ID");
  if (clientId === undefined)
    issues.add(
      "OIDC_CLIENT_ID",
      "is required with OIDC_ISSUER: the client registered for Gatehouse",
    );
  const redirectUrl = get("OIDC_REDIRECT_URL") ?? `${publicUrl}/v1/auth/oidc/callback`;
  const redirect = httpUrl("OIDC_REDIRECT_URL", redirectUrl);
  if (redirect !== undefined && redirect.pathname !== "/v1/auth/oidc/callback")
    issues.add("OIDC_REDIRECT_URL", "must end in /v1/auth/oidc/callback (Gatehouse's callback)");
  const subjectClaim = get("OIDC_SUBJECT_CLAIM") ?? "sub";
  if (!/^[A-Za-z0-9_:./-]{1,100}$/.test(subjectClaim))
    issues.add("OIDC_SUBJECT_CLAIM", `is a claim's name, not "${subjectClaim}"`);
  const scopes = (get("OIDC_SCOPES") ?? "openid").split(/[\s,]+/).filter((scope) => scope !== "");
  if (!scopes.includes("openid"))
    issues.add("OIDC_SCOPES", "must include openid (the ID token carries the user's id)");
  const name = get("OIDC_NAME") ?? issuerUrl?.hostname ?? issuer;
  if (name.length > 60) issues.add("OIDC_NAME", "is at most 60 characters");
  return {
    issuer,
    clientId: clientId ?? "",
    clientSecret: get("OIDC_CLIENT_SECRET"),
    redirectUrl,
    subjectClaim,
    scopes: scopes.join(" "),
    name,
    allowHttp,
  };
}

/** Named ranges Fastify's `trustProxy` (proxy-addr) knows. */
const PROXY_RANGES = ["loopback", "linklocal", "uniquelocal"];

/**
 * `TRUST_PROXY`: a number of hops (`1` — one load balancer in front), or addresses, CIDR ranges and
 * the names `loopback`, `linklocal`, `uniquelocal`, comma-separated. Never "everyone": a client
 * could then write its own `X-Forwarded-For` and pass for any address.
 */
function trustedProxies(text: string | undefined, issues: Issues): false | number | string[] {
  if (text === undefined || text === "false") return false;
  if (/^[0-9]+$/.test(text)) {
    const hops = Number(text);
    if (hops < 1 || hops > 10) issues.add("TRUST_PROXY", `is 1–10 hops, not "${text}"`);
    return hops;
  }
  const entries = text.split(",").map((entry) => entry.trim());
  for (const entry of entries) {
    const [address = "", bits, ...rest] = entry.split("/");
    const family = isIP(address);
    const maxBits = family === 6 ? 128 : 32;
    const validBits = bits === undefined || (/^[0-9]{1,3}$/.test(bits) && Number(bits) <= maxBits);
    if (PROXY_RANGES.includes(entry)) continue;
    if (family === 0 || !validBits || rest.length > 0)
      issues.add(
        "TRUST_PROXY",
        `names proxies by address or CIDR range (or loopback, linklocal, uniquelocal), or is a number of hops; "${entry}" is none of these`,
      );
  }
  return entries;
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
