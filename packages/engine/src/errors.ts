/**
 * The engine's stable error codes: invalid models and input, unknown names, tree and grant
 * conflicts. Each layer above adds its own (the service's people and sign-in codes); callers branch
 * on `code`, never on the message, and the server maps every code to one HTTP status.
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
  /** An access diff would compare more subject–resource pairs than its limit. */
  ACCESS_DIFF_TOO_LARGE: "ACCESS_DIFF_TOO_LARGE",
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
export class GatehouseError<Code extends string = string> extends Error {
  override readonly name = "GatehouseError";
  readonly code: Code;
  readonly issues: readonly Issue[];
  readonly details: Readonly<Record<string, unknown>>;

  constructor(
    code: Code,
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
export function isGatehouseError(value: unknown, code?: string): value is GatehouseError {
  return value instanceof GatehouseError && (code === undefined || value.code === code);
}
