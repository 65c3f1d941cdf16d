/** The engine as a whole: validating changes without applying them. */
import { describe, expect, it } from "vitest";
import { codeOf, fixture } from "../../test/panel-fixture.ts";
import { mzpanel } from "../presets/mzpanel.ts";
import { createEngine, Engine } from "./engine.ts";

describe("validation without applying", () => {
  it("validates grants, resources and keys with the errors of the real change, changing nothing", () => {
    const { engine } = fixture();
    const revision = engine.revision;
    expect(() =>
      engine.validateGrant({ subject: "user:x", role: "operator", scope: "server:a" }),
    ).not.toThrow();
    expect(
      codeOf(() => engine.validateGrant({ subject: "user:x", role: "operator", scope: "site:a1" })),
    ).toBe("ROLE_NOT_GRANTABLE_AT_SCOPE");
    expect(codeOf(() => engine.validateResource("site:new", "workspace:acme"))).toBe(
      "INVALID_PARENT",
    );
    expect(codeOf(() => engine.validateResource("server:a", "server:a"))).toBe("INVALID_PARENT");
    expect(() => engine.validateResource("site:a1", "server:b")).not.toThrow();
    expect(
      codeOf(() =>
        engine.validateApiKey({ id: "k", owner: "user:adam", scopes: ["billing.manage"] }),
      ),
    ).toBe("OWNER_ONLY_PERMISSION");
    expect(engine.revision).toBe(revision);
    expect(engine.grantsOf("user:x")).toEqual([]);
    expect(engine.parentOf("site:a1")).toBe("server:a");
  });
});

describe("an engine restored from a snapshot", () => {
  it("moves a resource when the workspace has more than 1024 resources (issue 18: the root lost its NO_PARENT and the move looped)", () => {
    const engine = createEngine(mzpanel, { workspace: "acme" });
    for (let server = 0; server < 2; server++) {
      engine.upsertResource(`server:s${server}`, "workspace:acme");
      for (let site = 0; site < 600; site++)
        engine.upsertResource(`site:s${server}-${site}`, `server:s${server}`);
    }
    const restored = Engine.fromSnapshot(mzpanel, engine.snapshot(), { workspace: "acme" });
    expect(restored.parentOf("workspace:acme")).toBeUndefined();
    restored.moveResource("site:s0-1", "server:s1");
    expect(restored.parentOf("site:s0-1")).toBe("server:s1");
    expect(codeOf(() => restored.moveResource("server:s1", "site:s0-1"))).toBe("INVALID_PARENT");
  });

  it("refuses a snapshot naming a resource or a user twice (issue 17: found from the index sizes)", () => {
    const engine = createEngine(mzpanel, { workspace: "acme" });
    engine.upsertResource("server:s1", "workspace:acme");
    engine.upsertResource("server:s2", "workspace:acme");
    engine.addGrant({ subject: "user:amy", role: "operator", scope: "server:s1" });
    engine.addGrant({ subject: "user:bob", role: "operator", scope: "server:s2" });
    const bytes = engine.snapshot();
    /** The snapshot with the first `from` in its string table written as `to` (same length). */
    const renamed = (from: string, to: string) => {
      const text = Buffer.from(bytes);
      const at = text.indexOf(from);
      expect(at).toBeGreaterThan(0);
      expect(text.indexOf(from, at + 1)).toBe(-1);
      const copy = bytes.slice();
      copy.set(new TextEncoder().encode(to), at);
      return copy;
    };
    const restore = (data: Uint8Array) => () =>
      Engine.fromSnapshot(mzpanel, data, { workspace: "acme" });
    expect(codeOf(restore(renamed("server:s2", "server:s1")))).toBe("INVALID_INPUT");
    expect(codeOf(restore(renamed("user:bob", "user:amy")))).toBe("INVALID_INPUT");
    expect(restore(bytes)().grantsOf("user:bob")).toEqual(engine.grantsOf("user:bob"));
  });
});
