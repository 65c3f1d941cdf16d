import { GatehouseError, type ResourceRef } from "@gatehouse/engine";
import { ErrorCode } from "./error-codes.ts";

/** The longest name of a workspace, a person or a group (`requireText`'s default). */
export const NAME_MAX_LENGTH = 200;
/** The longest resource name (`type:id`). */
export const RESOURCE_NAME_MAX_LENGTH = 300;
/** A resource is named `type:id`: a model's type name, a colon, an id. */
const RESOURCE_NAME_PATTERN = "^[a-z][a-z0-9_-]*:.";
const RESOURCE_NAME = new RegExp(RESOURCE_NAME_PATTERN);

/** True for text that is not blank and at most `max` characters. */
export function isText(value: unknown, max = NAME_MAX_LENGTH): value is string {
  return typeof value === "string" && value.trim() !== "" && value.length <= max;
}

/** A required, trimmed piece of text of at most `max` characters. */
export function requireText(value: unknown, what: string, max = NAME_MAX_LENGTH): string {
  if (!isText(value, max)) {
    throw new GatehouseError(ErrorCode.INVALID_INPUT, `${what} must be 1–${max} characters`);
  }
  return value.trim();
}

/** True for a resource name: `type:id`, at most 300 characters. */
export function isResourceName(value: unknown): value is ResourceRef {
  return (
    typeof value === "string" &&
    RESOURCE_NAME.test(value) &&
    value.length <= RESOURCE_NAME_MAX_LENGTH
  );
}

/**
 * The resource name `value`, or INVALID_INPUT naming `what`.
 * @example
 * const parent = requireResourceName(input.parent, "parent"); // "server:fra-1"
 */
export function requireResourceName(value: unknown, what: string): ResourceRef {
  if (!isResourceName(value))
    throw new GatehouseError(ErrorCode.INVALID_INPUT, `${what} is named type:id`);
  return value;
}

/** The type part of a resource name: `site` of `site:shop.example`. */
export function typeOf(resource: string): string {
  return resource.slice(0, resource.indexOf(":"));
}
