import { systemActor } from "@gatehouse/service";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { backends, call, openServer, type Session, signUp, type TestServer } from "./harness.ts";

const HOUR_MS = 60 * 60 * 1000;

interface Entry {
  readonly seq: number;
  readonly action: string;
  readonly result: string;
  readonly target: string | null;
  readonly actor: { readonly id: string };
}

describe.each(backends)("the activity log over HTTP on $name", (backend) => {
  let server: TestServer;
  let ada: Session;
  let carol: Session;
  let ws: string;
  let invitationIds: string[];
  let revokedAt: number;

  /**
   * Ada's MZPanel workspace with Carol as the customer of site a: Ada sends three invitations, an
   * hour later revokes the first; Carol tries to read the team and is denied.
   */
  beforeEach(async () => {
    server = await openServer(backend);
    ada = await signUp(server.app, "ada");
    carol = await signUp(server.app, "carol");
    ws = (await call(server.app, ada, "GET", "/v1/me")).json().workspaces[0].id;
    const host = systemActor();
    await server.gatehouse.resources.upsert(host, ws, {
      resource: "server:s1",
      parent: `workspace:${ws}`,
    });
    await server.gatehouse.resources.upsert(host, ws, { resource: "site:a", parent: "server:s1" });
    await server.gatehouse.members.add(host, ws, {
      userId: carol.userId,
      grants: [{ role: "customer", scope: "site:a" }],
    });
    invitationIds = [];
    for (const name of ["dave", "erin", "frank"]) {
      const response = await call(server.app, ada, "POST", `/v1/workspaces/${ws}/invitations`, {
        email: `${name}@example.com`,
        role: "admin",
      });
      invitationIds.push(response.json().invitation.id);
    }
    server.clock.now += HOUR_MS;
    revokedAt = server.clock.now;
    await call(server.app, ada, "DELETE", `/v1/workspaces/${ws}/invitations/${invitationIds[0]}`);
    await call(server.app, carol, "GET", `/v1/workspaces/${ws}/invitations`);
  });
  afterEach(async () => {
    await server.close();
  });

  async function audit(query = "", session = ada) {
    const response = await call(server.app, session, "GET", `/v1/workspaces/${ws}/audit${query}`);
    return { response, entries: response.json().entries as Entry[] };
  }

  it("lists entries newest first, with filters", async () => {
    const { response, entries } = await audit();
    expect(response.statusCode).toBe(200);
    expect(entries[0]).toMatchObject({
      action: "team.view",
      result: "denied",
      actor: { type: "user", id: carol.userId, onBehalfOf: null },
    });
    expect(entries.map((entry) => entry.seq)).toEqual(
      [...entries.map((entry) => entry.seq)].sort((a, b) => b - a),
    );
    expect(response.json().nextCursor).toBeUndefined();

    const invitations = await audit("?action=invitation.*");
    expect(invitations.entries.map((entry) => entry.action)).toEqual([
      "invitation.revoke",
      "invitation.create",
      "invitation.create",
      "invitation.create",
    ]);
    const created = (await audit("?action=invitation.create")).response.json().entries;
    expect(created).toHaveLength(3);
    expect(created[0]).toMatchObject({
      actor: { type: "user", id: ada.userId },
      target: `invitation:${invitationIds[2]}`,
      origin: { ip: "127.0.0.1" },
      details: { email: "frank@example.com", role: "admin" },
    });
    const denied = await audit("?result=denied");
    expect(denied.entries.map((entry) => entry.action)).toEqual(["team.view"]);
    const byCarol = await audit(`?actor=${carol.userId}`);
    expect(byCarol.entries.map((entry) => entry.action)).toEqual(["team.view"]);
    const first = await audit(`?resource=invitation:${invitationIds[0]}`);
    expect(first.entries.map((entry) => entry.action)).toEqual([
      "invitation.revoke",
      "invitation.create",
    ]);
    const later = await audit(`?from=${revokedAt}`);
    expect(later.entries.map((entry) => entry.action)).toEqual(["team.view", "invitation.revoke"]);
    const earlier = await audit(`?to=${new Date(revokedAt).toISOString()}&action=invitation.*`);
    expect(earlier.entries).toHaveLength(3);
    const day = new Date(revokedAt).toISOString().slice(0, 10);
    expect((await audit(`?from=${day}`)).entries.length).toBe(entries.length);
  });

  it("pages with an opaque cursor until the last page", async () => {
    const all = (await audit()).entries.map((entry) => entry.seq);
    expect(all.length).toBeGreaterThan(4);
    const seen: number[] = [];
    let query = "?limit=2";
    for (let page = 0; page < 20; page++) {
      const { response, entries } = await audit(query);
      expect(entries.length).toBeLessThanOrEqual(2);
      seen.push(...entries.map((entry) => entry.seq));
      const next = response.json().nextCursor as string | undefined;
      if (next === undefined) break;
      query = `?limit=2&cursor=${encodeURIComponent(next)}`;
    }
    expect(seen).toEqual(all);
  });

  it("exports CSV and JSON Lines as attachments", async () => {
    const count = (await audit()).entries.length;
    const csv = await call(server.app, ada, "GET", `/v1/workspaces/${ws}/audit/export?format=csv`);
    expect(csv.statusCode).toBe(200);
    expect(csv.headers["content-type"]).toBe("text/csv; charset=utf-8");
    expect(csv.headers["content-disposition"]).toBe(`attachment; filename="audit-${ws}.csv"`);
    const rows = csv.body.split("\r\n");
    expect(rows[0]).toBe(
      "seq,at,actor_type,actor_id,actor_email,on_behalf_of,on_behalf_of_email,action,target,result,ip,agent,details,hash,prev_hash",
    );
    expect(rows.at(-1)).toBe("");
    expect(rows).toHaveLength(count + 2);

    const jsonl = await call(
      server.app,
      ada,
      "GET",
      `/v1/workspaces/${ws}/audit/export?format=jsonl&action=invitation.create`,
    );
    expect(jsonl.statusCode).toBe(200);
    expect(jsonl.headers["content-type"]).toBe("application/x-ndjson; charset=utf-8");
    expect(jsonl.headers["content-disposition"]).toBe(`attachment; filename="audit-${ws}.jsonl"`);
    const lines = jsonl.body
      .trimEnd()
      .split("\n")
      .map((line) => JSON.parse(line) as Entry);
    expect(lines.map((line) => line.action)).toEqual([
      "invitation.create",
      "invitation.create",
      "invitation.create",
    ]);
    expect(lines[0]!.seq).toBeLessThan(lines[2]!.seq);
    const none = await call(
      server.app,
      ada,
      "GET",
      `/v1/workspaces/${ws}/audit/export?format=jsonl&action=nothing.here`,
    );
    expect(none.body).toBe("");
  });

  it("verifies the hash chain and reports where it was tampered with", async () => {
    const count = (await audit()).entries.length;
    const url = `/v1/workspaces/${ws}/audit/verify`;
    const intact = await call(server.app, ada, "GET", url);
    expect(intact.statusCode).toBe(200);
    expect(intact.json()).toMatchObject({ valid: true, entries: count });
    expect(intact.json().head).toMatch(/^[0-9a-f]{64}$/);
    await server.gatehouse.storage.db
      .updateTable("audit_log")
      .set({ details: "{}" })
      .where("workspace_id", "=", ws)
      .where("seq", "=", 2)
      .execute();
    const broken = await call(server.app, ada, "GET", url);
    expect(broken.json()).toMatchObject({ valid: false, problem: "modified", seq: 2 });
  });

  it("refuses bad queries with 400, members without the audit gate with 403, outsiders with 404", async () => {
    for (const query of [
      "?limit=0",
      "?limit=501",
      "?limit=ten",
      "?cursor=garbage",
      "?from=yesterday",
      `?from=${revokedAt}&to=${revokedAt - 1}`,
      "?result=maybe",
      "?page=2",
      "?actor=",
    ]) {
      const { response } = await audit(query);
      expect(response.statusCode, query).toBe(400);
      expect(response.headers["content-type"]).toContain("application/problem+json");
      expect(response.json().code).toBe("INVALID_INPUT");
    }
    for (const query of ["", "?format=xml", "?format=csv&limit=5"]) {
      const response = await call(
        server.app,
        ada,
        "GET",
        `/v1/workspaces/${ws}/audit/export${query}`,
      );
      expect(response.statusCode, query).toBe(400);
      expect(response.json().code).toBe("INVALID_INPUT");
    }
    for (const path of ["", "/export?format=csv", "/verify"]) {
      const url = `/v1/workspaces/${ws}/audit${path}`;
      const denied = await call(server.app, carol, "GET", url);
      expect(denied.statusCode, path).toBe(403);
      expect(denied.json().code).toBe("PERMISSION_DENIED");
      const mallory = await signUp(server.app, `mallory${path.length}`);
      const outsider = await call(server.app, mallory, "GET", url);
      expect(outsider.statusCode, path).toBe(404);
      expect(outsider.json().code).toBe("WORKSPACE_NOT_FOUND");
      const anonymous = await call(server.app, undefined, "GET", url);
      expect(anonymous.statusCode, path).toBe(401);
    }
    // The refused reads are themselves in the log.
    const denials = await audit(`?result=denied&actor=${carol.userId}&action=audit.view`);
    expect(denials.entries).toHaveLength(3);
  });
});
