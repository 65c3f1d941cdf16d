/** The engine as a whole: validating changes without applying them. */
import { describe, expect, it } from "vitest";
import { codeOf, fixture } from "../../test/panel-fixture.ts";

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
