import { defineModel } from "@gatehouse/engine";
import { presets } from "@gatehouse/engine/presets";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { asUser, systemActor } from "../src/actor.ts";
import type { Gatehouse } from "../src/gatehouse.ts";
import { backends, codeOf, openService, signUpPerson } from "./backends.ts";

/**
 * A custom model exercising the rules the presets do not all reach: a section whose permission is
 * held but whose Gatehouse workflow refuses the member is not advertised; the audit gate granted
 * below the root reads that sub-tree's activity; a type without an activity permission has none.
 */
const reseller = defineModel({
  name: "reseller",
  types: {
    workspace: { label: "Workspace" },
    customer: { label: "Customer", parents: ["workspace"] },
    site: { label: "Site", parents: ["customer"] },
  },
  permissions: {
    "team.manage": { on: "workspace" },
    "audit.view": { on: ["workspace", "customer"] },
    "customer.view": { on: "customer" },
    "site.view": { on: "site" },
    "site.activity.view": { on: "site" },
  },
  delegation: "team.manage",
  roles: {
    owner: { owner: true, scopes: ["workspace"] },
    // Reads the log of its customer: the audit gate, granted at a customer.
    auditor: { scopes: ["customer"], permissions: ["audit.view", "customer.view", "site.view"] },
    // Sees the customer's sites, reads the activity of none.
    viewer: { scopes: ["customer"], permissions: ["customer.view", "site.view"] },
    // Reads its site's activity (gates.activity), not the customer's.
    webmaster: { scopes: ["site"], permissions: ["site.view", "site.activity.view"] },
  },
  sections: {
    sites: { label: "Sites", anyOf: ["site.view"] },
    // Held by every role, but the team view (the delegation permission at the root) serves none.
    team: { label: "Team", anyOf: ["site.view"], workflow: "team" },
    activity: { label: "Activity", anyOf: ["site.view"], workflow: "activity" },
  },
  gates: { auditView: "audit.view", activity: { site: "site.activity.view" } },
});

describe.each(backends)("scoped activity in a custom model on $name", (backend) => {
  let gatehouse: Gatehouse;

  beforeEach(async () => {
    ({ gatehouse } = await openService(backend, { models: { ...presets, reseller } }));
  });
  afterEach(async () => {
    await gatehouse.close();
  });

  it("advertises a section only where its workflow serves the member, and reads each sub-tree", async () => {
    const owner = await signUpPerson(gatehouse, "olga");
    const { id: ws } = await gatehouse.workspaces.create(asUser(owner.id), {
      name: "Reseller",
      preset: "reseller",
    });
    const host = systemActor();
    for (const [resource, parent] of [
      ["customer:c1", `workspace:${ws}`],
      ["customer:c2", `workspace:${ws}`],
      ["site:a", "customer:c1"],
      ["site:b", "customer:c1"],
      ["site:z", "customer:c2"],
    ] as const)
      await gatehouse.resources.upsert(host, ws, { resource, parent });
    const members: Record<string, string> = {};
    for (const [name, role, scope] of [
      ["audrey", "auditor", "customer:c1"],
      ["victor", "viewer", "customer:c1"],
      ["wanda", "webmaster", "site:a"],
    ] as const) {
      const user = await signUpPerson(gatehouse, name);
      await gatehouse.members.add(host, ws, { userId: user.id, grants: [{ role, scope }] });
      members[name] = user.id;
    }
    const sections = async (name: string) =>
      (await gatehouse.access.mine(asUser(members[name]!), ws)).sections;
    const targets = async (name: string, resource: string) =>
      (await gatehouse.activityLog.list(asUser(members[name]!), ws, { resource })).entries.map(
        (entry) => entry.target,
      );

    expect(await sections("audrey")).toEqual(["sites", "activity"]);
    expect(await sections("victor")).toEqual(["sites"]);
    expect(await sections("wanda")).toEqual(["sites", "activity"]);
    expect((await gatehouse.access.mine(asUser(owner.id), ws)).sections).toEqual([
      "sites",
      "team",
      "activity",
    ]);

    // The auditor of c1 reads c1 and below, not c2, not the whole log, not the chain.
    expect((await targets("audrey", "customer:c1")).sort()).toEqual([
      "customer:c1",
      "site:a",
      "site:b",
    ]);
    expect(await codeOf(targets("audrey", "customer:c2"))).toBe("RESOURCE_NOT_FOUND");
    expect(await codeOf(targets("audrey", "site:z"))).toBe("RESOURCE_NOT_FOUND");
    expect(await codeOf(targets("audrey", "user:nobody"))).toBe("RESOURCE_NOT_FOUND");
    expect(await codeOf(targets("audrey", `workspace:${ws}`))).toBe("PERMISSION_DENIED");
    expect(await codeOf(gatehouse.activityLog.list(asUser(members["audrey"]!), ws))).toBe(
      "PERMISSION_DENIED",
    );
    expect(await codeOf(gatehouse.activityLog.verify(asUser(members["audrey"]!), ws))).toBe(
      "PERMISSION_DENIED",
    );
    // The viewer reaches c1 and its sites but reads no activity; the webmaster reads site a only.
    expect(await codeOf(targets("victor", "site:a"))).toBe("PERMISSION_DENIED");
    // Site a's activity: its creation, and the viewer's refused attempt to read it.
    const siteA = await gatehouse.activityLog.list(asUser(members["wanda"]!), ws, {
      resource: "site:a",
    });
    expect(siteA.entries.map((entry) => [entry.action, entry.target, entry.result])).toEqual([
      ["audit.view", "site:a", "denied"],
      ["resource.create", "site:a", "success"],
    ]);
    expect(await codeOf(targets("wanda", "site:b"))).toBe("RESOURCE_NOT_FOUND");
    expect(await codeOf(targets("wanda", "customer:c1"))).toBe("RESOURCE_NOT_FOUND");
    // Each refusal is in the whole log, as a denied audit.view on what was asked for.
    const denied = await gatehouse.activityLog.list(asUser(owner.id), ws, {
      action: "audit.view",
      result: "denied",
    });
    expect(denied.entries.map((entry) => entry.target)).toContain("customer:c2");
    const chain = await gatehouse.activityLog.verify(asUser(owner.id), ws);
    expect(chain.valid).toBe(true);
  });
});
