import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { GatehouseError, isGatehouseError } from "@gatehouse/engine";
import type { RequestContext, ToolCallOutcome } from "@gatehouse/service";
import { ErrorCode } from "@gatehouse/service";
// The low-level Server: tools here are per member and carry raw JSON Schemas from the registry,
// which McpServer's registerTool (fixed Zod schemas at start-up) cannot express.
import type { Server } from "@modelcontextprotocol/sdk/server/index.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import type { FastifyReply, FastifyRequest } from "fastify";
import { requireCaller } from "../http/caller.ts";
import { problem, sendProblem } from "../http/problem.ts";
import { invitationDelivery } from "../mail/invitation-mail.ts";
import type { RouteOptions } from "./route-options.ts";

/** With a session, the workspace is named by this header (or the `workspace` query parameter). */
const WORKSPACE_HEADER = "x-gatehouse-workspace";
const MAX_WORKSPACE_ID = 100;

/**
 * The workspace an MCP request acts in: an API key's own; for a session, the one named by the
 * header or query parameter. Naming another workspace than the key's answers as if it did not
 * exist.
 */
/**
 * The MCP SDK (and the Zod it brings), loaded at the first MCP request: about half a second of
 * module loading that every start would pay otherwise (issue 17).
 */
async function loadSdk() {
  const [server, transport, types, validation] = await Promise.all([
    import("@modelcontextprotocol/sdk/server/index.js"),
    import("@modelcontextprotocol/sdk/server/streamableHttp.js"),
    import("@modelcontextprotocol/sdk/types.js"),
    import("@modelcontextprotocol/sdk/validation/ajv"),
  ]);
  return {
    Server: server.Server,
    StreamableHTTPServerTransport: transport.StreamableHTTPServerTransport,
    CallToolRequestSchema: types.CallToolRequestSchema,
    ListToolsRequestSchema: types.ListToolsRequestSchema,
    // One validator for every per-request server (only used for elicitation, which we never send).
    jsonSchemaValidator: new validation.AjvJsonSchemaValidator(),
  };
}

type Sdk = Awaited<ReturnType<typeof loadSdk>>;

function workspaceOf(request: FastifyRequest): string {
  const header = request.headers[WORKSPACE_HEADER];
  const query = (request.query as Record<string, unknown> | undefined)?.["workspace"];
  const named = [header, query].filter((value) => value !== undefined);
  if (
    named.some(
      (value) => typeof value !== "string" || value === "" || value.length > MAX_WORKSPACE_ID,
    )
  )
    throw new GatehouseError(ErrorCode.INVALID_INPUT, `${WORKSPACE_HEADER} is one workspace id`);
  if (new Set(named).size > 1)
    throw new GatehouseError(
      ErrorCode.INVALID_INPUT,
      `${WORKSPACE_HEADER} and ?workspace= name different workspaces`,
    );
  const wanted = named[0] as string | undefined;
  if (request.keyWorkspaceId !== undefined) {
    if (wanted !== undefined && wanted !== request.keyWorkspaceId)
      throw new GatehouseError(ErrorCode.WORKSPACE_NOT_FOUND, "no such workspace");
    return request.keyWorkspaceId;
  }
  if (wanted === undefined)
    throw new GatehouseError(
      ErrorCode.INVALID_INPUT,
      `with a session, name the workspace in ${WORKSPACE_HEADER} or ?workspace=`,
    );
  return wanted;
}

function textOf(value: unknown): string {
  return typeof value === "string" ? value : JSON.stringify(value ?? null);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** An allowed call's result, as MCP content (and structured content for JSON objects). */
function resultOf(outcome: ToolCallOutcome): CallToolResult {
  const result = outcome.status === "completed" ? outcome.result : { status: outcome.status };
  return {
    content: [{ type: "text", text: textOf(result) }],
    ...(isRecord(result) ? { structuredContent: result } : {}),
  };
}

/** A refused or failed call as an MCP tool error: the stable code first, then the explanation. */
function toolError(error: GatehouseError): CallToolResult {
  return {
    isError: true,
    content: [{ type: "text", text: `${error.code}: ${error.message}` }],
    structuredContent: {
      error: {
        code: error.code,
        message: error.message,
        ...(error.issues.length === 0
          ? {}
          : { issues: error.issues.map((issue) => ({ ...issue })) }),
      },
    },
  };
}

/**
 * The MCP server (Streamable HTTP at /mcp) of the assistant gate, stateless: every POST is authenticated with the
 * member's API key or session, and every tools/list and tools/call is decided against the
 * member's grants at that moment — no MCP session to keep, so any instance behind a load
 * balancer answers any request. GET (a server-to-client stream) and DELETE (ending a session)
 * have nothing to serve and answer 405.
 */
export const mcpRoutes: FastifyPluginAsyncTypebox<RouteOptions> = async (
  app,
  { gatehouse, config },
) => {
  let sdk: Promise<Sdk> | undefined;

  function serverFor(
    { Server, CallToolRequestSchema, ListToolsRequestSchema, jsonSchemaValidator }: Sdk,
    caller: RequestContext,
    workspaceId: string,
    request: FastifyRequest,
  ): Server {
    const server = new Server(
      { name: "gatehouse", version: "0.1.0" },
      {
        capabilities: { tools: { listChanged: false } },
        instructions:
          "Tools of this workspace that your member may use. Every call is checked again against the resource it names; a PERMISSION_DENIED answer is final — the member's role has to change, not the wording.",
        jsonSchemaValidator,
      },
    );
    server.setRequestHandler(ListToolsRequestSchema, async () => {
      const tools = await gatehouse.assistant.tools(caller, workspaceId);
      return {
        tools: tools
          .filter((tool) => tool.runsIn !== "host")
          .map((tool) => ({
            name: tool.name,
            description: tool.description,
            // Registration checked it: a JSON Schema object with type "object".
            inputSchema: tool.inputSchema as { type: "object"; [key: string]: unknown },
          })),
      };
    });
    server.setRequestHandler(CallToolRequestSchema, async ({ params }) => {
      try {
        const outcome = await gatehouse.assistant.call(
          caller,
          workspaceId,
          { tool: params.name, arguments: params.arguments },
          {
            runnableOnly: true,
            hooks: {
              deliverInvitation: invitationDelivery({
                gatehouse,
                config,
                mailer: app.mailer,
                caller,
                log: (error, invitation) =>
                  request.log.error({ err: error, invitation }, "invitation mail not sent"),
              }),
            },
          },
        );
        return resultOf(outcome);
      } catch (error) {
        if (isGatehouseError(error)) return toolError(error);
        request.log.error({ err: error }, "MCP tool call failed");
        return {
          isError: true,
          content: [{ type: "text", text: "INTERNAL: the call failed on our side; it was logged" }],
        };
      }
    });
    return server;
  }

  app.post(
    "/mcp",
    {
      schema: {
        tags: ["assistant"],
        summary: "MCP (Streamable HTTP, stateless): tools/list and tools/call for the caller",
        description: `Authenticate with \`Authorization: Bearer <API key>\` (the key's workspace) or the session cookie with \`x-csrf-token\` and the workspace in \`${WORKSPACE_HEADER}\` or \`?workspace=\`. JSON-RPC in, JSON out.`,
      },
    },
    async (request: FastifyRequest, reply: FastifyReply) => {
      const caller = requireCaller(request);
      const workspaceId = workspaceOf(request);
      // Outsiders are refused before any MCP exchange, as if the workspace did not exist.
      await gatehouse.workspaces.get(caller, workspaceId);
      sdk ??= loadSdk();
      const loaded = await sdk;
      const server = serverFor(loaded, caller, workspaceId, request);
      // No session id generator: stateless mode. JSON answers: nothing here streams.
      const transport = new loaded.StreamableHTTPServerTransport({ enableJsonResponse: true });
      reply.hijack();
      reply.raw.on("close", () => {
        transport
          .close()
          .then(() => server.close())
          .catch((error: unknown) => request.log.warn({ err: error }, "MCP transport close"));
      });
      await server.connect(transport);
      await transport.handleRequest(request.raw, reply.raw, request.body);
    },
  );

  for (const method of ["GET", "DELETE"] as const) {
    app.route({
      method,
      url: "/mcp",
      schema: { hide: true },
      handler: async (_request, reply) =>
        sendProblem(
          reply.header("allow", "POST"),
          problem(
            405,
            "METHOD_NOT_ALLOWED",
            "this MCP server is stateless: POST JSON-RPC requests",
          ),
        ),
    });
  }
};
