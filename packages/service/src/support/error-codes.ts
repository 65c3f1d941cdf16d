import { ErrorCode as EngineErrorCode } from "@gatehouse/engine";

/**
 * Every stable code the service raises: the engine's, plus people, workspaces, sign-in, the
 * assistant gate and the database. The server maps each one to an HTTP status.
 */
export const ErrorCode = {
  ...EngineErrorCode,
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
  /** The owner role is never granted, invited or approved; the message names this preset's path. */
  OWNER_ROLE_NOT_GRANTED: "OWNER_ROLE_NOT_GRANTED",
  /** The workspace is a personal one its model keeps to its owner: nobody else joins it. */
  PERSONAL_WORKSPACE_NOT_SHAREABLE: "PERSONAL_WORKSPACE_NOT_SHAREABLE",
  ALREADY_MEMBER: "ALREADY_MEMBER",
  /** A temporary role over a standing one that gives nothing more than it (docs/elevation.md). */
  ROLE_NOT_ABOVE_STANDING: "ROLE_NOT_ABOVE_STANDING",
  ONE_WORKSPACE_PER_EMAIL: "ONE_WORKSPACE_PER_EMAIL",
  MEMBER_LIMIT_REACHED: "MEMBER_LIMIT_REACHED",
  INVITATION_NOT_FOUND: "INVITATION_NOT_FOUND",
  INVITATION_EXPIRED: "INVITATION_EXPIRED",
  INVITATION_ALREADY_USED: "INVITATION_ALREADY_USED",
  INVITATION_REVOKED: "INVITATION_REVOKED",
  INVITATION_EMAIL_MISMATCH: "INVITATION_EMAIL_MISMATCH",
  /** The email has a pending invitation: inviting again needs `replace: true`. */
  INVITATION_PENDING: "INVITATION_PENDING",
  JOIN_REQUESTS_DISABLED: "JOIN_REQUESTS_DISABLED",
  JOIN_REQUEST_NOT_FOUND: "JOIN_REQUEST_NOT_FOUND",
  JOIN_REQUEST_RATE_LIMITED: "JOIN_REQUEST_RATE_LIMITED",
  JOIN_REQUEST_DECIDED: "JOIN_REQUEST_DECIDED",
  ACCESS_REQUEST_NOT_FOUND: "ACCESS_REQUEST_NOT_FOUND",
  ACCESS_REQUEST_RATE_LIMITED: "ACCESS_REQUEST_RATE_LIMITED",
  /** The access request was approved, rejected, withdrawn or has lapsed. */
  ACCESS_REQUEST_DECIDED: "ACCESS_REQUEST_DECIDED",
  CONFLICT: "CONFLICT",
  /** The workspace's model keeps roles fixed (`policy.workspaceRoles` off). */
  WORKSPACE_ROLES_DISABLED: "WORKSPACE_ROLES_DISABLED",
  /** No workspace-defined role of that name (the model's own roles are not changed here). */
  ROLE_NOT_FOUND: "ROLE_NOT_FOUND",
  /** A grant or pending invitation still gives the role: it is not deleted, nor its scopes narrowed. */
  ROLE_IN_USE: "ROLE_IN_USE",
  // Sign-in: sessions, magic links, two-factor, throttling and sealed credentials.
  RATE_LIMITED: "RATE_LIMITED",
  SESSION_NOT_FOUND: "SESSION_NOT_FOUND",
  MAGIC_LINK_INVALID: "MAGIC_LINK_INVALID",
  TOTP_REQUIRED: "TOTP_REQUIRED",
  PASSWORD_REQUIRED: "PASSWORD_REQUIRED",
  TOTP_INVALID: "TOTP_INVALID",
  TOTP_ENROLLMENT_REQUIRED: "TOTP_ENROLLMENT_REQUIRED",
  TOTP_NOT_ENABLED: "TOTP_NOT_ENABLED",
  TOTP_ALREADY_ENABLED: "TOTP_ALREADY_ENABLED",
  CREDENTIAL_NOT_FOUND: "CREDENTIAL_NOT_FOUND",
  CONFIGURATION_REQUIRED: "CONFIGURATION_REQUIRED",
  /** An email-change link expired, was used, replaced by a newer one, or is another account's. */
  EMAIL_CHANGE_LINK_INVALID: "EMAIL_CHANGE_LINK_INVALID",
  /** The host application (or its identity provider) owns this user's email: it changes it there. */
  EMAIL_MANAGED_BY_HOST: "EMAIL_MANAGED_BY_HOST",
  /** An account without a password changes its email only within minutes of signing in. */
  SIGN_IN_AGAIN: "SIGN_IN_AGAIN",
  // The assistant gate and the sign-in handoff.
  TOOL_NOT_FOUND: "TOOL_NOT_FOUND",
  TOOL_ENDPOINT_FAILED: "TOOL_ENDPOINT_FAILED",
  TOOL_ENDPOINT_TIMEOUT: "TOOL_ENDPOINT_TIMEOUT",
  SIGN_IN_NOT_CONFIGURED: "SIGN_IN_NOT_CONFIGURED",
  SIGN_IN_LINK_INVALID: "SIGN_IN_LINK_INVALID",
  // The host application: its credentials and the powers only they carry.
  HOST_CREDENTIAL_REQUIRED: "HOST_CREDENTIAL_REQUIRED",
  HOST_CREDENTIAL_NOT_FOUND: "HOST_CREDENTIAL_NOT_FOUND",
  DATABASE_ERROR: "DATABASE_ERROR",
  DATABASE_BUSY: "DATABASE_BUSY",
  /** Password hashing is at its limit (its queue is full); retry after Retry-After. */
  SIGN_IN_BUSY: "SIGN_IN_BUSY",
  /** An API key's permission pattern matches nothing its creator holds. */
  API_KEY_SCOPE_NOT_HELD: "API_KEY_SCOPE_NOT_HELD",
  // The panel's own models.
  MODEL_INCOMPATIBLE: "MODEL_INCOMPATIBLE",
  /** PostgreSQL cannot be reached, or did not answer in time; retry after `Retry-After`. */
  DATABASE_UNAVAILABLE: "DATABASE_UNAVAILABLE",
  /** The disk holding the SQLite database is full: the write was rolled back. */
  DATABASE_FULL: "DATABASE_FULL",
} as const;

export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];
