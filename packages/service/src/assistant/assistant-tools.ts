import { GatehouseError, type Model } from "@gatehouse/engine";
import { ErrorCode } from "../support/error-codes.ts";
import { parseServiceUrl } from "../support/urls.ts";
import { compileInputSchema, type JsonSchema } from "./tool-schemas.ts";

/** What the host app registers for one tool of a workspace (the assistant gate). */
export interface ToolRegistration {
  /** 1–64 letters, digits, `_` and `-`: what Anthropic, OpenAI and MCP all accept. */
  readonly name: string;
  readonly description: string;
  /** A JSON Schema object (2020-12, or draft-07 via `$schema`) of the call's arguments. */
  readonly inputSchema: JsonSchema;
  /** The permission a call needs on its resource. */
  readonly permission: string;
  /**
   * `type:{field}`: the resource a call acts on, named by a required string field of its input
   * (e.g. `server:{id}`); omitted for tools acting on the whole workspace.
   */
  readonly resource?: string | null | undefined;
  /** HTTPS (or loopback HTTP) URL an allowed call is forwarded to; omitted when the host app runs it. */
  readonly endpoint?: string | null | undefined;
}

/** Where an allowed call runs: a Gatehouse team workflow, the tool's endpoint, or the host app itself. */
export type ToolRuntime = "gatehouse" | "endpoint" | "host";

/** A tool as the assistant gate knows it. */
export interface AssistantTool {
  readonly name: string;
  readonly description: string;
  readonly inputSchema: JsonSchema;
  readonly permission: string;
  readonly resource: string | null;
  readonly endpoint: string | null;
  readonly runsIn: ToolRuntime;
}

/** A registered tool as listed to those who manage the registry. */
export interface RegisteredTool extends AssistantTool {
  readonly createdAt: number;
  readonly updatedAt: number;
  /** `user:…`, `apikey:…` or `system:…`. */
  readonly updatedBy: string;
}

/** The declaration formats the assistant's model validates tool calls against (the gate's protocol layer). */
export type ToolFormat = "mcp" | "anthropic" | "openai";

export type ToolDeclaration =
  | { readonly name: string; readonly description: string; readonly inputSchema: JsonSchema }
  | { readonly name: string; readonly description: string; readonly input_schema: JsonSchema }
  | {
      readonly type: "function";
      readonly function: {
        readonly name: string;
        readonly description: string;
        readonly parameters: JsonSchema;
      };
    };

/** The intersection of the three formats' name rules. */
const TOOL_NAME = /^[a-zA-Z0-9_-]{1,64}$/;
/** Gatehouse's own team tools carry this prefix; the host app's tools may not. */
export const BUILT_IN_PREFIX = "gatehouse_";
const MAX_DESCRIPTION = 1024;
const RESOURCE_TEMPLATE = /^([a-z][a-z0-9_-]*):\{([A-Za-z_][A-Za-z0-9_-]{0,63})\}$/;
const REGISTRATION_KEYS = [
  "name",
  "description",
  "inputSchema",
  "permission",
  "resource",
  "endpoint",
];

function invalid(message: string): GatehouseError {
  return new GatehouseError(ErrorCode.INVALID_INPUT, message);
}

/** A tool name as the formats accept it, or INVALID_INPUT. */
export function parseToolName(value: unknown): string {
  if (typeof value !== "string" || !TOOL_NAME.test(value))
    throw invalid("a tool name is 1–64 letters, digits, _ and - (as LLM tool formats require)");
  return value;
}

/** The type and input field of a `type:{field}` resource template. */
export function parseResourceTemplate(template: string): { type: string; field: string } {
  const match = RESOURCE_TEMPLATE.exec(template);
  if (match === null) throw invalid('resource is a template "type:{field}", e.g. "server:{id}"');
  return { type: match[1]!, field: match[2]! };
}

/**
 * Checks a registration against the workspace's model: a well-formed name, description and
 * input schema; a known permission acting on the template's type (or on the workspace root); a
 * resource field the schema requires as a string; an HTTPS or loopback endpoint.
 */
export function parseRegistration(input: unknown, model: Model): AssistantTool {
  if (typeof input !== "object" || input === null || Array.isArray(input))
    throw invalid("a tool has a name, description, inputSchema and permission");
  const record = input as Record<string, unknown>;
  const unknown = Object.keys(record).filter((key) => !REGISTRATION_KEYS.includes(key));
  if (unknown.length > 0) throw invalid(`unknown fields: ${unknown.join(", ")}`);
  const name = parseToolName(record["name"]);
  if (name.startsWith(BUILT_IN_PREFIX))
    throw invalid(`tool names starting with ${BUILT_IN_PREFIX} are Gatehouse's own`);
  const description = record["description"];
  if (typeof description !== "string" || description.trim() === "")
    throw invalid("a tool needs a description (it is what the assistant reads)");
  if (description.length > MAX_DESCRIPTION)
    throw invalid(`a tool description is at most ${MAX_DESCRIPTION} characters`);
  const inputSchema = record["inputSchema"] as JsonSchema;
  compileInputSchema(inputSchema);

  const permission = record["permission"];
  if (typeof permission !== "string" || !model.permissions.includes(permission))
    throw new GatehouseError(
      ErrorCode.UNKNOWN_PERMISSION,
      `unknown permission "${String(permission)}" in model "${model.name}"`,
    );
  const rawResource = record["resource"] ?? null;
  let type: string = model.rootType;
  let resource: string | null = null;
  if (rawResource !== null) {
    if (typeof rawResource !== "string") throw invalid('resource is a template "type:{field}"');
    const template = parseResourceTemplate(rawResource);
    if (!model.types.includes(template.type))
      throw new GatehouseError(
        ErrorCode.UNKNOWN_RESOURCE_TYPE,
        `unknown resource type "${template.type}"`,
      );
    if (template.type === model.rootType)
      throw invalid("a tool acting on the workspace has no resource template");
    const properties = inputSchema["properties"] as Record<string, unknown> | undefined;
    const property = properties?.[template.field] as Record<string, unknown> | undefined;
    const required = inputSchema["required"];
    if (
      property?.["type"] !== "string" ||
      !Array.isArray(required) ||
      !required.includes(template.field)
    ) {
      throw invalid(
        `the input field "${template.field}" that names the resource must be a required string property`,
      );
    }
    type = template.type;
    resource = rawResource;
  }
  const acts = model.definition.permissions[permission]!.on;
  if (!(typeof acts === "string" ? [acts] : acts).includes(type))
    throw new GatehouseError(
      ErrorCode.PERMISSION_NOT_APPLICABLE_AT_SCOPE,
      `"${permission}" does not act on ${type} resources`,
    );
  const rawEndpoint = record["endpoint"] ?? null;
  const endpoint = rawEndpoint === null ? null : parseServiceUrl(rawEndpoint, "endpoint");
  return {
    name,
    description,
    inputSchema,
    permission,
    resource,
    endpoint,
    runsIn: endpoint === null ? "host" : "endpoint",
  };
}

/**
 * A tool declaration in one of the formats LLM APIs validate calls against.
 * @example
 * toolDeclaration(tool, "anthropic"); // { name, description, input_schema }
 * toolDeclaration(tool, "openai"); // { type: "function", function: { name, description, parameters } }
 */
export function toolDeclaration(tool: AssistantTool, format: ToolFormat): ToolDeclaration {
  const { name, description, inputSchema } = tool;
  switch (format) {
    case "mcp":
      return { name, description, inputSchema };
    case "anthropic":
      return { name, description, input_schema: inputSchema };
    case "openai":
      return { type: "function", function: { name, description, parameters: inputSchema } };
  }
}
