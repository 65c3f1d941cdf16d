import type { Decision } from "@gatehouse/engine";
import type { Client } from "openapi-fetch";
import type { Question } from "./decision.ts";
import type { components, paths } from "./generated/api.ts";

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

/** A page of who holds a permission on a resource, as the API answers it. */
export type WhoCanBody =
  paths["/v1/workspaces/{ws}/resources/{type}/{id}/access"]["get"]["responses"][200]["content"]["application/json"];

/** Who holds `permission` on `resource` (`type:id`); `limit` 1–1000 (100 by default), `after` the previous `next`. */
export interface WhoCanQuestion {
  readonly permission: string;
  readonly resource: string;
  readonly limit?: number;
  readonly after?: string;
}

/** A page of a resource's Permissions card, as the API answers it. */
export type PermissionsBody =
  paths["/v1/workspaces/{ws}/resources/{type}/{id}/permissions"]["get"]["responses"][200]["content"]["application/json"];

/** One page of the Permissions card of `resource` (`type:id`); `limit` 1–1000 (100 by default). */
export interface PermissionsQuestion {
  readonly resource: string;
  readonly limit?: number;
  readonly after?: string;
  /** Only users whose email or name, and teams whose name, contains this (ignoring case). */
  readonly q?: string;
}

/** Who would gain and lose which permissions where, as a dry run (`?dryRun=true`) answers it. */
export type AccessDiffBody =
  paths["/v1/workspaces/{ws}/grants"]["post"]["responses"][200]["content"]["application/json"];

/** A grant as a member's grant list gives it: a role at a resource, with extras and an expiry. */
export interface GrantSpec {
  readonly role: string;
  readonly scope: string;
  readonly extras?: readonly string[];
  readonly expiresAt?: number;
}

/** A structural change to preview: the same input as the write it previews. */
export type AccessChange =
  | { readonly kind: "move"; readonly resource: string; readonly parent: string }
  | { readonly kind: "delete"; readonly resource: string }
  | { readonly kind: "setGrants"; readonly userId: string; readonly grants: readonly GrantSpec[] }
  | ({ readonly kind: "grant"; readonly subject: string } & GrantSpec)
  | { readonly kind: "revoke"; readonly subject: string; readonly scope: string }
  | { readonly kind: "removeMember"; readonly userId: string }
  | {
      readonly kind: "addToGroup" | "removeFromGroup";
      readonly groupId: string;
      readonly userId: string;
    };

/** The eligibilities the caller may see, as the API answers them (just-in-time elevation). */
export type EligibilitiesBody =
  paths["/v1/workspaces/{ws}/eligibilities"]["get"]["responses"][200]["content"]["application/json"];

/** A member made eligible, as the API answers it (`eligibility`, `revision`). */
export type EligibilityBody =
  paths["/v1/workspaces/{ws}/eligibilities"]["post"]["responses"][201]["content"]["application/json"];

/** Make `subject` (`user:<id>`) eligible for `role` at `scope`, for at most `maxDurationMs` at a time. */
export type EligibilityInput =
  paths["/v1/workspaces/{ws}/eligibilities"]["post"]["requestBody"]["content"]["application/json"];

/** A workspace's model and its own roles, as `GET …/model` answers them. */
export type WorkspaceModelBody =
  paths["/v1/workspaces/{ws}/model"]["get"]["responses"][200]["content"]["application/json"];

/** An activation, as the API answers it: the expiring grant (its `note` names the elevation). */
export type ElevationBody =
  paths["/v1/workspaces/{ws}/eligibilities/{id}/activate"]["post"]["responses"][200]["content"]["application/json"];

/** Elevate for `durationMs` (at most the eligibility's maximum) with a reason; `totpCode` when required. */
export interface ElevationRequest {
  readonly durationMs: number;
  readonly reason: string;
  readonly totpCode?: string;
}

/** A new workspace role, as `POST /v1/workspaces/{ws}/roles` takes it (docs/workspace-roles.md). */
export type WorkspaceRoleInput = NonNullable<
  paths["/v1/workspaces/{ws}/roles"]["post"]["requestBody"]
>["content"]["application/json"];

/** What `PATCH /v1/workspaces/{ws}/roles/{role}` may change. */
export type WorkspaceRoleChanges = NonNullable<
  paths["/v1/workspaces/{ws}/roles/{role}"]["patch"]["requestBody"]
>["content"]["application/json"];

/** A workspace role and the revision of the write, as the API answers it. */
export type WorkspaceRoleBody =
  paths["/v1/workspaces/{ws}/roles"]["post"]["responses"][201]["content"]["application/json"];
/** An access request as the API answers it. */
export type AccessRequestBody =
  paths["/v1/workspaces/{ws}/access-requests"]["post"]["responses"][201]["content"]["application/json"]["request"];

/** What a member asks for, for themself: a role on a resource, for a while, and why. */
export interface AccessRequestInput {
  readonly role: string;
  readonly scope: string;
  readonly reason: string;
  /** 1 to 43200 (30 days). */
  readonly durationMinutes: number;
}

/** What the host asks for one of its support people (support access, docs/support-access.md). */
export interface SupportAccessInput extends AccessRequestInput {
  /** The support person: a user the host provisioned; they need not be a member. */
  readonly userId: string;
}

/** An approval's narrowing: a role within the one asked for, a resource at or below, fewer minutes. */
export interface AccessApproval {
  readonly role?: string;
  readonly scope?: string;
  readonly durationMinutes?: number;
}

/** Which access requests to list: of one status, or only the caller's own. */
export interface AccessRequestFilter {
  readonly status?: AccessRequestBody["status"];
  readonly mine?: boolean;
}

/** A decided (or new) access request with the workspace's revision after the write. */
export interface AccessRequestDecided {
  readonly request: AccessRequestBody;
  readonly revision: number;
}

/** Options of a read: no staler than a write's `revision` (the freshness token). */
export interface Freshness {
  readonly atLeastRevision?: number;
}

/** The remote half of the client: every REST endpoint (`api`) and the decision shortcuts. */
export interface GatehouseApi {
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
  /** Who holds a permission on a resource, through which grants; one page, sorted by subject. */
  whoCan(
    workspaceId: string,
    question: WhoCanQuestion,
    freshness?: Freshness,
  ): Promise<Result<WhoCanBody>>;
  /** A resource's Permissions card: everyone with access at, above or below it; one page. */
  permissionsAt(
    workspaceId: string,
    question: PermissionsQuestion,
    freshness?: Freshness,
  ): Promise<Result<PermissionsBody>>;
  /**
   * Who would gain and lose which permissions where if `change` were made: the write's own route
   * with `?dryRun=true`, checked as the change is; nothing is written.
   */
  previewAccessChange(workspaceId: string, change: AccessChange): Promise<Result<AccessDiffBody>>;
  /** The caller's eligibilities (and those they could set), each with its live elevation. */
  eligibilities(workspaceId: string): Promise<Result<EligibilitiesBody>>;
  /** Elevates the caller through one of their eligibilities, for a bounded time. */
  elevate(
    workspaceId: string,
    eligibilityId: string,
    request: ElevationRequest,
  ): Promise<Result<ElevationBody>>;
  /** Ends a live elevation now. */
  endElevation(workspaceId: string, eligibilityId: string): Promise<Result<{ revision: number }>>;
  /** Makes a member eligible for a role at a scope (replacing their eligibility there). */
  setEligibility(workspaceId: string, input: EligibilityInput): Promise<Result<EligibilityBody>>;
  /** Removes an eligibility; a live elevation runs on until it ends or is ended. */
  removeEligibility(
    workspaceId: string,
    eligibilityId: string,
  ): Promise<Result<{ revision: number }>>;
  /** The workspace's model and the roles it defined itself: what every role picker offers. */
  workspaceModel(workspaceId: string): Promise<Result<WorkspaceModelBody>>;
  /** Defines a role of the workspace's own, where its model allows (docs/workspace-roles.md). */
  defineRole(workspaceId: string, role: WorkspaceRoleInput): Promise<Result<WorkspaceRoleBody>>;
  /** Changes a workspace role's label, description, scopes or permissions. */
  updateRole(
    workspaceId: string,
    name: string,
    changes: WorkspaceRoleChanges,
  ): Promise<Result<WorkspaceRoleBody>>;
  /** Deletes a workspace role no grant or pending invitation gives (else ROLE_IN_USE). */
  deleteRole(workspaceId: string, name: string): Promise<Result<{ revision: number }>>;
  /** Asks, for the caller themself, for a role on a resource for a while; approvers are mailed. */
  requestAccess(
    workspaceId: string,
    input: AccessRequestInput,
  ): Promise<Result<AccessRequestDecided>>;
  /** The caller's own access requests and those they may decide, newest first. */
  accessRequests(
    workspaceId: string,
    filter?: AccessRequestFilter,
  ): Promise<Result<AccessRequestBody[]>>;
  /** Approves a pending request as asked, or narrower. */
  approveAccessRequest(
    workspaceId: string,
    requestId: string,
    narrowing?: AccessApproval,
  ): Promise<Result<AccessRequestDecided>>;
  /** Rejects a pending request, optionally saying why. */
  rejectAccessRequest(
    workspaceId: string,
    requestId: string,
    reason?: string,
  ): Promise<Result<AccessRequestDecided>>;
  /** Withdraws the caller's own pending request. */
  withdrawAccessRequest(
    workspaceId: string,
    requestId: string,
  ): Promise<Result<AccessRequestDecided>>;
  /**
   * Support access, for the host application (a host credential): asks for one of its support
   * people for a role on a resource for a while; the workspace's administrators approve it.
   */
  requestSupportAccess(
    workspaceId: string,
    input: SupportAccessInput,
  ): Promise<Result<AccessRequestDecided>>;
  /** Ends an approved request's access now (a support session, for instance). */
  revokeAccessRequest(
    workspaceId: string,
    requestId: string,
  ): Promise<Result<AccessRequestDecided>>;
}
