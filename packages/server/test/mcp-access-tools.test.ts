import type { AddressInfo } from "node:net";
import { asUser, systemActor } from "@gatehouse/service";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { backends, call, openServer, type Session, signUp, type TestServer } from "./harness.ts";

interface ToolText {
  readonly isError?: boolean;
  readonly content: readonly { readonly type: string; readonly text?: string }[];
  readonly structuredContent?: Record<string, unknown>;
}

/** The assistant's tools for access requests, support access, elevation and teams, over MCP (#18). */
describe.each(backends)("access tools over MCP on $name", { timeout: 30_000 }, (backend) => {
  let server: TestServer;
  let base: string;
  const clients: Client[] = [];

  beforeEach(async () => {
    server = await openServer(backend);
    await server.app.listen({ port: 0, host: "127.0.0.1" });
    base = `http://127.0.0.1:${(server.app.server.address() as AddressInfo).port}`;
  });
  afterEach(async () => {
    for (const client of clients.splice(0)) await client.close();
    await server.close();
  });

  /** Ada's MZPanel workspace: server s1 with sites a and b; Otto operates s1, Carol is site a's customer. */
  async function hosting() {
    const ada = await signUp(server.app, "ada");
    const ws: string = (await call(server.app, ada, "GET", "/v1/me")).json().workspaces[0].id;
    const host = systemActor();
    await server.gatehouse.resources.upsert(host, ws, {
      resource: "server:s1",
      parent: `workspace:${ws}`,
    });
    for (const site of ["site:a", "site:b"])
      await server.gatehouse.resources.upsert(host, ws, { resource: site, parent: "server:s1" });
    const otto = await signUp(server.app, "otto");
    const carol = await signUp(server.app, "carol");
    for (const [member, role, scope] of [
      [otto, "operator", "server:s1"],
      [carol, "customer", "site:a"],
    ] as const)
      await server.gatehouse.members.add(host, ws, {
        userId: member.userId,
        grants: [{ role, scope }],
      });
    return { ws, ada, otto, carol };
  }

  async function assistantOf(member: Session, ws: string): Promise<Client> {
    const client = new Client({ name: "gatehouse-test", version: "1.0.0" });
    await client.connect(
      new StreamableHTTPClientTransport(new URL(`${base}/mcp`), {
        requestInit: { headers: { ...member.headers, "x-gatehouse-workspace": ws } },
      }),
    );
    clients.push(client);
    return client;
  }

  const names = async (client: Client) =>
    (await client.listTools()).tools
      .map((tool) => tool.name)
      .filter((name) => name.startsWith("gatehouse_"));
  const use = async (client: Client, name: string, args: Record<string, unknown>) =>
    (await client.callTool({ name, arguments: args })) as ToolText;
  const requestOf = (result: ToolText) =>
    (result.structuredContent as { request: { id: string; status: string } }).request;

  it("lets a member ask and withdraw, and whoever may give the role approve, revoke or reject", async () => {
    const { ws, ada, otto } = await hosting();
    const operator = await assistantOf(otto, ws);
    expect(await names(operator)).toEqual([
      "gatehouse_request_access",
      "gatehouse_list_access_requests",
      "gatehouse_withdraw_access_request",
      "gatehouse_list_eligibilities",
    ]);
    const ask = (resource: string) =>
      use(operator, "gatehouse_request_access", {
        role: "customer",
        resource,
        reason: "the shop's checkout fails",
        durationMinutes: 120,
      });
    const first = requestOf(await ask("site:b"));
    const withdrawn = await use(operator, "gatehouse_withdraw_access_request", {
      requestId: first.id,
    });
    expect(requestOf(withdrawn).status).toBe("withdrawn");

    const second = requestOf(await ask("site:a"));
    // The runtime gate: an operator may not give roles, so may not decide.
    const refused = await use(operator, "gatehouse_approve_access_request", {
      requestId: second.id,
    });
    expect(refused.isError).toBe(true);
    expect(refused.content[0]?.text).toMatch(/^PERMISSION_DENIED: /);

    const owner = await assistantOf(ada, ws);
    expect(await names(owner)).toEqual(
      expect.arrayContaining([
        "gatehouse_set_eligibility",
        "gatehouse_remove_eligibility",
        "gatehouse_approve_access_request",
        "gatehouse_reject_access_request",
        "gatehouse_revoke_access_request",
      ]),
    );
    const approved = await use(owner, "gatehouse_approve_access_request", {
      requestId: second.id,
      durationMinutes: 60,
    });
    expect(approved.isError, approved.content[0]?.text).toBeFalsy();
    expect(requestOf(approved).status).toBe("approved");
    // What the approval gave: an expiring grant of the role asked for, gone once revoked.
    const grantAt = () =>
      server.gatehouse.storage.db
        .selectFrom("grants")
        .select(["role", "expires_at"])
        .where("workspace_id", "=", ws)
        .where("subject", "=", `user:${otto.userId}`)
        .where("scope", "=", "site:a")
        .executeTakeFirst();
    expect(await grantAt()).toMatchObject({ role: "customer", expires_at: expect.any(Number) });
    const revoked = await use(owner, "gatehouse_revoke_access_request", { requestId: second.id });
    expect(requestOf(revoked).status).toBe("revoked");
    expect(await grantAt()).toBeUndefined();

    const third = requestOf(await ask("site:b"));
    const rejected = await use(owner, "gatehouse_reject_access_request", {
      requestId: third.id,
      reason: "ask Carol first",
    });
    expect(requestOf(rejected).status).toBe("rejected");
  });

  it("lets the customer's administrator approve a host's support request; the support person is a member while it lasts", async () => {
    const { ws, ada } = await hosting();
    const sam = await signUp(server.app, "sam");
    const { request } = await server.gatehouse.accessRequests.createSupport(systemActor(), ws, {
      userId: sam.userId,
      role: "customer",
      scope: "site:a",
      reason: "Ticket 4711: checkout fails",
      durationMinutes: 120,
    });
    const owner = await assistantOf(ada, ws);
    const approved = await use(owner, "gatehouse_approve_access_request", {
      requestId: request.id,
    });
    expect(approved.isError, approved.content[0]?.text).toBeFalsy();
    expect(requestOf(approved).status).toBe("approved");
    const decision = await server.gatehouse.decisions.check(asUser(sam.userId), ws, {
      permission: "site.view",
      resource: "site:a",
    });
    expect(decision.allowed).toBe(true);
  });

  it("sets, lists and removes eligibilities; the member sees their own", async () => {
    const { ws, ada, carol, otto } = await hosting();
    const owner = await assistantOf(ada, ws);
    const set = await use(owner, "gatehouse_set_eligibility", {
      userId: carol.userId,
      role: "operator",
      scope: "server:s1",
      maxMinutes: 60,
    });
    expect(set.isError, set.content[0]?.text).toBeFalsy();
    const { eligibility } = set.structuredContent as { eligibility: { id: string } };
    const customer = await assistantOf(carol, ws);
    expect(await names(customer)).toContain("gatehouse_elevate");
    const listed = await use(customer, "gatehouse_list_eligibilities", {});
    expect(listed.structuredContent).toMatchObject({
      eligibilities: [{ id: eligibility.id, role: "operator", scope: "server:s1" }],
    });
    const operator = await assistantOf(otto, ws);
    const refused = await use(operator, "gatehouse_remove_eligibility", {
      eligibilityId: eligibility.id,
    });
    expect(refused.content[0]?.text).toMatch(/^PERMISSION_DENIED: /);
    const removed = await use(owner, "gatehouse_remove_eligibility", {
      eligibilityId: eligibility.id,
    });
    expect(removed.isError, removed.content[0]?.text).toBeFalsy();
    expect((await use(customer, "gatehouse_list_eligibilities", {})).structuredContent).toEqual({
      eligibilities: [],
    });
  });

  it("previews removing a member: who loses what where, nothing changed", async () => {
    const { ws, ada, otto } = await hosting();
    const owner = await assistantOf(ada, ws);
    const preview = await use(owner, "gatehouse_preview_access_change", {
      userId: otto.userId,
      remove: true,
    });
    expect(preview.isError, preview.content[0]?.text).toBeFalsy();
    const { diff } = preview.structuredContent as {
      diff: { subject: string; resource: string; gained: string[]; lost: string[] }[];
    };
    expect(diff.map((line) => line.resource)).toEqual(["server:s1", "site:a", "site:b"]);
    expect(
      diff.every((line) => line.subject === `user:${otto.userId}` && line.lost.length > 0),
    ).toBe(true);
    const question = {
      subject: `user:${otto.userId}`,
      permission: "server.view",
      resource: "server:s1",
    };
    expect((await server.gatehouse.decisions.check(systemActor(), ws, question)).allowed).toBe(
      true,
    );
    const noRole = await use(owner, "gatehouse_preview_access_change", { userId: otto.userId });
    expect(noRole.content[0]?.text).toMatch(/^INVALID_INPUT: /);
  });

  it("invites into a team, with or without a role", async () => {
    const { ws, ada } = await hosting();
    const { group } = await server.gatehouse.members.createGroup(systemActor(), ws, {
      name: "Web team",
    });
    const owner = await assistantOf(ada, ws);
    const teamOnly = await use(owner, "gatehouse_invite_member", {
      email: "wes@example.com",
      groups: [group.id],
    });
    expect(teamOnly.isError, teamOnly.content[0]?.text).toBeFalsy();
    expect(teamOnly.structuredContent).toMatchObject({
      invitation: {
        email: "wes@example.com",
        role: null,
        groups: [{ id: group.id, name: "Web team" }],
      },
      mailed: true,
    });
    const both = await use(owner, "gatehouse_invite_member", {
      email: "vic@example.com",
      role: "customer",
      scopes: ["site:b"],
      groups: [group.id],
    });
    expect(both.structuredContent).toMatchObject({
      invitation: { role: "customer", scopes: ["site:b"], groups: [{ id: group.id }] },
    });
  });
});
