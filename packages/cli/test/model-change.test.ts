import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadModel } from "@gatehouse/engine";
import { presets } from "@gatehouse/engine/presets";
import { asUser, systemActor } from "@gatehouse/service";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { type CliDatabase, cliBackends, gatehouse, ROOT } from "./harness.ts";

vi.setConfig({ testTimeout: 60_000 });

const RESELLER_FILE = join(ROOT, "docs/examples/models/reseller.json");
const reseller = JSON.parse(readFileSync(RESELLER_FILE, "utf8")) as Record<string, unknown> & {
  permissions: Record<string, unknown>;
  roles: Record<string, unknown>;
};

/** The reseller model without domains, the DNS editor role and the domain permissions. */
const withoutDomains = {
  ...reseller,
  types: {
    reseller: { label: "Reseller account" },
    customer: { label: "Customer", parents: ["reseller"] },
    subscription: { label: "Subscription", parents: ["customer"] },
  },
  permissions: Object.fromEntries(
    Object.entries(reseller.permissions).filter(([name]) => !name.startsWith("domain.")),
  ),
  roles: {
    owner: reseller.roles["owner"],
    admin: { label: "Admin", scopes: ["reseller"], permissions: ["team.manage", "customer.view"] },
    customer_admin: {
      label: "Customer admin",
      scopes: ["customer"],
      permissions: ["customer.view"],
    },
  },
};

describe.each(cliBackends)("model check and apply on $name", (backend) => {
  const databases: CliDatabase[] = [];
  let folder: string;
  beforeAll(() => {
    folder = mkdtempSync(join(tmpdir(), "gatehouse-cli-models-"));
  });
  afterAll(() => rmSync(folder, { recursive: true, force: true }));
  afterEach(async () => {
    for (const database of databases.splice(0)) await database.drop();
  });

  /** A database served with the reseller model: a domain with a DNS editor on it. */
  async function resellerDatabase() {
    const database = backend.create();
    databases.push(database);
    const service = await database.open({ ...presets, reseller: loadModel(reseller) });
    try {
      await service.modelChanges.accept();
      const { user: rita } = await service.users.signUp({
        email: "rita@example.com",
        password: "correct horse battery staple",
      });
      const ws = await service.workspaces.create(asUser(rita.id), {
        name: "Resellers",
        preset: "reseller",
      });
      const host = systemActor();
      await service.resources.upsert(host, ws.id, {
        resource: "customer:c1",
        parent: `reseller:${ws.id}`,
      });
      await service.resources.upsert(host, ws.id, {
        resource: "subscription:s1",
        parent: "customer:c1",
      });
      await service.resources.upsert(host, ws.id, {
        resource: "domain:d1",
        parent: "subscription:s1",
      });
      const { user: dan } = await service.users.signUp({
        email: "dan@example.com",
        password: "correct horse battery staple",
      });
      await service.members.add(host, ws.id, {
        userId: dan.id,
        grants: [{ role: "dns_editor", scope: "domain:d1" }],
      });
      return { database, ws, dan };
    } finally {
      await service.close();
    }
  }

  it("model check prints the conflicts and the access lost member by member, and exits 1; a fitting change exits 0", async () => {
    const { database, ws, dan } = await resellerDatabase();
    const next = join(folder, `${backend.name}-next.json`);
    writeFileSync(next, JSON.stringify(withoutDomains));
    const env = { ...database.env, MODELS: RESELLER_FILE };
    const checked = await gatehouse(["model", "check", next], { env });
    expect(checked.code, checked.stderr).toBe(1);
    expect(checked.stdout).toContain("model reseller: incompatible (1 open workspace)");
    expect(checked.stdout).toMatch(
      new RegExp(`${ws.id}\\s+resource domain:d1\\s+.*\\[UNKNOWN_RESOURCE_TYPE\\]`),
    );
    expect(checked.stdout).toMatch(
      new RegExp(`user:${dan.id}\\s+dns_editor at domain:d1\\s+loses domain.dns, domain.view`),
    );
    // Who gains and who loses what where (#18): counts, then the first lines.
    expect(checked.stdout).toMatch(
      new RegExp(`access in ${ws.id}: 0 users or groups gain, 2 users or groups lose`),
    );
    expect(checked.stdout).toMatch(
      /dan@example\.com\s+domain:d1\s+loses domain\.view, domain\.dns/,
    );
    const short = await gatehouse(["model", "check", next, "--lines", "1"], { env });
    expect(short.stdout).toContain("… and 1 more");
    const fitting = join(folder, `${backend.name}-fitting.json`);
    writeFileSync(fitting, JSON.stringify({ ...reseller, label: "Reseller panel, renamed" }));
    const fine = await gatehouse(["model", "check", fitting, "--json"], { env });
    expect(fine.code, fine.stderr).toBe(0);
    expect(JSON.parse(fine.stdout)).toMatchObject({
      model: "reseller",
      status: "compatible",
      conflicts: [],
    });
  });

  it("model apply refuses a conflicting change, drops the conflicts with --drop-conflicts, and the server then starts on the new model", async () => {
    const { database, ws } = await resellerDatabase();
    const next = join(folder, `${backend.name}-apply.json`);
    writeFileSync(next, JSON.stringify(withoutDomains));
    // The operator points MODELS at the new file first: the server refuses to start.
    const newEnv = { ...database.env, MODELS: next, DEMO: "false", PORT: "0" };
    const refused = await gatehouse(["serve"], { env: newEnv });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain("MODEL_INCOMPATIBLE");
    expect(refused.stderr).toContain("resource domain:d1");
    const plain = await gatehouse(["model", "apply", next], { env: newEnv });
    expect(plain.code).toBe(1);
    expect(plain.stderr).toContain("MODEL_INCOMPATIBLE");
    const applied = await gatehouse(["model", "apply", next, "--drop-conflicts"], { env: newEnv });
    expect(applied.code, applied.stderr).toBe(0);
    expect(applied.stdout).toContain("applied: the model reseller is recorded");
    const service = await database.open({ ...presets, reseller: loadModel(withoutDomains) });
    try {
      expect(
        (await service.modelChanges.check()).find((report) => report.model === "reseller")?.status,
      ).toBe("unchanged");
      const log = await service.activityLog.list(systemActor(), ws.id, {});
      expect(log.entries.find((entry) => entry.action === "resource.delete")).toMatchObject({
        target: "domain:d1",
      });
    } finally {
      await service.close();
    }
  });
});
