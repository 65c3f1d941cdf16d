/**
 * Every error Gatehouse raises carries one of these stable codes. Callers branch on
 * `code`, never on the message; the server maps each code to one HTTP status.
 */
export const ErrorCode = {
  INVALID_INPUT: "INVALID_INPUT",
  INVALID_MODEL: "INVALID_MODEL",
  UNKNOWN_RESOURCE_TYPE: "UNKNOWN_RESOURCE_TYPE",
  UNKNOWN_PERMISSION: "UNKNOWN_PERMISSION",
  UNKNOWN_ROLE: "UNKNOWN_ROLE",
  RESOURCE_NOT_FOUND: "RESOURCE_NOT_FOUND",
  INVALID_PARENT: "INVALID_PARENT",
  GRANT_NOT_FOUND: "GRANT_NOT_FOUND",
  API_KEY_NOT_FOUND: "API_KEY_NOT_FOUND",
  ROLE_CONFLICT: "ROLE_CONFLICT",
  ROLE_NOT_GRANTABLE_AT_SCOPE: "ROLE_NOT_GRANTABLE_AT_SCOPE",
  PERMISSION_NOT_APPLICABLE_AT_SCOPE: "PERMISSION_NOT_APPLICABLE_AT_SCOPE",
  OWNER_ONLY_PERMISSION: "OWNER_ONLY_PERMISSION",
  OWNER_EXISTS: "OWNER_EXISTS",
  PERMISSION_DENIED: "PERMISSION_DENIED",
  // Service layer: people, workspaces and credentials.
  NOT_FOUND: "NOT_FOUND",
  WORKSPACE_NOT_FOUND: "WORKSPACE_NOT_FOUND",
  WORKSPACE_CLOSED: "WORKSPACE_CLOSED",
  USER_NOT_FOUND: "USER_NOT_FOUND",
  MEMBER_NOT_FOUND: "MEMBER_NOT_FOUND",
  EMAIL_TAKEN: "EMAIL_TAKEN",
  WEAK_PASSWORD: "WEAK_PASSWORD",
  INVALID_CREDENTIALS: "INVALID_CREDENTIALS",
  UNKNOWN_PRESET: "UNKNOWN_PRESET",
  UNKNOWN_PLAN: "UNKNOWN_PLAN",
  CONFIRMATION_MISMATCH: "CONFIRMATION_MISMATCH",
  LAST_OWNER: "LAST_OWNER",
  TRANSFER_NOT_SELF_SERVICE: "TRANSFER_NOT_SELF_SERVICE",
  ALREADY_MEMBER: "ALREADY_MEMBER",
  ONE_WORKSPACE_PER_EMAIL: "ONE_WORKSPACE_PER_EMAIL",
  MEMBER_LIMIT_REACHED: "MEMBER_LIMIT_REACHED",
  INVITATION_NOT_FOUND: "INVITATION_NOT_FOUND",
  INVITATION_EXPIRED: "INVITATION_EXPIRED",
  INVITATION_ALREADY_USED: "INVITATION_ALREADY_USED",
  INVITATION_REVOKED: "INVITATION_REVOKED",
  INVITATION_EMAIL_MISMATCH: "INVITATION_EMAIL_MISMATCH",
  JOIN_REQUESTS_DISABLED: "JOIN_REQUESTS_DISABLED",
  JOIN_REQUEST_NOT_FOUND: "JOIN_REQUEST_NOT_FOUND",
  JOIN_REQUEST_RATE_LIMITED: "JOIN_REQUEST_RATE_LIMITED",
  JOIN_REQUEST_DECIDED: "JOIN_REQUEST_DECIDED",
  CONFLICT: "CONFLICT",
  // Sign-in: sessions, magic links, two-factor, throttling and sealed credentials.
  RATE_LIMITED: "RATE_LIMITED",
  SESSION_NOT_FOUND: "SESSION_NOT_FOUND",
  MAGIC_LINK_INVALID: "MAGIC_LINK_INVALID",
  TOTP_REQUIRED: "TOTP_REQUIRED",
  TOTP_INVALID: "TOTP_INVALID",
  TOTP_ENROLLMENT_REQUIRED: "TOTP_ENROLLMENT_REQUIRED",
  TOTP_NOT_ENABLED: "TOTP_NOT_ENABLED",
  TOTP_ALREADY_ENABLED: "TOTP_ALREADY_ENABLED",
  CREDENTIAL_NOT_FOUND: "CREDENTIAL_NOT_FOUND",
  CONFIGURATION_REQUIRED: "CONFIGURATION_REQUIRED",
  // The assistant gate and the sign-in handoff.
  TOOL_NOT_FOUND: "TOOL_NOT_FOUND",
  TOOL_ENDPOINT_FAILED: "TOOL_ENDPOINT_FAILED",
  TOOL_ENDPOINT_TIMEOUT: "TOOL_ENDPOINT_TIMEOUT",
  SIGN_IN_NOT_CONFIGURED: "SIGN_IN_NOT_CONFIGURED",
  SIGN_IN_LINK_INVALID: "SIGN_IN_LINK_INVALID",
  DATABASE_ERROR: "DATABASE_ERROR",
  DATABASE_BUSY: "DATABASE_BUSY",
} as const;

export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** One problem found in some input, located by a path such as `roles.admin.permissions[2]`. */
export interface Issue {
  readonly path: string;
  readonly message: string;
}

/**
 * The one error class of Gatehouse.
 * @example
 * try { engine.addGrant(grant) } catch (e) {
 *   if (e instanceof GatehouseError && e.code === "ROLE_CONFLICT") { ... }
 * }
 */
export class GatehouseError extends Error {
  override readonly name = "GatehouseError";
  readonly code: ErrorCode;
  readonly issues: readonly Issue[];
  readonly details: Readonly<Record<string, unknown>>;

  constructor(
    code: ErrorCode,
    message: string,
    options: { issues?: readonly Issue[]; details?: Record<string, unknown>; cause?: unknown } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.issues = Object.freeze([...(options.issues ?? [])]);
    this.details = Object.freeze({ ...options.details });
  }
}

/** True when `value` is a GatehouseError, optionally with the given code. */
export function isGatehouseError(value: unknown, code?: ErrorCode): value is GatehouseError {
  return value instanceof GatehouseError && (code === undefined || value.code === code);
}
