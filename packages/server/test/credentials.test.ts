import { systemActor } from "@gatehouse/service";
import type { LightMyRequestResponse } from "fastify";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { backends, call, expectProblem, openServer, signUp, type TestServer } from "./harness.ts";

/** The answer is an RFC 9457 problem with `status` and the stable `code`. */
const TOKEN = "cf-secret-9f8e7d6c5b4a39281706f5e4d3c2b1a0";
const NEW_TOKEN = "cf-secret-rotated-0a1b2c3d4e5f60718293a4b5c6d7e8f9";

describe.each(backends)("integration credentials over HTTP on $name", (backend) => {
  let server: TestServer;
  /** Every answer of the test, to check that no secret ever left the server. */
  let answers: LightMyRequestResponse[];

  beforeEach(async () => {
    server = await openServer(backend);
    answers = [];
  });
  afterEach(async () => {
    await server.close();
  });

  const send = async (...args: Parameters<typeof call>) => {
    const response = await call(...args);
    answers.push(response);
    return response;
  };

  /** An mzpanel workspace owned by Olivia, with Ada as admin, Cara as a site customer and Eve outside. */
  async function panel() {
    const olivia = await signUp(server.app, "olivia");
    const ws: string = (
      await call(server.app, olivia, "POST", "/v1/workspaces", {
        name: "Acme hosting",
        preset: "mzpanel",
      })
    ).json().id;
    const host = systemActor();
    await server.gatehouse.resources.upsert(host, ws, {
      resource: "server:s1",
      parent: `workspace:${ws}`,
    });
    await server.gatehouse.resources.upsert(host, ws, { resource: "site:a", parent: "server:s1" });
    const ada = await signUp(server.app, "ada");
    const cara = await signUp(server.app, "cara");
    const eve = await signUp(server.app, "eve");
    await server.gatehouse.members.add(host, ws, {
      userId: ada.userId,
      grants: [{ role: "admin", scope: `workspace:${ws}` }],
    });
    await server.gatehouse.members.add(host, ws, {
      userId: cara.userId,
      grants: [{ role: "customer", scope: "site:a" }],
    });
    return { ws, olivia, ada, cara, eve };
  }

  const credentials = (ws: string) => `/v1/workspaces/${ws}/credentials`;

  it("sets, lists, replaces and deletes a credential without ever answering its value", async () => {
    const { ws, olivia } = await panel();
    const set = await send(server.app, olivia, "PUT", `${credentials(ws)}/cloudflare.token`, {
      value: TOKEN,
    });
    expect(set.statusCode).toBe(200);
    expect(set.json()).toEqual({
      credential: {
        name: "cloudflare.token",
        createdAt: server.clock.now,
        updatedAt: server.clock.now,
        updatedBy: `user:${olivia.userId}`,
      },
      revision: expect.any(Number),
    });
    expect(set.headers["x-gatehouse-revision"]).toBe(String(set.json().revision));
    server.clock.now += 60_000;
    const replaced = await send(server.app, olivia, "PUT", `${credentials(ws)}/cloudflare.token`, {
      value: NEW_TOKEN,
    });
    expect(replaced.json().revision).toBe(set.json().revision + 1);
    expect(replaced.json().credential.updatedAt).toBe(server.clock.now);
    const listed = await send(server.app, olivia, "GET", credentials(ws));
    expect(listed.statusCode).toBe(200);
    expect(listed.json().credentials).toEqual([
      {
        name: "cloudflare.token",
        createdAt: server.clock.now - 60_000,
        updatedAt: server.clock.now,
        updatedBy: `user:${olivia.userId}`,
      },
    ]);
    // Only the host application, in process, reads a value back.
    expect(await server.gatehouse.credentials.reveal(systemActor(), ws, "cloudflare.token")).toBe(
      NEW_TOKEN,
    );
    const deleted = await send(server.app, olivia, "DELETE", `${credentials(ws)}/cloudflare.token`);
    expect(deleted.statusCode).toBe(200);
    expect(deleted.json()).toEqual({ revision: replaced.json().revision + 1 });
    expect(deleted.headers["x-gatehouse-revision"]).toBe(String(deleted.json().revision));
    expect((await send(server.app, olivia, "GET", credentials(ws))).json().credentials).toEqual([]);
    expectProblem(
      await send(server.app, olivia, "DELETE", `${credentials(ws)}/cloudflare.token`),
      404,
      "CREDENTIAL_NOT_FOUND",
    );
    for (const answer of answers) {
      expect(answer.body).not.toContain(TOKEN);
      expect(answer.body).not.toContain(NEW_TOKEN);
    }
  });

  it("has no route that reveals a value, not even for the owner", async () => {
    const { ws, olivia } = await panel();
    await send(server.app, olivia, "PUT", `${credentials(ws)}/dns`, { value: TOKEN });
    for (const url of [
      `${credentials(ws)}/dns`,
      `${credentials(ws)}/dns/value`,
      `${credentials(ws)}/dns/reveal`,
    ]) {
      expectProblem(await send(server.app, olivia, "GET", url), 404, "NOT_FOUND");
    }
    expectProblem(
      await send(server.app, olivia, "POST", `${credentials(ws)}/dns/reveal`),
      404,
      "NOT_FOUND",
    );
    for (const answer of answers) expect(answer.body).not.toContain(TOKEN);
  });

  it("keeps values out of the activity log, which records the name and denied attempts", async () => {
    const { ws, olivia, ada } = await panel();
    await send(server.app, olivia, "PUT", `${credentials(ws)}/backup.s3`, { value: TOKEN });
    await send(server.app, olivia, "PUT", `${credentials(ws)}/backup.s3`, { value: NEW_TOKEN });
    await send(server.app, ada, "PUT", `${credentials(ws)}/backup.s3`, { value: "ada-was-here" });
    const log = await server.gatehouse.activityLog.export(systemActor(), ws, { format: "jsonl" });
    expect(log).not.toContain(TOKEN);
    expect(log).not.toContain(NEW_TOKEN);
    expect(log).not.toContain("ada-was-here");
    const entries = log
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line) as { action: string; result: string; details: object });
    const sets = entries.filter((entry) => entry.action === "credential.set");
    expect(sets.map((entry) => entry.result)).toEqual(["success", "success", "denied"]);
    expect(sets[0]!.details).toMatchObject({ name: "backup.s3" });
    // The paged reading of the log, as the audit routes serve it, holds no value either.
    const page = await server.gatehouse.activityLog.list(systemActor(), ws, { limit: 500 });
    expect(JSON.stringify(page)).not.toContain(TOKEN);
  });

  it("is owner-only: 403 for members (admins included), 404 for outsiders, 401 anonymous", async () => {
    const { ws, olivia, ada, cara, eve } = await panel();
    await send(server.app, olivia, "PUT", `${credentials(ws)}/ai.key`, { value: TOKEN });
    for (const member of [ada, cara]) {
      expectProblem(
        await send(server.app, member, "PUT", `${credentials(ws)}/ai.key`, { value: "x" }),
        403,
        "PERMISSION_DENIED",
      );
      expectProblem(
        await send(server.app, member, "GET", credentials(ws)),
        403,
        "PERMISSION_DENIED",
      );
      expectProblem(
        await send(server.app, member, "DELETE", `${credentials(ws)}/ai.key`),
        403,
        "PERMISSION_DENIED",
      );
    }
    expectProblem(await send(server.app, eve, "GET", credentials(ws)), 404, "WORKSPACE_NOT_FOUND");
    expectProblem(
      await send(server.app, eve, "PUT", `${credentials(ws)}/ai.key`, { value: "x" }),
      404,
      "WORKSPACE_NOT_FOUND",
    );
    expectProblem(
      await send(server.app, undefined, "GET", credentials(ws)),
      401,
      "INVALID_CREDENTIALS",
    );
    expectProblem(
      await send(server.app, undefined, "PUT", `${credentials(ws)}/ai.key`, { value: "x" }),
      401,
      "INVALID_CREDENTIALS",
    );
    // Nothing was overwritten by the refused attempts.
    expect(await server.gatehouse.credentials.reveal(systemActor(), ws, "ai.key")).toBe(TOKEN);
    for (const answer of answers) expect(answer.body).not.toContain(TOKEN);
  });

  it("refuses unknown fields, bad names and empty or oversized values with 400", async () => {
    const { ws, olivia } = await panel();
    const attempts: [string, unknown][] = [
      [`${credentials(ws)}/dns`, { value: TOKEN, reveal: true }],
      [`${credentials(ws)}/dns`, { value: "" }],
      [`${credentials(ws)}/dns`, { value: 42 }],
      [`${credentials(ws)}/dns`, { value: "x".repeat(16 * 1024 + 1) }],
      [`${credentials(ws)}/dns`, {}],
      [`${credentials(ws)}/.hidden`, { value: TOKEN }],
      [`${credentials(ws)}/dns%20token`, { value: TOKEN }],
    ];
    for (const [url, body] of attempts) {
      const response = await send(server.app, olivia, "PUT", url, body);
      expectProblem(response, 400, "INVALID_INPUT");
      expect(response.body).not.toContain(TOKEN);
    }
    expect((await send(server.app, olivia, "GET", credentials(ws))).json().credentials).toEqual([]);
  });
});
