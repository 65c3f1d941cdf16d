import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import type { ToolFormat } from "@gatehouse/service";
import { Type } from "@sinclair/typebox";
import { requireCaller } from "../http/caller.ts";
import {
  REVISION_HEADER,
  Revision,
  revisionHeader,
  strict,
  WorkspaceId,
  WorkspaceParams,
  withRevision,
} from "../http/schemas.ts";
import { invitationDelivery } from "../mail/invitation-mail.ts";
import type { RouteOptions } from "./route-options.ts";

const ToolName = Type.String({
  pattern: "^[a-zA-Z0-9_-]{1,64}$",
  description: "1–64 letters, digits, _ and - (what Anthropic, OpenAI and MCP all accept)",
});
const JsonObject = Type.Record(Type.String(), Type.Unknown());
const Nullable = <T extends ReturnType<typeof Type.String>>(schema: T) =>
  Type.Optional(Type.Union([schema, Type.Null()]));

const RegisteredToolSchema = Type.Object({
  name: Type.String(),
  description: Type.String(),
  inputSchema: JsonObject,
  permission: Type.String(),
  resource: Type.Union([Type.String(), Type.Null()]),
  endpoint: Type.Union([Type.String(), Type.Null()]),
  runsIn: Type.Union([Type.Literal("gatehouse"), Type.Literal("endpoint"), Type.Literal("host")]),
  createdAt: Type.Number(),
  updatedAt: Type.Number(),
  updatedBy: Type.String(),
});

const Format = Type.Union(
  [Type.Literal("mcp"), Type.Literal("anthropic"), Type.Literal("openai")],
  {
    description:
      'mcp: `{ name, description, inputSchema }`; anthropic: `{ name, description, input_schema }`; openai: `{ type: "function", function: { name, description, parameters } }`',
  },
);

/**
 * The assistant gate over REST: the caller's tool declarations in the formats LLM APIs
 * validate against, the runtime gate for a host app running its own assistant loop, and the
 * workspace's tool registry. MCP clients use `/mcp` instead.
 */
export const assistantRoutes: FastifyPluginAsyncTypebox<RouteOptions> = async (
  app,
  { gatehouse, config },
) => {
  const tags = ["assistant"];

  app.get(
    "/v1/workspaces/:ws/assistant/tools",
    {
      schema: {
        tags,
        summary: "The tools the caller's assistant may be told about, as declarations",
        description:
          "Only the tools whose permission the caller (or the API key) holds somewhere in the workspace: Gatehouse's team tools and the host app's. Decided against the current grants on every request.",
        params: WorkspaceParams,
        querystring: Type.Object({ format: Type.Optional(Format) }, strict),
        response: {
          200: Type.Object({ format: Format, tools: Type.Array(JsonObject) }),
        },
      },
    },
    async (request) => {
      const format: ToolFormat = request.query.format ?? "mcp";
      const tools = await gatehouse.assistant.declarations(
        requireCaller(request),
        request.params.ws,
        format,
      );
      return { format, tools: tools as unknown as Record<string, unknown>[] };
    },
  );

  app.post(
    "/v1/workspaces/:ws/assistant/calls",
    {
      schema: {
        tags,
        summary: "The runtime gate: check a tool call now, then run or forward it",
        description:
          "The call is decided again against the resource named in its arguments. Denied: 403 PERMISSION_DENIED with the explanation's summary (404 RESOURCE_NOT_FOUND outside the caller's reach), written to the activity log as the assistant acting for the member. Allowed: `completed` with the result of a team tool or of the tool's endpoint (502 TOOL_ENDPOINT_FAILED, 504 TOOL_ENDPOINT_TIMEOUT), or `authorized` for a tool without an endpoint, which the host app now runs.",
        params: WorkspaceParams,
        body: Type.Object({ tool: ToolName, arguments: Type.Optional(JsonObject) }, strict),
        response: {
          200: Type.Object({
            status: Type.Union([Type.Literal("completed"), Type.Literal("authorized")]),
            tool: Type.String(),
            resource: Type.String(),
            callId: Type.String({
              description: "Also the `jti` of the forwarded call's assertion",
            }),
            result: Type.Optional(Type.Unknown()),
          }),
        },
      },
    },
    async (request) => {
      const caller = requireCaller(request);
      return gatehouse.assistant.call(caller, request.params.ws, request.body, {
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
      });
    },
  );

  app.get(
    "/v1/workspaces/:ws/assistant/registry",
    {
      schema: {
        tags,
        summary: "Every tool registered in the workspace (for those who may change the settings)",
        params: WorkspaceParams,
        response: { 200: Type.Object({ tools: Type.Array(RegisteredToolSchema) }) },
      },
    },
    async (request) => ({
      tools: await gatehouse.assistant.registry(requireCaller(request), request.params.ws),
    }),
  );

  app.put(
    "/v1/workspaces/:ws/assistant/registry/:name",
    {
      schema: {
        tags,
        summary: "Register a tool, or replace the one of this name",
        description:
          "Needs the model's settings gate (the owner by default); the host app registers in process as the system actor. `permission` is what a call needs on its resource; `resource` is a template `type:{field}` naming the resource by a required string field of the input (the workspace when omitted); `endpoint` is where an allowed call is forwarded (HTTPS, or HTTP on loopback). " +
          `Answers the tool with \`revision\` and sets \`${REVISION_HEADER}\`.`,
        params: Type.Object({ ws: WorkspaceId, name: ToolName }, strict),
        body: Type.Object(
          {
            description: Type.String({ minLength: 1, maxLength: 1024 }),
            inputSchema: JsonObject,
            permission: Type.String({ minLength: 1, maxLength: 200 }),
            resource: Nullable(Type.String({ minLength: 1, maxLength: 200 })),
            endpoint: Nullable(Type.String({ minLength: 1, maxLength: 2000 })),
          },
          strict,
        ),
        response: {
          200: Type.Object(
            { tool: RegisteredToolSchema, revision: Type.Integer() },
            revisionHeader,
          ),
        },
      },
    },
    async (request, reply) => {
      const { tool, revision } = await gatehouse.assistant.registerTool(
        requireCaller(request),
        request.params.ws,
        { name: request.params.name, ...request.body },
      );
      return withRevision(reply, revision).send({ tool, revision });
    },
  );

  app.delete(
    "/v1/workspaces/:ws/assistant/registry/:name",
    {
      schema: {
        tags,
        summary: "Remove a registered tool",
        description: `Answers \`{ revision }\` and sets \`${REVISION_HEADER}\`; 404 TOOL_NOT_FOUND when there is none.`,
        params: Type.Object({ ws: WorkspaceId, name: ToolName }, strict),
        response: { 200: Revision },
      },
    },
    async (request, reply) => {
      const { revision } = await gatehouse.assistant.removeTool(
        requireCaller(request),
        request.params.ws,
        request.params.name,
      );
      return withRevision(reply, revision).send({ revision });
    },
  );
};
