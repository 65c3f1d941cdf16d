import { randomBytes } from "node:crypto";
import { GatehouseError, type ResourceRef, type SubjectRef } from "@gatehouse/engine";
import type { ValidateFunction } from "ajv";
import type { Selectable } from "kysely";
import { assistantFor, type RequestContext, subjectOf } from "../actor.ts";
import { actorLabel } from "../audit/actor-label.ts";
import type { AssistantToolsTable } from "../database/schema.ts";
import type { ServiceCore, WorkspaceReader, WorkspaceWriter } from "../service-core.ts";
import type { SigningKeys } from "../sign-in/signing-keys.ts";
import { ErrorCode } from "../support/error-codes.ts";
import { holdsSettingsGate } from "../team/gates.ts";
import {
  type AssistantTool,
  BUILT_IN_PREFIX,
  parseRegistration,
  parseResourceTemplate,
  parseToolName,
  type RegisteredTool,
  type ToolDeclaration,
  type ToolFormat,
  type ToolRegistration,
  toolDeclaration,
} from "./assistant-tools.ts";
import { type CallHooks, type TeamTool, type TeamWorkflows, teamTools } from "./team-tools.ts";
import { forwardToolCall } from "./tool-forwarding.ts";
import { compileInputSchema, schemaIssues } from "./tool-schemas.ts";

export interface AssistantOptions {
  /** How long a forwarded call may take, answer included; 10 seconds by default. */
  readonly toolTimeoutMs?: number;
}

/** A tool call as the assistant's model makes it. */
export interface ToolCall {
  readonly tool: string;
  readonly arguments?: Readonly<Record<string, unknown>> | undefined;
}

/**
 * An allowed call: `completed` with the result of a team workflow or of the tool's endpoint, or
 * `authorized` for a tool without an endpoint, which the host app now runs itself.
 */
export type ToolCallOutcome =
  | {
      readonly status: "completed";
      readonly tool: string;
      readonly resource: string;
      readonly callId: string;
      readonly result: unknown;
    }
  | {
      readonly status: "authorized";
      readonly tool: string;
      readonly resource: string;
      readonly callId: string;
    };

export interface CallOptions {
  readonly hooks?: CallHooks;
  /** Refuse tools without an endpoint (MCP serves only what it can run). */
  readonly runnableOnly?: boolean;
}

type ToolRow = Selectable<AssistantToolsTable>;

const ACTION = "assistant.tool.call";
const VALIDATOR_CACHE = 1000;

function toTool(row: ToolRow): RegisteredTool {
  return {
    name: row.name,
    description: row.description,
    inputSchema: JSON.parse(row.input_schema) as Record<string, unknown>,
    permission: row.permission,
    resource: row.resource,
    endpoint: row.endpoint,
    runsIn: row.endpoint === null ? "host" : "endpoint",
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    updatedBy: row.updated_by,
  };
}

function isBuiltIn(tool: AssistantTool): tool is TeamTool {
  return tool.runsIn === "gatehouse";
}

/**
 * The assistant gate: the host app's tools and Gatehouse's own team tools, shown to a
 * member's assistant only where the member may use them, and every call decided again at call
 * time against the resource in its input.
 */
export class Assistant {
  readonly #core: ServiceCore;
  readonly #keys: SigningKeys;
  readonly #workflows: TeamWorkflows;
  readonly #timeoutMs: number;
  /** Argument validators by workspace, tool and version. */
  readonly #validators = new Map<string, ValidateFunction>();

  constructor(
    core: ServiceCore,
    dependencies: { keys: SigningKeys; workflows: TeamWorkflows },
    options: AssistantOptions = {},
  ) {
    this.#core = core;
    this.#keys = dependencies.keys;
    this.#workflows = dependencies.workflows;
    this.#timeoutMs = options.toolTimeoutMs ?? 10_000;
  }

  /**
   * Registers a tool of the workspace, or replaces the one of that name: the host app (system
   * actor) always may, a member needs the model's settings gate (the owner by default).
   * @example
   * await gatehouse.assistant.registerTool(systemActor(), ws, {
   *   name: "restart_server",
   *   description: "Restart a server",
   *   inputSchema: { type: "object", properties: { id: { type: "string" } }, required: ["id"] },
   *   permission: "server.restart",
   *   resource: "server:{id}",
   *   endpoint: "https://panel.example/tools/restart-server",
   * });
   */
  async registerTool(
    request: RequestContext,
    workspaceId: string,
    registration: ToolRegistration,
  ): Promise<{ tool: RegisteredTool; revision: number }> {
    const { value, revision } = await this.#core.write(request, workspaceId, async (tx) => {
      const name = typeof registration?.name === "string" ? registration.name.slice(0, 64) : "";
      const record = { action: "assistant.tool.register", target: tx.root, details: { name } };
      await requireRegistryGate(tx, record);
      const tool = parseRegistration(registration, tx.model);
      const ws = tx.workspace.id;
      const existing = await tx.trx
        .selectFrom("assistant_tools")
        .select("created_at")
        .where("workspace_id", "=", ws)
        .where("name", "=", tool.name)
        .executeTakeFirst();
      const row: ToolRow = {
        workspace_id: ws,
        name: tool.name,
        description: tool.description,
        input_schema: JSON.stringify(tool.inputSchema),
        permission: tool.permission,
        resource: tool.resource,
        endpoint: tool.endpoint,
        created_at: existing?.created_at ?? tx.now,
        updated_at: tx.now,
        updated_by: actorLabel(tx.request),
      };
      if (existing === undefined) await tx.trx.insertInto("assistant_tools").values(row).execute();
      else
        await tx.trx
          .updateTable("assistant_tools")
          .set(row)
          .where("workspace_id", "=", ws)
          .where("name", "=", tool.name)
          .execute();
      tx.audit({
        ...record,
        details: {
          name: tool.name,
          permission: tool.permission,
          resource: tool.resource,
          endpoint: tool.endpoint,
          replaced: existing !== undefined,
        },
      });
      return toTool(row);
    });
    return { tool: value, revision };
  }

  /**
   * Removes a registered tool (host app or settings gate); TOOL_NOT_FOUND when there is none.
   * @example
   * await gatehouse.assistant.removeTool(systemActor(), ws, "restart_server");
   */
  async removeTool(
    request: RequestContext,
    workspaceId: string,
    name: string,
  ): Promise<{ revision: number }> {
    const { revision } = await this.#core.write(request, workspaceId, async (tx) => {
      const record = {
        action: "assistant.tool.remove",
        target: tx.root,
        details: { name: String(name).slice(0, 64) },
      };
      await requireRegistryGate(tx, record);
      const deleted = await tx.trx
        .deleteFrom("assistant_tools")
        .where("workspace_id", "=", tx.workspace.id)
        .where("name", "=", parseToolName(name))
        .executeTakeFirst();
      if (Number(deleted.numDeletedRows) === 0)
        throw new GatehouseError(ErrorCode.TOOL_NOT_FOUND, `no tool ${name} is registered`);
      tx.audit(record);
    });
    return { revision };
  }

  /**
   * Every registered tool of the workspace, whoever may use it (host app or settings gate).
   * @example
   * const names = (await gatehouse.assistant.registry(systemActor(), ws)).map((tool) => tool.name);
   */
  async registry(request: RequestContext, workspaceId: string): Promise<RegisteredTool[]> {
    const reader = await this.#core.read(request, workspaceId);
    if (!holdsSettingsGate(reader)) {
      await this.#core.recordDenial(request, reader.workspace.id, {
        action: "assistant.tool.registry",
        target: reader.root,
      });
      throw new GatehouseError(
        ErrorCode.PERMISSION_DENIED,
        "the tool registry is managed by the host app and those who may change the settings",
      );
    }
    return (await this.#rows(reader)).map(toTool);
  }

  /**
   * The tools the caller's assistant is told about (the gate's visibility layer): Gatehouse's team tools and
   * the host app's, each only when the member — through the API key, when the caller is one —
   * holds its permission somewhere. Decided against the current grants on every call.
   * @example
   * const tools = await gatehouse.assistant.tools(asUser(bill), ws); // no VPS tools for billing
   */
  async tools(request: RequestContext, workspaceId: string): Promise<AssistantTool[]> {
    const assistant = requireAssistant(request);
    const reader = await this.#core.read(assistant, workspaceId);
    const subject = subjectOf(assistant.actor)!;
    const all: AssistantTool[] = [
      ...teamTools(reader.model),
      ...(await this.#rows(reader)).map(toTool),
    ];
    const usable = await Promise.all(all.map((tool) => isUsable(reader, subject, tool)));
    return all.filter((_, index) => usable[index]);
  }

  /**
   * The caller's tools as declarations in one of the formats LLM APIs validate calls against.
   * @example
   * const tools = await gatehouse.assistant.declarations(asUser(bill), ws, "anthropic");
   */
  async declarations(
    request: RequestContext,
    workspaceId: string,
    format: ToolFormat,
  ): Promise<ToolDeclaration[]> {
    return (await this.tools(request, workspaceId)).map((tool) => toolDeclaration(tool, format));
  }

  /**
   * The runtime gate: checks a call again, now, against the resource named in its
   * arguments. A denied call is written to the activity log as the assistant acting for the
   * member and answers PERMISSION_DENIED with the explanation's summary — or RESOURCE_NOT_FOUND,
   * exactly as for a resource that does not exist, when the resource is outside the member's
   * reach. An allowed call is logged, then forwarded to the tool's endpoint or run by its
   * team workflow.
   * @example
   * await gatehouse.assistant.call(asUser(bill), ws, { tool: "restart_vps", arguments: {} }); // PERMISSION_DENIED
   */
  async call(
    request: RequestContext,
    workspaceId: string,
    call: ToolCall,
    options: CallOptions = {},
  ): Promise<ToolCallOutcome> {
    const assistant = requireAssistant(request);
    const name = parseToolName(call?.tool);
    const args = call.arguments ?? {};
    if (typeof args !== "object" || args === null || Array.isArray(args))
      throw new GatehouseError(ErrorCode.INVALID_INPUT, "a tool's arguments are an object");
    const callId = randomBytes(16).toString("base64url");
    if (name.startsWith(BUILT_IN_PREFIX))
      return this.#callTeamTool(assistant, workspaceId, { name, args, callId }, options);

    const { value: allowed } = await this.#core.write(assistant, workspaceId, async (tx) => {
      const record = { action: ACTION, target: tx.root, details: { tool: name, callId } };
      await tx.requireMember(record);
      const row = await tx.trx
        .selectFrom("assistant_tools")
        .selectAll()
        .where("workspace_id", "=", tx.workspace.id)
        .where("name", "=", name)
        .executeTakeFirst();
      if (row === undefined || (options.runnableOnly === true && row.endpoint === null))
        throw new GatehouseError(
          ErrorCode.TOOL_NOT_FOUND,
          row === undefined
            ? `no tool ${name} in this workspace`
            : `${name} runs in the host app, not over MCP`,
        );
      const tool = toTool(row);
      const subject = subjectOf(tx.request.actor)!;
      const denied = { ...record, details: { ...record.details, permission: tool.permission } };
      if (!usableSomewhere(tx, subject, tool)) {
        const summary =
          tool.resource === null
            ? tx.engine.explain(subject, tool.permission, tx.root).summary
            : `denied: ${tool.name} needs ${tool.permission}, which you hold nowhere in this workspace`;
        tx.deny(denied, summary);
      }
      const issues = schemaIssues(this.#validator(row), args);
      if (issues.length > 0)
        throw new GatehouseError(
          ErrorCode.INVALID_INPUT,
          `the arguments of ${name} do not match its input schema`,
          { issues },
        );
      const resource = resourceOf(tool, args, tx.root);
      const decision = tx.engine.check(subject, tool.permission, resource);
      if (!decision.allowed) {
        const at = {
          ...denied,
          target: resource,
          details: { ...denied.details, reason: decision.reason },
        };
        if (!tx.engine.hasResource(resource) || !tx.engine.reaches(subject, resource))
          tx.deny(at, `no resource ${resource} in this workspace`, ErrorCode.RESOURCE_NOT_FOUND);
        return tx.deny(at, tx.engine.explain(subject, tool.permission, resource).summary);
      }
      tx.audit({
        action: ACTION,
        target: resource,
        details: {
          tool: name,
          callId,
          permission: tool.permission,
          role: decision.via.role,
          scope: decision.via.scope,
          runsIn: tool.runsIn,
        },
      });
      return { tool, resource, via: decision.via };
    });

    const { tool, resource, via } = allowed;
    if (tool.endpoint === null) return { status: "authorized", tool: name, resource, callId };
    const actor = assistant.actor as { userId: string; keyId?: string };
    const result = await forwardToolCall(
      this.#keys,
      {
        endpoint: tool.endpoint,
        callId,
        workspaceId,
        tool: name,
        resource,
        arguments: args,
        userId: actor.userId,
        keyId: actor.keyId,
        via: { role: via.role, scope: via.scope },
      },
      this.#timeoutMs,
    );
    return { status: "completed", tool: name, resource, callId, result };
  }

  /** Team tools: the gate of their permission here, then their workflow, which authorizes again. */
  async #callTeamTool(
    assistant: RequestContext,
    workspaceId: string,
    call: { name: string; args: Readonly<Record<string, unknown>>; callId: string },
    options: CallOptions,
  ): Promise<ToolCallOutcome> {
    const reader = await this.#core.read(assistant, workspaceId);
    const tool = teamTools(reader.model).find((candidate) => candidate.name === call.name);
    if (tool === undefined)
      throw new GatehouseError(ErrorCode.TOOL_NOT_FOUND, `no tool ${call.name} in this workspace`);
    const subject = subjectOf(assistant.actor)!;
    if (!(await isUsable(reader, subject, tool))) {
      await this.#core.recordDenial(assistant, reader.workspace.id, {
        action: ACTION,
        target: reader.root,
        details: { tool: tool.name, callId: call.callId, permission: tool.permission },
      });
      throw new GatehouseError(
        ErrorCode.PERMISSION_DENIED,
        tool.everyMember === true
          ? `denied: ${tool.name} is for members holding a live grant in this workspace`
          : tool.usableBy !== undefined
            ? `denied: ${tool.name} is for members with an eligibility in this workspace`
            : reader.engine.explain(subject, tool.permission, reader.root).summary,
      );
    }
    const issues = schemaIssues(tool.validate, call.args);
    if (issues.length > 0)
      throw new GatehouseError(
        ErrorCode.INVALID_INPUT,
        `the arguments of ${tool.name} do not match its input schema`,
        { issues },
      );
    const result = await tool.run({
      request: assistant,
      workspaceId: reader.workspace.id,
      arguments: call.args,
      workflows: this.#workflows,
      hooks: options.hooks ?? {},
    });
    return {
      status: "completed",
      tool: tool.name,
      resource: reader.root,
      callId: call.callId,
      result,
    };
  }

  async #rows(reader: WorkspaceReader): Promise<ToolRow[]> {
    return reader.db
      .selectFrom("assistant_tools")
      .selectAll()
      .where("workspace_id", "=", reader.workspace.id)
      .orderBy("name")
      .execute();
  }

  #validator(row: ToolRow): ValidateFunction {
    const key = `${row.workspace_id}\n${row.name}\n${row.updated_at}\n${row.input_schema}`;
    let validate = this.#validators.get(key);
    if (validate === undefined) {
      validate = compileInputSchema(JSON.parse(row.input_schema));
      if (this.#validators.size >= VALIDATOR_CACHE) {
        const oldest = this.#validators.keys().next().value;
        if (oldest !== undefined) this.#validators.delete(oldest);
      }
      this.#validators.set(key, validate);
    }
    return validate;
  }
}

/** The assistant acting for the caller; the host app names the member with `asAssistant`. */
function requireAssistant(request: RequestContext): RequestContext {
  const assistant = assistantFor(request);
  if (assistant === undefined)
    throw new GatehouseError(
      ErrorCode.INVALID_INPUT,
      "the assistant acts for a member: call as the member, or with asAssistant(userId)",
    );
  return assistant;
}

async function requireRegistryGate(
  tx: WorkspaceWriter,
  record: { action: string; target: string; details: Record<string, unknown> },
): Promise<void> {
  await tx.requireMember(record);
  if (!holdsSettingsGate(tx))
    tx.deny(
      record,
      "the tool registry is managed by the host app and those who may change the settings",
    );
}

/** `usableSomewhere`, or a self-service team tool's own test (`usableBy`). */
async function isUsable(
  reader: WorkspaceReader,
  subject: SubjectRef,
  tool: AssistantTool,
): Promise<boolean> {
  if (isBuiltIn(tool) && tool.usableBy !== undefined) return tool.usableBy(reader, subject);
  return usableSomewhere(reader, subject, tool);
}

/**
 * Whether the member may use the tool at some resource: its permission held at a resource of the
 * template's type (or at the root); team tools as their workflows gate them.
 */
function usableSomewhere(
  reader: WorkspaceReader,
  subject: SubjectRef,
  tool: AssistantTool,
): boolean {
  const engine = reader.engine;
  // Asking for access is open to every member with a live grant (the root is within their reach);
  // an API key holds only its permission patterns, which name no such tools.
  if (isBuiltIn(tool) && tool.everyMember === true)
    return !subject.startsWith("apikey:") && engine.reaches(subject, reader.root);
  if (engine.holds(subject, tool.permission, reader.root).allowed) return true;
  if (isBuiltIn(tool)) {
    if (!tool.anywhere) return false;
    const acts = reader.model.definition.permissions[tool.permission]?.on ?? [];
    return (typeof acts === "string" ? [acts] : acts).some(
      (type) => engine.listVisible(subject, type, tool.permission, { limit: 1 }).items.length > 0,
    );
  }
  if (tool.resource === null) return false;
  const { type } = parseResourceTemplate(tool.resource);
  return engine.listVisible(subject, type, tool.permission, { limit: 1 }).items.length > 0;
}

/** The resource a call acts on: `type:<value of the field>`, or the workspace root. */
function resourceOf(
  tool: AssistantTool,
  args: Readonly<Record<string, unknown>>,
  root: ResourceRef,
): ResourceRef {
  if (tool.resource === null) return root;
  const { type, field } = parseResourceTemplate(tool.resource);
  return `${type}:${String(args[field])}` as ResourceRef;
}
