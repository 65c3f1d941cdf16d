import { isGatehouseError } from "@gatehouse/engine";
import type { ErrorCode } from "@gatehouse/service";
import type { FastifyError, FastifyReply, FastifyRequest } from "fastify";

/** The one table from error code to HTTP status (STYLE 6). Every code is listed; `tsc` checks it. */
export const STATUS_OF: Readonly<Record<ErrorCode, number>> = {
  INVALID_INPUT: 400,
  INVALID_MODEL: 400,
  UNKNOWN_RESOURCE_TYPE: 400,
  UNKNOWN_PERMISSION: 400,
  UNKNOWN_ROLE: 400,
  UNKNOWN_PRESET: 400,
  UNKNOWN_PLAN: 400,
  INVALID_PARENT: 400,
  ROLE_NOT_GRANTABLE_AT_SCOPE: 400,
  PERMISSION_NOT_APPLICABLE_AT_SCOPE: 400,
  OWNER_ONLY_PERMISSION: 400,
  WEAK_PASSWORD: 400,
  PASSWORD_REQUIRED: 400,
  CONFIRMATION_MISMATCH: 400,
  OWNER_ROLE_NOT_GRANTED: 400,
  INVALID_CREDENTIALS: 401,
  MAGIC_LINK_INVALID: 401,
  TOTP_REQUIRED: 401,
  TOTP_INVALID: 401,
  TOTP_ENROLLMENT_REQUIRED: 403,
  SIGN_IN_AGAIN: 403,
  PERMISSION_DENIED: 403,
  API_KEY_SCOPE_NOT_HELD: 403,
  HOST_CREDENTIAL_REQUIRED: 403,
  TRANSFER_NOT_SELF_SERVICE: 403,
  INVITATION_EMAIL_MISMATCH: 403,
  JOIN_REQUESTS_DISABLED: 403,
  WORKSPACE_ROLES_DISABLED: 403,
  PERSONAL_WORKSPACE_NOT_SHAREABLE: 403,
  NOT_FOUND: 404,
  WORKSPACE_NOT_FOUND: 404,
  WORKSPACE_CLOSED: 404,
  USER_NOT_FOUND: 404,
  MEMBER_NOT_FOUND: 404,
  RESOURCE_NOT_FOUND: 404,
  GRANT_NOT_FOUND: 404,
  API_KEY_NOT_FOUND: 404,
  INVITATION_NOT_FOUND: 404,
  JOIN_REQUEST_NOT_FOUND: 404,
  ROLE_NOT_FOUND: 404,
  ACCESS_REQUEST_NOT_FOUND: 404,
  SESSION_NOT_FOUND: 404,
  CREDENTIAL_NOT_FOUND: 404,
  TOOL_NOT_FOUND: 404,
  HOST_CREDENTIAL_NOT_FOUND: 404,
  ROLE_CONFLICT: 409,
  ROLE_NOT_ABOVE_STANDING: 409,
  OWNER_EXISTS: 409,
  ACCESS_DIFF_TOO_LARGE: 422,
  EMAIL_TAKEN: 409,
  ALREADY_MEMBER: 409,
  LAST_OWNER: 409,
  MEMBER_LIMIT_REACHED: 409,
  ONE_WORKSPACE_PER_EMAIL: 409,
  INVITATION_ALREADY_USED: 409,
  INVITATION_REVOKED: 409,
  INVITATION_PENDING: 409,
  JOIN_REQUEST_DECIDED: 409,
  ACCESS_REQUEST_DECIDED: 409,
  CONFLICT: 409,
  ROLE_IN_USE: 409,
  TOTP_NOT_ENABLED: 409,
  TOTP_ALREADY_ENABLED: 409,
  SIGN_IN_NOT_CONFIGURED: 409,
  EMAIL_MANAGED_BY_HOST: 409,
  INVITATION_EXPIRED: 410,
  SIGN_IN_LINK_INVALID: 410,
  EMAIL_CHANGE_LINK_INVALID: 410,
  JOIN_REQUEST_RATE_LIMITED: 429,
  ACCESS_REQUEST_RATE_LIMITED: 429,
  RATE_LIMITED: 429,
  DATABASE_ERROR: 500,
  TOOL_ENDPOINT_FAILED: 502,
  TOOL_ENDPOINT_TIMEOUT: 504,
  DATABASE_BUSY: 503,
  SIGN_IN_BUSY: 503,
  DATABASE_UNAVAILABLE: 503,
  DATABASE_FULL: 507,
  CONFIGURATION_REQUIRED: 503,
  MODEL_INCOMPATIBLE: 409,
};

/** The status of a code; a code no layer declared (a programming error) is a 500. */
function statusOf(code: string): number {
  return Object.hasOwn(STATUS_OF, code) ? STATUS_OF[code as ErrorCode] : 500;
}

/** Codes the HTTP edge answers beside the service's: body limits, media types, the unexpected. */
export const EDGE_CODES = ["PAYLOAD_TOO_LARGE", "UNSUPPORTED_MEDIA_TYPE", "INTERNAL"] as const;

/** Every code a problem document can carry. */
export const PROBLEM_CODES: readonly string[] = [...Object.keys(STATUS_OF), ...EDGE_CODES];

/** An RFC 9457 problem document carrying Gatehouse's stable code. */
export interface Problem {
  readonly type: string;
  readonly title: string;
  readonly status: number;
  readonly code: string;
  readonly detail: string;
  readonly issues?: readonly { readonly path: string; readonly message: string }[];
}

const TITLES: Readonly<Record<number, string>> = {
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  409: "Conflict",
  410: "Gone",
  413: "Payload Too Large",
  414: "URI Too Long",
  415: "Unsupported Media Type",
  429: "Too Many Requests",
  500: "Internal Server Error",
  502: "Bad Gateway",
  503: "Service Unavailable",
  504: "Gateway Timeout",
  507: "Insufficient Storage",
};

export function problem(
  status: number,
  code: string,
  detail: string,
  issues?: Problem["issues"],
): Problem {
  return {
    type: `https://gatehouse.dev/problems/${code.toLowerCase().replaceAll("_", "-")}`,
    title: TITLES[status] ?? "Error",
    status,
    code,
    detail,
    ...(issues === undefined || issues.length === 0 ? {} : { issues }),
  };
}

export function sendProblem(reply: FastifyReply, body: Problem): FastifyReply {
  return reply.status(body.status).type("application/problem+json").send(body);
}

/**
 * Maps anything thrown by a route to a problem document: Gatehouse errors by their code, schema
 * validation to 400, and anything unknown to a bare 500 — never a stack trace or SQL.
 */
export function errorHandler(
  error: FastifyError | Error,
  request: FastifyRequest,
  reply: FastifyReply,
): FastifyReply {
  if (isGatehouseError(error)) {
    const status = statusOf(error.code);
    const retryAfterMs = error.details["retryAfterMs"];
    if ((status === 429 || status === 503) && typeof retryAfterMs === "number")
      reply.header("retry-after", Math.max(1, Math.ceil(retryAfterMs / 1000)));
    return sendProblem(reply, problem(status, error.code, error.message, error.issues));
  }
  const fastifyError = error as FastifyError;
  if (fastifyError.validation !== undefined) {
    const issues = fastifyError.validation.map((item) => {
      // A field the schema does not allow is named in the path, so the caller sees which one.
      const extra = (item.params as { additionalProperty?: unknown } | undefined)
        ?.additionalProperty;
      const field = typeof extra === "string" ? `.${extra}` : "";
      return {
        path: `${fastifyError.validationContext ?? "body"}${item.instancePath.replaceAll("/", ".")}${field}`,
        message: item.message ?? "is invalid",
      };
    });
    return sendProblem(
      reply,
      problem(400, "INVALID_INPUT", "the request does not match the schema", issues),
    );
  }
  const status = fastifyError.statusCode;
  if (status !== undefined && status >= 400 && status < 500) {
    const code =
      status === 413
        ? "PAYLOAD_TOO_LARGE"
        : status === 415
          ? "UNSUPPORTED_MEDIA_TYPE"
          : "INVALID_INPUT";
    return sendProblem(
      reply,
      problem(
        status,
        code,
        status === 400 ? "the request body is not valid JSON" : fastifyError.message,
      ),
    );
  }
  request.log.error({ err: error }, "unhandled error");
  return sendProblem(
    reply,
    problem(500, "INTERNAL", "something went wrong on our side; the error was logged"),
  );
}
