import { ErrorCode, GatehouseError } from "@gatehouse/engine";
import type { Gatehouse, RequestContext } from "@gatehouse/service";
import type { FastifyRequest } from "fastify";

declare module "fastify" {
  interface FastifyRequest {
    /** Who is calling, resolved from the bearer API key or the session cookie; `undefined` when anonymous. */
    caller: RequestContext | undefined;
  }
}

export function originOf(request: FastifyRequest): { ip: string; agent: string | undefined } {
  return { ip: request.ip, agent: request.headers["user-agent"]?.slice(0, 300) };
}

/**
 * Resolves the caller of a request from `Authorization: Bearer <API key>`. Credentials are checked
 * on every request against the store: nothing is frozen in a token (R12).
 */
export async function resolveCaller(
  gatehouse: Gatehouse,
  request: FastifyRequest,
): Promise<RequestContext | undefined> {
  const header = request.headers.authorization;
  if (header === undefined) return undefined;
  const match = /^Bearer\s+(\S+)$/i.exec(header);
  if (match === null)
    throw new GatehouseError(
      ErrorCode.INVALID_CREDENTIALS,
      "Authorization must be `Bearer <API key>`",
    );
  const credentials = await gatehouse.apiKeys.authenticate(match[1]!, originOf(request));
  return credentials.context;
}

/** The caller, or 401 for anonymous requests. */
export function requireCaller(request: FastifyRequest): RequestContext {
  if (request.caller === undefined)
    throw new GatehouseError(ErrorCode.INVALID_CREDENTIALS, "sign in or send an API key");
  return request.caller;
}
