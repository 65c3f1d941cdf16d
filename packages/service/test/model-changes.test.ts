import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { isGatehouseError, loadModel, type Model } from "@gatehouse/engine";
import { presets } from "@gatehouse/engine/presets";
import { afterEach, describe, expect, it } from "vitest";
import { asUser, systemActor } from "../src/actor.ts";
import { createGatehouse, type Gatehouse } from "../src/gatehouse.ts";
import { loadModelFiles } from "../src/models/model-files.ts";
import { backends, codeOf, TEST_PASSWORD_COST } from "./backends.ts";

const RESELLER_FILE = fileURLToPath(
  new URL("../../../docs/examples/models/reseller.json", import.meta.url),
);
const reseller = JSON.parse(readFileSync(RESELLER_FILE, "utf8")) as Record<string, unknown> & {
  roles: Record<string, unknown>;
  permissions: Record<string, unknown>;
};

function folder(): string {
  return mkdtempSync(join(tmpdir(), "gatehouse-models-"));
}

describe("model files", () => {
  it("loads a JSON model beside the five presets", async () => {
    const models = await loadModelFiles([RESELLER_FILE]);
    expect(Object.keys(models).sort()).toEqual([...Object.keys(presets), "reseller"].sort());
    expect(models["reseller"]!.types).toEqual(["reseller", "customer", "subscription", "domain"]);
  });

  it("loads a built module exporting a model or a definition", async () => {
    const dir = folder();
    writeFileSync(
      join(dir, "reseller.mjs"),
      `export default ${JSON.stringify({ ...reseller, name: "reseller-module" })};`,
    );
    const models = await loadModelFiles([join(dir, "reseller.mjs")]);
    expect(models["reseller-module"]!.rootType).toBe("reseller");
  });

  it("reports every problem of every file with its file and path, and loads nothing", async () => {
    const dir = folder();
    const broken = {
      ...reseller,
      name: "broken",
      roles: { ...reseller.roles, ghost: { scopes: ["nowhere"], permissions: ["no.such"] } },
    };
    writeFileSync(join(dir, "broken.json"), JSON.stringify(broken));
    writeFileSync(join(dir, "not-json.json"), "{ nope");
    writeFileSync(join(dir, "clash.json"), JSON.stringify({ ...reseller, name: "mzpanel" }));
    const error = await loadModelFiles([
      join(dir, "broken.json"),
      join(dir, "not-json.json"),
      join(dir, "missing.json"),
      join(dir, "clash.json"),
      join(dir, "model.yaml"),
    ]).catch((caught: unknown) => caught);
    expect(isGatehouseError(error, "INVALID_MODEL")).toBe(true);
    const issues = (error as { issues: { path: string; message: string }[] }).issues;
    const paths = issues.map((issue) => issue.path);
    expect(
      paths.filter((path) => path.startsWith(join(dir, "broken.json"))).length,
    ).toBeGreaterThanOrEqual(2);
    expect(paths.some((path) => path.includes("roles.ghost"))).toBe(true);
    expect(paths).toContain(join(dir, "not-json.json"));
    expect(paths).toContain(join(dir, "missing.json"));
    expect(paths).toContain(`${join(dir, "clash.json")}: name`);
    expect(paths).toContain(join(dir, "model.yaml"));
  });
});

describe.each(backends)("model changes between starts on $name", (backend) => {
  const open: Gatehouse[] = [];
  afterEach(async () => {
    // The instance that opened the database closes last: closing it drops the database.
    for (const gatehouse of open.splice(0).reverse()) await gatehouse.close();
  });

  /** A service on `storage` serving the presets and `model`. */
  function serve(storage: Gatehouse["storage"], model: Model): Gatehouse {
    const gatehouse = createGatehouse({
      storage,
      models: { ...presets, [model.name]: model },
      passwordCost: TEST_PASSWORD_COST,
      personalPreset: null,
    });
    open.push(gatehouse);
    return gatehouse;
  }

  /** A reseller workspace with a customer, a subscription, a domain and three people on it. */
  async function populated() {
    // Two connections to one database: the first instance stops, the second starts on it.
    const [storage, earlier] = (await backend.openPeers(2)) as [
      Gatehouse["storage"],
      Gatehouse["storage"],
    ];
    const first = serve(earlier, loadModel(reseller));
    await first.modelChanges.accept();
    const host = systemActor();
    const owner = (
      await first.users.signUp({
        email: "rita@example.com",
        password: "correct horse battery staple",
      })
    ).user;
    const ws = await first.workspaces.create(asUser(owner.id), {
      name: "Rita's resellers",
      preset: "reseller",
    });
    const root = `reseller:${ws.id}` as const;
    await first.resources.upsert(host, ws.id, { resource: "customer:c1", parent: root });
    await first.resources.upsert(host, ws.id, {
      resource: "subscription:s1",
      parent: "customer:c1",
    });
    await first.resources.upsert(host, ws.id, { resource: "domain:d1", parent: "subscription:s1" });
    const people: Record<string, string> = {};
    for (const [name, role, scope] of [
      ["cora", "customer_admin", "customer:c1"],
      ["dan", "dns_editor", "domain:d1"],
      ["ada", "admin", root],
    ] as const) {
      const user = (
        await first.users.signUp({
          email: `${name}@example.com`,
          password: "correct horse battery staple",
        })
      ).user;
      await first.members.add(host, ws.id, { userId: user.id, grants: [{ role, scope }] });
      people[name] = user.id;
    }
    return { storage, first, ws, people };
  }

  it("records a new model once, then finds it unchanged", async () => {
    const storage = await backend.open();
    const gatehouse = serve(storage, loadModel(reseller));
    const reports = await gatehouse.modelChanges.accept();
    expect(reports.find((report) => report.model === "reseller")?.status).toBe("new");
    const again = await gatehouse.modelChanges.check();
    expect(again.every((report) => report.status === "unchanged")).toBe(true);
  });

  it("applies a compatible change at once and names the access it takes away, member by member", async () => {
    const { storage, first, ws, people } = await populated();
    await first.close();
    open.splice(open.indexOf(first), 1);
    const next = loadModel({
      ...reseller,
      permissions: {
        ...reseller.permissions,
        "domain.transfer": { on: "domain", description: "Transfer the domain away" },
      },
      roles: {
        ...reseller.roles,
        dns_editor: {
          label: "DNS viewer",
          scopes: ["subscription", "domain"],
          permissions: ["domain.view"],
        },
      },
    });
    const second = serve(storage, next);
    const reports = await second.modelChanges.accept();
    const report = reports.find((entry) => entry.model === "reseller")!;
    expect(report).toMatchObject({ status: "compatible", workspaces: 1, conflicts: [] });
    expect(report.lostAccess).toEqual([
      {
        workspaceId: ws.id,
        subject: `user:${people["dan"]}`,
        role: "dns_editor",
        scope: "domain:d1",
        permissions: ["domain.dns"],
      },
    ]);
    expect(
      await second.decisions.check(asUser(people["dan"]!), ws.id, {
        permission: "domain.dns",
        resource: "domain:d1",
      }),
    ).toMatchObject({ allowed: false });
    expect((await second.modelChanges.check()).every((entry) => entry.status === "unchanged")).toBe(
      true,
    );
  });

  it("reports who gains and who loses which permissions where, groups and their members included (#18)", async () => {
    const { storage, first, ws, people } = await populated();
    const host = systemActor();
    const gus = (
      await first.users.signUp({
        email: "gus@example.com",
        password: "correct horse battery staple",
      })
    ).user;
    await first.members.add(host, ws.id, {
      userId: gus.id,
      grants: [{ role: "dns_editor", scope: "domain:d1" }],
    });
    const { group } = await first.members.createGroup(host, ws.id, { name: "DNS desk" });
    await first.members.addToGroup(host, ws.id, group.id, gus.id);
    await first.members.grant(host, ws.id, {
      subject: `group:${group.id}`,
      role: "dns_editor",
      scope: "subscription:s1",
    });
    await first.close();
    open.splice(open.indexOf(first), 1);
    // customer_admin gains a new permission; dns_editor loses one.
    const next = loadModel({
      ...reseller,
      permissions: {
        ...reseller.permissions,
        "domain.transfer": { on: "domain", description: "Transfer the domain away" },
      },
      roles: {
        ...reseller.roles,
        customer_admin: {
          ...(reseller.roles["customer_admin"] as Record<string, unknown>),
          permissions: [
            ...((reseller.roles["customer_admin"] as { permissions: string[] }).permissions ?? []),
            "domain.transfer",
          ],
        },
        dns_editor: {
          label: "DNS viewer",
          scopes: ["subscription", "domain"],
          permissions: ["domain.view"],
        },
      },
    });
    const second = serve(storage, next);
    const [report] = await second.modelChanges.check({ reseller: next });
    const [diff] = report!.accessDiff;
    const line = (subject: string) =>
      diff!.lines
        .filter((entry) => entry.subject === subject)
        .map(({ resource, gained, lost }) => ({ resource, gained, lost }));
    expect(diff).toMatchObject({ workspaceId: ws.id });
    expect(line(`user:${people["cora"]}`)).toEqual([
      { resource: "domain:d1", gained: ["domain.transfer"], lost: [] },
    ]);
    expect(line(`user:${people["dan"]}`)).toEqual([
      { resource: "domain:d1", gained: [], lost: ["domain.dns"] },
    ]);
    // The group loses it, and so does its member, whose own grant no longer gives it either.
    expect(line(`group:${group.id}`)).toEqual([
      { resource: "domain:d1", gained: [], lost: ["domain.dns"] },
    ]);
    expect(line(`user:${gus.id}`)).toEqual([
      { resource: "domain:d1", gained: [], lost: ["domain.dns"] },
    ]);
    expect(diff!.lines.find((entry) => entry.subject === `user:${people["cora"]}`)?.user).toEqual({
      email: "cora@example.com",
      name: expect.any(String),
    });
    // Ada (admin) keeps exactly what she had; the owner gains the new permission.
    expect(line(`user:${people["ada"]}`)).toEqual([]);
    expect(diff).toMatchObject({ changes: 5, gaining: 2, losing: 3 });

    // Bounded: every line counted, the first ones listed.
    const [short] = await second.modelChanges.check({ reseller: next }, { diffLines: 2 });
    expect(short!.accessDiff[0]).toMatchObject({ changes: 5, gaining: 2, losing: 3 });
    expect(short!.accessDiff[0]!.lines).toHaveLength(2);
  });

  it("refuses an incompatible change with every conflicting row, and records nothing", async () => {
    const { storage, first, ws, people } = await populated();
    await first.close();
    open.splice(open.indexOf(first), 1);
    const { dns_editor: _removed, ...roles } = reseller.roles;
    const next = loadModel({
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
        ...roles,
        admin: {
          label: "Admin",
          scopes: ["reseller"],
          permissions: [
            "team.manage",
            "customer.view",
            "customer.manage",
            "subscription.view",
            "subscription.manage",
          ],
        },
        customer_admin: {
          label: "Customer admin",
          scopes: ["customer"],
          permissions: ["team.manage", "customer.view", "subscription.view"],
        },
      },
    });
    const second = serve(storage, next);
    const error = await second.modelChanges.accept().catch((caught: unknown) => caught);
    expect(isGatehouseError(error, "MODEL_INCOMPATIBLE")).toBe(true);
    const report = (await second.modelChanges.check()).find((entry) => entry.model === "reseller")!;
    expect(report.status).toBe("incompatible");
    expect(report.conflicts.map((conflict) => [conflict.item, conflict.code])).toEqual([
      ["resource domain:d1", "UNKNOWN_RESOURCE_TYPE"],
      [`grant user:${people["dan"]} dns_editor at domain:d1`, "UNKNOWN_ROLE"],
    ]);
    expect(
      report.lostAccess.find((lost) => lost.subject === `user:${people["dan"]}`)?.permissions,
    ).toEqual(["domain.dns", "domain.view"]);
    expect(
      report.lostAccess.find((lost) => lost.subject === `user:${people["cora"]}`)?.permissions,
    ).toEqual(["domain.dns", "domain.view", "subscription.manage"]);
    expect((error as { issues: { path: string }[] }).issues.map((issue) => issue.path)).toContain(
      `models.reseller.workspaces.${ws.id}: resource domain:d1`,
    );
  });

  it("applies an incompatible change for the operator by dropping each conflicting row, audited", async () => {
    const { storage, first, ws, people } = await populated();
    await first.close();
    open.splice(open.indexOf(first), 1);
    const next = loadModel({
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
        admin: {
          label: "Admin",
          scopes: ["reseller"],
          permissions: ["team.manage", "customer.view"],
        },
        customer_admin: {
          label: "Customer admin",
          scopes: ["customer"],
          permissions: ["customer.view"],
        },
      },
    });
    // The operator's tool serves the model the database was last served with.
    const probe = serve(storage, loadModel(reseller));
    const served = await probe.modelChanges.served("reseller");
    expect(served?.types).toContain("domain");
    const operator = systemActor("cli");
    expect(await codeOf(probe.modelChanges.apply(operator, next))).toBe("MODEL_INCOMPATIBLE");
    const { dropped, report } = await probe.modelChanges.apply(operator, next, {
      dropConflicts: true,
    });
    expect(report.status).toBe("incompatible");
    expect(dropped).toBeGreaterThanOrEqual(1);
    const log = await probe.activityLog.list(operator, ws.id, {});
    expect(log.entries.map((entry) => entry.action)).toContain("resource.delete");
    expect(
      (await probe.resources.list(operator, ws.id, { type: "domain", permission: "domain.view" }))
        .items,
    ).toEqual([]);
    const members = await probe.members.list(operator, ws.id);
    expect(members.map((member) => member.userId)).not.toContain(people["dan"]);
    // The next start with the new model finds it recorded.
    const after = createGatehouse({
      storage,
      models: { ...presets, reseller: next },
      passwordCost: TEST_PASSWORD_COST,
    });
    open.push(after);
    expect(
      (await after.modelChanges.check()).find((entry) => entry.model === "reseller")?.status,
    ).toBe("unchanged");
  });

  it("refuses to serve workspaces whose model is no longer configured", async () => {
    const { storage, first } = await populated();
    await first.close();
    open.splice(open.indexOf(first), 1);
    const second = createGatehouse({ storage, passwordCost: TEST_PASSWORD_COST });
    open.push(second);
    expect(await codeOf(second.modelChanges.accept())).toBe("MODEL_INCOMPATIBLE");
    const missing = (await second.modelChanges.check()).find((entry) => entry.model === "reseller");
    expect(missing).toMatchObject({ status: "missing", workspaces: 1 });
  });

  it("gives no personal workspace on sign-up when configured with none", async () => {
    const storage = await backend.open();
    const gatehouse = serve(storage, loadModel(reseller));
    const { personalWorkspace, user } = await gatehouse.users.signUp({
      email: "nobody@example.com",
      password: "correct horse battery staple",
    });
    expect(personalWorkspace).toBeUndefined();
    expect(await gatehouse.workspaces.listForUser(user.id)).toEqual([]);
  });
});
