import { isIPv4 } from "node:net";
import { GatehouseError } from "@gatehouse/engine";
import { ErrorCode } from "./error-codes.ts";

const MAX_URL_LENGTH = 2000;

/** `localhost`, 127.0.0.0/8 or ::1: plain HTTP is allowed there only (development and tests). */
function isLoopbackHost(hostname: string): boolean {
  return (
    hostname === "localhost" ||
    hostname === "[::1]" ||
    (isIPv4(hostname) && hostname.startsWith("127."))
  );
}

/**
 * A URL Gatehouse sends something to on a member's behalf (a tool call, a sign-in assertion):
 * HTTPS, or plain HTTP only to a loopback address; never with credentials or a fragment.
 * Answers the normalized URL.
 * @example
 * parseServiceUrl("https://shop.example/gatehouse/sign-in", "url"); // "https://shop.example/gatehouse/sign-in"
 */
export function parseServiceUrl(value: unknown, what: string): string {
  const refuse = (reason: string) =>
    new GatehouseError(ErrorCode.INVALID_INPUT, `${what} ${reason}`);
  if (typeof value !== "string" || value.length === 0 || value.length > MAX_URL_LENGTH)
    throw refuse(`is a URL of at most ${MAX_URL_LENGTH} characters`);
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw refuse("is not a valid URL");
  }
  if (url.username !== "" || url.password !== "") throw refuse("must not carry credentials");
  if (url.hash !== "") throw refuse("must not have a #fragment");
  const secure = url.protocol === "https:";
  if (!secure && !(url.protocol === "http:" && isLoopbackHost(url.hostname)))
    throw refuse("must be https:// (plain http:// only on a loopback address)");
  return url.href;
}
