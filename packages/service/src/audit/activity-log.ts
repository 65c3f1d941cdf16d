import { GatehouseError, type ResourceRef } from "@gatehouse/engine";
import { type Kysely, sql } from "kysely";
import { type RequestContext, subjectOf } from "../actor.ts";
import type { Database } from "../database/schema.ts";
import type { ServiceCore, WorkspaceReader } from "../service-core.ts";
import { ErrorCode } from "../support/error-codes.ts";
import { gate, mayReadActivityOf } from "../team/gates.ts";
import { type AuditResult, type AuditRow, type ChainVerification, verifyChain } from "./chain.ts";

/** One entry of a workspace's activity log. */
export interface AuditEntry {
  readonly seq: number;
  /** ISO 8601, UTC. */
  readonly at: string;
  /** `user`, `api_key` (id: the key), `assistant` (id: the member, or the key it used) or `system`; `onBehalfOf`: the person behind a key or the assistant. */
  readonly actor: {
    readonly type: string;
    readonly id: string;
    readonly onBehalfOf: string | null;
  };
  readonly action: string;
  readonly target: string | null;
  readonly result: AuditResult;
  readonly origin: { readonly ip: string | null; readonly agent: string | null };
  readonly details: Readonly<Record<string, unknown>>;
  readonly hash: string;
  readonly prevHash: string;
}

export interface AuditFilter {
  /** A user, key or system actor id: matches who acted and on whose behalf. */
  readonly actor?: string;
  /** An action such as `member.add`, or a family such as `member.*`. */
  readonly action?: string;
  /**
   * A resource of the workspace, such as `site:shop`: the entries about it and every resource below
   * it (their target). Any other target, such as `user:<id>`, matches exactly.
   */
  readonly resource?: string;
  readonly result?: AuditResult;
  /** From this time on (inclusive): epoch milliseconds or an ISO 8601 string. */
  readonly from?: number | string;
  /** Before this time (exclusive): epoch milliseconds or an ISO 8601 string. */
  readonly to?: number | string;
}

export interface AuditQuery extends AuditFilter {
  /** `nextCursor` of the previous page, sent with the same filters. */
  readonly cursor?: string;
  /** Entries per page: 50 by default, at most 500. */
  readonly limit?: number;
}

export interface AuditPage {
  /** Newest first. */
  readonly entries: AuditEntry[];
  /** Present when older entries match. */
  readonly nextCursor?: string;
}

export type ExportFormat = "csv" | "jsonl";

interface ParsedFilter {
  actor?: string;
  action?: { exact: string } | { prefix: string };
  resource?: string;
  result?: AuditResult;
  from?: number;
  to?: number;
}

const FILTER_KEYS = ["actor", "action", "resource", "result", "from", "to"];
const DEFAULT_LIMIT = 50;
const MAX_LIMIT = 500;
const EXPORT_BATCH = 1000;
/** Up to this many targets go into the query as a plain `IN` list; more as one JSON parameter. */
const MAX_LISTED_TARGETS = 500;
const CSV_COLUMNS = [
  "seq",
  "at",
  "actor_type",
  "actor_id",
  "actor_email",
  "on_behalf_of",
  "on_behalf_of_email",
  "action",
  "target",
  "result",
  "ip",
  "agent",
  "details",
  "hash",
  "prev_hash",
] as const;

function invalid(message: string): GatehouseError {
  return new GatehouseError(ErrorCode.INVALID_INPUT, message);
}

function parseText(value: unknown, what: string): string {
  if (typeof value !== "string" || value === "" || value.length > 300)
    throw invalid(`${what} must be 1–300 characters`);
  return value;
}

function parseTime(value: unknown, what: string): number {
  if (typeof value === "number" && Number.isSafeInteger(value) && value >= 0) return value;
  if (typeof value === "string" && /^\d{4}-\d{2}-\d{2}(T|$)/.test(value)) {
    const time = Date.parse(value);
    if (Number.isFinite(time) && time >= 0) return time;
  }
  throw invalid(`${what} is epoch milliseconds or an ISO 8601 date`);
}

function parseFilter(input: unknown, extraKeys: readonly string[]): ParsedFilter {
  if (input === undefined) return {};
  if (typeof input !== "object" || input === null || Array.isArray(input))
    throw invalid("filters are an object");
  const record = input as Record<string, unknown>;
  const unknown = Object.keys(record).filter(
    (key) => !FILTER_KEYS.includes(key) && !extraKeys.includes(key),
  );
  if (unknown.length > 0) throw invalid(`unknown filters: ${unknown.join(", ")}`);
  const filter: ParsedFilter = {};
  if (record["actor"] !== undefined) filter.actor = parseText(record["actor"], "actor");
  if (record["action"] !== undefined) {
    const action = parseText(record["action"], "action");
    if (action !== "*") {
      filter.action = action.endsWith("*") ? { prefix: action.slice(0, -1) } : { exact: action };
    }
  }
  if (record["resource"] !== undefined) filter.resource = parseText(record["resource"], "resource");
  if (record["result"] !== undefined) {
    const result = record["result"];
    if (result !== "success" && result !== "denied")
      throw invalid('result is "success" or "denied"');
    filter.result = result;
  }
  if (record["from"] !== undefined) filter.from = parseTime(record["from"], "from");
  if (record["to"] !== undefined) filter.to = parseTime(record["to"], "to");
  if (filter.from !== undefined && filter.to !== undefined && filter.from > filter.to)
    throw new GatehouseError(ErrorCode.INVALID_INPUT, "from is after to", {
      issues: [{ path: "from", message: "is after to" }],
    });
  return filter;
}

function parseLimit(value: unknown): number {
  if (value === undefined) return DEFAULT_LIMIT;
  if (typeof value !== "number" || !Number.isInteger(value) || value < 1 || value > MAX_LIMIT)
    throw invalid(`limit is a whole number from 1 to ${MAX_LIMIT}`);
  return value;
}

/** The cursor is opaque to callers: the last seq of a page, base64url-encoded. */
function encodeCursor(seq: number): string {
  return Buffer.from(`seq:${seq}`).toString("base64url");
}

function decodeCursor(value: unknown): number | undefined {
  if (value === undefined) return undefined;
  const match =
    typeof value === "string" && value.length <= 40
      ? /^seq:(\d{1,15})$/.exec(Buffer.from(value, "base64url").toString("utf8"))
      : null;
  if (match === null) throw invalid("cursor is not one this log returned");
  return Number(match[1]);
}

/**
 * What a read covers: the targets of a resource's sub-tree (the resource and everything below it,
 * from the engine), or — with `targets` undefined — the filter as given.
 */
interface Scope {
  readonly targets?: readonly string[];
  readonly dialect: "sqlite" | "postgres";
}

function selectEntries(
  db: Kysely<Database>,
  workspaceId: string,
  filter: ParsedFilter,
  scope: Scope,
) {
  let query = db.selectFrom("audit_log").selectAll().where("workspace_id", "=", workspaceId);
  const { actor, action, resource, result, from, to } = filter;
  const { targets } = scope;
  if (actor !== undefined) {
    query = query.where((eb) =>
      eb.or([eb("actor_id", "=", actor), eb("on_behalf_of", "=", actor)]),
    );
  }
  if (action !== undefined) {
    query =
      "exact" in action
        ? query.where("action", "=", action.exact)
        : // substr, not LIKE: LIKE ignores case in SQLite and would need escaping.
          query.where(
            sql<string>`substr(${sql.ref("action")}, 1, ${sql.lit(action.prefix.length)})`,
            "=",
            action.prefix,
          );
  }
  if (targets !== undefined) {
    // A large sub-tree goes in as one parameter, below any limit on bound parameters.
    const list = JSON.stringify(targets);
    query =
      targets.length <= MAX_LISTED_TARGETS
        ? query.where("target", "in", [...targets])
        : scope.dialect === "sqlite"
          ? query.where(sql<boolean>`target in (select value from json_each(${list}))`)
          : query.where(sql<boolean>`target in (select jsonb_array_elements_text(${list}::jsonb))`);
  } else if (resource !== undefined) query = query.where("target", "=", resource);
  if (result !== undefined) query = query.where("result", "=", result);
  if (from !== undefined) query = query.where("at", ">=", from);
  if (to !== undefined) query = query.where("at", "<", to);
  return query;
}

function missingResource(resource: string): GatehouseError {
  return new GatehouseError(
    ErrorCode.RESOURCE_NOT_FOUND,
    `no resource ${resource} in this workspace`,
  );
}

function toAuditEntry(row: AuditRow): AuditEntry {
  return {
    seq: row.seq,
    at: new Date(row.at).toISOString(),
    actor: { type: row.actor_type, id: row.actor_id, onBehalfOf: row.on_behalf_of },
    action: row.action,
    target: row.target,
    result: row.result as AuditResult,
    origin: { ip: row.ip, agent: row.agent },
    details: JSON.parse(row.details) as Record<string, unknown>,
    hash: row.hash,
    prevHash: row.prev_hash,
  };
}

/**
 * One CSV field (RFC 4180): quoted when it holds a comma, a quote, a line break or edge spaces,
 * quotes doubled. A field a spreadsheet would run as a formula gets a leading `'` (OWASP), since
 * user agents, names and targets come from outside.
 */
function csvField(value: string | number | null): string {
  if (value === null) return "";
  let text = String(value);
  if (/^[=+\-@\t\r]/.test(text)) text = `'${text}`;
  return /[",\r\n]|^\s|\s$/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

/** Actor types whose `actor_id` is a user's id (a preview's is the viewer's). */
const USER_ACTORS = new Set(["user", "preview"]);

function csvLine(row: AuditRow, emails: ReadonlyMap<string, string>): string {
  const values: Record<(typeof CSV_COLUMNS)[number], string | number | null> = {
    ...row,
    at: new Date(row.at).toISOString(),
    actor_email: USER_ACTORS.has(row.actor_type) ? (emails.get(row.actor_id) ?? null) : null,
    on_behalf_of_email: row.on_behalf_of === null ? null : (emails.get(row.on_behalf_of) ?? null),
  };
  return CSV_COLUMNS.map((column) => csvField(values[column])).join(",");
}

/** The activity log: who did what, on which resource, when, from where, with what result. */
export class ActivityLog {
  readonly #core: ServiceCore;

  constructor(core: ServiceCore) {
    this.#core = core;
  }

  /**
   * A page of entries, newest first: the whole log for those holding the model's audit gate at the
   * root; with `resource`, the entries about that resource and below for those who may read its
   * activity (the audit gate at or above it, or the model's `gates.activity` permission for its
   * type on it). A resource outside the caller's reach answers RESOURCE_NOT_FOUND, as a missing one.
   * @example
   * const { entries, nextCursor } = await gatehouse.activityLog.list(asUser(ada.id), ws, { action: "member.*", limit: 100 });
   * const site = await gatehouse.activityLog.list(asUser(carol), ws, { resource: "site:shop" }); // a site customer
   */
  async list(request: RequestContext, workspaceId: string, query?: AuditQuery): Promise<AuditPage> {
    const filter = parseFilter(query, ["cursor", "limit"]);
    const limit = parseLimit(query?.limit);
    const cursor = decodeCursor(query?.cursor);
    const scope = await this.#scope(request, workspaceId, filter);
    const rows = await selectEntries(this.#core.db, workspaceId, filter, scope)
      .$if(cursor !== undefined, (select) => select.where("seq", "<", cursor ?? 0))
      .orderBy("seq", "desc")
      .limit(limit + 1)
      .execute();
    const page = rows.slice(0, limit).map(toAuditEntry);
    const last = page.at(-1);
    return rows.length > limit && last !== undefined
      ? { entries: page, nextCursor: encodeCursor(last.seq) }
      : { entries: page };
  }

  /**
   * Every matching entry in chronological order, as CSV (with a header row) or JSON Lines; readers
   * as for `list` (with `resource`, a resource's scoped activity).
   * @example
   * const csv = await gatehouse.activityLog.export(asUser(ada.id), ws, { format: "csv", from: "2026-01-01" });
   */
  async export(
    request: RequestContext,
    workspaceId: string,
    options: { format: ExportFormat } & AuditFilter,
  ): Promise<string> {
    const format = options?.format;
    if (format !== "csv" && format !== "jsonl") throw invalid('format is "csv" or "jsonl"');
    const filter = parseFilter(options, ["format"]);
    const scope = await this.#scope(request, workspaceId, filter);
    const lines: string[] = format === "csv" ? [CSV_COLUMNS.join(",")] : [];
    let after = 0;
    for (;;) {
      const rows = await selectEntries(this.#core.db, workspaceId, filter, scope)
        .where("seq", ">", after)
        .orderBy("seq")
        .limit(EXPORT_BATCH)
        .execute();
      const emails = format === "csv" ? await this.#emailsOf(rows) : new Map<string, string>();
      for (const row of rows)
        lines.push(format === "csv" ? csvLine(row, emails) : JSON.stringify(toAuditEntry(row)));
      const last = rows.at(-1);
      if (last === undefined || rows.length < EXPORT_BATCH) break;
      after = last.seq;
    }
    if (lines.length === 0) return "";
    // RFC 4180 ends CSV records with CRLF; JSON Lines with LF.
    const newline = format === "csv" ? "\r\n" : "\n";
    return `${lines.join(newline)}${newline}`;
  }

  /** The emails of the users a batch of rows names (as actor or on whose behalf), by user id. */
  async #emailsOf(rows: readonly AuditRow[]): Promise<Map<string, string>> {
    const ids = new Set<string>();
    for (const row of rows) {
      if (USER_ACTORS.has(row.actor_type)) ids.add(row.actor_id);
      if (row.on_behalf_of !== null) ids.add(row.on_behalf_of);
    }
    if (ids.size === 0) return new Map();
    const users = await this.#core.db
      .selectFrom("users")
      .select(["id", "email"])
      .where("id", "in", [...ids])
      .execute();
    return new Map(users.map((user) => [user.id, user.email]));
  }

  /**
   * Walks the hash chain against the head kept on the workspace: modified, deleted, reordered or
   * inserted entries are reported with the first seq where the chain breaks. The chain covers the
   * whole log: only those holding the model's audit gate at the root verify it.
   * @example
   * const check = await gatehouse.activityLog.verify(asUser(ada.id), ws); // { valid: true, entries: 42, head: "…" }
   */
  async verify(request: RequestContext, workspaceId: string): Promise<ChainVerification> {
    const core = this.#core;
    await this.#requireAuditor(request, workspaceId);
    // Writers lock the workspace row before appending: holding it, the head and the chain agree.
    return core.storage.transaction(async (trx) => {
      const row = await core.workspace(trx, workspaceId, { lock: true });
      return verifyChain(trx, workspaceId, { seq: row.audit_seq, hash: row.audit_head });
    });
  }

  async #requireAuditor(request: RequestContext, workspaceId: string): Promise<void> {
    const reader = await this.#core.read(request, workspaceId);
    await reader.requireGate("auditView", "you may not read this workspace's activity log");
  }

  /**
   * Who reads what. A `resource` of the workspace narrows the read to its sub-tree: the audit gate
   * at the root reads any; others need the resource's activity permission (`mayReadActivityOf`) and
   * must reach it — out of reach answers exactly as a missing resource. Without a resource of the
   * workspace, the read is of the whole log and needs the audit gate at the root.
   */
  async #scope(request: RequestContext, workspaceId: string, filter: ParsedFilter): Promise<Scope> {
    const reader = await this.#core.read(request, workspaceId);
    const dialect = this.#core.storage.dialect;
    const wholeLog = reader.holds(gate(reader.model, "auditView"), reader.root);
    const resource = filter.resource as ResourceRef | undefined;
    if (resource === undefined || !reader.engine.hasResource(resource)) {
      if (resource !== undefined && !wholeLog) throw missingResource(resource);
      await reader.requireGate("auditView", "you may not read this workspace's activity log");
      return { dialect };
    }
    if (!wholeLog) await this.#requireResourceReader(reader, resource);
    return { dialect, targets: reader.engine.subtreeOf(resource) };
  }

  async #requireResourceReader(reader: WorkspaceReader, resource: ResourceRef): Promise<void> {
    const subject = subjectOf(reader.request.actor);
    const record = { action: "audit.view", target: resource };
    if (subject !== undefined && !reader.engine.reaches(subject, resource)) {
      await this.#core.recordDenial(reader.request, reader.workspace.id, {
        ...record,
        details: { reason: "out_of_reach" },
      });
      throw missingResource(resource);
    }
    if (mayReadActivityOf(reader, resource)) return;
    await this.#core.recordDenial(reader.request, reader.workspace.id, record);
    throw new GatehouseError(
      ErrorCode.PERMISSION_DENIED,
      `you may not read the activity of ${resource}`,
    );
  }
}
