import type { paths } from "../../client/src/generated/api.ts";
import type { ModelDefinition } from "../../engine/src/model/model-definition.ts";
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

/** The caller's own routes that check the current password: their 401 is a wrong password. */
const PASSWORD_CHECKS: ReadonlySet<string> = new Set(["/v1/me/password", "/v1/me/email"]);

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
  const dryRun = method === "GET" ? undefined : takeDryRun();
  if (dryRun !== undefined) {
    // The write as a dry run: the same request with ?dryRun=true; its answer goes to `dryRunOf`,
    // and the write's own caller never resumes, so nothing after it runs for real.
    api<AccessDiffAnswer>(method, `${path}${path.includes("?") ? "&" : "?"}dryRun=true`, body).then(
      dryRun.resolve,
      dryRun.reject,
    );
    return new Promise<T>(() => undefined);
  }
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
    // Sign-in, the password change and the email change answer 401 for a wrong password, and so
    // does an elevation's authenticator code (#18): anywhere else it means the session is gone.
    if (
      response.status === 401 &&
      !path.startsWith("/v1/auth/") &&
      !PASSWORD_CHECKS.has(path) &&
      !path.endsWith("/activate")
    )
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

/** Who would gain and lose which permissions where: what a write's `?dryRun=true` answers. */
export type AccessDiffAnswer = Answer<"/v1/workspaces/{ws}/grants", "post", 200>;

let pendingDryRun:
  | { resolve: (answer: AccessDiffAnswer) => void; reject: (error: unknown) => void }
  | undefined;

function takeDryRun(): typeof pendingDryRun {
  const taken = pendingDryRun;
  pendingDryRun = undefined;
  return taken;
}

/**
 * Runs `write` — a function whose first write request is the change, e.g. an access change's
 * `apply` — as a dry run: that request goes out with `?dryRun=true` and its answer (the access
 * diff) is returned; `write` never resumes after it, so nothing is saved. The preview is the
 * change's own request, so the two cannot differ. (The server refuses `?dryRun` on writes that
 * have no dry run, so a write without one cannot go through for real.)
 * @example
 * const { diff } = await dryRunOf(() => api("PATCH", `${ws(id)}/members/${userId}`, { grants }));
 */
export function dryRunOf(write: () => Promise<unknown>): Promise<AccessDiffAnswer> {
  return new Promise<AccessDiffAnswer>((resolve, reject) => {
    const mine = { resolve, reject };
    pendingDryRun = mine;
    const disarm = () => {
      if (pendingDryRun === mine) pendingDryRun = undefined;
    };
    // `write` settles only when it made no write at all (or failed before it).
    write().then(
      () => {
        disarm();
        reject(new ApiError({ status: 0, code: "NO_PREVIEW", detail: "Nothing to preview." }));
      },
      (error: unknown) => {
        disarm();
        reject(error);
      },
    );
  });
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
export type Eligibility = Answer<
  "/v1/workspaces/{ws}/eligibilities",
  "get"
>["eligibilities"][number];
export type AccessRequest = Answer<
  "/v1/workspaces/{ws}/access-requests",
  "get"
>["accessRequests"][number];
export type Seats = Answer<"/v1/workspaces/{ws}/seats", "get">;
export type RoleMatrix = Answer<"/v1/workspaces/{ws}/roles", "get">;
/** `GET …/model`: the preset's definition and the workspace's own roles. */
export type WorkspaceModel = Omit<Answer<"/v1/workspaces/{ws}/model", "get">, "model"> & {
  readonly model: ModelDefinition;
};
export type Explanation = Answer<"/v1/workspaces/{ws}/explain", "post">;
export type ApiKey = Answer<"/v1/workspaces/{ws}/api-keys", "get">["keys"][number];
export type AuditEntry = Answer<"/v1/workspaces/{ws}/audit", "get">["entries"][number];
export type Verification = Answer<"/v1/workspaces/{ws}/audit/verify", "get">;
export type Capabilities = Answer<"/v1/workspaces/{ws}/capabilities", "get">;
/** A page of the fleet list or of one resource's children, each with its visible children counted. */
export type ResourceListing = Answer<"/v1/workspaces/{ws}/resources", "get">;
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
