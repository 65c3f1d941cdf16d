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

function csrfToken(): string | undefined {
  const match = /(?:^|;\s*)gatehouse_csrf=([^;]+)/.exec(document.cookie);
  return match?.[1] === undefined ? undefined : decodeURIComponent(match[1]);
}

type Method = "GET" | "POST" | "PUT" | "PATCH" | "DELETE";

/**
 * Calls the API; resolves with the JSON answer (undefined for 204) or rejects with an ApiError.
 * @example
 * const { members } = await api<{ members: Member[] }>("GET", `/v1/workspaces/${ws}/members`);
 */
export async function api<T>(method: Method, path: string, body?: unknown): Promise<T> {
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

/** A message for people, from any error. */
export function messageOf(error: unknown): string {
  if (error instanceof ApiError) {
    const issues = error.issues?.map((issue) => `${issue.path}: ${issue.message}`).join("; ");
    return issues === undefined || issues === "" ? error.detail : `${error.detail} (${issues})`;
  }
  return error instanceof Error ? error.message : String(error);
}

export const ws = (id: string) => `/v1/workspaces/${encodeURIComponent(id)}`;

// The shapes the console reads; the OpenAPI document at /openapi.json is the reference.

export interface User {
  readonly id: string;
  readonly email: string;
  readonly name: string;
  readonly createdAt: number;
}

export interface Grant {
  readonly subject: string;
  readonly role: string;
  readonly scope: string;
  readonly extras: readonly string[];
  readonly expiresAt?: number;
}

export interface Workspace {
  readonly id: string;
  readonly name: string;
  readonly preset: string;
  readonly plan: string | null;
  readonly personal: boolean;
  readonly revision: number;
  readonly createdAt: number;
  readonly settings?: {
    readonly joinKey: string | null;
    readonly require2fa: boolean;
    readonly oneWorkspacePerEmail: boolean;
  };
}

export interface Me {
  readonly user: User;
  readonly twoFactor: {
    readonly enabled: boolean;
    readonly pending: boolean;
    readonly required: boolean;
  };
  readonly workspaces: readonly (Workspace & { readonly grants: readonly Grant[] })[];
}

export interface Access {
  readonly workspaceId: string;
  readonly userId: string;
  readonly isOwner: boolean;
  readonly grants: readonly Grant[];
  readonly groups: readonly string[];
  readonly workflows: {
    readonly viewTeam: boolean;
    readonly managePeople: boolean;
    readonly viewActivity: boolean;
    readonly changeSettings: boolean;
    readonly ownerOnly: boolean;
    readonly transferOwnership: boolean;
  };
  readonly sections: readonly string[];
  readonly viewAs: { readonly viewerId: string } | null;
}

export interface ModelDefinition {
  readonly name: string;
  readonly label?: string;
  readonly types: Readonly<
    Record<string, { readonly label?: string; readonly parents?: readonly string[] }>
  >;
  readonly permissions: Readonly<
    Record<string, { readonly on: string | readonly string[]; readonly description?: string }>
  >;
  readonly roles: Readonly<
    Record<
      string,
      {
        readonly label?: string;
        readonly description?: string;
        readonly scopes: readonly string[];
        readonly owner?: boolean;
        readonly permissions?: readonly string[];
      }
    >
  >;
  readonly ownerOnly?: readonly string[];
  readonly delegation: string;
  readonly plans?: Readonly<
    Record<string, { readonly label?: string; readonly maxMembers: number | null }>
  >;
  readonly sections?: Readonly<
    Record<string, { readonly label: string; readonly anyOf: readonly string[] }>
  >;
  readonly policy?: { readonly joinRequests?: boolean; readonly selfServiceTransfer?: boolean };
  readonly formerOwnerRole?: string;
}

export interface Member {
  readonly userId: string;
  readonly email: string;
  readonly name: string;
  readonly joinedAt: number;
  readonly isOwner: boolean;
  readonly grants: readonly Grant[];
  readonly groups: readonly string[];
}

export interface Group {
  readonly id: string;
  readonly name: string;
  readonly members: readonly string[];
  readonly grants: readonly Grant[];
}

export interface Invitation {
  readonly id: string;
  readonly email: string;
  readonly role: string;
  readonly scopes: readonly string[];
  readonly invitedBy: string;
  readonly createdAt: number;
  readonly expiresAt: number;
  readonly status: "pending" | "accepted" | "revoked" | "expired";
}

export interface JoinRequest {
  readonly id: string;
  readonly userId: string;
  readonly email: string;
  readonly name: string;
  readonly note: string;
  readonly createdAt: number;
  readonly status: "pending" | "approved" | "rejected";
}

export interface Seats {
  readonly plan: string | null;
  readonly plans: readonly {
    readonly name: string;
    readonly label: string;
    readonly maxMembers: number | null;
  }[];
  readonly seats: {
    readonly members: number;
    readonly pending: number;
    readonly limit: number | null;
    readonly remaining: number | null;
  };
}

export interface RoleMatrix {
  readonly preset: string;
  readonly types: readonly { readonly name: string; readonly label: string }[];
  readonly permissions: readonly {
    readonly name: string;
    readonly on: readonly string[];
    readonly description: string;
    readonly ownerOnly: boolean;
  }[];
  readonly roles: readonly {
    readonly name: string;
    readonly label: string;
    readonly description: string;
    readonly owner: boolean;
    readonly scopes: readonly string[];
    readonly permissions: readonly string[];
  }[];
}

export interface Explanation {
  readonly decision: { readonly allowed: boolean; readonly reason?: string; readonly via?: Grant };
  readonly considered: readonly {
    readonly grant: Grant;
    readonly throughGroup: string | null;
    readonly outcome: string;
  }[];
  readonly suggestion: { readonly role: string; readonly scope: string } | null;
  readonly ownerOnly: boolean;
  readonly summary: string;
}

export interface ApiKey {
  readonly id: string;
  readonly name: string;
  readonly prefix: string;
  readonly ownerUserId: string;
  readonly scopes: readonly string[];
  readonly resources: readonly string[];
  readonly expiresAt: number | null;
  readonly createdAt: number;
  readonly status: "active" | "expired" | "revoked";
}

export interface AuditEntry {
  readonly seq: number;
  readonly at: string;
  readonly actor: {
    readonly type: string;
    readonly id: string;
    readonly onBehalfOf: string | null;
  };
  readonly action: string;
  readonly target: string | null;
  readonly result: "success" | "denied";
  readonly origin: { readonly ip: string | null; readonly agent: string | null };
  readonly details: Readonly<Record<string, unknown>>;
}

export interface Verification {
  readonly valid: boolean;
  readonly entries: number;
  readonly head?: string;
  readonly problem?: string;
  readonly seq?: number;
  readonly message?: string;
}

export interface Capabilities {
  readonly resource: string;
  readonly permissions: readonly string[];
  readonly sections: readonly string[];
}

export interface OutboxMail {
  readonly to: string;
  readonly subject: string;
  readonly text: string;
  readonly at: number;
}

export interface SessionInfo {
  readonly id: string;
  readonly createdAt: number;
  readonly lastSeenAt: number;
  readonly expiresAt: number;
  readonly ip: string | null;
  readonly agent: string | null;
}
