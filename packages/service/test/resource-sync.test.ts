import { isGatehouseError } from "@gatehouse/engine";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { asUser, systemActor } from "../src/actor.ts";
import type { Gatehouse } from "../src/gatehouse.ts";
import { backends, codeOf, openService, signUpPerson } from "./backends.ts";

const host = systemActor();

/** `count` sites under `servers` servers, listed children first (parents in any order). */
function tree(ws: string, servers: number, count: number) {
  const sites = Array.from({ length: count }, (_, index) => ({
    resource: `site:s${index}`,
    parent: `server:v${index % servers}`,
  }));
  const serverRows = Array.from({ length: servers }, (_, index) => ({
    resource: `server:v${index}`,
    parent: `workspace:${ws}`,
  }));
  return [...sites, ...serverRows];
}

describe.each(backends)("resource sync on $name", (backend) => {
  let gatehouse: Gatehouse;
  let ws: string;
  let ownerId: string;

  beforeEach(async () => {
    ({ gatehouse } = await openService(backend));
    const olivia = await signUpPerson(gatehouse, "olivia");
    ownerId = olivia.id;
    ws = (
      await gatehouse.workspaces.create(asUser(olivia.id), { name: "Fleet", preset: "mzpanel" })
    ).id;
  });
  afterEach(async () => {
    await gatehouse.close();
  });

  it("registers 10,000 resources, children before parents, in one revision; sending it again changes nothing", async () => {
    const before = (await gatehouse.workspaces.get(asUser(ownerId), ws)).revision;
    const resources = tree(ws, 20, 10_000);
    const first = await gatehouse.resources.sync(host, ws, { resources });
    expect(first).toMatchObject({ added: 10_020, unchanged: 0, moved: [], deleted: [] });
    expect(first.revision).toBe(before + 1);
    const page = await gatehouse.resources.list(asUser(ownerId), ws, {
      type: "site",
      permission: "site.view",
    });
    expect(page.items.length).toBe(10_000);
    const again = await gatehouse.resources.sync(host, ws, { resources });
    expect(again).toMatchObject({ added: 0, unchanged: 10_020, revision: first.revision });
  });

  it("refuses a batch with any problem, listing each with its path, and applies nothing", async () => {
    const error = await gatehouse.resources
      .sync(host, ws, {
        resources: [
          { resource: "server:ok", parent: `workspace:${ws}` },
          { resource: "site:orphan", parent: "server:nowhere" },
          { resource: "site:a", parent: "server:ok" },
          { resource: "site:a", parent: "server:ok" },
          { resource: "planet:x", parent: `workspace:${ws}` },
          { resource: "server:loop1", parent: "server:loop2" },
          { resource: "server:loop2", parent: "server:loop1" },
          { resource: "nonsense", parent: "server:ok" },
        ],
      })
      .catch((caught: unknown) => caught);
    expect(isGatehouseError(error, "INVALID_INPUT")).toBe(true);
    const paths = (error as { issues: { path: string }[] }).issues.map((issue) => issue.path);
    expect(paths).toEqual(
      expect.arrayContaining(["resources[1]", "resources[3]", "resources[4]", "resources[7]"]),
    );
    expect(paths.some((path) => path === "resources[5]" || path === "resources[6]")).toBe(true);
    expect(
      (await gatehouse.resources.list(host, ws, { type: "server", permission: "server.view" }))
        .items,
    ).toEqual([]);
  });

  it("reconciles a type: the dry run answers the difference and the grants it would drop, then the same call applies it", async () => {
    await gatehouse.resources.sync(host, ws, { resources: tree(ws, 2, 10) });
    const cara = await signUpPerson(gatehouse, "cara");
    await gatehouse.members.add(host, ws, {
      userId: cara.id,
      grants: [{ role: "customer", scope: "site:s3" }],
    });
    // The truth now: sites s0–s2 and s4–s9 (s3 gone), s0 moved to the other server, a new s10.
    const truth = [
      ...tree(ws, 2, 10).filter(
        (row) => row.resource !== "site:s3" && row.resource.startsWith("site:"),
      ),
      { resource: "site:s10", parent: "server:v0" },
    ].map((row) => (row.resource === "site:s0" ? { ...row, parent: "server:v1" } : row));
    const dry = await gatehouse.resources.sync(host, ws, {
      resources: truth,
      reconcile: { type: "site" },
      dryRun: true,
    });
    expect(dry).toMatchObject({
      dryRun: true,
      added: 1,
      moved: [{ resource: "site:s0", from: "server:v0", to: "server:v1" }],
      deleted: ["site:s3"],
      droppedGrants: [{ subject: `user:${cara.id}`, role: "customer", scope: "site:s3" }],
    });
    expect(
      await gatehouse.decisions.check(asUser(cara.id), ws, {
        permission: "site.view",
        resource: "site:s3",
      }),
    ).toMatchObject({ allowed: true });
    const applied = await gatehouse.resources.sync(host, ws, {
      resources: truth,
      reconcile: { type: "site" },
    });
    expect({ ...applied, revision: 0, dryRun: true }).toEqual({ ...dry, revision: 0 });
    expect(await codeOf(gatehouse.members.list(asUser(cara.id), ws))).toBe("WORKSPACE_NOT_FOUND");
    const log = await gatehouse.activityLog.list(asUser(ownerId), ws, {});
    expect(log.entries[0]).toMatchObject({ action: "resource.sync" });
    const again = await gatehouse.resources.sync(host, ws, {
      resources: truth,
      reconcile: { type: "site" },
    });
    expect(again).toMatchObject({ added: 0, moved: [], deleted: [], revision: applied.revision });
  });

  it("reconciles only under the given parent", async () => {
    await gatehouse.resources.sync(host, ws, { resources: tree(ws, 2, 6) });
    // server:v0 holds s0, s2, s4: keep s0 only; v1's sites are untouched.
    const result = await gatehouse.resources.sync(host, ws, {
      resources: [{ resource: "site:s0", parent: "server:v0" }],
      reconcile: { type: "site", under: "server:v0" },
    });
    expect([...result.deleted].sort()).toEqual(["site:s2", "site:s4"]);
    const sites = await gatehouse.resources.list(host, ws, {
      type: "site",
      permission: "site.view",
    });
    expect(sites.items).toEqual(["site:s0", "site:s1", "site:s3", "site:s5"]);
  });

  it("is the host application's: a member, even the owner, is refused and logged", async () => {
    expect(
      await codeOf(
        gatehouse.resources.sync(asUser(ownerId), ws, {
          resources: [{ resource: "server:x", parent: `workspace:${ws}` }],
        }),
      ),
    ).toBe("PERMISSION_DENIED");
    const log = await gatehouse.activityLog.list(asUser(ownerId), ws, {});
    expect(log.entries[0]).toMatchObject({ action: "resource.sync", result: "denied" });
  });

  it("refuses more than 250,000 resources in one sync before touching anything", async () => {
    const resources = Array.from({ length: 250_001 }, (_, index) => ({
      resource: `server:x${index}`,
      parent: `workspace:${ws}`,
    }));
    expect(await codeOf(gatehouse.resources.sync(host, ws, { resources }))).toBe("INVALID_INPUT");
  });
});
