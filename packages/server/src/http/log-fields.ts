import type { FastifyRequest } from "fastify";

/** Paths whose last segment is a live bearer token (a sign-in link): kept out of the logs. */
const TOKEN_PATHS = /^(\/v1\/sign-in\/)[^/?#]+/;

/**
 * The request fields Fastify logs, with any token in the path redacted: a sign-in link works for
 * a minute, and a log line must not be enough to use it.
 * @example
 * requestLogFields(request).url; // "/v1/sign-in/[redacted]"
 */
export function requestLogFields(request: FastifyRequest): Record<string, unknown> {
  return {
    method: request.method,
    url: request.url.replace(TOKEN_PATHS, "$1[redacted]"),
    host: request.host,
    remoteAddress: request.ip,
  };
}
