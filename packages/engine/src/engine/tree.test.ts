/** The resource tree: changes, revisions and reads. */
import { describe, expect, it } from "vitest";
import { codeOf, fixture, model } from "../../test/panel-fixture.ts";
import { createEngine } from "./engine.ts";

describe("resources and revisions", () => {
  it("increases the revision with every change and not for no-ops", () => {
    const { engine } = fixture();
    expect(engine.revision).toBe(0);
    engine.upsertResource("server:c", "workspace:acme");
    engine.upsertResource("server:c", "workspace:acme");
    expect(engine.revision).toBe(1);
    engine.addGrant({ subject: "user:z", role: "operator", scope: "server:c" });
    engine.removeGrant("user:z", "server:c");
    engine.deleteResource("server:c");
    expect(engine.revision).toBe(4);
  });

  it("rejects parents of the wrong type and moves under a descendant", () => {
    const { engine } = fixture();
    expect(codeOf(() => engine.upsertResource("site:x", "workspace:acme"))).toBe("INVALID_PARENT");
    expect(codeOf(() => engine.upsertResource("server:x", "site:a1"))).toBe("INVALID_PARENT");
    // @ts-expect-error resource names are typed by the model's types
    expect(codeOf(() => engine.upsertResource("planet:x", "workspace:acme"))).toBe(
      "UNKNOWN_RESOURCE_TYPE",
    );
    expect(codeOf(() => engine.deleteResource("workspace:acme"))).toBe("INVALID_INPUT");
    expect(engine.hasResource("site:x")).toBe(false);
  });

  it("deletes a subtree with the grants on it and reports both", () => {
    const { engine } = fixture();
    const removed = engine.deleteResource("server:a");
    expect(removed.resources.sort()).toEqual(["server:a", "site:a1", "site:a2"]);
    expect(removed.grants.map((grant) => grant.subject).sort()).toEqual(["user:cara", "user:otto"]);
    expect(engine.hasResource("site:a1")).toBe(false);
    expect(engine.check("user:cara", "site.view", "site:a1")).toMatchObject({
      reason: "not_found",
    });
  });

  it("loads resources in any order and rejects a missing parent", () => {
    expect(
      codeOf(() =>
        createEngine(model, {
          workspace: "w",
          resources: [{ resource: "site:s", parent: "server:missing" }],
        }),
      ),
    ).toBe("INVALID_PARENT");
  });
});

describe("tree reads", () => {
  it("lists a subtree parents first, and all resources of a type with paging", () => {
    const { engine } = fixture();
    expect(engine.subtreeOf("server:a")).toEqual(["server:a", "site:a1", "site:a2"]);
    expect(engine.subtreeOf("site:none")).toEqual([]);
    expect(engine.resourcesOfType("site", { limit: 2 })).toEqual({
      items: ["site:a1", "site:a2"],
      next: "site:a2",
    });
    expect(engine.resourcesOfType("site", { after: "site:a2" })).toEqual({
      items: ["site:b1"],
      next: undefined,
    });
  });
});
