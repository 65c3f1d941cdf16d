import { PROBLEM_CODES } from "./problem.ts";

/** The parts of an OpenAPI 3.1 document this file touches; the rest passes through. */
interface Document {
  readonly paths?: Readonly<Record<string, Readonly<Record<string, unknown>> | undefined>>;
  readonly components?: { readonly schemas?: Readonly<Record<string, unknown>> };
}
interface Operation {
  readonly responses?: Readonly<Record<string, unknown>>;
}

/** The problem document every error answers, as an OpenAPI schema (RFC 9457 with a stable code). */
const PROBLEM_SCHEMA = {
  type: "object",
  required: ["type", "title", "status", "code", "detail"],
  properties: {
    type: { type: "string" },
    title: { type: "string" },
    status: { type: "integer" },
    code: { type: "string", enum: [...PROBLEM_CODES] },
    detail: { type: "string" },
    issues: {
      type: "array",
      items: {
        type: "object",
        required: ["path", "message"],
        properties: { path: { type: "string" }, message: { type: "string" } },
      },
    },
  },
};

const PROBLEM_RESPONSE = {
  description: "An error, as `application/problem+json` with a stable `code`",
  content: { "application/problem+json": { schema: { $ref: "#/components/schemas/Problem" } } },
};

const METHODS = ["get", "put", "post", "delete", "patch"] as const;

/**
 * Completes the generated document with what every route answers on error: the `Problem` schema
 * and 4XX/5XX responses — so typed clients (the SDK) know error bodies and their codes.
 */
export function withProblems<T extends Document>(document: T): T {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const [path, item] of Object.entries(document.paths ?? {})) {
    if (item === undefined) continue;
    const completed: Record<string, unknown> = { ...item };
    for (const method of METHODS) {
      const operation = item[method] as Operation | undefined;
      if (operation === undefined) continue;
      completed[method] = {
        ...operation,
        responses: { ...operation.responses, "4XX": PROBLEM_RESPONSE, "5XX": PROBLEM_RESPONSE },
      };
    }
    paths[path] = completed;
  }
  return {
    ...document,
    paths,
    components: {
      ...document.components,
      schemas: { ...document.components?.schemas, Problem: PROBLEM_SCHEMA },
    },
  };
}
