import { randomBytes } from "node:crypto";
import { afterEach, describe, expect, it } from "vitest";
import { asUser, type RequestContext, systemActor } from "../src/actor.ts";
import { createGatehouse, type Gatehouse } from "../src/gatehouse.ts";
import { backends, codeOf, openService, signUpPerson } from "./backends.ts";

const VALUE = "cf-token-6f1d2e9a-very-secret";

describe.each(backends)("integration credentials on $name", (backend) => {
  let gatehouse: Gatehouse;
  let clock: { now: number };
  const secretKey = randomBytes(32);
  const opened: Gatehouse[] = [];

  async function open(options: { secretKey?: Uint8Array | string } = { secretKey }) {
    ({ gatehouse, clock } = await openService(backend, options));
    opened.push(gatehouse);
  }

  afterEach(async () => {
    for (const service of opened.splice(0)) await service.close();
  });

  /** An mzpanel workspace owned by Olivia, with Adam as admin. */
  async function panel() {
    const olivia = await signUpPerson(gatehouse, "olivia");
    const adam = await signUpPerson(gatehouse, "adam");
    const ws = await gatehouse.workspaces.create(asUser(olivia.id), {
      name: "Acme hosting",
      preset: "mzpanel",
    });
    await gatehouse.members.add(systemActor(), ws.id, {
      userId: adam.id,
      grants: [{ role: "admin", scope: `workspace:${ws.id}` }],
    });
    return { ws: ws.id, olivia, adam, owner: asUser(olivia.id) };
  }

  async function everythingLogged(ws: string, owner: RequestContext): Promise<string> {
    const rows = await gatehouse.storage.db.selectFrom("audit_log").selectAll().execute();
    const exported = await gatehouse.activityLog.export(owner, ws, { format: "jsonl" });
    return JSON.stringify(rows) + exported;
  }

  it("lets the owner set credentials, sealed, and list their names only", async () => {
    await open();
    const { ws, olivia, owner } = await panel();
    const { credential, revision } = await gatehouse.credentials.set(owner, ws, {
      name: "cloudflare.token",
      value: VALUE,
    });
    expect(credential).toEqual({
      name: "cloudflare.token",
      createdAt: clock.now,
      updatedAt: clock.now,
      updatedBy: `user:${olivia.id}`,
    });
    expect(revision).toBeGreaterThan(1);
    await gatehouse.credentials.set(owner, ws, { name: "backup.s3-secret", value: "s3cr3t-s3" });
    const listed = await gatehouse.credentials.list(owner, ws);
    expect(listed.map((item) => item.name)).toEqual(["backup.s3-secret", "cloudflare.token"]);
    expect(JSON.stringify(listed)).not.toContain(VALUE);

    const rows = await gatehouse.storage.db
      .selectFrom("integration_credentials")
      .selectAll()
      .execute();
    expect(JSON.stringify(rows)).not.toContain(VALUE);
    expect(rows.every((row) => row.sealed_value.startsWith("v1."))).toBe(true);

    const logged = await everythingLogged(ws, owner);
    expect(logged).not.toContain(VALUE);
    expect(logged).not.toContain("s3cr3t-s3");
    const { entries } = await gatehouse.activityLog.list(owner, ws, { action: "credential.set" });
    expect(entries.map((entry) => entry.details)).toEqual([
      { name: "backup.s3-secret", replaced: false },
      { name: "cloudflare.token", replaced: false },
    ]);
  });

  it("replaces a value, keeping when it was created", async () => {
    await open();
    const { ws, owner } = await panel();
    const created = clock.now;
    await gatehouse.credentials.set(owner, ws, { name: "ai.key", value: "first value" });
    clock.now += 60_000;
    const { credential } = await gatehouse.credentials.set(owner, ws, {
      name: "ai.key",
      value: "second value",
    });
    expect(credential).toMatchObject({ createdAt: created, updatedAt: clock.now });
    expect(await gatehouse.credentials.reveal(systemActor(), ws, "ai.key")).toBe("second value");
    const { entries } = await gatehouse.activityLog.list(owner, ws, { action: "credential.set" });
    expect(entries[0]?.details).toEqual({ name: "ai.key", replaced: true });
    expect(await everythingLogged(ws, owner)).not.toMatch(/first value|second value/);
  });

  it("gives the value back to the host application only: never to a person, not even the owner", async () => {
    await open();
    const { ws, olivia, owner } = await panel();
    await gatehouse.credentials.set(owner, ws, { name: "cloudflare.token", value: VALUE });
    expect(await gatehouse.credentials.reveal(systemActor(), ws, "cloudflare.token")).toBe(VALUE);

    const { secret } = await gatehouse.apiKeys.create(owner, ws, { name: "ci", scopes: ["*"] });
    const { context: viaKey } = await gatehouse.apiKeys.authenticate(secret);
    const assistant: RequestContext = { actor: { type: "assistant", userId: olivia.id } };
    for (const caller of [owner, viaKey, assistant]) {
      expect(await codeOf(gatehouse.credentials.reveal(caller, ws, "cloudflare.token"))).toBe(
        "PERMISSION_DENIED",
      );
    }
    const { entries } = await gatehouse.activityLog.list(owner, ws, {
      action: "credential.reveal",
    });
    expect(entries).toHaveLength(3);
    expect(entries.every((entry) => entry.result === "denied")).toBe(true);
    expect(await codeOf(gatehouse.credentials.reveal(systemActor(), ws, "unknown"))).toBe(
      "CREDENTIAL_NOT_FOUND",
    );
  });

  it("is the owner's alone: admins, API keys and the assistant are denied, and it is logged", async () => {
    await open();
    const { ws, olivia, adam, owner } = await panel();
    const admin = asUser(adam.id);
    const { secret } = await gatehouse.apiKeys.create(owner, ws, { name: "ci", scopes: ["*"] });
    const { context: viaKey } = await gatehouse.apiKeys.authenticate(secret);
    const assistant: RequestContext = { actor: { type: "assistant", userId: olivia.id } };
    await gatehouse.credentials.set(owner, ws, { name: "dns", value: VALUE });
    for (const caller of [admin, viaKey, assistant]) {
      expect(await codeOf(gatehouse.credentials.set(caller, ws, { name: "dns", value: "x" }))).toBe(
        "PERMISSION_DENIED",
      );
      expect(await codeOf(gatehouse.credentials.list(caller, ws))).toBe("PERMISSION_DENIED");
      expect(await codeOf(gatehouse.credentials.delete(caller, ws, "dns"))).toBe(
        "PERMISSION_DENIED",
      );
    }
    const { entries } = await gatehouse.activityLog.list(owner, ws, { result: "denied" });
    expect(entries.map((entry) => entry.action).sort()).toEqual(
      [
        ...Array(3).fill("credential.set"),
        ...Array(3).fill("credential.list"),
        ...Array(3).fill("credential.delete"),
      ].sort(),
    );
    expect(JSON.stringify(entries)).not.toContain(VALUE);
    expect(await gatehouse.credentials.reveal(systemActor(), ws, "dns")).toBe(VALUE);

    // Outsiders learn nothing, not even that the workspace exists.
    const stranger = asUser((await signUpPerson(gatehouse, "stranger")).id);
    expect(await codeOf(gatehouse.credentials.list(stranger, ws))).toBe("WORKSPACE_NOT_FOUND");
    expect(await codeOf(gatehouse.credentials.set(stranger, ws, { name: "dns", value: "x" }))).toBe(
      "WORKSPACE_NOT_FOUND",
    );
    expect(await codeOf(gatehouse.credentials.reveal(stranger, ws, "dns"))).toBe(
      "WORKSPACE_NOT_FOUND",
    );
  });

  it("lets the host application set and delete as well", async () => {
    await open();
    const { ws, owner } = await panel();
    const host = systemActor();
    const { credential } = await gatehouse.credentials.set(host, ws, { name: "dns", value: VALUE });
    expect(credential.updatedBy).toBe("system:host-app");
    await gatehouse.credentials.delete(host, ws, "dns");
    expect(await gatehouse.credentials.list(owner, ws)).toEqual([]);
  });

  it("deletes a credential; CREDENTIAL_NOT_FOUND afterwards", async () => {
    await open();
    const { ws, owner } = await panel();
    await gatehouse.credentials.set(owner, ws, { name: "dns", value: VALUE });
    await gatehouse.credentials.delete(owner, ws, "dns");
    expect(await gatehouse.credentials.list(owner, ws)).toEqual([]);
    expect(await codeOf(gatehouse.credentials.delete(owner, ws, "dns"))).toBe(
      "CREDENTIAL_NOT_FOUND",
    );
    expect(await codeOf(gatehouse.credentials.reveal(systemActor(), ws, "dns"))).toBe(
      "CREDENTIAL_NOT_FOUND",
    );
    const { entries } = await gatehouse.activityLog.list(owner, ws, {
      action: "credential.delete",
    });
    expect(entries.map((entry) => [entry.result, entry.details])).toEqual([
      ["success", { name: "dns" }],
    ]);
  });

  it("refuses bad names and values", async () => {
    await open();
    const { ws, owner } = await panel();
    for (const name of ["", " dns", "a/b", "x".repeat(101), 7]) {
      expect(
        await codeOf(gatehouse.credentials.set(owner, ws, { name: name as string, value: "v" })),
      ).toBe("INVALID_INPUT");
    }
    for (const value of ["", "x".repeat(16 * 1024 + 1), 7]) {
      expect(
        await codeOf(gatehouse.credentials.set(owner, ws, { name: "dns", value: value as string })),
      ).toBe("INVALID_INPUT");
    }
    expect(await gatehouse.credentials.list(owner, ws)).toEqual([]);
  });

  it("refuses to store credentials without a secret key: CONFIGURATION_REQUIRED", async () => {
    await open({});
    const { ws, owner } = await panel();
    expect(await codeOf(gatehouse.credentials.set(owner, ws, { name: "dns", value: VALUE }))).toBe(
      "CONFIGURATION_REQUIRED",
    );
    expect(await gatehouse.credentials.list(owner, ws)).toEqual([]);
  });

  it("binds a sealed value to its workspace, name and key", async () => {
    await open();
    const { ws, owner } = await panel();
    await gatehouse.credentials.set(owner, ws, { name: "dns", value: VALUE });
    await gatehouse.credentials.set(owner, ws, { name: "other", value: "other value" });
    const other = await gatehouse.workspaces.create(owner, {
      name: "Second",
      preset: "mzpanel",
    });
    const row = await gatehouse.storage.db
      .selectFrom("integration_credentials")
      .selectAll()
      .where("name", "=", "dns")
      .executeTakeFirstOrThrow();
    // Copied to another name or another workspace, it does not open.
    await gatehouse.storage.db
      .updateTable("integration_credentials")
      .set({ sealed_value: row.sealed_value })
      .where("name", "=", "other")
      .execute();
    await gatehouse.storage.db
      .insertInto("integration_credentials")
      .values({ ...row, workspace_id: other.id })
      .execute();
    for (const [workspace, name] of [
      [ws, "other"],
      [other.id, "dns"],
    ] as const) {
      expect(await codeOf(gatehouse.credentials.reveal(systemActor(), workspace, name))).toBe(
        "CONFIGURATION_REQUIRED",
      );
    }
    // Another key does not open it either.
    const rekeyed = createGatehouse({ storage: gatehouse.storage, secretKey: randomBytes(32) });
    expect(await codeOf(rekeyed.credentials.reveal(systemActor(), ws, "dns"))).toBe(
      "CONFIGURATION_REQUIRED",
    );
    expect(await gatehouse.credentials.reveal(systemActor(), ws, "dns")).toBe(VALUE);
  });

  it("takes the key as bytes, hex or base64, and refuses anything that is not 32 bytes", async () => {
    await open();
    const { ws, owner } = await panel();
    await gatehouse.credentials.set(owner, ws, { name: "dns", value: VALUE });
    for (const form of [
      secretKey.toString("hex"),
      secretKey.toString("base64"),
      secretKey.toString("base64url"),
      new Uint8Array(secretKey),
    ]) {
      const same = createGatehouse({ storage: gatehouse.storage, secretKey: form });
      expect(await same.credentials.reveal(systemActor(), ws, "dns")).toBe(VALUE);
    }
    for (const bad of [
      "",
      "short",
      "a passphrase is not a key",
      randomBytes(16),
      "ab".repeat(33),
    ]) {
      expect(() => createGatehouse({ storage: gatehouse.storage, secretKey: bad })).toThrowError(
        /secretKey must be 32 bytes/,
      );
    }
  });
});
