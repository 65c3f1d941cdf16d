/**
 * Where the API answers (JSON, problem+json, event streams, metrics): the versioned API, its
 * OpenAPI document, health and metrics for operators, MCP and the well-known documents. Nothing
 * under them is a page of the console; the one page served there (the sign-in handoff's, under
 * `/v1/sign-in/`) sets its own headers.
 */
const API_PREFIXES = [
  "/v1",
  "/openapi.json",
  "/healthz",
  "/readyz",
  "/metrics",
  "/mcp",
  "/.well-known",
];

/** Whether `path` (without its query) is `prefix` or lies under it. */
export function isUnder(path: string, prefixes: readonly string[]): boolean {
  return prefixes.some((prefix) => path === prefix || path.startsWith(`${prefix}/`));
}

/**
 * Whether a request's URL (query included) is the API's: `/v1/…` at the cost of one comparison,
 * the other prefixes once the query is cut off.
 * @example
 * isApiUrl("/v1/workspaces/ws_1/decision"); // true
 * isApiUrl("/w/ws_1/team"); // false: a page of the console
 */
export function isApiUrl(url: string): boolean {
  if (url.startsWith("/v1/")) return true;
  const query = url.indexOf("?");
  return isUnder(query === -1 ? url : url.slice(0, query), API_PREFIXES);
}

/** Paths the console never answers as its page: the API's, its docs and the console's assets. */
export const RESERVED_PREFIXES: readonly string[] = [...API_PREFIXES, "/docs", "/assets"];
