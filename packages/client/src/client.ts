import createOpenApiClient from "openapi-fetch";
import type { ClientOptions, GatehouseApi, Result } from "./api-types.ts";
import { type Decided, toDecision } from "./decision.ts";
import type { paths } from "./generated/api.ts";
import { LocalDecisions, type LocalDecisionsOptions } from "./local-decisions.ts";

/**
 * The client: every REST endpoint typed from the server's own OpenAPI document (`api`), and
 * shortcuts for decisions. Network failures throw; API errors come back as `error` values.
 */
export interface GatehouseClient extends GatehouseApi {
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
      const { data, error } = await api.POST("/v1/workspaces/{ws}/decision", {
        params: { path: { ws: workspaceId } },
        body: { ...question, ...freshness },
      });
      if (error !== undefined) return { error };
      return { data: toDecision(data as Decided) };
    },
    async checkMany(workspaceId, questions, freshness = {}) {
      const { data, error } = await api.POST("/v1/workspaces/{ws}/decisions", {
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
    async whoCan(workspaceId, { permission, resource, limit, after }, freshness = {}) {
      const colon = resource.indexOf(":");
      const { data, error } = await api.GET("/v1/workspaces/{ws}/resources/{type}/{id}/access", {
        params: {
          path: { ws: workspaceId, type: resource.slice(0, colon), id: resource.slice(colon + 1) },
          query: {
            permission,
            ...(limit === undefined ? {} : { limit: String(limit) }),
            ...(after === undefined ? {} : { after }),
            ...(freshness.atLeastRevision === undefined
              ? {}
              : { atLeastRevision: String(freshness.atLeastRevision) }),
          },
        },
      });
      if (error !== undefined) return { error };
      return { data };
    },
    async permissionsAt(workspaceId, { resource, limit, after }, freshness = {}) {
      const colon = resource.indexOf(":");
      const { data, error } = await api.GET(
        "/v1/workspaces/{ws}/resources/{type}/{id}/permissions",
        {
          params: {
            path: {
              ws: workspaceId,
              type: resource.slice(0, colon),
              id: resource.slice(colon + 1),
            },
            query: {
              ...(limit === undefined ? {} : { limit: String(limit) }),
              ...(after === undefined ? {} : { after }),
              ...(freshness.atLeastRevision === undefined
                ? {}
                : { atLeastRevision: String(freshness.atLeastRevision) }),
            },
          },
        },
      );
      if (error !== undefined) return { error };
      return { data };
    },
    async requestAccess(workspaceId, input) {
      const { data, error } = await api.POST("/v1/workspaces/{ws}/access-requests", {
        params: { path: { ws: workspaceId } },
        body: { ...input },
      });
      if (error !== undefined) return { error };
      return { data };
    },
    async accessRequests(workspaceId, filter = {}) {
      const { data, error } = await api.GET("/v1/workspaces/{ws}/access-requests", {
        params: {
          path: { ws: workspaceId },
          query: {
            ...(filter.status === undefined ? {} : { status: filter.status }),
            ...(filter.mine === true ? { mine: "true" as const } : {}),
          },
        },
      });
      if (error !== undefined) return { error };
      return { data: data.accessRequests };
    },
    async approveAccessRequest(workspaceId, requestId, narrowing = {}) {
      const { data, error } = await api.POST("/v1/workspaces/{ws}/access-requests/{id}/approve", {
        params: { path: { ws: workspaceId, id: requestId } },
        body: { ...narrowing },
      });
      if (error !== undefined) return { error };
      return { data };
    },
    async rejectAccessRequest(workspaceId, requestId, reason) {
      const { data, error } = await api.POST("/v1/workspaces/{ws}/access-requests/{id}/reject", {
        params: { path: { ws: workspaceId, id: requestId } },
        body: reason === undefined ? {} : { reason },
      });
      if (error !== undefined) return { error };
      return { data };
    },
    async withdrawAccessRequest(workspaceId, requestId) {
      const { data, error } = await api.POST("/v1/workspaces/{ws}/access-requests/{id}/withdraw", {
        params: { path: { ws: workspaceId, id: requestId } },
      });
      if (error !== undefined) return { error };
      return { data };
    },
    localDecisions: (workspaceId, localOptions) =>
      LocalDecisions.open(client, workspaceId, localOptions),
  };
  return client;
}
