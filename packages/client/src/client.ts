import type { Decision } from "@gatehouse/engine";
import createOpenApiClient, { type Client } from "openapi-fetch";
import { type Decided, type Question, toDecision } from "./decision.ts";
import type { components, paths } from "./generated/api.ts";
import { LocalDecisions, type LocalDecisionsOptions } from "./local-decisions.ts";

/** An error answered by the API: RFC 9457 problem details with a stable `code`. */
export type Problem = components["schemas"]["Problem"];
/** Every code a Gatehouse error can carry (the server's `ErrorCode` and the HTTP edge's). */
export type ProblemCode = Problem["code"];

/** What a call answers: the data, or the problem — an error is a value, never a throw. */
export type Result<T> =
  | { readonly data: T; readonly error?: undefined }
  | { readonly data?: undefined; readonly error: Problem };

export interface ClientOptions {
  /** Where the server is, e.g. `http://localhost:8080`. */
  readonly baseUrl: string;
  /** An API key (`gh_…`), sent as `Authorization: Bearer`. */
  readonly apiKey?: string;
  /** Other headers on every request, e.g. a session cookie and its `x-csrf-token`. */
  readonly headers?: Readonly<Record<string, string>>;
  /** A `fetch` of your own (tests, proxies); the global one by default. */
  readonly fetch?: typeof fetch;
}

/** An explanation as the API answers it. */
export type ExplanationBody =
  paths["/v1/workspaces/{ws}/explain"]["post"]["responses"][200]["content"]["application/json"];

/** Options of a read: no staler than a write's `revision` (the freshness token). */
export interface Freshness {
  readonly atLeastRevision?: number;
}

/**
 * The client: every REST endpoint typed from the server's own OpenAPI document (`api`), and
 * shortcuts for decisions. Network failures throw; API errors come back as `error` values.
 */
export interface GatehouseClient {
  /** Every endpoint: `api.GET("/v1/workspaces/{ws}/members", { params: { path: { ws } } })`. */
  readonly api: Client<paths>;
  readonly options: ClientOptions;
  /** May `subject` (default: the caller) use `permission` on `resource`? */
  check(workspaceId: string, question: Question, freshness?: Freshness): Promise<Result<Decision>>;
  /** Up to 1000 questions, answered from one revision, in order. */
  checkMany(
    workspaceId: string,
    questions: readonly Question[],
    freshness?: Freshness,
  ): Promise<Result<Decision[]>>;
  /** Why a decision is what it is, grant by grant. */
  explain(
    workspaceId: string,
    question: Question,
    freshness?: Freshness,
  ): Promise<Result<ExplanationBody>>;
  /**
   * Loads the workspace's grants once, then follows its change stream and answers decisions
   * in-process (see `LocalDecisions`). Needs a caller who may see the team.
   */
  localDecisions(
    workspaceId: string,
    options?: LocalDecisionsOptions,
  ): Promise<Result<LocalDecisions>>;
}

/**
 * Creates a client.
 * @example
 * const gatehouse = createClient({ baseUrl: "http://localhost:8080", apiKey: process.env.GATEHOUSE_KEY });
 * const { data, error } = await gatehouse.check(ws, { subject: "user:carol", permission: "site.deploy", resource: "site:shop" });
 */
export function createClient(options: ClientOptions): GatehouseClient {
  const headers: Record<string, string> = { ...options.headers };
  if (options.apiKey !== undefined) headers["authorization"] = `Bearer ${options.apiKey}`;
  const api = createOpenApiClient<paths>({
    baseUrl: options.baseUrl.replace(/\/+$/, ""),
    headers,
    ...(options.fetch === undefined ? {} : { fetch: options.fetch }),
  });
  const client: GatehouseClient = {
    api,
    options,
    async check(workspaceId, question, freshness = {}) {
      const { data, error } = await api.POST("/v1/workspaces/{ws}/check", {
        params: { path: { ws: workspaceId } },
        body: { ...question, ...freshness },
      });
      if (error !== undefined) return { error };
      return { data: toDecision(data as Decided) };
    },
    async checkMany(workspaceId, questions, freshness = {}) {
      const { data, error } = await api.POST("/v1/workspaces/{ws}/check", {
        params: { path: { ws: workspaceId } },
        body: { checks: [...questions], ...freshness },
      });
      if (error !== undefined) return { error };
      const { results } = data as { results: Decided[] };
      return { data: results.map(toDecision) };
    },
    async explain(workspaceId, question, freshness = {}) {
      const { data, error } = await api.POST("/v1/workspaces/{ws}/explain", {
        params: { path: { ws: workspaceId } },
        body: { ...question, ...freshness },
      });
      if (error !== undefined) return { error };
      return { data };
    },
    localDecisions: (workspaceId, localOptions) =>
      LocalDecisions.open(client, workspaceId, localOptions),
  };
  return client;
}
