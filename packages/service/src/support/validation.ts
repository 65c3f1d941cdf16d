import { GatehouseError } from "@gatehouse/engine";
import { ErrorCode } from "./error-codes.ts";

/** A required, trimmed piece of text of at most `max` characters. */
export function requireText(value: unknown, what: string, max = 200): string {
  if (typeof value !== "string" || value.trim() === "" || value.length > max) {
    throw new GatehouseError(ErrorCode.INVALID_INPUT, `${what} must be 1–${max} characters`);
  }
  return value.trim();
}
