import type { AddressInfo } from "node:net";
import { asUser, systemActor } from "@gatehouse/service";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { createRemoteJWKSet, jwtVerify } from "jose";
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

/** The tool of the company panel's documentation: "When a billing user says 'restart the VPS', Morpheus tells them …". */
const RESTART_VPS = {
  description: "Restart a VPS",
  inputSchema: {
    type: "object",
    properties: { id: { type: "string", description: "The VPS to restart" } },
    required: ["id"],
    additionalProperties: false,
  },
  permission: "vps.restart",
};

interface ToolText {
  readonly isError?: boolean;
  readonly content: readonly { readonly type: string; readonly text?: string }[];
  readonly structuredContent?: Record<string, unknown>;
}

describe.each(backends)("the MCP server at /mcp on $name", { timeout: 30_000 }, (backend) => {
  let server: TestServer;
  let base: string;
  let endpoint: Awaited<ReturnType<typeof startToolEndpoint>>;
  const clients: Client[] = [];

  beforeEach(async () => {
    server = await openServer(backend);
    await server.app.listen({ port: 0, host: "127.0.0.1" });
    base = `http://127.0.0.1:${(server.app.server.address() as AddressInfo).port}`;
    endpoint = await startToolEndpoint((received) => ({
      status: 200,
      json: {
        restarted: (JSON.parse(received.body) as { arguments: { id: string } }).arguments.id,
      },
    }));
  });
  afterEach(async () => {
    for (const client of clients.splice(0)) await client.close();
    await endpoint.close();
    await server.close();
  });

  /** A `company` workspace owned by Olivia, with Tom (technical) and Bill (billing), and restart_vps. */
  async function company() {
    const olivia = await signUp(server.app, "olivia");
    const created = await call(server.app, olivia, "POST", "/v1/workspaces", {
      name: "Heart of Gold",
      preset: "company",
      plan: "premium",
    });
    const ws: string = created.json().id;
    const root = `workspace:${ws}`;
    const tom = await signUp(server.app, "tom");
    const bill = await signUp(server.app, "bill");
    for (const [member, role] of [
      [tom, "technical"],
      [bill, "billing"],
    ] as const) {
      await server.gatehouse.members.add(systemActor(), ws, {
        userId: member.userId,
        grants: [{ role, scope: root }],
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
    return { ws, root, olivia, tom, bill };
  }

  /** An API key of `member` for their assistant (the MCP client's credential). */
  async function keyOf(member: Session, ws: string, scopes = ["*"]): Promise<string> {
    const response = await call(server.app, member, "POST", `/v1/workspaces/${ws}/api-keys`, {
      name: "assistant",
      scopes,
    });
    expect(response.statusCode).toBe(201);
    return response.json().secret;
  }

  async function connect(headers: Record<string, string>, path = "/mcp"): Promise<Client> {
    const client = new Client({ name: "gatehouse-test", version: "1.0.0" });
    await client.connect(
      new StreamableHTTPClientTransport(new URL(`${base}${path}`), { requestInit: { headers } }),
    );
    clients.push(client);
    return client;
  }

  const bearer = (secret: string) => ({ authorization: `Bearer ${secret}` });
  const toolNames = async (client: Client) =>
    (await client.listTools()).tools.map((tool) => tool.name);

  it("tells a billing member's assistant no VPS tools, and a technical member's restart_vps", async () => {
    const { ws, tom, bill } = await company();
    const billing = await connect(bearer(await keyOf(bill, ws)));
    const technical = await connect(bearer(await keyOf(tom, ws)));
    expect(await toolNames(billing)).not.toContain("restart_vps");
    expect((await billing.listTools()).tools.some((tool) => tool.name.includes("vps"))).toBe(false);
    const tools = (await technical.listTools()).tools;
    expect(tools.map((tool) => tool.name)).toEqual(["restart_vps"]);
    expect(tools[0]).toMatchObject({
      name: "restart_vps",
      description: "Restart a VPS",
      inputSchema: RESTART_VPS.inputSchema,
    });
  });

  it("answers restart_vps called anyway by the billing member with PERMISSION_DENIED, and logs it", async () => {
    const { ws, root, olivia, bill } = await company();
    const secret = await keyOf(bill, ws);
    const billing = await connect(bearer(secret));
    const result = (await billing.callTool({
      name: "restart_vps",
      arguments: { id: "vps-1" },
    })) as ToolText;
    expect(result.isError).toBe(true);
    const text = result.content[0]?.text ?? "";
    expect(text).toMatch(/^PERMISSION_DENIED: /);
    // The same explanation the key gets from the decisions API.
    const explained = await server.app.inject({
      method: "POST",
      url: `/v1/workspaces/${ws}/explain`,
      headers: bearer(secret),
      payload: { permission: "vps.restart", resource: root },
    });
    expect(text).toBe(`PERMISSION_DENIED: ${explained.json().summary}`);
    expect(result.structuredContent).toMatchObject({ error: { code: "PERMISSION_DENIED" } });
    expect(endpoint.calls).toEqual([]);
    const log = await call(
      server.app,
      olivia,
      "GET",
      `/v1/workspaces/${ws}/audit?action=assistant.tool.call`,
    );
    expect(log.json().entries[0]).toMatchObject({
      actor: { type: "assistant", onBehalfOf: bill.userId },
      action: "assistant.tool.call",
      target: root,
      result: "denied",
      details: { tool: "restart_vps", permission: "vps.restart" },
    });
  });

  it("forwards the technical member's call to the tool endpoint, signed by keys published in the JWKS", async () => {
    const { ws, tom } = await company();
    const secret = await keyOf(tom, ws);
    const technical = await connect(bearer(secret));
    const result = (await technical.callTool({
      name: "restart_vps",
      arguments: { id: "vps-1" },
    })) as ToolText;
    expect(result.isError).toBeFalsy();
    expect(result.structuredContent).toEqual({ restarted: "vps-1" });
    expect(JSON.parse(result.content[0]?.text ?? "")).toEqual({ restarted: "vps-1" });
    expect(endpoint.calls).toHaveLength(1);
    const forwarded = endpoint.calls[0]!;
    expect(JSON.stringify(forwarded.headers)).not.toContain(secret);
    expect(forwarded.body).not.toContain(secret);
    const jwks = createRemoteJWKSet(new URL(`${base}/.well-known/jwks.json`));
    const { payload } = await jwtVerify(String(forwarded.headers["gatehouse-assertion"]), jwks, {
      issuer: "http://localhost:8080",
      audience: endpoint.url,
      typ: "gatehouse-tool-call+jwt",
      currentDate: new Date(server.clock.now),
    });
    expect(payload).toMatchObject({ sub: tom.userId, tool: "restart_vps", role: "technical" });
  });

  it("refuses the next call once the technical member is demoted, on the same connection", async () => {
    const { ws, root, olivia, tom } = await company();
    const technical = await connect(bearer(await keyOf(tom, ws)));
    const restart = () => technical.callTool({ name: "restart_vps", arguments: { id: "vps-1" } });
    expect(((await restart()) as ToolText).isError).toBeFalsy();
    const demoted = await call(
      server.app,
      olivia,
      "PATCH",
      `/v1/workspaces/${ws}/members/${tom.userId}`,
      {
        grants: [{ role: "billing", scope: root }],
      },
    );
    expect(demoted.statusCode).toBe(200);
    const refused = (await restart()) as ToolText;
    expect(refused.isError).toBe(true);
    expect(refused.content[0]?.text).toMatch(/^PERMISSION_DENIED: /);
    expect(await toolNames(technical)).not.toContain("restart_vps");
    expect(endpoint.calls).toHaveLength(1);
  });

  it("serves a signed-in session too, with the workspace named in a header or the query", async () => {
    const { ws, tom } = await company();
    // A person (not a key) also has Gatehouse's tools for asking for access.
    const asking = [
      "gatehouse_request_access",
      "gatehouse_list_access_requests",
      "gatehouse_withdraw_access_request",
      "gatehouse_list_eligibilities",
    ];
    const viaHeader = await connect({ ...tom.headers, "x-gatehouse-workspace": ws });
    expect(await toolNames(viaHeader)).toEqual([...asking, "restart_vps"]);
    const viaQuery = await connect(tom.headers, `/mcp?workspace=${ws}`);
    expect(await toolNames(viaQuery)).toEqual([...asking, "restart_vps"]);
    await expect(connect(tom.headers)).rejects.toThrow();
  });

  it("refuses bad credentials, outsiders and another workspace than the key's, before any MCP exchange", async () => {
    const { ws, tom } = await company();
    const eve = await signUp(server.app, "eve");
    const initialize = {
      jsonrpc: "2.0",
      id: 1,
      method: "initialize",
      params: {
        protocolVersion: "2025-06-18",
        capabilities: {},
        clientInfo: { name: "curl", version: "1" },
      },
    };
    const post = (headers: Record<string, string>) =>
      server.app.inject({
        method: "POST",
        url: "/mcp",
        headers: { accept: "application/json, text/event-stream", ...headers },
        payload: initialize,
      });
    expectProblem(await post({}), 401, "INVALID_CREDENTIALS");
    expectProblem(await post(bearer("gh_notakey")), 401, "INVALID_CREDENTIALS");
    expectProblem(
      await post({ ...eve.headers, "x-gatehouse-workspace": ws }),
      404,
      "WORKSPACE_NOT_FOUND",
    );
    expectProblem(
      await post({ ...bearer(await keyOf(tom, ws)), "x-gatehouse-workspace": "elsewhere" }),
      404,
      "WORKSPACE_NOT_FOUND",
    );
    expectProblem(await post(tom.headers), 400, "INVALID_INPUT");
    const ok = await post(bearer(await keyOf(tom, ws)));
    expect(ok.statusCode).toBe(200);
    expect(ok.json()).toMatchObject({ id: 1, result: { serverInfo: { name: "gatehouse" } } });
    const stream = await server.app.inject({
      method: "GET",
      url: "/mcp",
      headers: bearer(await keyOf(tom, ws)),
    });
    expectProblem(stream, 405, "METHOD_NOT_ALLOWED");
  });

  it("offers Gatehouse's team tools to those who may manage people, inviting by mail", async () => {
    const { ws, olivia, bill } = await company();
    const owner = await connect(bearer(await keyOf(olivia, ws)));
    expect(await toolNames(owner)).toEqual([
      "gatehouse_list_members",
      "gatehouse_invite_member",
      "gatehouse_change_member_role",
      "gatehouse_preview_access_change",
      "gatehouse_read_activity_log",
      "gatehouse_set_eligibility",
      "gatehouse_remove_eligibility",
      "gatehouse_approve_access_request",
      "gatehouse_reject_access_request",
      "gatehouse_revoke_access_request",
      "restart_vps",
    ]);
    const invited = (await owner.callTool({
      name: "gatehouse_invite_member",
      arguments: { email: "zaphod@example.com", role: "technical" },
    })) as ToolText;
    expect(invited.structuredContent).toMatchObject({
      invitation: { email: "zaphod@example.com", role: "technical" },
      mailed: true,
    });
    const mail = server.mailer.outbox?.at(-1);
    expect(mail?.to).toBe("zaphod@example.com");
    expect(mail?.text).toMatch(/\/invitations\/accept#[A-Za-z0-9_-]{43}/);
    expect(JSON.stringify(invited)).not.toContain(/#([A-Za-z0-9_-]{43})/.exec(mail!.text)![1]);
    const billing = await connect(bearer(await keyOf(bill, ws)));
    const refused = (await billing.callTool({
      name: "gatehouse_list_members",
      arguments: {},
    })) as ToolText;
    expect(refused.isError).toBe(true);
    expect(refused.content[0]?.text).toMatch(/^PERMISSION_DENIED: /);
  });

  it("does not serve a tool the host app runs itself, and says so", async () => {
    const { ws, olivia, tom } = await company();
    await server.gatehouse.assistant.registerTool(asUser(olivia.userId), ws, {
      name: "open_ticket",
      description: "Open a support ticket",
      inputSchema: { type: "object" },
      permission: "ticket.manage",
    });
    const technical = await connect(bearer(await keyOf(tom, ws)));
    expect(await toolNames(technical)).toEqual(["restart_vps"]);
    const result = (await technical.callTool({ name: "open_ticket", arguments: {} })) as ToolText;
    expect(result.isError).toBe(true);
    expect(result.content[0]?.text).toMatch(/^TOOL_NOT_FOUND: /);
  });
});
