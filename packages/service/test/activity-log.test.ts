import { defineModel } from "@gatehouse/engine";
import { mzpanel, presets } from "@gatehouse/engine/presets";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { asUser, type RequestContext, systemActor } from "../src/actor.ts";
import type { AuditEntry } from "../src/audit/activity-log.ts";
import { type AuditRow, entryHash } from "../src/audit/chain.ts";
import type { Gatehouse } from "../src/gatehouse.ts";
import { backends, codeOf, openService, signUpPerson } from "./backends.ts";

/** RFC 4180, strictly: quoted fields may hold commas, doubled quotes and CRLF; records end with CRLF. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = "";
  let quoted = false;
  for (let index = 0; index < text.length; index++) {
    const char = text[index]!;
    if (quoted) {
      if (char !== '"') field += char;
      else if (text[index + 1] === '"') {
        field += '"';
        index++;
      } else quoted = false;
    } else if (char === '"' && field === "") quoted = true;
    else if (char === ",") {
      row.push(field);
      field = "";
    } else if (char === "\r" && text[index + 1] === "\n") {
      row.push(field);
      rows.push(row);
      row = [];
      field = "";
      index++;
    } else if (char === '"' || char === "\r" || char === "\n") {
      throw new Error(`unescaped ${JSON.stringify(char)} at ${index}`);
    } else field += char;
  }
  if (field !== "" || row.length > 0) throw new Error("the last record does not end with CRLF");
  return rows;
}

const MINUTE = 60 * 1000;

/** mzpanel with plans, so that one workspace exercises every workflow. */
const mzpanelWithPlans = defineModel({
  ...mzpanel.definition,
  name: "mzpanel-plans",
  plans: { small: { maxMembers: 5 }, large: { maxMembers: 50 } },
  defaultPlan: "small",
});

describe.each(backends)("activity log on $name", (backend) => {
  let gatehouse: Gatehouse;
  let clock: { now: number };

  beforeEach(async () => {
    ({ gatehouse, clock } = await openService(backend, {
      models: { ...presets, "mzpanel-plans": mzpanelWithPlans },
    }));
  });
  afterEach(async () => {
    await gatehouse.close();
  });

  const person = (name: string) => signUpPerson(gatehouse, name);

  /** Olivia's workspace with server s1 (sites a, b); Otto operates s1, Carol has site a, Adam is admin. */
  async function panel() {
    const olivia = await person("olivia");
    const ws = await gatehouse.workspaces.create(asUser(olivia.id), {
      name: "Acme hosting",
      preset: "mzpanel-plans",
    });
    const root = `workspace:${ws.id}`;
    const host = systemActor();
    await gatehouse.resources.upsert(host, ws.id, { resource: "server:s1", parent: root });
    await gatehouse.resources.upsert(host, ws.id, { resource: "site:a", parent: "server:s1" });
    await gatehouse.resources.upsert(host, ws.id, { resource: "site:b", parent: "server:s1" });
    const owner = asUser(olivia.id);
    const otto = await person("otto");
    const carol = await person("carol");
    const adam = await person("adam");
    for (const [user, role, scope] of [
      [otto, "operator", "server:s1"],
      [carol, "customer", "site:a"],
      [adam, "admin", root],
    ] as const) {
      await gatehouse.members.add(systemActor(), ws.id, {
        userId: user.id,
        grants: [{ role, scope }],
      });
    }
    return { ws: ws.id, root, owner, olivia, otto, carol, adam };
  }

  async function rowsOf(ws: string): Promise<AuditRow[]> {
    return gatehouse.storage.db
      .selectFrom("audit_log")
      .selectAll()
      .where("workspace_id", "=", ws)
      .orderBy("seq")
      .execute();
  }

  async function everything(context: RequestContext, ws: string): Promise<AuditEntry[]> {
    return (await gatehouse.activityLog.list(context, ws, { limit: 500 })).entries;
  }

  it("writes exactly one entry per successful change, with the action's name", async () => {
    const olivia = await person("olivia");
    const otto = await person("otto");
    const adam = await person("adam");
    const owner = asUser(olivia.id);
    const ws = (await gatehouse.workspaces.create(owner, { name: "Acme", preset: "mzpanel-plans" }))
      .id;
    const root = `workspace:${ws}`;
    let groupId = "";
    let keyId = "";
    const script: [string, () => Promise<unknown>][] = [
      ["workspace.rename", () => gatehouse.workspaces.rename(owner, ws, "Acme Cloud")],
      [
        "workspace.settings",
        () => gatehouse.workspaces.updateSettings(owner, ws, { joinKey: "DE123456789" }),
      ],
      ["workspace.plan", () => gatehouse.workspaces.changePlan(owner, ws, "large")],
      [
        "resource.create",
        () => gatehouse.resources.upsert(owner, ws, { resource: "server:s1", parent: root }),
      ],
      [
        "resource.create",
        () => gatehouse.resources.upsert(owner, ws, { resource: "server:s2", parent: root }),
      ],
      [
        "resource.create",
        () => gatehouse.resources.upsert(owner, ws, { resource: "site:a", parent: "server:s1" }),
      ],
      [
        "resource.move",
        () => gatehouse.resources.upsert(owner, ws, { resource: "site:a", parent: "server:s2" }),
      ],
      [
        "member.add",
        () =>
          gatehouse.members.add(systemActor(), ws, {
            userId: otto.id,
            grants: [{ role: "operator", scope: "server:s1" }],
          }),
      ],
      [
        "member.grants.set",
        () =>
          gatehouse.members.setGrants(owner, ws, otto.id, [
            { role: "operator", scope: "server:s2" },
          ]),
      ],
      [
        "grant.add",
        () =>
          gatehouse.members.grant(owner, ws, {
            subject: `user:${otto.id}`,
            role: "operator",
            scope: "server:s1",
          }),
      ],
      [
        "grant.remove",
        () =>
          gatehouse.members.revoke(owner, ws, { subject: `user:${otto.id}`, scope: "server:s1" }),
      ],
      [
        "group.create",
        async () => {
          groupId = (await gatehouse.members.createGroup(owner, ws, { name: "ops" })).group.id;
        },
      ],
      ["group.member.add", () => gatehouse.members.addToGroup(owner, ws, groupId, otto.id)],
      ["group.member.remove", () => gatehouse.members.removeFromGroup(owner, ws, groupId, otto.id)],
      ["group.delete", () => gatehouse.members.deleteGroup(owner, ws, groupId)],
      [
        "api_key.create",
        async () => {
          keyId = (
            await gatehouse.apiKeys.create(asUser(otto.id), ws, { name: "ci", scopes: ["site.*"] })
          ).key.id;
        },
      ],
      ["api_key.revoke", () => gatehouse.apiKeys.revoke(asUser(otto.id), ws, keyId)],
      ["resource.delete", () => gatehouse.resources.delete(owner, ws, "site:a")],
      [
        "member.add",
        () =>
          gatehouse.members.add(systemActor(), ws, {
            userId: adam.id,
            grants: [{ role: "admin", scope: root }],
          }),
      ],
      [
        "workspace.transfer_ownership",
        () => gatehouse.workspaces.transferOwnership(owner, ws, adam.id),
      ],
      ["member.remove", () => gatehouse.members.remove(asUser(adam.id), ws, otto.id)],
      ["member.leave", () => gatehouse.members.leave(owner, ws)],
    ];
    const auditor = asUser(adam.id);
    let count = (await rowsOf(ws)).length;
    expect(count).toBe(1);
    for (const [action, step] of script) {
      clock.now += MINUTE;
      await step();
      const rows = await rowsOf(ws);
      expect(rows.length, action).toBe(count + 1);
      count = rows.length;
      expect(rows.at(-1), action).toMatchObject({ action, result: "success", at: clock.now });
    }
    const entries = await everything(auditor, ws);
    expect(entries.map((entry) => entry.action).reverse()).toEqual([
      "workspace.create",
      ...script.map(([action]) => action),
    ]);
    // Calls that change nothing write nothing.
    await gatehouse.resources.upsert(systemActor(), ws, { resource: "server:s1", parent: root });
    await gatehouse.apiKeys.revoke(auditor, ws, keyId);
    expect(await rowsOf(ws)).toHaveLength(count);
    expect(await gatehouse.activityLog.verify(auditor, ws)).toMatchObject({
      valid: true,
      entries: count,
    });
  });

  it("records denied attempts with who, what, on which resource, from where", async () => {
    const { ws, root, olivia, otto, carol } = await panel();
    const mallory = await person("mallory");
    const from = { ip: "203.0.113.9", agent: "curl/8.5" };
    const before = (await rowsOf(ws)).length;
    expect(await codeOf(gatehouse.workspaces.rename(asUser(otto.id, from), ws, "Otto's"))).toBe(
      "PERMISSION_DENIED",
    );
    expect(await codeOf(gatehouse.members.remove(asUser(carol.id), ws, otto.id))).toBe(
      "PERMISSION_DENIED",
    );
    expect(await codeOf(gatehouse.workspaces.rename(asUser(mallory.id), ws, "Pwned"))).toBe(
      "WORKSPACE_NOT_FOUND",
    );
    // Malformed input is refused before anything is attempted: nothing to record.
    expect(await codeOf(gatehouse.workspaces.rename(asUser(otto.id), ws, " "))).toBe(
      "INVALID_INPUT",
    );
    expect(await rowsOf(ws)).toHaveLength(before + 3);
    const denied = await gatehouse.activityLog.list(asUser(olivia.id), ws, { result: "denied" });
    expect(denied.entries).toMatchObject([
      {
        action: "workspace.rename",
        target: root,
        result: "denied",
        actor: { type: "user", id: mallory.id, onBehalfOf: null },
        origin: { ip: null, agent: null },
        details: { to: "Pwned" },
      },
      {
        action: "member.remove",
        target: `user:${otto.id}`,
        result: "denied",
        actor: { type: "user", id: carol.id },
      },
      {
        action: "workspace.rename",
        target: root,
        result: "denied",
        actor: { type: "user", id: otto.id },
        origin: from,
        details: { to: "Otto's" },
      },
    ]);
    expect(denied.entries[0]!.at).toBe(new Date(clock.now).toISOString());
    expect((await gatehouse.workspaces.get(asUser(olivia.id), ws)).name).toBe("Acme hosting");
    expect(await gatehouse.activityLog.verify(asUser(olivia.id), ws)).toMatchObject({
      valid: true,
    });
  });

  it("records who acted through an API key and on whose behalf", async () => {
    const { ws, olivia, otto } = await panel();
    const { secret } = await gatehouse.apiKeys.create(asUser(olivia.id), ws, {
      name: "automation",
      scopes: ["*"],
    });
    const { keyId, context } = await gatehouse.apiKeys.authenticate(secret, { agent: "bot/1" });
    await gatehouse.members.setGrants(context, ws, otto.id, [
      { role: "operator", scope: "server:s1" },
      { role: "customer", scope: "site:a" },
    ]);
    const [entry] = await everything(asUser(olivia.id), ws);
    expect(entry).toMatchObject({
      action: "member.grants.set",
      actor: { type: "api_key", id: keyId, onBehalfOf: olivia.id },
      origin: { ip: null, agent: "bot/1" },
    });
    const byOlivia = await gatehouse.activityLog.list(asUser(olivia.id), ws, { actor: olivia.id });
    expect(byOlivia.entries[0]).toEqual(entry);
    const byKey = await gatehouse.activityLog.list(asUser(olivia.id), ws, { actor: keyId });
    expect(byKey.entries).toEqual([entry]);
  });

  it("is readable only with the audit gate held at the root", async () => {
    const { ws, olivia, otto, carol, adam } = await panel();
    const mallory = await person("mallory");
    for (const user of [olivia, adam]) {
      expect((await everything(asUser(user.id), ws)).length).toBeGreaterThan(0);
      expect((await gatehouse.activityLog.verify(asUser(user.id), ws)).valid).toBe(true);
    }
    expect((await everything(systemActor(), ws)).length).toBeGreaterThan(0);
    for (const user of [otto, carol]) {
      const context = asUser(user.id);
      expect(await codeOf(gatehouse.activityLog.list(context, ws))).toBe("PERMISSION_DENIED");
      expect(await codeOf(gatehouse.activityLog.export(context, ws, { format: "csv" }))).toBe(
        "PERMISSION_DENIED",
      );
      expect(await codeOf(gatehouse.activityLog.verify(context, ws))).toBe("PERMISSION_DENIED");
    }
    expect(await codeOf(gatehouse.activityLog.list(asUser(mallory.id), ws))).toBe(
      "WORKSPACE_NOT_FOUND",
    );
    const auditKey = await gatehouse.apiKeys.create(asUser(olivia.id), ws, {
      name: "siem",
      scopes: ["activity.view"],
    });
    const siteKey = await gatehouse.apiKeys.create(asUser(olivia.id), ws, {
      name: "sites",
      scopes: ["site.*"],
    });
    const auditContext = (await gatehouse.apiKeys.authenticate(auditKey.secret)).context;
    const siteContext = (await gatehouse.apiKeys.authenticate(siteKey.secret)).context;
    expect((await everything(auditContext, ws)).length).toBeGreaterThan(0);
    expect(await codeOf(gatehouse.activityLog.list(siteContext, ws))).toBe("PERMISSION_DENIED");
  });

  it("filters by actor, action, resource, result and time", async () => {
    const { ws, root, owner, olivia, otto, carol } = await panel();
    const start = clock.now;
    clock.now += MINUTE;
    await gatehouse.workspaces.rename(owner, ws, "Acme Cloud");
    clock.now += MINUTE;
    await gatehouse.members.setGrants(owner, ws, otto.id, [{ role: "customer", scope: "site:b" }]);
    clock.now += MINUTE;
    await codeOf(gatehouse.members.remove(asUser(carol.id), ws, otto.id));
    clock.now += MINUTE;
    await gatehouse.members.remove(owner, ws, otto.id);
    const list = async (filter: Record<string, unknown>) =>
      (await gatehouse.activityLog.list(owner, ws, filter)).entries.map((entry) => [
        entry.action,
        entry.result,
      ]);

    expect(await list({ actor: carol.id })).toEqual([["member.remove", "denied"]]);
    expect(await list({ action: "member.remove" })).toEqual([
      ["member.remove", "success"],
      ["member.remove", "denied"],
    ]);
    expect(await list({ action: "member.*", from: start + 1 })).toEqual([
      ["member.remove", "success"],
      ["member.remove", "denied"],
      ["member.grants.set", "success"],
    ]);
    expect(await list({ action: "member.add" })).toHaveLength(3);
    expect(await list({ resource: `user:${otto.id}` })).toEqual([
      ["member.remove", "success"],
      ["member.remove", "denied"],
      ["member.grants.set", "success"],
      ["member.add", "success"],
    ]);
    expect(await list({ resource: root, from: start + 1 })).toEqual([
      ["workspace.rename", "success"],
    ]);
    expect(await list({ result: "denied" })).toEqual([["member.remove", "denied"]]);
    expect(await list({ actor: olivia.id, result: "denied" })).toEqual([]);
    // from is inclusive, to exclusive; both take epoch ms or ISO 8601.
    expect(
      await list({ from: start + 2 * MINUTE, to: new Date(start + 4 * MINUTE).toISOString() }),
    ).toEqual([
      ["member.remove", "denied"],
      ["member.grants.set", "success"],
    ]);
    expect(await list({ from: new Date(start + 4 * MINUTE).toISOString() })).toEqual([
      ["member.remove", "success"],
    ]);
    expect(await list({ to: start })).toEqual([]);
  });

  it("refuses malformed filters and cursors", async () => {
    const { ws, owner } = await panel();
    const bad: Record<string, unknown>[] = [
      { limit: 0 },
      { limit: 501 },
      { limit: 1.5 },
      { limit: "10" },
      { from: "yesterday" },
      { from: -1 },
      { to: Number.NaN },
      { from: "2026-13-45T00:00:00Z" },
      { from: 2000, to: 1000 },
      { result: "ok" },
      { actor: "" },
      { action: 7 },
      { cursor: "not-a-cursor" },
      { cursor: Buffer.from("seq:abc").toString("base64url") },
      { who: "ada" },
    ];
    for (const filter of bad) {
      expect(
        await codeOf(gatehouse.activityLog.list(owner, ws, filter)),
        JSON.stringify(filter),
      ).toBe("INVALID_INPUT");
    }
    expect(await codeOf(gatehouse.activityLog.export(owner, ws, { format: "xml" as "csv" }))).toBe(
      "INVALID_INPUT",
    );
    expect(
      await codeOf(
        gatehouse.activityLog.export(owner, ws, { format: "csv", limit: 5 } as { format: "csv" }),
      ),
    ).toBe("INVALID_INPUT");
  });

  it("pages newest first with an opaque cursor, filters kept", async () => {
    const { ws, owner } = await panel();
    for (let index = 0; index < 12; index++) {
      clock.now += MINUTE;
      await gatehouse.workspaces.rename(owner, ws, `Name ${index}`);
    }
    const all = await everything(owner, ws);
    const total = all.length;
    expect(all.map((entry) => entry.seq)).toEqual(
      Array.from({ length: total }, (_, index) => total - index),
    );
    const seen: AuditEntry[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const page = await gatehouse.activityLog.list(owner, ws, {
        limit: 5,
        ...(cursor === undefined ? {} : { cursor }),
      });
      expect(page.entries.length).toBeLessThanOrEqual(5);
      seen.push(...page.entries);
      cursor = page.nextCursor;
      pages++;
    } while (cursor !== undefined);
    expect(pages).toBe(Math.ceil(total / 5));
    expect(seen).toEqual(all);

    const renames: string[] = [];
    cursor = undefined;
    do {
      const page = await gatehouse.activityLog.list(owner, ws, {
        action: "workspace.rename",
        limit: 4,
        ...(cursor === undefined ? {} : { cursor }),
      });
      renames.push(...page.entries.map((entry) => String(entry.details["to"])));
      cursor = page.nextCursor;
    } while (cursor !== undefined);
    expect(renames).toEqual(Array.from({ length: 12 }, (_, index) => `Name ${11 - index}`));
    // Exactly a full last page: no cursor to an empty page.
    const exact = await gatehouse.activityLog.list(owner, ws, {
      action: "workspace.rename",
      limit: 12,
    });
    expect(exact.entries).toHaveLength(12);
    expect(exact.nextCursor).toBeUndefined();
    expect((await gatehouse.activityLog.list(owner, ws)).entries).toHaveLength(Math.min(50, total));
  });

  it("exports CSV that parses back to the entries, in chronological order", async () => {
    const { ws, owner, olivia, otto } = await panel();
    const tricky = 'Acme, "the Cloud"\nLtd';
    await gatehouse.workspaces.rename(owner, ws, tricky);
    const hostile = { ip: "198.51.100.1", agent: '=HYPERLINK("http://evil.example","click")' };
    await codeOf(gatehouse.workspaces.rename(asUser(otto.id, hostile), ws, "x,y"));
    const csv = await gatehouse.activityLog.export(owner, ws, { format: "csv" });
    const [header, ...records] = parseCsv(csv);
    expect(header).toEqual([
      "seq",
      "at",
      "actor_type",
      "actor_id",
      "actor_email",
      "on_behalf_of",
      "on_behalf_of_email",
      "action",
      "target",
      "result",
      "ip",
      "agent",
      "details",
      "hash",
      "prev_hash",
    ]);
    const entries = (await everything(owner, ws)).reverse();
    expect(records).toHaveLength(entries.length);
    const emails = new Map([olivia, otto].map((user) => [user.id, user.email] as const));
    expect(records.filter((record) => record[4] === olivia.email).length).toBeGreaterThan(0);
    records.forEach((record, index) => {
      const entry = entries[index]!;
      expect(record).toHaveLength(15);
      const [
        seq,
        at,
        type,
        id,
        actorEmail,
        onBehalfOf,
        onBehalfOfEmail,
        action,
        target,
        result,
        ip,
        agent,
        details,
        hash,
        prev,
      ] = record;
      expect([Number(seq), at, type, id, onBehalfOf, action, target, result, ip]).toEqual([
        entry.seq,
        entry.at,
        entry.actor.type,
        entry.actor.id,
        entry.actor.onBehalfOf ?? "",
        entry.action,
        entry.target ?? "",
        entry.result,
        entry.origin.ip ?? "",
      ]);
      // Beside each user id, that user's email (#16): the export reads without a lookup.
      expect(actorEmail).toBe(entry.actor.type === "user" ? emails.get(entry.actor.id) : "");
      expect(onBehalfOfEmail).toBe(
        entry.actor.onBehalfOf ? (emails.get(entry.actor.onBehalfOf) ?? "") : "",
      );
      // A cell a spreadsheet would run as a formula is defused with a leading quote.
      const expectedAgent = entry.origin.agent ?? "";
      expect(agent).toBe(expectedAgent.startsWith("=") ? `'${expectedAgent}` : expectedAgent);
      expect(JSON.parse(details!)).toEqual(entry.details);
      expect([hash, prev]).toEqual([entry.hash, entry.prevHash]);
    });
    const renamed = records.find((record) => record[7] === "workspace.rename")!;
    expect(JSON.parse(renamed[12]!)).toMatchObject({ to: tricky });
    expect(records.at(-1)![11]).toBe(`'${hostile.agent}`);

    const deniedOnly = parseCsv(
      await gatehouse.activityLog.export(owner, ws, { format: "csv", result: "denied" }),
    );
    expect(deniedOnly.slice(1).map((record) => record[7])).toEqual(["workspace.rename"]);
    const none = await gatehouse.activityLog.export(owner, ws, { format: "csv", actor: "nobody" });
    expect(parseCsv(none)).toHaveLength(1);
  });

  it("exports JSON Lines, one entry per line, in chronological order", async () => {
    const { ws, owner } = await panel();
    await gatehouse.workspaces.rename(owner, ws, "line\nbreak");
    const jsonl = await gatehouse.activityLog.export(owner, ws, { format: "jsonl" });
    expect(jsonl.endsWith("\n")).toBe(true);
    const lines = jsonl.slice(0, -1).split("\n");
    const entries = (await everything(owner, ws)).reverse();
    expect(lines.map((line) => JSON.parse(line))).toEqual(entries);
    const filtered = await gatehouse.activityLog.export(owner, ws, {
      format: "jsonl",
      action: "workspace.*",
    });
    expect(
      filtered
        .trim()
        .split("\n")
        .map((line) => (JSON.parse(line) as AuditEntry).action),
    ).toEqual(["workspace.create", "workspace.rename"]);
    expect(await gatehouse.activityLog.export(owner, ws, { format: "jsonl", actor: "x" })).toBe("");
  });

  describe("tamper evidence", () => {
    /** A workspace with a log of 8 entries. */
    let logs = 0;
    async function logged() {
      const olivia = await person(`olivia${++logs}`);
      const owner = asUser(olivia.id);
      const ws = (await gatehouse.workspaces.create(owner, { name: "Acme", preset: "mzpanel" })).id;
      for (let index = 1; index < 8; index++) {
        clock.now += MINUTE;
        await gatehouse.workspaces.rename(owner, ws, `Name ${index}`);
      }
      const verify = () => gatehouse.activityLog.verify(owner, ws);
      expect(await verify()).toMatchObject({ valid: true, entries: 8 });
      return { ws, owner, verify };
    }

    const db = () => gatehouse.storage.db;

    async function rewrite(ws: string, seq: number, values: Partial<AuditRow>): Promise<void> {
      await db()
        .updateTable("audit_log")
        .set(values)
        .where("workspace_id", "=", ws)
        .where("seq", "=", seq)
        .execute();
    }

    /** Replaces the entries from `seq` on with `rows` (ids renumbered by the caller). */
    async function replaceFrom(ws: string, seq: number, rows: AuditRow[]): Promise<void> {
      await db()
        .deleteFrom("audit_log")
        .where("workspace_id", "=", ws)
        .where("seq", ">=", seq)
        .execute();
      if (rows.length > 0) await db().insertInto("audit_log").values(rows).execute();
    }

    function rehash(row: Omit<AuditRow, "hash">): AuditRow {
      return { ...row, hash: entryHash(row) };
    }

    it("verifies an untampered log against the head kept on the workspace", async () => {
      const { ws, verify } = await logged();
      const head = await db()
        .selectFrom("workspaces")
        .select(["audit_seq", "audit_head"])
        .where("id", "=", ws)
        .executeTakeFirstOrThrow();
      expect(await verify()).toEqual({ valid: true, entries: 8, head: head.audit_head });
      expect(head.audit_seq).toBe(8);
    });

    it("detects a modified field", async () => {
      const { ws, verify } = await logged();
      await rewrite(ws, 4, { details: JSON.stringify({ from: "Name 2", to: "Evil" }) });
      expect(await verify()).toMatchObject({ valid: false, problem: "modified", seq: 4 });
    });

    it("detects a modified actor, time or result", async () => {
      for (const change of [
        { actor_id: "usr_someone_else" },
        { at: 0 },
        { result: "denied" },
        { ip: "10.0.0.1" },
      ] as Partial<AuditRow>[]) {
        const { ws, verify } = await logged();
        await rewrite(ws, 5, change);
        expect(await verify(), JSON.stringify(change)).toMatchObject({
          valid: false,
          problem: "modified",
          seq: 5,
        });
      }
    });

    it("detects a deleted entry in the middle", async () => {
      const { ws, verify } = await logged();
      await db()
        .deleteFrom("audit_log")
        .where("workspace_id", "=", ws)
        .where("seq", "=", 3)
        .execute();
      expect(await verify()).toMatchObject({ valid: false, problem: "deleted", seq: 3 });
    });

    it("detects a truncated tail", async () => {
      const { ws, verify } = await logged();
      await db()
        .deleteFrom("audit_log")
        .where("workspace_id", "=", ws)
        .where("seq", ">=", 7)
        .execute();
      expect(await verify()).toMatchObject({ valid: false, problem: "deleted", seq: 7 });
    });

    it("detects two entries whose contents were swapped", async () => {
      const { ws, verify } = await logged();
      const rows = await rowsOf(ws);
      const [second, third] = [rows[1]!, rows[2]!];
      const { workspace_id: _a, seq: _b, ...secondContent } = second;
      const { workspace_id: _c, seq: _d, ...thirdContent } = third;
      await rewrite(ws, 2, thirdContent);
      await rewrite(ws, 3, secondContent);
      expect(await verify()).toMatchObject({ valid: false, problem: "modified", seq: 2 });
    });

    it("detects a reordering even when each moved entry's own hash is recomputed", async () => {
      const { ws, verify } = await logged();
      const rows = await rowsOf(ws);
      const [second, third] = [rows[1]!, rows[2]!];
      const { hash: _e, ...secondFields } = second;
      const { hash: _f, ...thirdFields } = third;
      await replaceFrom(ws, 2, [
        rehash({ ...thirdFields, seq: 2 }),
        rehash({ ...secondFields, seq: 3 }),
        ...rows.slice(3),
      ]);
      expect(await verify()).toMatchObject({
        valid: false,
        problem: "reordered_or_inserted",
        seq: 2,
      });
    });

    it("detects a forged entry inserted in the middle, later entries renumbered", async () => {
      const { ws, verify } = await logged();
      const rows = await rowsOf(ws);
      const before = rows[3]!;
      const forged = rehash({
        ...before,
        seq: 5,
        actor_id: "usr_forger",
        details: JSON.stringify({ from: "x", to: "y" }),
        prev_hash: before.hash,
      });
      const renumbered = rows
        .slice(4)
        .map(({ hash: _hash, ...row }) => ({ ...row, seq: row.seq + 1 }));
      // Naively renumbered: the moved entries no longer match their hashes.
      await replaceFrom(ws, 5, [
        forged,
        ...renumbered.map((row, index) => ({ ...row, hash: rows[4 + index]!.hash })),
      ]);
      expect(await verify()).toMatchObject({ valid: false, problem: "modified", seq: 6 });
      // Renumbered with fresh hashes: the entry after the forgery is not linked to it.
      await replaceFrom(ws, 5, [forged, ...renumbered.map(rehash)]);
      expect(await verify()).toMatchObject({
        valid: false,
        problem: "reordered_or_inserted",
        seq: 6,
      });
    });

    it("detects a forged entry appended after the recorded head", async () => {
      const { ws, verify } = await logged();
      const last = (await rowsOf(ws)).at(-1)!;
      await db()
        .insertInto("audit_log")
        .values(rehash({ ...last, seq: 9, action: "member.add", prev_hash: last.hash }))
        .execute();
      expect(await verify()).toMatchObject({
        valid: false,
        problem: "reordered_or_inserted",
        seq: 9,
      });
    });

    it("detects a head moved on the workspace row", async () => {
      const { ws, verify } = await logged();
      await db().updateTable("workspaces").set({ audit_seq: 9 }).where("id", "=", ws).execute();
      expect(await verify()).toMatchObject({ valid: false, problem: "deleted", seq: 9 });
      await db()
        .updateTable("workspaces")
        .set({ audit_seq: 8, audit_head: "0".repeat(64) })
        .where("id", "=", ws)
        .execute();
      expect(await verify()).toMatchObject({ valid: false, problem: "reordered_or_inserted" });
    });
  });
});
