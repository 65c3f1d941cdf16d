import { type FastifyReply, type FastifyRequest, LogController } from "fastify";
import { limitKeyOf } from "./caller.ts";
import { routePatternOf } from "./route-pattern.ts";

/**
 * One log line per request, when it is answered, instead of Fastify's two ("incoming request",
 * "request completed"): method, route pattern, status, duration and the kind of caller. Never the
 * URL (a sign-in link's token, an email in a query), headers, cookies or bodies.
 * @example
 * Fastify({ logController: new RequestLog() });
 * // {"level":30,"reqId":"req-1","method":"GET","route":"/v1/me","status":200,"ms":3,"caller":"user","msg":"request"}
 */
export class RequestLog extends LogController {
  override incomingRequest(): void {}

  /** An unknown route is answered as a 404 problem; its one line is the request's. */
  override routeNotFound(): void {}

  override requestCompleted(
    error: Error | null | undefined,
    request: FastifyRequest,
    reply: FastifyReply,
  ): void {
    const line = {
      method: request.method,
      route: routePatternOf(request) ?? "(no route)",
      status: reply.statusCode,
      ms: Math.round(reply.elapsedTime),
      caller: limitKeyOf(request).kind,
    };
    if (error === null || error === undefined) request.log.info(line, "request");
    else request.log.error({ ...line, err: error }, "request failed");
  }
}
