import { randomBytes, timingSafeEqual } from "node:crypto";
import { GatehouseError, isGatehouseError } from "@gatehouse/engine";
import type { Gatehouse, RequestContext } from "@gatehouse/service";
import { ErrorCode, isHostSecret } from "@gatehouse/service";
import type { FastifyReply, FastifyRequest } from "fastify";
import type { ServerConfig } from "../config.ts";

declare module "fastify" {
  interface FastifyRequest {
    /** Who is calling, resolved from the bearer API key or the session cookie; `undefined` when anonymous. */
    caller: RequestContext | undefined;
    /** The session behind a cookie-authenticated request. */
    sessionId: string | undefined;
    /** The workspace of the API key behind a bearer-authenticated request. */
    keyWorkspaceId: string | undefined;
  }
}

export const SESSION_COOKIE = "gatehouse_session";
/** Double-submit CSRF token: readable by the console's script, echoed in `x-csrf-token`. */
export const CSRF_COOKIE = "gatehouse_csrf";
export const CSRF_HEADER = "x-csrf-token";
/** "View as": the owner's reads answered as this member (`userId`), read-only, in one workspace. */
export const VIEW_AS_HEADER = "x-gatehouse-view-as";
/** The host application acting for one of its users (by id): decided exactly as that user. */
export const ON_BEHALF_OF_HEADER = "x-gatehouse-on-behalf-of";
const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

export function originOf(request: FastifyRequest): { ip: string; agent: string | undefined } {
  return { ip: request.ip, agent: request.headers["user-agent"]?.slice(0, 300) };
}

function sameText(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}

/**
 * Resolves the caller of a request: `Authorization: Bearer <API key>`, or the session cookie.
 * Credentials are checked against the store on every request — nothing is frozen in a token.
 * Cookie-authenticated writes must echo the CSRF cookie in `x-csrf-token`.
 */
export async function resolveCaller(
  gatehouse: Gatehouse,
  request: FastifyRequest,
): Promise<RequestContext | undefined> {
  const header = request.headers.authorization;
  if (header !== undefined) {
    if (request.headers[VIEW_AS_HEADER] !== undefined)
      throw new GatehouseError(
        ErrorCode.PERMISSION_DENIED,
        "viewing as a member is for the owner signed in with a session, not an API key",
      );
    const token = bearerToken(header);
    if (token === undefined)
      throw new GatehouseError(
        ErrorCode.INVALID_CREDENTIALS,
        "Authorization must be `Bearer <API key>`",
      );
    if (isHostSecret(token)) {
      const host = await gatehouse.hostCredentials.authenticate(token, originOf(request));
      const onBehalfOf = request.headers[ON_BEHALF_OF_HEADER];
      return onBehalfOf === undefined
        ? host
        : onBehalfContext(gatehouse, request, host, onBehalfOf);
    }
    requireNoOnBehalfOf(request);
    const credentials = await gatehouse.apiKeys.authenticate(token, originOf(request));
    request.keyWorkspaceId = credentials.workspaceId;
    return credentials.context;
  }
  requireNoOnBehalfOf(request);
  const token = request.cookies[SESSION_COOKIE];
  if (token === undefined || token === "") return undefined;
  let session: Awaited<ReturnType<Gatehouse["sessions"]["authenticate"]>>;
  try {
    session = await gatehouse.sessions.authenticate(token, originOf(request));
  } catch (error) {
    // An ended session's cookie stays in the browser: its requests are anonymous (routes that
    // need a caller still answer 401), so that signing in again works (#16).
    if (isGatehouseError(error) && error.code === ErrorCode.INVALID_CREDENTIALS) return undefined;
    throw error;
  }
  if (!SAFE_METHODS.has(request.method)) {
    const expected = request.cookies[CSRF_COOKIE];
    const given = request.headers[CSRF_HEADER];
    if (expected === undefined || typeof given !== "string" || !sameText(expected, given)) {
      throw new GatehouseError(
        ErrorCode.PERMISSION_DENIED,
        `cookie-authenticated writes need the ${CSRF_HEADER} header (CSRF protection)`,
      );
    }
  }
  request.sessionId = session.sessionId;
  const viewAs = request.headers[VIEW_AS_HEADER];
  if (viewAs === undefined) return session.context;
  return previewContext(gatehouse, request, session.context, viewAs);
}

const isSpace = (code: number) => code === 32 || code === 9;

/** The token of `Bearer <token>` (any case, spaces or tabs between, none inside), else undefined. */
function bearerToken(header: string): string | undefined {
  if (header.length < 8 || header.slice(0, 6).toLowerCase() !== "bearer") return undefined;
  let start = 6;
  while (start < header.length && isSpace(header.charCodeAt(start))) start++;
  if (start === 6 || start === header.length) return undefined;
  for (let i = start; i < header.length; i++) {
    const code = header.charCodeAt(i);
    if (code <= 32 || code === 127) return undefined;
  }
  return header.slice(start);
}

/** Acting for a user is the host application's alone: API keys, sessions and anonymous callers get 403. */
function requireNoOnBehalfOf(request: FastifyRequest): void {
  if (request.headers[ON_BEHALF_OF_HEADER] !== undefined)
    throw new GatehouseError(
      ErrorCode.HOST_CREDENTIAL_REQUIRED,
      `${ON_BEHALF_OF_HEADER} is for the host application, with a host credential`,
    );
}

/**
 * The host acting for one of its users, on workspace routes only (an account's own security —
 * password, sessions, two-factor — stays the person's): decided exactly as that user, never
 * beyond the credential's workspaces, and logged with both.
 */
async function onBehalfContext(
  gatehouse: Gatehouse,
  request: FastifyRequest,
  host: RequestContext,
  userId: string | string[],
): Promise<RequestContext> {
  if (typeof userId !== "string" || userId === "" || userId.length > 100)
    throw new GatehouseError(ErrorCode.INVALID_INPUT, `${ON_BEHALF_OF_HEADER} names one user's id`);
  if (!/^\/v1\/workspaces(?:[/?#]|$)/.test(request.url))
    throw new GatehouseError(
      ErrorCode.INVALID_INPUT,
      `${ON_BEHALF_OF_HEADER} applies to workspace routes (/v1/workspaces…)`,
    );
  if (host.actor.type !== "system" || host.actor.host === undefined)
    throw new GatehouseError(ErrorCode.HOST_CREDENTIAL_REQUIRED, "a host credential is required");
  const user = await gatehouse.users.get(userId);
  return { actor: { type: "user", userId: user.id, host: host.actor.host }, origin: host.origin };
}

/**
 * The context of a "view as" request: only reads of one workspace's routes, by its owner signed
 * in with a session; the service decides everything else as the member and refuses every write.
 */
async function previewContext(
  gatehouse: Gatehouse,
  request: FastifyRequest,
  context: RequestContext,
  viewAs: string | string[],
): Promise<RequestContext> {
  if (typeof viewAs !== "string" || viewAs === "" || viewAs.length > 100)
    throw new GatehouseError(ErrorCode.INVALID_INPUT, `${VIEW_AS_HEADER} names one member's id`);
  if (!SAFE_METHODS.has(request.method))
    throw new GatehouseError(
      ErrorCode.PERMISSION_DENIED,
      "viewing as a member is read-only; stop viewing as them to make changes",
    );
  const match = /^\/v1\/workspaces\/([^/?#]+)(?:[/?#]|$)/.exec(request.url);
  let workspaceId: string | undefined;
  try {
    workspaceId = match === null ? undefined : decodeURIComponent(match[1]!);
  } catch {
    workspaceId = undefined;
  }
  if (workspaceId === undefined)
    throw new GatehouseError(
      ErrorCode.INVALID_INPUT,
      `${VIEW_AS_HEADER} applies to a workspace's routes (/v1/workspaces/:ws/…)`,
    );
  return gatehouse.access.viewAs(context, workspaceId, viewAs);
}

/** Sets the session and CSRF cookies of a new session: HttpOnly, SameSite=Lax, Secure behind TLS. */
export function setSessionCookies(
  reply: FastifyReply,
  config: ServerConfig,
  token: string,
  expiresAt: number,
): void {
  const expires = new Date(expiresAt);
  const common = { path: "/", sameSite: "lax", secure: config.cookieSecure, expires } as const;
  reply.setCookie(SESSION_COOKIE, token, { ...common, httpOnly: true });
  reply.setCookie(CSRF_COOKIE, randomBytes(24).toString("base64url"), {
    ...common,
    httpOnly: false,
  });
}

export function clearSessionCookies(reply: FastifyReply, config: ServerConfig): void {
  const common = { path: "/", sameSite: "lax", secure: config.cookieSecure } as const;
  reply.clearCookie(SESSION_COOKIE, common);
  reply.clearCookie(CSRF_COOKIE, common);
}

/** The caller, or 401 for anonymous requests. */
export function requireCaller(request: FastifyRequest): RequestContext {
  if (request.caller === undefined)
    throw new GatehouseError(ErrorCode.INVALID_CREDENTIALS, "sign in or send an API key");
  return request.caller;
}

/** The host application itself (a host credential, not acting for a user); HOST_CREDENTIAL_REQUIRED otherwise. */
export function requireHost(request: FastifyRequest): RequestContext {
  const caller = requireCaller(request);
  if (caller.actor.type !== "system" || caller.actor.host === undefined)
    throw new GatehouseError(
      ErrorCode.HOST_CREDENTIAL_REQUIRED,
      "only the host application, with a host credential, may do this",
    );
  return caller;
}

/** The signed-in person (a session or an API key's owner). */
export function requirePerson(request: FastifyRequest): string {
  const caller = requireCaller(request);
  if (caller.actor.type === "system" && caller.actor.host !== undefined)
    throw new GatehouseError(
      ErrorCode.INVALID_INPUT,
      `the host application has no account of its own; act for a user with ${ON_BEHALF_OF_HEADER} on workspace routes`,
    );
  if (caller.actor.type === "system")
    throw new GatehouseError(ErrorCode.INVALID_CREDENTIALS, "sign in as a person");
  return caller.actor.userId;
}

/** What kind of caller a request counts against, for the limits and the request log. */
export type CallerKind = "host" | "api_key" | "user" | "system" | "anonymous";

/**
 * The kind of caller of a request, as {@link limitKeyOf} names it, without building its key
 * (the request log asks on every request).
 * @example
 * callerKindOf(request); // "api_key"
 */
export function callerKindOf(request: FastifyRequest): CallerKind {
  const actor = request.caller?.actor;
  if (actor === undefined) return "anonymous";
  switch (actor.type) {
    case "system":
      return actor.host === undefined ? "system" : "host";
    case "user":
      return actor.host === undefined ? "user" : "host";
    case "api_key":
      return "api_key";
    case "assistant":
      return actor.keyId === undefined ? "user" : "api_key";
    case "preview":
      return "user";
  }
}

/**
 * Who a request counts against for the per-caller limits: the host credential (also when acting
 * for a user), the API key, the signed-in person (every session of theirs, and the owner viewing as
 * a member), else the client address (`request.ip`, right behind trusted proxies).
 * @example
 * limitKeyOf(request); // { key: "user:usr_…", kind: "user" }
 */
export function limitKeyOf(request: FastifyRequest): { key: string; kind: CallerKind } {
  const actor = request.caller?.actor;
  if (actor === undefined) return { key: `address:${request.ip}`, kind: "anonymous" };
  switch (actor.type) {
    case "system":
      return actor.host === undefined
        ? { key: `system:${actor.name}`, kind: "system" }
        : { key: `host:${actor.host.credentialId}`, kind: "host" };
    case "user":
      return actor.host === undefined
        ? { key: `user:${actor.userId}`, kind: "user" }
        : { key: `host:${actor.host.credentialId}`, kind: "host" };
    case "api_key":
      return { key: `apikey:${actor.keyId}`, kind: "api_key" };
    case "assistant":
      return actor.keyId === undefined
        ? { key: `user:${actor.userId}`, kind: "user" }
        : { key: `apikey:${actor.keyId}`, kind: "api_key" };
    case "preview":
      return { key: `user:${actor.viewerId}`, kind: "user" };
  }
}
