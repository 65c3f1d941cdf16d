import { GatehouseError, type Issue } from "@gatehouse/engine";
import type { ErrorObject, ValidateFunction } from "ajv";
import { Ajv } from "ajv";
import { Ajv2020 } from "ajv/dist/2020.js";
import formats from "ajv-formats";
import { ErrorCode } from "../support/error-codes.ts";

/** A JSON Schema object, as LLM tool formats carry it. */
export type JsonSchema = Readonly<Record<string, unknown>>;

const MAX_SCHEMA_BYTES = 32 * 1024;
const DRAFT_07 = /^https?:\/\/json-schema\.org\/draft-07\/schema#?$/;

/**
 * Strict: an unknown keyword (a typo such as `proprties`) is an error at registration, not a
 * silently unchecked field at call time. No remote `$ref` is ever fetched.
 */
const options = { strict: true, strictTypes: false, strictRequired: false, allErrors: true };
const draft2020 = new Ajv2020(options);
const draft07 = new Ajv(options);
formats.default(draft2020);
formats.default(draft07);

function invalid(message: string, issues: readonly Issue[] = []): GatehouseError {
  return new GatehouseError(ErrorCode.INVALID_INPUT, message, { issues });
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * Checks a tool's input schema: a JSON Schema (2020-12, or draft-07 when `$schema` says so) whose
 * root is `type: "object"`, as the Anthropic, OpenAI and MCP tool formats all require. Answers
 * the validator for call arguments.
 * @example
 * compileInputSchema({ type: "object", properties: { id: { type: "string" } }, required: ["id"] });
 */
export function compileInputSchema(schema: unknown): ValidateFunction {
  if (!isRecord(schema) || schema["type"] !== "object")
    throw invalid('inputSchema is a JSON Schema object with type "object"');
  if (JSON.stringify(schema).length > MAX_SCHEMA_BYTES)
    throw invalid(`inputSchema is at most ${MAX_SCHEMA_BYTES / 1024} KiB of JSON`);
  if (hasId(schema))
    throw invalid("inputSchema is self-contained: no $id (refer to $defs with $ref instead)");
  const declared = schema["$schema"];
  const ajv = typeof declared === "string" && DRAFT_07.test(declared) ? draft07 : draft2020;
  try {
    return ajv.compile(schema);
  } catch (error) {
    throw invalid(`inputSchema is not a valid JSON Schema: ${(error as Error).message}`);
  } finally {
    // Validators are kept by the caller; the shared instance keeps nothing of a tool's schema.
    ajv.removeSchema(schema);
  }
}

/** Schemas with an `$id` would be registered by it, and two tools' ids could collide. */
function hasId(value: unknown): boolean {
  if (Array.isArray(value)) return value.some(hasId);
  if (!isRecord(value)) return false;
  return Object.hasOwn(value, "$id") || Object.values(value).some(hasId);
}

/** Every problem of `value` against a compiled schema, each with its path; empty when valid. */
export function schemaIssues(validate: ValidateFunction, value: unknown): Issue[] {
  if (validate(value)) return [];
  return (validate.errors ?? []).map((error: ErrorObject) => ({
    path: `arguments${error.instancePath.replaceAll("/", ".")}`,
    message: error.message ?? "is invalid",
  }));
}
