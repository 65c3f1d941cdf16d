import { hostname } from "node:os";
import {
  type FastifyBaseLogger,
  type FastifyReply,
  type FastifyRequest,
  type FastifyServerOptions,
  LogController,
} from "fastify";
import { callerKindOf } from "./caller.ts";
import { routePatternOf } from "./route-pattern.ts";

type ChildLoggerFactory = NonNullable<FastifyServerOptions["childLoggerFactory"]>;
type Bindings = Parameters<ChildLoggerFactory>[1];
type ChildOptions = Parameters<ChildLoggerFactory>[2];

/** pino's numbers for its levels: a level logs what is at or above it. */
const LEVEL_VALUES: Readonly<Record<string, number>> = {
  trace: 10,
  debug: 20,
  info: 30,
  warn: 40,
  error: 50,
  fatal: 60,
  silent: Number.POSITIVE_INFINITY,
};

/**
 * A request's logger as Fastify hands it out (`request.log`), made into pino's child (with the
 * request id) only when something logs through it: Fastify makes that child for every request,
 * and the request line, written by RequestLog, does not need it. Its methods live on the
 * prototype: nothing but this object is allocated per request.
 */
class LazyChildLogger {
  readonly #parent: FastifyBaseLogger;
  readonly #bindings: Bindings;
  readonly #options: ChildOptions;
  #child: FastifyBaseLogger | undefined;

  constructor(parent: FastifyBaseLogger, bindings: Bindings, options: ChildOptions) {
    this.#parent = parent;
    this.#bindings = bindings;
    this.#options = options;
  }

  #logger(): FastifyBaseLogger {
    this.#child ??= this.#parent.child(this.#bindings, this.#options);
    return this.#child;
  }

  get level(): string {
    return this.#child?.level ?? this.#options.level ?? this.#parent.level;
  }

  set level(level: string) {
    this.#logger().level = level;
  }

  // pino's overloaded methods, forwarded with their arguments as they are.
  fatal(...args: unknown[]): void {
    (this.#logger().fatal as (...args: unknown[]) => void)(...args);
  }
  error(...args: unknown[]): void {
    (this.#logger().error as (...args: unknown[]) => void)(...args);
  }
  warn(...args: unknown[]): void {
    (this.#logger().warn as (...args: unknown[]) => void)(...args);
  }
  info(...args: unknown[]): void {
    (this.#logger().info as (...args: unknown[]) => void)(...args);
  }
  debug(...args: unknown[]): void {
    (this.#logger().debug as (...args: unknown[]) => void)(...args);
  }
  trace(...args: unknown[]): void {
    (this.#logger().trace as (...args: unknown[]) => void)(...args);
  }
  silent(...args: unknown[]): void {
    (this.#logger().silent as (...args: unknown[]) => void)(...args);
  }

  child(bindings: Bindings, options?: ChildOptions): FastifyBaseLogger {
    return this.#logger().child(bindings, options);
  }
}

/**
 * Fastify's `childLoggerFactory` for {@link LazyChildLogger}.
 * @example
 * Fastify({ childLoggerFactory: lazyChildLogger });
 */
export const lazyChildLogger: ChildLoggerFactory = (logger, bindings, options) =>
  new LazyChildLogger(logger, bindings, options) as unknown as FastifyBaseLogger;

/** Where RequestLog writes its lines itself: the logger's stream and level. */
export interface RequestLineOptions {
  readonly stream: { write(line: string): void };
  readonly level: string;
}

/**
 * One log line per request, when it is answered, instead of Fastify's two ("incoming request",
 * "request completed"): method, route pattern, status, duration and the kind of caller. Never the
 * URL (a sign-in link's token, an email in a query), headers, cookies or bodies. Given the
 * logger's stream and level, it writes the line of an answered request itself, as pino would
 * write it (same fields in the same order): pino's generic serialization of the fields and the
 * request's child logger cost ~2 µs of every request. Failed requests are logged through pino.
 * @example
 * Fastify({ logController: new RequestLog({ stream, level: "info" }), childLoggerFactory: lazyChildLogger });
 * // {"level":30,"time":…,"pid":…,"hostname":"…","reqId":"req-1","method":"GET","route":"/v1/me","status":200,"ms":3,"caller":"user","msg":"request"}
 */
export class RequestLog extends LogController {
  /** Where this writes the lines itself; `null` when the level leaves them out, else via pino. */
  readonly #stream: { write(line: string): void } | null | undefined;
  /** `,"pid":…,"hostname":"…","reqId":`: what pino writes between the time and the request id. */
  readonly #between: string;

  constructor(lines?: RequestLineOptions) {
    super();
    this.#stream =
      lines === undefined
        ? undefined
        : (LEVEL_VALUES[lines.level] ?? 0) <= LEVEL_VALUES["info"]!
          ? lines.stream
          : null;
    this.#between = `,"pid":${process.pid},"hostname":${JSON.stringify(hostname())},${JSON.stringify(this.requestIdLogLabel)}:`;
  }

  override incomingRequest(): void {}

  /** An unknown route is answered as a 404 problem; its one line is the request's. */
  override routeNotFound(): void {}

  override requestCompleted(
    error: Error | null | undefined,
    request: FastifyRequest,
    reply: FastifyReply,
  ): void {
    const route = routePatternOf(request) ?? "(no route)";
    const status = reply.statusCode;
    const ms = Math.round(reply.elapsedTime);
    const caller = callerKindOf(request);
    if (error !== null && error !== undefined) {
      request.log.error(
        { method: request.method, route, status, ms, caller, err: error },
        "request failed",
      );
      return;
    }
    if (this.#stream === null) return;
    if (this.#stream === undefined) {
      request.log.info({ method: request.method, route, status, ms, caller }, "request");
      return;
    }
    this.#stream.write(
      `{"level":30,"time":${Date.now()}${this.#between}${JSON.stringify(request.id)},"method":${JSON.stringify(request.method)},"route":${JSON.stringify(route)},"status":${status},"ms":${ms},"caller":"${caller}","msg":"request"}\n`,
    );
  }
}
