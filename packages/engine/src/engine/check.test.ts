/** Decisions: check, holds, reaches and canGrant. */
import { describe, expect, it } from "vitest";
import { codeOf, fixture, model } from "../../test/panel-fixture.ts";
import { defineModel } from "../model/define-model.ts";
import { createEngine, Engine } from "./engine.ts";

describe("check", () => {
  it("finds a user's grants whether it holds few (kept in its own fields) or many, as they come and go", () => {
    const { engine } = fixture();
    const sites = [
      "site:c1",
      "site:c2",
      "site:c3",
      "site:c4",
      "site:c5",
      "site:c6",
      "site:c7",
    ] as const;
    engine.upsertResource("server:c", "workspace:acme");
    for (const site of sites) engine.upsertResource(site, "server:c");
    const expectHeld = (held: ReadonlySet<string>) => {
      for (const site of sites) {
        expect(engine.check("user:una", "site.deploy", site).allowed).toBe(held.has(site));
        expect(engine.permissionsOn("user:una", site)).toEqual(
          held.has(site) ? ["site.view", "site.deploy"] : [],
        );
      }
      // A restored engine builds the records on first read, fields included.
      const restored = Engine.fromSnapshot(model, engine.snapshot(), { workspace: "acme" });
      for (const site of sites)
        expect(restored.check("user:una", "site.deploy", site).allowed).toBe(held.has(site));
    };
    const held = new Set<string>();
    for (const site of sites) {
      engine.addGrant({ subject: "user:una", role: "customer", scope: site });
      held.add(site);
      expectHeld(held);
      if (site === "site:c3") {
        // Removed and given again while it holds few.
        engine.removeGrant("user:una", "site:c2");
        held.delete("site:c2");
        expectHeld(held);
        engine.addGrant({ subject: "user:una", role: "customer", scope: "site:c2" });
        held.add("site:c2");
        expectHeld(held);
      }
    }
    for (const site of [
      "site:c4",
      "site:c1",
      "site:c7",
      "site:c2",
      "site:c6",
      "site:c3",
    ] as const) {
      engine.removeGrant("user:una", site);
      held.delete(site);
      expectHeld(held);
    }
    // A deleted resource takes its grant along.
    engine.deleteResource("site:c5");
    expect(engine.check("user:una", "site.deploy", "site:c5")).toMatchObject({
      reason: "not_found",
    });
    expect(engine.grantsOf("user:una")).toEqual([]);
  });

  it("allows through a grant on an ancestor and names that grant", () => {
    const { engine } = fixture();
    const decision = engine.check("user:otto", "site.deploy", "site:a2");
    expect(decision).toMatchObject({
      allowed: true,
      via: { subject: "user:otto", role: "operator", scope: "server:a" },
    });
  });

  it("denies a customer on a sibling site and on the server (no upward leakage)", () => {
    const { engine } = fixture();
    expect(engine.check("user:cara", "site.deploy", "site:a1").allowed).toBe(true);
    expect(engine.check("user:cara", "site.view", "site:a2")).toEqual({
      allowed: false,
      reason: "no_grant",
    });
    expect(engine.check("user:cara", "server.view", "server:a")).toEqual({
      allowed: false,
      reason: "no_grant",
    });
  });

  it("confines an operator to its server", () => {
    const { engine } = fixture();
    expect(engine.check("user:otto", "server.restart", "server:a").allowed).toBe(true);
    expect(engine.check("user:otto", "server.restart", "server:b").allowed).toBe(false);
    expect(engine.check("user:otto", "site.view", "site:b1").allowed).toBe(false);
  });

  it("gives the owner every permission, owner-only ones included", () => {
    const { engine } = fixture();
    expect(engine.check("user:olivia", "billing.manage", "workspace:acme").allowed).toBe(true);
    expect(engine.check("user:adam", "billing.manage", "workspace:acme").allowed).toBe(false);
  });

  it("answers not_found for unknown resources and not_applicable for a permission on another type", () => {
    const { engine } = fixture();
    expect(engine.check("user:olivia", "site.view", "site:nope")).toEqual({
      allowed: false,
      reason: "not_found",
    });
    expect(engine.check("user:olivia", "site.view", "server:a")).toEqual({
      allowed: false,
      reason: "not_applicable",
    });
    expect(engine.check("user:nobody", "site.view", "site:a1")).toEqual({
      allowed: false,
      reason: "no_grant",
    });
  });

  it("throws for a permission the model does not define", () => {
    const { engine } = fixture();
    // @ts-expect-error the permission name is typed
    expect(codeOf(() => engine.check("user:adam", "site.explode", "site:a1"))).toBe(
      "UNKNOWN_PERMISSION",
    );
  });

  it("stops honouring a grant once it has expired", () => {
    const { engine, now } = fixture();
    engine.addGrant({ subject: "user:tess", role: "customer", scope: "site:b1", expiresAt: 2_000 });
    expect(engine.check("user:tess", "site.deploy", "site:b1").allowed).toBe(true);
    now.value = 2_000;
    expect(engine.check("user:tess", "site.deploy", "site:b1").allowed).toBe(false);
    expect(engine.permissionsOn("user:tess", "site:b1")).toEqual([]);
    expect(engine.listVisible("user:tess", "site", "site.view").items).toEqual([]);
  });

  it("gives group members the group's grants", () => {
    const { engine } = fixture();
    engine.addGrant({ subject: "group:agency", role: "viewer", scope: "server:b" });
    expect(engine.check("user:gil", "site.view", "site:b1").allowed).toBe(false);
    engine.addGroupMember("group:agency", "user:gil");
    expect(engine.check("user:gil", "site.view", "site:b1")).toMatchObject({
      allowed: true,
      via: { subject: "group:agency" },
    });
    engine.removeGroupMember("group:agency", "user:gil");
    expect(engine.check("user:gil", "site.view", "site:b1").allowed).toBe(false);
  });

  it("adds extras on top of the role", () => {
    const { engine } = fixture();
    engine.addGrant({
      subject: "user:vic",
      role: "viewer",
      scope: "site:b1",
      extras: ["site.delete"],
    });
    expect(engine.check("user:vic", "site.delete", "site:b1").allowed).toBe(true);
    expect(engine.check("user:vic", "site.deploy", "site:b1").allowed).toBe(false);
  });
});

describe("holds", () => {
  it("answers whether a grant at the resource or above carries a permission, whatever type it acts on", () => {
    const { engine } = fixture();
    expect(engine.check("user:adam", "team.manage", "server:a")).toMatchObject({
      reason: "not_applicable",
    });
    expect(engine.holds("user:adam", "team.manage", "server:a")).toMatchObject({
      allowed: true,
      via: { role: "admin" },
    });
    expect(engine.holds("user:otto", "site.deploy", "server:a").allowed).toBe(true);
    expect(engine.holds("user:otto", "site.deploy", "workspace:acme").allowed).toBe(false);
    expect(engine.holds("user:cara", "team.manage", "site:a1").allowed).toBe(false);
  });
});

describe("reaches", () => {
  it("is true at and below the subject's grants and at the root, false above, for siblings and strangers", () => {
    const { engine } = fixture();
    expect(engine.reaches("user:cara", "site:a1")).toBe(true);
    expect(engine.reaches("user:cara", "server:a")).toBe(false);
    expect(engine.reaches("user:otto", "site:a2")).toBe(true);
    expect(engine.reaches("user:cara", "workspace:acme")).toBe(true);
    expect(engine.reaches("user:cara", "site:a2")).toBe(false);
    expect(engine.reaches("user:cara", "server:b")).toBe(false);
    expect(engine.reaches("user:nobody", "site:a1")).toBe(false);
    engine.addApiKey({
      id: "k",
      owner: "user:adam",
      scopes: ["site.view"],
      resources: ["site:b1"],
    });
    expect(engine.reaches("apikey:k", "site:b1")).toBe(true);
    expect(engine.reaches("apikey:k", "server:b")).toBe(false);
    expect(engine.reaches("apikey:k", "site:a1")).toBe(false);
  });
});

describe("canGrant", () => {
  it("lets people managers grant what they hold", () => {
    const { engine } = fixture();
    expect(engine.canGrant("user:adam", "operator", "server:b")).toMatchObject({
      allowed: true,
      via: { role: "admin" },
    });
    expect(engine.canGrant("user:adam", "admin", "workspace:acme").allowed).toBe(true);
  });

  it("refuses granters without people management and grants beyond the granter", () => {
    const { engine } = fixture();
    expect(engine.canGrant("user:otto", "customer", "site:a1")).toEqual({
      allowed: false,
      reason: "no_people_management",
    });
    engine.addGrant({ subject: "user:tina", role: "viewer", scope: "server:a", extras: [] });
    expect(engine.canGrant("user:tina", "viewer", "site:a1")).toMatchObject({
      reason: "no_people_management",
    });
  });

  it("names the permissions a grant would add beyond the granter", () => {
    const narrow = defineModel({
      ...model.definition,
      name: "narrow",
      roles: {
        ...model.definition.roles,
        helpdesk: { scopes: ["workspace"], permissions: ["team.manage", "site.view"] },
      },
    });
    const engine = createEngine(narrow, {
      workspace: "w",
      grants: [{ subject: "user:h", role: "helpdesk", scope: "workspace:w" }],
    });
    expect(engine.canGrant("user:h", "viewer", "workspace:w")).toMatchObject({
      reason: "role_not_grantable_at_scope",
    });
    engine.upsertResource("server:s", "workspace:w");
    expect(engine.canGrant("user:h", "viewer", "server:s").allowed).toBe(true);
    expect(engine.canGrant("user:h", "operator", "server:s")).toEqual({
      allowed: false,
      reason: "exceeds_granter",
      missing: ["server.view", "server.restart", "site.deploy"],
    });
  });

  it("never grants the owner role or owner-only extras", () => {
    const { engine } = fixture();
    expect(engine.canGrant("user:olivia", "owner", "workspace:acme")).toMatchObject({
      reason: "owner_not_grantable",
    });
    expect(
      engine.canGrant("user:olivia", "admin", "workspace:acme", ["billing.manage"]),
    ).toMatchObject({ reason: "owner_only_permission" });
  });
});
