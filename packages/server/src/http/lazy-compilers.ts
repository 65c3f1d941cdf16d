import { createRequire } from "node:module";
import type { FastifyServerOptions } from "fastify";

type CompilersFactory = NonNullable<
  NonNullable<FastifyServerOptions["schemaController"]>["compilersFactory"]
>;
type Compiled = ((...args: unknown[]) => unknown) & { errors?: unknown; schemaEnv?: unknown };
/** What Fastify's compiler builders are, seen from here: schemas in, compiled functions out. */
type Builder = (externalSchemas: unknown, options: unknown) => (routeSchema: unknown) => Compiled;

// Fastify's own default builders, from its dependencies (the ones it uses when given none).
const fromFastify = createRequire(createRequire(import.meta.url).resolve("fastify"));
const defaultValidatorBuilder = (fromFastify("@fastify/ajv-compiler") as () => Builder)();
const defaultSerializerBuilder = (
  fromFastify("@fastify/fast-json-stringify-compiler") as () => Builder
)();

/**
 * A function standing for `compile()`'s result, compiled on its first call (or property read).
 * Called on every request (a route's params and body validators, its answer's serializer): two
 * fixed arguments (Fastify passes a validator `data` and Ajv's context, a serializer the payload),
 * no rest array nor `apply`, and `schemaEnv` a plain property once compiled (Fastify reads it
 * before every validation).
 */
function compiledOnFirstUse(compile: () => Compiled, pending: Set<() => Compiled>): Compiled {
  let compiled: Compiled | undefined;
  const target = () => {
    if (compiled === undefined) {
      compiled = compile();
      pending.delete(target);
      Object.defineProperty(lazy, "schemaEnv", { value: compiled.schemaEnv });
    }
    return compiled;
  };
  pending.add(target);
  const lazy = function (this: unknown, data: unknown, context?: unknown) {
    return (compiled ?? target()).call(this, data, context);
  } as Compiled;
  // Fastify reads a validator's `errors` after a failed call and passes the request along when it
  // has `schemaEnv` (as Ajv's functions do).
  Object.defineProperty(lazy, "errors", { get: () => (compiled ?? target()).errors });
  Object.defineProperty(lazy, "schemaEnv", {
    get: () => target().schemaEnv,
    configurable: true,
  });
  return lazy;
}

/**
 * Fastify's default schema compilers (Ajv for input, fast-json-stringify for responses) with each
 * route's validators and serializers compiled on first use instead of before the server is ready:
 * some 130 routes' schemas cost about a second of CPU at every start (issue 17). `compileAll`
 * compiles those not used yet (a test does, so a broken schema still fails before release).
 * Request header schemas must name headers in lower case: a custom compiler gets them as written.
 * @example
 * const compilers = lazySchemaCompilers();
 * Fastify({ schemaController: { compilersFactory: compilers.factory } });
 */
export function lazySchemaCompilers(): { factory: CompilersFactory; compileAll(): void } {
  const pending = new Set<() => Compiled>();
  const lazily =
    (build: Builder): Builder =>
    (externalSchemas, options) => {
      const compiler = build(externalSchemas, options);
      return (routeSchema) => {
        refuseMixedCaseHeaders(routeSchema);
        return compiledOnFirstUse(() => compiler(routeSchema), pending);
      };
    };
  return {
    factory: {
      buildValidator: lazily(defaultValidatorBuilder),
      buildSerializer: lazily(defaultSerializerBuilder),
    } as CompilersFactory,
    compileAll: () => {
      for (const compile of [...pending]) compile();
    },
  };
}

/** Fastify lower-cases a headers schema's names for its own compiler only: ask for lower case. */
function refuseMixedCaseHeaders(routeSchema: unknown): void {
  const { httpPart, schema, url } = routeSchema as {
    httpPart?: string;
    schema?: unknown;
    url?: string;
  };
  if (httpPart !== "headers" || typeof schema !== "object" || schema === null) return;
  const names = Object.keys((schema as { properties?: object }).properties ?? {});
  if (names.some((name) => name !== name.toLowerCase()))
    throw new Error(`${url}: name request headers in lower case in its schema`);
}
