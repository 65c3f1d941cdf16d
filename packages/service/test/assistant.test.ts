import { createHash } from "node:crypto";
import { GatehouseError } from "@gatehouse/engine";
import { createLocalJWKSet, jwtVerify } from "jose";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { asAssistant, asUser, type RequestContext, systemActor } from "../src/actor.ts";
import type { Gatehouse } from "../src/gatehouse.ts";
import { backends, codeOf, openPeerServices, openService, signUpPerson } from "./backends.ts";
import { startToolEndpoint } from "./support/tool-endpoint.ts";

const SECRET_KEY = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
const ISSUER = "https://gatehouse.test";

/** Gatehouse's tools for every member with a live grant: asking for access, and the requests. */
/** Gatehouse's tools for those who may give roles somewhere: eligibilities and deciding requests. */
const DECIDING = [
  "gatehouse_set_eligibility",
  "gatehouse_remove_eligibility",
  "gatehouse_approve_access_request",
  "gatehouse_reject_access_request",
  "gatehouse_revoke_access_request",
];
const ASKING = [
  "gatehouse_request_access",
  "gatehouse_list_access_requests",
  "gatehouse_withdraw_access_request",
  "gatehouse_list_eligibilities",
];

const VPS_ID = {
  type: "object",
  properties: { id: { type: "string", description: "The VPS" } },
  required: ["id"],
  additionalProperties: false,
} as const;

describe.each(backends)("the assistant gate on $name", { timeout: 30_000 }, (backend) => {
  let gatehouse: Gatehouse;
  let clock: { now: number };
  let endpoint: Awaited<ReturnType<typeof startToolEndpoint>>;

  beforeEach(async () => {
    ({ gatehouse, clock } = await openService(backend, {
      secretKey: SECRET_KEY,
      issuer: ISSUER,
      // Long enough for a loaded machine; the silent endpoint in the timeout test never answers.
      toolTimeoutMs: 2_000,
    }));
    endpoint = await startToolEndpoint((call) => ({
      status: 200,
      json: { restarted: (JSON.parse(call.body) as { arguments: { id: string } }).arguments.id },
    }));
  });
  afterEach(async () => {
    await endpoint.close();
    await gatehouse.close();
  });

  const person = (name: string) => signUpPerson(gatehouse, name);

  /** A `company` workspace with a manager, a technical member, a billing member and an auditor. */
  async function company() {
    const olivia = await person("olivia");
    const ws = await gatehouse.workspaces.create(asUser(olivia.id), {
      name: "Heart of Gold",
      preset: "company",
      plan: "premium",
    });
    const root = `workspace:${ws.id}`;
    const people: Record<string, string> = { olivia: olivia.id };
    for (const [name, role] of [
      ["mia", "manager"],
      ["tom", "technical"],
      ["bill", "billing"],
      ["quinn", "auditor"],
    ] as const) {
      const user = await person(name);
      await gatehouse.members.add(systemActor(), ws.id, {
        userId: user.id,
        grants: [{ role, scope: root }],
      });
      people[name] = user.id;
    }
    await gatehouse.assistant.registerTool(systemActor(), ws.id, {
      name: "restart_vps",
      description: "Restart a VPS",
      inputSchema: VPS_ID,
      permission: "vps.restart",
      endpoint: endpoint.url,
    });
    await gatehouse.assistant.registerTool(systemActor(), ws.id, {
      name: "list_invoices",
      description: "List the company's invoices",
      inputSchema: { type: "object", properties: {} },
      permission: "billing.invoices.view",
    });
    return {
      ws: ws.id,
      root,
      people: people as Record<"olivia" | "mia" | "tom" | "bill" | "quinn", string>,
    };
  }

  /** An mzpanel fleet: Otto operates s1, Carol is the customer of site a, Adam is admin. */
  async function fleet() {
    const olivia = await person("olivia");
    const ws = await gatehouse.workspaces.create(asUser(olivia.id), {
      name: "Acme hosting",
      preset: "mzpanel",
    });
    const root = `workspace:${ws.id}`;
    for (const [resource, parent] of [
      ["server:s1", root],
      ["site:a", "server:s1"],
      ["server:s2", root],
    ] as const) {
      await gatehouse.resources.upsert(systemActor(), ws.id, { resource, parent });
    }
    const people: Record<string, string> = { olivia: olivia.id };
    for (const [name, role, scope] of [
      ["otto", "operator", "server:s1"],
      ["carol", "customer", "site:a"],
      ["adam", "admin", root],
    ] as const) {
      const user = await person(name);
      await gatehouse.members.add(systemActor(), ws.id, {
        userId: user.id,
        grants: [{ role, scope }],
      });
      people[name] = user.id;
    }
    await gatehouse.assistant.registerTool(systemActor(), ws.id, {
      name: "restart_server",
      description: "Restart a server",
      inputSchema: VPS_ID,
      permission: "server.restart",
      resource: "server:{id}",
      endpoint: endpoint.url,
    });
    return {
      ws: ws.id,
      root,
      people: people as Record<"olivia" | "otto" | "carol" | "adam", string>,
    };
  }

  const names = async (request: RequestContext, ws: string) =>
    (await gatehouse.assistant.tools(request, ws)).map((tool) => tool.name);

  async function lastEntry(ws: string, owner: string) {
    const { entries } = await gatehouse.activityLog.list(asUser(owner), ws, { limit: 1 });
    return entries[0]!;
  }

  async function failure(promise: Promise<unknown>): Promise<GatehouseError> {
    try {
      await promise;
    } catch (error) {
      if (error instanceof GatehouseError) return error;
      throw error;
    }
    throw new Error("expected the call to fail");
  }

  describe("visibility", () => {
    it("tells a billing member's assistant no VPS tools, and a technical member's no billing tools", async () => {
      const { ws, people } = await company();
      expect(await names(asUser(people.bill), ws)).toEqual([...ASKING, "list_invoices"]);
      expect(await names(asUser(people.tom), ws)).toEqual([...ASKING, "restart_vps"]);
      expect(await names(asUser(people.quinn), ws)).toEqual([
        "gatehouse_read_activity_log",
        ...ASKING,
      ]);
      expect(await names(asUser(people.mia), ws)).toEqual([
        "gatehouse_list_members",
        "gatehouse_invite_member",
        "gatehouse_change_member_role",
        "gatehouse_preview_access_change",
        "gatehouse_read_activity_log",
        ...ASKING,
        ...DECIDING,
        "list_invoices",
        "restart_vps",
      ]);
    });

    it("shows a resource tool to whoever holds its permission on some resource of its type", async () => {
      const { ws, people } = await fleet();
      expect(await names(asUser(people.otto), ws)).toEqual([...ASKING, "restart_server"]);
      expect(await names(asUser(people.carol), ws)).toEqual(ASKING);
      expect(await names(asUser(people.adam), ws)).toContain("restart_server");
    });

    it("narrows the list further to an API key's permission patterns", async () => {
      const { ws, people } = await company();
      const { secret } = await gatehouse.apiKeys.create(asUser(people.tom), ws, {
        name: "read-only bot",
        scopes: ["vps.view"],
      });
      const key = await gatehouse.apiKeys.authenticate(secret);
      expect(await names(key.context, ws)).toEqual([]);
    });

    it("exports the declarations in the MCP, Anthropic and OpenAI tool formats", async () => {
      const { ws, people } = await company();
      const tom = asUser(people.tom);
      // The host app's tool; Gatehouse's own (asking for access) come first, in the same formats.
      const declarations = async (format: "mcp" | "anthropic" | "openai") =>
        (await gatehouse.assistant.declarations(tom, ws, format)).slice(ASKING.length);
      expect(await declarations("mcp")).toEqual([
        { name: "restart_vps", description: "Restart a VPS", inputSchema: VPS_ID },
      ]);
      expect(await declarations("anthropic")).toEqual([
        { name: "restart_vps", description: "Restart a VPS", input_schema: VPS_ID },
      ]);
      expect(await declarations("openai")).toEqual([
        {
          type: "function",
          function: { name: "restart_vps", description: "Restart a VPS", parameters: VPS_ID },
        },
      ]);
    });

    it("answers an outsider as if the workspace did not exist", async () => {
      const { ws } = await company();
      const eve = await person("eve");
      expect(await codeOf(gatehouse.assistant.tools(asUser(eve.id), ws))).toBe(
        "WORKSPACE_NOT_FOUND",
      );
    });
  });

  describe("the runtime gate", () => {
    it("refuses restart_vps to a billing member with PERMISSION_DENIED and the explanation, logged as their assistant", async () => {
      const { ws, root, people } = await company();
      const error = await failure(
        gatehouse.assistant.call(asUser(people.bill), ws, {
          tool: "restart_vps",
          arguments: { id: "vps-1" },
        }),
      );
      expect(error.code).toBe("PERMISSION_DENIED");
      expect(error.message).toContain("vps.restart");
      expect(error.message).toBe(
        (
          await gatehouse.decisions.explain(asUser(people.bill), ws, {
            permission: "vps.restart",
            resource: root,
          })
        ).summary,
      );
      expect(endpoint.calls).toEqual([]);
      const entry = await lastEntry(ws, people.olivia);
      expect(entry).toMatchObject({
        actor: { type: "assistant", id: people.bill, onBehalfOf: people.bill },
        action: "assistant.tool.call",
        target: root,
        result: "denied",
        details: { tool: "restart_vps", permission: "vps.restart" },
      });
    });

    it("forwards a technical member's call to the endpoint with a signed assertion and never their credentials", async () => {
      const { ws, root, people } = await company();
      const { secret } = await gatehouse.apiKeys.create(asUser(people.tom), ws, {
        name: "ops bot",
        scopes: ["vps.*"],
      });
      const key = await gatehouse.apiKeys.authenticate(secret);
      const outcome = await gatehouse.assistant.call(key.context, ws, {
        tool: "restart_vps",
        arguments: { id: "vps-1" },
      });
      expect(outcome).toEqual({
        status: "completed",
        tool: "restart_vps",
        resource: root,
        callId: expect.any(String),
        result: { restarted: "vps-1" },
      });
      expect(endpoint.calls).toHaveLength(1);
      const call = endpoint.calls[0]!;
      expect(JSON.parse(call.body)).toEqual({
        callId: outcome.callId,
        workspace: ws,
        tool: "restart_vps",
        resource: root,
        arguments: { id: "vps-1" },
        member: { userId: people.tom },
      });
      expect(call.body).not.toContain(secret);
      expect(call.headers["authorization"]).toBeUndefined();
      expect(call.headers["cookie"]).toBeUndefined();
      const jwks = createLocalJWKSet(await gatehouse.signingKeys.jwks());
      const { payload, protectedHeader } = await jwtVerify(
        String(call.headers["gatehouse-assertion"]),
        jwks,
        {
          issuer: ISSUER,
          audience: endpoint.url,
          typ: "gatehouse-tool-call+jwt",
          currentDate: new Date(clock.now),
        },
      );
      expect(protectedHeader.alg).toBe("ES256");
      expect(payload).toMatchObject({
        sub: people.tom,
        jti: outcome.callId,
        workspace: ws,
        tool: "restart_vps",
        role: "technical",
        actor: "assistant",
        api_key: key.keyId,
        body_sha256: createHash("sha256").update(call.body).digest("base64url"),
      });
      expect(payload.exp! - payload.iat!).toBe(60);
      const entry = await lastEntry(ws, people.olivia);
      expect(entry).toMatchObject({
        actor: { type: "assistant", id: key.keyId, onBehalfOf: people.tom },
        action: "assistant.tool.call",
        result: "success",
        details: { tool: "restart_vps", callId: outcome.callId, role: "technical" },
      });
    });

    it("decides the next call against the current grants: a demoted member is refused", async () => {
      const { ws, root, people } = await company();
      const tom = asUser(people.tom);
      const call = { tool: "restart_vps", arguments: { id: "vps-1" } };
      expect((await gatehouse.assistant.call(tom, ws, call)).status).toBe("completed");
      await gatehouse.members.setGrants(asUser(people.olivia), ws, people.tom, [
        { role: "billing", scope: root },
      ]);
      expect(await codeOf(gatehouse.assistant.call(tom, ws, call))).toBe("PERMISSION_DENIED");
      expect(await names(tom, ws)).toEqual([...ASKING, "list_invoices"]);
      expect(endpoint.calls).toHaveLength(1);
    });

    it("checks the resource named in the input: another server answers as if it did not exist", async () => {
      const { ws, people } = await fleet();
      const otto = asUser(people.otto);
      const restart = (id: string) =>
        gatehouse.assistant.call(otto, ws, { tool: "restart_server", arguments: { id } });
      expect((await restart("s1")).resource).toBe("server:s1");
      const sibling = await failure(restart("s2"));
      const missing = await failure(restart("zz"));
      expect([sibling.code, missing.code]).toEqual(["RESOURCE_NOT_FOUND", "RESOURCE_NOT_FOUND"]);
      expect(sibling.message).toBe(missing.message.replace("zz", "s2"));
      const entry = await lastEntry(ws, people.olivia);
      expect(entry).toMatchObject({ target: "server:zz", result: "denied" });
      expect(
        (
          await gatehouse.assistant.call(asUser(people.adam), ws, {
            tool: "restart_server",
            arguments: { id: "s2" },
          })
        ).resource,
      ).toBe("server:s2");
      expect(endpoint.calls).toHaveLength(2);
    });

    it("refuses a tool the member cannot use anywhere without telling whether the resource exists", async () => {
      const { ws, people } = await fleet();
      const error = await failure(
        gatehouse.assistant.call(asUser(people.carol), ws, {
          tool: "restart_server",
          arguments: { id: "s1" },
        }),
      );
      expect(error.code).toBe("PERMISSION_DENIED");
      expect(error.message).not.toContain("s1");
    });

    it("validates the arguments against the tool's input schema before anything runs", async () => {
      const { ws, people } = await company();
      const error = await failure(
        gatehouse.assistant.call(asUser(people.tom), ws, {
          tool: "restart_vps",
          arguments: { id: 7, force: true },
        }),
      );
      expect(error.code).toBe("INVALID_INPUT");
      expect(error.issues.map((issue) => issue.path)).toEqual(["arguments", "arguments.id"]);
      expect(endpoint.calls).toEqual([]);
      expect(
        await codeOf(gatehouse.assistant.call(asUser(people.tom), ws, { tool: "no_such_tool" })),
      ).toBe("TOOL_NOT_FOUND");
    });

    it("authorizes a tool without an endpoint for the host app to run, and refuses it where only runnable tools count", async () => {
      const { ws, root, people } = await company();
      const bill = asUser(people.bill);
      expect(await gatehouse.assistant.call(bill, ws, { tool: "list_invoices" })).toEqual({
        status: "authorized",
        tool: "list_invoices",
        resource: root,
        callId: expect.any(String),
      });
      expect(
        await codeOf(
          gatehouse.assistant.call(bill, ws, { tool: "list_invoices" }, { runnableOnly: true }),
        ),
      ).toBe("TOOL_NOT_FOUND");
    });

    it("reports a failing endpoint and one that does not answer in time as tool errors", async () => {
      const { ws, people } = await company();
      const failing = await startToolEndpoint(() => ({ status: 500, json: { error: "boom" } }));
      const silent = await startToolEndpoint(() => "never");
      try {
        for (const [name, url] of [
          ["restart_vps_failing", failing.url],
          ["restart_vps_silent", silent.url],
        ] as const) {
          await gatehouse.assistant.registerTool(systemActor(), ws, {
            name,
            description: "Restart a VPS",
            inputSchema: VPS_ID,
            permission: "vps.restart",
            endpoint: url,
          });
        }
        const tom = asUser(people.tom);
        const broken = await failure(
          gatehouse.assistant.call(tom, ws, {
            tool: "restart_vps_failing",
            arguments: { id: "v" },
          }),
        );
        expect(broken.code).toBe("TOOL_ENDPOINT_FAILED");
        expect(broken.message).toContain("HTTP 500");
        expect(
          await codeOf(
            gatehouse.assistant.call(tom, ws, {
              tool: "restart_vps_silent",
              arguments: { id: "v" },
            }),
          ),
        ).toBe("TOOL_ENDPOINT_TIMEOUT");
      } finally {
        await failing.close();
        await silent.close();
      }
    });

    it("lets a host app run its own assistant loop for a member with asAssistant", async () => {
      const { ws, people } = await company();
      expect(
        await codeOf(
          gatehouse.assistant.call(asAssistant(people.bill), ws, {
            tool: "restart_vps",
            arguments: { id: "v" },
          }),
        ),
      ).toBe("PERMISSION_DENIED");
      expect(await codeOf(gatehouse.assistant.tools(systemActor(), ws))).toBe("INVALID_INPUT");
    });
  });

  describe("Gatehouse's own team tools", () => {
    it('asks for access for the member ("request access to site a for 2 hours"), for every member with a live grant', async () => {
      const { ws, people } = await fleet();
      const otto = asUser(people.otto);
      const asked = await gatehouse.assistant.call(otto, ws, {
        tool: "gatehouse_request_access",
        arguments: {
          role: "customer",
          resource: "site:a",
          reason: "Deploy the customer's fix",
          durationMinutes: 120,
        },
      });
      expect(asked.status).toBe("completed");
      const request = (asked as { result: { request: { id: string } } }).result.request;
      expect(request).toMatchObject({
        userId: people.otto,
        role: "customer",
        scope: "site:a",
        durationMinutes: 120,
        status: "pending",
      });
      // Logged as the member's assistant asking.
      expect(await lastEntry(ws, people.olivia)).toMatchObject({
        actor: { type: "assistant", id: people.otto },
        action: "access_request.create",
        target: "site:a",
        result: "success",
      });
      // The member sees their own; the owner, who may give it, sees it too; a customer does not.
      const listed = async (userId: string, args: Record<string, unknown> = {}) => {
        const outcome = await gatehouse.assistant.call(asUser(userId), ws, {
          tool: "gatehouse_list_access_requests",
          arguments: args,
        });
        return (
          outcome as { result: { accessRequests: { id: string }[] } }
        ).result.accessRequests.map((item) => item.id);
      };
      expect(await listed(people.otto, { mine: true })).toEqual([request.id]);
      expect(await listed(people.olivia, { status: "pending" })).toEqual([request.id]);
      expect(await listed(people.carol)).toEqual([]);
      // The workflow's own checks hold: out of reach answers as nonexistent; the schema first.
      const elsewhere = await failure(
        gatehouse.assistant.call(otto, ws, {
          tool: "gatehouse_request_access",
          arguments: { role: "operator", resource: "server:s2", reason: "x", durationMinutes: 5 },
        }),
      );
      expect(elsewhere.code).toBe("RESOURCE_NOT_FOUND");
      const zero = await failure(
        gatehouse.assistant.call(otto, ws, {
          tool: "gatehouse_request_access",
          arguments: { role: "customer", resource: "site:a", reason: "x", durationMinutes: 0 },
        }),
      );
      expect(zero.code).toBe("INVALID_INPUT");
      // A member whose only grant has ended holds nothing here: the gate refuses, and logs it.
      await gatehouse.members.setGrants(asUser(people.olivia), ws, people.carol, [
        { role: "customer", scope: "site:a", expiresAt: clock.now + 1000 },
      ]);
      clock.now += 1000;
      expect(await names(asUser(people.carol), ws)).toEqual([]);
      const ended = await failure(
        gatehouse.assistant.call(asUser(people.carol), ws, {
          tool: "gatehouse_request_access",
          arguments: { role: "customer", resource: "site:a", reason: "x", durationMinutes: 5 },
        }),
      );
      expect(ended.code).toBe("PERMISSION_DENIED");
      expect(await lastEntry(ws, people.olivia)).toMatchObject({
        actor: { type: "assistant", id: people.carol },
        action: "assistant.tool.call",
        result: "denied",
        details: { tool: "gatehouse_request_access" },
      });
    });

    it("lists members and reads the log through their workflows, for those their gates admit", async () => {
      const { ws, people } = await company();
      const listed = await gatehouse.assistant.call(asUser(people.mia), ws, {
        tool: "gatehouse_list_members",
      });
      expect(listed.status === "completed" && listed.result).toMatchObject({
        members: expect.arrayContaining([
          expect.objectContaining({
            userId: people.tom,
            grants: [expect.objectContaining({ role: "technical" })],
          }),
        ]),
      });
      const log = await gatehouse.assistant.call(asUser(people.quinn), ws, {
        tool: "gatehouse_read_activity_log",
        arguments: { action: "member.*", limit: 2 },
      });
      expect(
        log.status === "completed" && (log.result as { entries: unknown[] }).entries,
      ).toHaveLength(2);
      const refused = await failure(
        gatehouse.assistant.call(asUser(people.tom), ws, { tool: "gatehouse_list_members" }),
      );
      expect(refused.code).toBe("PERMISSION_DENIED");
      expect(await lastEntry(ws, people.olivia)).toMatchObject({
        actor: { type: "assistant", id: people.tom },
        action: "assistant.tool.call",
        result: "denied",
        details: { tool: "gatehouse_list_members", permission: "team.view" },
      });
    });

    it("invites and changes roles as the assistant, keeping delegation and delivering the link", async () => {
      const { ws, root, people } = await company();
      const delivered: string[] = [];
      const invited = await gatehouse.assistant.call(
        asUser(people.mia),
        ws,
        {
          tool: "gatehouse_invite_member",
          arguments: { email: "zaphod@example.com", role: "technical" },
        },
        {
          hooks: {
            deliverInvitation: async ({ invitation, token }) => {
              delivered.push(`${invitation.email} ${token.length}`);
              return true;
            },
          },
        },
      );
      expect(invited.status === "completed" && invited.result).toMatchObject({
        invitation: { email: "zaphod@example.com", role: "technical", scopes: [root] },
        mailed: true,
      });
      expect(JSON.stringify(invited)).not.toMatch(/token/i);
      expect(delivered).toEqual(["zaphod@example.com 43"]);
      expect(await lastEntry(ws, people.olivia)).toMatchObject({
        actor: { type: "assistant", id: people.mia },
        action: "invitation.create",
        result: "success",
      });
      // Previewed first (issue 18): Tom would lose the restart, and nothing changes yet.
      const preview = await gatehouse.assistant.call(asUser(people.mia), ws, {
        tool: "gatehouse_preview_access_change",
        arguments: { userId: people.tom, role: "read_only" },
      });
      const diff =
        preview.status === "completed"
          ? (preview.result as { diff: { subject: string; lost: string[] }[] }).diff
          : [];
      expect(
        diff.some((entry) => entry.subject === `user:${people.tom}` && entry.lost.length > 0),
      ).toBe(true);
      expect(await names(asUser(people.tom), ws)).toContain("restart_vps");
      await gatehouse.assistant.call(asUser(people.mia), ws, {
        tool: "gatehouse_change_member_role",
        arguments: { userId: people.tom, role: "read_only" },
      });
      // Read Only: "Everything visible, nothing changeable" — no restart any more.
      expect(await names(asUser(people.tom), ws)).toEqual([
        "gatehouse_read_activity_log",
        ...ASKING,
        "list_invoices",
      ]);
      // The owner role is never handed out, whoever asks.
      expect(
        await codeOf(
          gatehouse.assistant.call(asUser(people.mia), ws, {
            tool: "gatehouse_invite_member",
            arguments: { email: "x@example.com", role: "owner" },
          }),
        ),
      ).toBe("INVALID_INPUT");
    });
  });

  describe("the tool registry", () => {
    it("is the host app's and the settings gate's; others are refused and logged", async () => {
      const { ws, people } = await company();
      const registration = {
        name: "reboot_dns",
        description: "Reload DNS",
        inputSchema: { type: "object" },
        permission: "dns.manage",
      };
      expect(
        (await gatehouse.assistant.registerTool(asUser(people.mia), ws, registration)).tool,
      ).toMatchObject({ name: "reboot_dns", runsIn: "host", updatedBy: `user:${people.mia}` });
      expect(
        await codeOf(gatehouse.assistant.registerTool(asUser(people.tom), ws, registration)),
      ).toBe("PERMISSION_DENIED");
      expect(await lastEntry(ws, people.olivia)).toMatchObject({
        action: "assistant.tool.register",
        result: "denied",
      });
      expect(await codeOf(gatehouse.assistant.registry(asUser(people.tom), ws))).toBe(
        "PERMISSION_DENIED",
      );
      expect(
        (await gatehouse.assistant.registry(systemActor(), ws)).map((tool) => tool.name),
      ).toEqual(["list_invoices", "reboot_dns", "restart_vps"]);
      await gatehouse.assistant.removeTool(systemActor(), ws, "reboot_dns");
      expect(await codeOf(gatehouse.assistant.removeTool(systemActor(), ws, "reboot_dns"))).toBe(
        "TOOL_NOT_FOUND",
      );
    });

    it("refuses registrations the LLM formats or the model would not accept", async () => {
      const { ws } = await fleet();
      const good = {
        name: "restart_server",
        description: "Restart a server",
        inputSchema: VPS_ID,
        permission: "server.restart",
        resource: "server:{id}",
      };
      const cases: [Record<string, unknown>, string][] = [
        [{ name: "restart server" }, "INVALID_INPUT"],
        [{ name: "x".repeat(65) }, "INVALID_INPUT"],
        [{ name: "gatehouse_restart" }, "INVALID_INPUT"],
        [{ description: "" }, "INVALID_INPUT"],
        [{ inputSchema: { type: "string" } }, "INVALID_INPUT"],
        [{ inputSchema: { type: "object", proprties: {} } }, "INVALID_INPUT"],
        [{ permission: "server.reboot" }, "UNKNOWN_PERMISSION"],
        [{ permission: "site.deploy" }, "PERMISSION_NOT_APPLICABLE_AT_SCOPE"],
        [{ resource: "server:id" }, "INVALID_INPUT"],
        [{ resource: "rack:{id}" }, "UNKNOWN_RESOURCE_TYPE"],
        [{ resource: "server:{name}" }, "INVALID_INPUT"],
        [
          { inputSchema: { type: "object", properties: { id: { type: "string" } } } },
          "INVALID_INPUT",
        ],
        [{ endpoint: "http://tools.example/restart" }, "INVALID_INPUT"],
        [{ endpoint: "https://user:pw@tools.example/restart" }, "INVALID_INPUT"],
        [{ extra: true }, "INVALID_INPUT"],
      ];
      for (const [change, code] of cases) {
        expect([
          change,
          await codeOf(
            gatehouse.assistant.registerTool(systemActor(), ws, { ...good, ...change } as never),
          ),
        ]).toEqual([change, code]);
      }
      expect(
        (
          await gatehouse.assistant.registerTool(systemActor(), ws, {
            ...good,
            endpoint: "https://tools.example/restart",
          })
        ).tool.endpoint,
      ).toBe("https://tools.example/restart");
    });

    it("is shared by every instance on the database: a tool registered on one is listed and gated on another", async () => {
      const peers = await openPeerServices(backend, 2, clock, {
        secretKey: SECRET_KEY,
        issuer: ISSUER,
      });
      try {
        const [first, second] = peers.instances as [Gatehouse, Gatehouse];
        const olivia = await signUpPerson(first, "olivia");
        const bill = await signUpPerson(first, "bill");
        const ws = await first.workspaces.create(asUser(olivia.id), {
          name: "Magrathea",
          preset: "company",
        });
        await first.members.add(systemActor(), ws.id, {
          userId: bill.id,
          grants: [{ role: "billing", scope: `workspace:${ws.id}` }],
        });
        await first.assistant.registerTool(systemActor(), ws.id, {
          name: "restart_vps",
          description: "Restart a VPS",
          inputSchema: VPS_ID,
          permission: "vps.restart",
          endpoint: endpoint.url,
        });
        expect(
          (await second.assistant.tools(asUser(olivia.id), ws.id)).map((t) => t.name),
        ).toContain("restart_vps");
        expect(
          await codeOf(
            second.assistant.call(asUser(bill.id), ws.id, {
              tool: "restart_vps",
              arguments: { id: "v" },
            }),
          ),
        ).toBe("PERMISSION_DENIED");
      } finally {
        await peers.close();
      }
    });
  });
});
