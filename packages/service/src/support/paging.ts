import { GatehouseError } from "@gatehouse/engine";
import { type Expression, type SqlBool, sql } from "kysely";
import { ErrorCode } from "./error-codes.ts";

/** The most items one page of a listing holds. */
export const MAX_PAGE_LIMIT = 500;

/** A listing's paging and search: all of them optional, and everything when none is given. */
export interface PageQuery {
  /** At most this many items, 1–500; every item when omitted (as before paging existed). */
  readonly limit?: number | undefined;
  /** The `next` of the previous page. */
  readonly after?: string | undefined;
  /** Only items whose text contains this, ignoring case. */
  readonly q?: string | undefined;
}

/** A parsed page query: the cursor decoded into the sort key of the last item shown. */
export interface ParsedPage {
  readonly limit: number | undefined;
  readonly after: readonly (string | number)[] | undefined;
  readonly q: string | undefined;
}

const invalid = (message: string) => new GatehouseError(ErrorCode.INVALID_INPUT, message);

/**
 * Checks a page query; `keys` is how many sort-key parts the listing's cursor carries.
 * @example
 * const page = parsePageQuery({ limit: 50, q: "ada" }, 2);
 */
export function parsePageQuery(query: PageQuery | undefined, keys: number): ParsedPage {
  const limit = query?.limit;
  if (
    limit !== undefined &&
    (typeof limit !== "number" || !Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE_LIMIT)
  )
    throw invalid(`limit is a whole number from 1 to ${MAX_PAGE_LIMIT}`);
  const q = query?.q;
  if (q !== undefined && (typeof q !== "string" || q.length > 200))
    throw invalid("q is a text of at most 200 characters");
  return {
    limit,
    after: query?.after === undefined ? undefined : decodeCursor(query.after, keys),
    q: q === undefined || q.trim() === "" ? undefined : q.trim().toLowerCase(),
  };
}

/** The cursor is opaque to callers: the last item's sort key as JSON, base64url-encoded. */
function encodeCursor(key: readonly (string | number)[]): string {
  return Buffer.from(JSON.stringify(key)).toString("base64url");
}

function decodeCursor(value: unknown, keys: number): readonly (string | number)[] {
  let key: unknown;
  try {
    key = typeof value === "string" ? JSON.parse(Buffer.from(value, "base64url").toString()) : null;
  } catch {
    key = null;
  }
  if (
    !Array.isArray(key) ||
    key.length !== keys ||
    key.some((part) => typeof part !== "string" && typeof part !== "number")
  )
    throw invalid("after is not a cursor this listing returned");
  return key;
}

/**
 * `column` contains `text` (already lower-cased), ignoring case, on SQLite and PostgreSQL alike;
 * `%`, `_` and `\` in the text match themselves.
 */
export function containsText(column: Expression<string>, text: string): Expression<SqlBool> {
  const pattern = `%${text.replace(/[\\%_]/g, (match) => `\\${match}`)}%`;
  return sql<SqlBool>`lower(${column}) like ${pattern} escape '\\'`;
}

/** The first `limit` rows and the cursor of the last one when more rows follow (fetch limit + 1). */
export function pageOf<Row>(
  rows: readonly Row[],
  limit: number | undefined,
  keyOf: (row: Row) => readonly (string | number)[],
): { rows: readonly Row[]; next: string | null } {
  if (limit === undefined || rows.length <= limit) return { rows, next: null };
  const shown = rows.slice(0, limit);
  return { rows: shown, next: encodeCursor(keyOf(shown[shown.length - 1] as Row)) };
}
