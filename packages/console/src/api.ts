import type { paths } from "../../client/src/generated/api.ts";
/** The console talks to the public HTTP API only: JSON, session cookies, and the CSRF echo on writes. */

export interface Problem {
  readonly status: number;
  readonly code: string;
  readonly detail: string;
  readonly issues?: readonly { readonly path: string; readonly message: string }[] | undefined;
}

/** A refused request, carrying the API's stable code (see docs/http.md). */
export class ApiError extends Error implements Problem {
  readonly status: number;
  readonly code: string;
  readonly detail: string;
  readonly issues: Problem["issues"];

  constructor(problem: Problem) {
    super(problem.detail);
    this.name = "ApiError";
    this.status = problem.status;
    this.code = problem.code;
    this.detail = problem.detail;
    this.issues = problem.issues;
  }
}

/** While set, reads of this workspace are answered as this member ("view as"), read-only. */
let preview: { workspaceId: string; userId: string } | undefined;

export function setPreview(next: { workspaceId: string; userId: string } | undefined): void {
  preview = next;
}

/** Told when a request that needs the session answers 401: the session has ended. */
let sessionEnded: (() => void) | undefined;

export function onSessionEnded(listener: (() => void) | undefined): void {
  sessionEnded = listener;
}

function csrfToken(): string | undefined {
  const match = /(?:^|;\s*)gatehouse_csrf=([^;]+)/.exec(document.cookie);
  return match?.[1] === undefined ? undefined : decodeURIComponent(match[1]);
}

type HttpMethod = "GET" | "POST" | "PUT" | "PATCH" | "DELETE";

/**
 * Calls the API; resolves with the JSON answer (undefined for 204) or rejects with an ApiError.
 * @example
 * const { members } = await api<{ members: Member[] }>("GET", `/v1/workspaces/${ws}/members`);
 */
export async function api<T>(method: HttpMethod, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { accept: "application/json" };
  if (body !== undefined) headers["content-type"] = "application/json";
  if (method !== "GET") {
    const token = csrfToken();
    if (token !== undefined) headers["x-csrf-token"] = token;
  }
  if (
    preview !== undefined &&
    method === "GET" &&
    path.startsWith(`/v1/workspaces/${encodeURIComponent(preview.workspaceId)}`)
  ) {
    headers["x-gatehouse-view-as"] = preview.userId;
  }
  let response: Response;
  try {
    response = await fetch(path, {
      method,
      headers,
      credentials: "same-origin",
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
  } catch {
    throw new ApiError({
      status: 0,
      code: "NETWORK",
      detail: "The server could not be reached. Check your connection and try again.",
    });
  }
  if (response.status === 204) return undefined as T;
  const text = await response.text();
  let parsed: unknown;
  try {
    parsed = text === "" ? undefined : JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  if (!response.ok) {
    const problem = (parsed ?? {}) as Partial<Problem>;
    // Sign-in and the password change answer 401 for a wrong password; anywhere else it means the
    // session is gone.
    if (response.status === 401 && !path.startsWith("/v1/auth/") && path !== "/v1/me/password")
      sessionEnded?.();
    throw new ApiError({
      status: response.status,
      code: problem.code ?? "HTTP_ERROR",
      detail: problem.detail ?? `The server answered ${response.status}.`,
      ...(problem.issues === undefined ? {} : { issues: problem.issues }),
    });
  }
  return parsed as T;
}

export function isApiError(error: unknown, code?: string): error is ApiError {
  return error instanceof ApiError && (code === undefined || error.code === code);
}

export const ws = (id: string) => `/v1/workspaces/${encodeURIComponent(id)}`;

// The shapes the console reads: the answers of the API's own OpenAPI document, as generated for
// the client SDK (packages/client/src/generated/api.ts; types only, nothing of it is bundled).

type Method = "get" | "post" | "put" | "patch" | "delete";

/** The JSON answer of `method` on `path` with `status`, from the generated OpenAPI types. */
type Answer<P extends keyof paths, M extends Method, S extends number = 200> = paths[P][M] extends {
  responses: { [K in S]: { content: { "application/json": infer Body } } };
}
  ? Body
  : never;

export type Me = Answer<"/v1/me", "get">;
export type SignInMethods = Answer<"/v1/auth/methods", "get">;
export type Workspace = Answer<"/v1/workspaces/{ws}", "get">;
export type Grant = Me["workspaces"][number]["grants"][number];
export type Access = Answer<"/v1/workspaces/{ws}/access", "get">;
export type Member = Answer<"/v1/workspaces/{ws}/members", "get">["members"][number];
export type Group = Answer<"/v1/workspaces/{ws}/groups", "get">["groups"][number];
export type Invitation = Answer<"/v1/workspaces/{ws}/invitations", "get">["invitations"][number];
export type JoinRequest = Answer<
  "/v1/workspaces/{ws}/join-requests",
  "get"
>["joinRequests"][number];
export type AccessRequest = Answer<
  "/v1/workspaces/{ws}/access-requests",
  "get"
>["accessRequests"][number];
export type Seats = Answer<"/v1/workspaces/{ws}/seats", "get">;
export type RoleMatrix = Answer<"/v1/workspaces/{ws}/roles", "get">;
export type Explanation = Answer<"/v1/workspaces/{ws}/explain", "post">;
export type ApiKey = Answer<"/v1/workspaces/{ws}/api-keys", "get">["keys"][number];
export type AuditEntry = Answer<"/v1/workspaces/{ws}/audit", "get">["entries"][number];
export type Verification = Answer<"/v1/workspaces/{ws}/audit/verify", "get">;
export type Capabilities = Answer<"/v1/workspaces/{ws}/capabilities", "get">;
export type PermissionsPage = Answer<
  "/v1/workspaces/{ws}/resources/{type}/{id}/permissions",
  "get"
>;
export type SessionInfo = Answer<"/v1/me/sessions", "get">["sessions"][number];
/** The model as `GET …/model` answers it: the engine's own definition type. */
export type { ModelDefinition } from "../../engine/src/model/model-definition.ts";

/** A mail of the development outbox; its route exists only in development, so not in the document. */
export interface OutboxMail {
  readonly to: string;
  readonly subject: string;
  readonly text: string;
  readonly at: number;
}
