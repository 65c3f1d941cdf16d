import createOpenApiClient, { type Client } from "openapi-fetch";
import type {
  AccessChange,
  AccessDiffBody,
  ClientOptions,
  GatehouseApi,
  GrantSpec,
  Result,
} from "./api-types.ts";
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
    async permissionsAt(workspaceId, { resource, limit, after, q }, freshness = {}) {
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
              ...(q === undefined ? {} : { q }),
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
    async previewAccessChange(workspaceId, change) {
      const { data, error } = await dryRun(api, workspaceId, change);
      if (error !== undefined) return { error };
      return { data: data as AccessDiffBody };
    },
    async eligibilities(workspaceId) {
      const { data, error } = await api.GET("/v1/workspaces/{ws}/eligibilities", {
        params: { path: { ws: workspaceId } },
      });
      if (error !== undefined) return { error };
      return { data };
    },
    async elevate(workspaceId, eligibilityId, request) {
      const { data, error } = await api.POST("/v1/workspaces/{ws}/eligibilities/{id}/activate", {
        params: { path: { ws: workspaceId, id: eligibilityId } },
        body: { ...request },
      });
      if (error !== undefined) return { error };
      return { data };
    },
    async endElevation(workspaceId, eligibilityId) {
      const { data, error } = await api.POST("/v1/workspaces/{ws}/eligibilities/{id}/deactivate", {
        params: { path: { ws: workspaceId, id: eligibilityId } },
      });
      if (error !== undefined) return { error };
      return { data };
    },
    async setEligibility(workspaceId, input) {
      const { data, error } = await api.POST("/v1/workspaces/{ws}/eligibilities", {
        params: { path: { ws: workspaceId } },
        body: { ...input },
      });
      return error === undefined ? { data } : { error };
    },
    async removeEligibility(workspaceId, eligibilityId) {
      const { data, error } = await api.DELETE("/v1/workspaces/{ws}/eligibilities/{id}", {
        params: { path: { ws: workspaceId, id: eligibilityId } },
      });
      return error === undefined ? { data } : { error };
    },
    async workspaceModel(workspaceId) {
      const { data, error } = await api.GET("/v1/workspaces/{ws}/model", {
        params: { path: { ws: workspaceId } },
      });
      return error === undefined ? { data } : { error };
    },
    async defineRole(workspaceId, role) {
      const { data, error } = await api.POST("/v1/workspaces/{ws}/roles", {
        params: { path: { ws: workspaceId } },
        body: role,
      });
      return error === undefined ? { data } : { error };
    },
    async updateRole(workspaceId, name, changes) {
      const { data, error } = await api.PATCH("/v1/workspaces/{ws}/roles/{role}", {
        params: { path: { ws: workspaceId, role: name } },
        body: changes,
      });
      return error === undefined ? { data } : { error };
    },
    async deleteRole(workspaceId, name) {
      const { data, error } = await api.DELETE("/v1/workspaces/{ws}/roles/{role}", {
        params: { path: { ws: workspaceId, role: name } },
      });
      return error === undefined ? { data } : { error };
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
    async requestSupportAccess(workspaceId, input) {
      const { data, error } = await api.POST("/v1/workspaces/{ws}/support-requests", {
        params: { path: { ws: workspaceId } },
        body: { ...input },
      });
      if (error !== undefined) return { error };
      return { data };
    },
    async revokeAccessRequest(workspaceId, requestId) {
      const { data, error } = await api.POST("/v1/workspaces/{ws}/access-requests/{id}/revoke", {
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

/** A grant as the routes' bodies take it (mutable arrays, no undefined fields). */
function grantBody(grant: GrantSpec) {
  return {
    role: grant.role,
    scope: grant.scope,
    ...(grant.extras === undefined ? {} : { extras: [...grant.extras] }),
    ...(grant.expiresAt === undefined ? {} : { expiresAt: grant.expiresAt }),
  };
}

/** Sends `change` to its write route with `?dryRun=true`. */
function dryRun(api: Client<paths>, ws: string, change: AccessChange) {
  const query = { dryRun: "true" } as const;
  const resourcePath = (resource: string) => {
    const colon = resource.indexOf(":");
    return { ws, type: resource.slice(0, colon), id: resource.slice(colon + 1) };
  };
  switch (change.kind) {
    case "move":
      return api.PUT("/v1/workspaces/{ws}/resources/{type}/{id}", {
        params: { path: resourcePath(change.resource), query },
        body: { parent: change.parent },
      });
    case "delete":
      return api.DELETE("/v1/workspaces/{ws}/resources/{type}/{id}", {
        params: { path: resourcePath(change.resource), query },
      });
    case "setGrants":
      return api.PATCH("/v1/workspaces/{ws}/members/{userId}", {
        params: { path: { ws, userId: change.userId }, query },
        body: { grants: change.grants.map(grantBody) },
      });
    case "grant":
      return api.POST("/v1/workspaces/{ws}/grants", {
        params: { path: { ws }, query },
        body: { subject: change.subject, ...grantBody(change) },
      });
    case "revoke":
      return api.DELETE("/v1/workspaces/{ws}/grants", {
        params: { path: { ws }, query },
        body: { subject: change.subject, scope: change.scope },
      });
    case "removeMember":
      return api.DELETE("/v1/workspaces/{ws}/members/{userId}", {
        params: { path: { ws, userId: change.userId }, query },
      });
    case "addToGroup":
    case "removeFromGroup": {
      const path = { ws, groupId: change.groupId, userId: change.userId };
      const route = "/v1/workspaces/{ws}/groups/{groupId}/members/{userId}";
      return change.kind === "addToGroup"
        ? api.PUT(route, { params: { path, query } })
        : api.DELETE(route, { params: { path, query } });
    }
  }
}
