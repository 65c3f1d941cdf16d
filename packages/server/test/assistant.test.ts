import { systemActor } from "@gatehouse/service";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { startToolEndpoint } from "../../service/test/support/tool-endpoint.ts";
import {
  backends,
  call,
  expectProblem,
  openServer,
  type Session,
  signUp,
  type TestServer,
} from "./harness.ts";

const RESTART_VPS = {
  description: "Restart a VPS",
  inputSchema: {
    type: "object",
    properties: { id: { type: "string" } },
    required: ["id"],
    additionalProperties: false,
  },
  permission: "vps.restart",
};

describe.each(backends)("the assistant gate over REST on $name", { timeout: 30_000 }, (backend) => {
  let server: TestServer;
  let endpoint: Awaited<ReturnType<typeof startToolEndpoint>>;

  beforeEach(async () => {
    server = await openServer(backend);
    endpoint = await startToolEndpoint(() => ({ status: 200, json: { done: true } }));
  });
  afterEach(async () => {
    await endpoint.close();
    await server.close();
  });

  async function company() {
    const olivia = await signUp(server.app, "olivia");
    const ws: string = (
      await call(server.app, olivia, "POST", "/v1/workspaces", {
        name: "Heart of Gold",
        preset: "company",
        plan: "premium",
      })
    ).json().id;
    const people: Record<string, Session> = { olivia };
    for (const [name, role] of [
      ["tom", "technical"],
      ["bill", "billing"],
    ] as const) {
      people[name] = await signUp(server.app, name);
      await server.gatehouse.members.add(systemActor(), ws, {
        userId: people[name]!.userId,
        grants: [{ role, scope: `workspace:${ws}` }],
      });
    }
    const registered = await call(
      server.app,
      olivia,
      "PUT",
      `/v1/workspaces/${ws}/assistant/registry/restart_vps`,
      { ...RESTART_VPS, endpoint: endpoint.url },
    );
    expect(registered.statusCode).toBe(200);
    expect(registered.headers["x-gatehouse-revision"]).toBe(String(registered.json().revision));
    return { ws, ...(people as Record<"olivia" | "tom" | "bill", Session>) };
  }

  const tools = (member: Session, ws: string, format: string) =>
    call(server.app, member, "GET", `/v1/workspaces/${ws}/assistant/tools?format=${format}`);
  /** The answer with Gatehouse's tools for every member (asking for access) left out. */
  const hostTools = async (member: Session, ws: string, format: string) => {
    const { tools: all, ...rest } = (await tools(member, ws, format)).json() as {
      tools: { name?: string; function?: { name: string } }[];
    };
    const asking = [
      "gatehouse_request_access",
      "gatehouse_list_access_requests",
      "gatehouse_withdraw_access_request",
      "gatehouse_list_eligibilities",
    ];
    return {
      ...rest,
      tools: all.filter((tool) => !asking.includes(tool.name ?? tool.function?.name ?? "")),
    };
  };

  it("exports each member's declarations in the Anthropic and OpenAI formats", async () => {
    const { ws, tom, bill } = await company();
    expect(await hostTools(tom, ws, "anthropic")).toEqual({
      format: "anthropic",
      tools: [
        {
          name: "restart_vps",
          description: "Restart a VPS",
          input_schema: RESTART_VPS.inputSchema,
        },
      ],
    });
    expect((await hostTools(tom, ws, "openai")).tools).toEqual([
      {
        type: "function",
        function: {
          name: "restart_vps",
          description: "Restart a VPS",
          parameters: RESTART_VPS.inputSchema,
        },
      },
    ]);
    expect((await hostTools(bill, ws, "mcp")).tools).toEqual([]);
    expectProblem(await tools(tom, ws, "gemini"), 400, "INVALID_INPUT");
  });

  it("gates calls at call time: 403 with the explanation for billing, forwarded for technical", async () => {
    const { ws, olivia, tom, bill } = await company();
    const body = { tool: "restart_vps", arguments: { id: "vps-1" } };
    const refused = await call(
      server.app,
      bill,
      "POST",
      `/v1/workspaces/${ws}/assistant/calls`,
      body,
    );
    expectProblem(refused, 403, "PERMISSION_DENIED");
    expect(refused.json().detail).toContain("vps.restart");
    const done = await call(server.app, tom, "POST", `/v1/workspaces/${ws}/assistant/calls`, body);
    expect(done.statusCode).toBe(200);
    expect(done.json()).toMatchObject({
      status: "completed",
      tool: "restart_vps",
      resource: `workspace:${ws}`,
      result: { done: true },
    });
    expect(endpoint.calls).toHaveLength(1);
    expect(endpoint.calls[0]!.headers["cookie"]).toBeUndefined();
    const log = await call(
      server.app,
      olivia,
      "GET",
      `/v1/workspaces/${ws}/audit?action=assistant.tool.call`,
    );
    expect(
      log
        .json()
        .entries.map((entry: { result: string; actor: { type: string } }) => [
          entry.actor.type,
          entry.result,
        ]),
    ).toEqual([
      ["assistant", "success"],
      ["assistant", "denied"],
    ]);
    expectProblem(
      await call(server.app, tom, "POST", `/v1/workspaces/${ws}/assistant/calls`, {
        tool: "restart_vps",
        arguments: { id: 1 },
      }),
      400,
      "INVALID_INPUT",
    );
    expectProblem(
      await call(server.app, tom, "POST", `/v1/workspaces/${ws}/assistant/calls`, { tool: "nope" }),
      404,
      "TOOL_NOT_FOUND",
    );
  });

  it("keeps the registry to those who may change the settings", async () => {
    const { ws, olivia, tom } = await company();
    const registry = `/v1/workspaces/${ws}/assistant/registry`;
    expect((await call(server.app, olivia, "GET", registry)).json().tools).toMatchObject([
      {
        name: "restart_vps",
        permission: "vps.restart",
        endpoint: endpoint.url,
        runsIn: "endpoint",
        updatedBy: `user:${olivia.userId}`,
      },
    ]);
    expectProblem(await call(server.app, tom, "GET", registry), 403, "PERMISSION_DENIED");
    expectProblem(
      await call(server.app, tom, "PUT", `${registry}/restart_vps`, RESTART_VPS),
      403,
      "PERMISSION_DENIED",
    );
    expectProblem(
      await call(server.app, olivia, "PUT", `${registry}/bad_tool`, {
        ...RESTART_VPS,
        endpoint: "http://tools.example/call",
      }),
      400,
      "INVALID_INPUT",
    );
    expectProblem(
      await call(server.app, olivia, "PUT", `${registry}/bad%20name`, RESTART_VPS),
      400,
      "INVALID_INPUT",
    );
    const removed = await call(server.app, olivia, "DELETE", `${registry}/restart_vps`);
    expect(removed.statusCode).toBe(200);
    expect((await hostTools(tom, ws, "mcp")).tools).toEqual([]);
    expectProblem(
      await call(server.app, olivia, "DELETE", `${registry}/restart_vps`),
      404,
      "TOOL_NOT_FOUND",
    );
  });
});
