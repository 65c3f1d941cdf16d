/** Grants, groups and API keys. */
import { describe, expect, it } from "vitest";
import { codeOf, fixture } from "../../test/panel-fixture.ts";

describe("grants", () => {
  it("refuses a second role for the same subject on the same resource", () => {
    const { engine } = fixture();
    const revision = engine.revision;
    expect(
      codeOf(() => engine.addGrant({ subject: "user:cara", role: "viewer", scope: "site:a1" })),
    ).toBe("ROLE_CONFLICT");
    expect(engine.revision).toBe(revision);
    expect(engine.grantsOf("user:cara")).toHaveLength(1);
  });

  it("refuses a role at a scope type it is not granted at", () => {
    const { engine } = fixture();
    expect(
      codeOf(() => engine.addGrant({ subject: "user:x", role: "operator", scope: "site:a1" })),
    ).toBe("ROLE_NOT_GRANTABLE_AT_SCOPE");
    expect(
      codeOf(() =>
        engine.addGrant({ subject: "user:x", role: "customer", scope: "workspace:acme" }),
      ),
    ).toBe("ROLE_NOT_GRANTABLE_AT_SCOPE");
  });

  it("refuses owner-only extras and extras that do not act under the scope, applying nothing", () => {
    const { engine } = fixture();
    expect(
      codeOf(() =>
        engine.addGrant({
          subject: "user:x",
          role: "admin",
          scope: "workspace:acme",
          extras: ["billing.manage"],
        }),
      ),
    ).toBe("OWNER_ONLY_PERMISSION");
    expect(
      codeOf(() =>
        engine.addGrant({
          subject: "user:x",
          role: "customer",
          scope: "site:a1",
          extras: ["server.restart"],
        }),
      ),
    ).toBe("PERMISSION_NOT_APPLICABLE_AT_SCOPE");
    expect(engine.grantsOf("user:x")).toEqual([]);
  });

  it("keeps the owner role to one user at the root", () => {
    const { engine } = fixture();
    expect(
      codeOf(() =>
        engine.addGrant({ subject: "user:adam", role: "owner", scope: "workspace:acme" }),
      ),
    ).toBe("OWNER_EXISTS");
    expect(
      codeOf(() => engine.addGrant({ subject: "group:g", role: "owner", scope: "workspace:acme" })),
    ).toBe("INVALID_INPUT");
    engine.removeGrant("user:olivia", "workspace:acme");
    expect(engine.ownerGrant).toBeUndefined();
    engine.removeGrant("user:adam", "workspace:acme");
    engine.addGrant({ subject: "user:adam", role: "owner", scope: "workspace:acme" });
    expect(engine.ownerGrant?.subject).toBe("user:adam");
  });

  it("rejects unknown roles, scopes and malformed subjects", () => {
    const { engine } = fixture();
    // @ts-expect-error the role name is typed
    const unknownRole = () => engine.addGrant({ subject: "user:x", role: "god", scope: "site:a1" });
    expect(codeOf(unknownRole)).toBe("UNKNOWN_ROLE");
    expect(
      codeOf(() => engine.addGrant({ subject: "user:x", role: "customer", scope: "site:zz" })),
    ).toBe("RESOURCE_NOT_FOUND");
    // @ts-expect-error subjects are user: or group:
    const robot = () => engine.addGrant({ subject: "robot:x", role: "customer", scope: "site:a1" });
    expect(codeOf(robot)).toBe("INVALID_INPUT");
    expect(codeOf(() => engine.removeGrant("user:x", "site:a1"))).toBe("GRANT_NOT_FOUND");
  });

  it("ends all access at once when a subject is removed", () => {
    const { engine } = fixture();
    engine.addApiKey({ id: "k1", owner: "user:otto", scopes: ["*"] });
    engine.removeSubject("user:otto");
    expect(engine.check("user:otto", "site.view", "site:a1").allowed).toBe(false);
    expect(engine.check("apikey:k1", "site.view", "site:a1").allowed).toBe(false);
    expect(engine.apiKey("k1")).toBeUndefined();
  });
});

describe("API keys", () => {
  it("hold the owner's current permissions ∩ scopes ∩ resources", () => {
    const { engine } = fixture();
    engine.addApiKey({ id: "ci", owner: "user:adam", scopes: ["site.*"], resources: ["server:a"] });
    expect(engine.check("apikey:ci", "site.deploy", "site:a2").allowed).toBe(true);
    expect(engine.check("apikey:ci", "site.deploy", "site:b1")).toEqual({
      allowed: false,
      reason: "key_resource",
    });
    expect(engine.check("apikey:ci", "server.restart", "server:a")).toEqual({
      allowed: false,
      reason: "key_scope",
    });
    expect(engine.listVisible("apikey:ci", "site", "site.view").items).toEqual([
      "site:a1",
      "site:a2",
    ]);
    expect(engine.permissionsOn("apikey:ci", "site:a1")).toEqual([
      "site.view",
      "site.deploy",
      "site.delete",
    ]);
  });

  it("shrink when the owner is demoted", () => {
    const { engine } = fixture();
    engine.addApiKey({ id: "ci", owner: "user:adam", scopes: ["*"] });
    expect(engine.check("apikey:ci", "site.delete", "site:b1").allowed).toBe(true);
    engine.removeGrant("user:adam", "workspace:acme");
    engine.addGrant({ subject: "user:adam", role: "customer", scope: "site:b1" });
    expect(engine.check("apikey:ci", "site.delete", "site:b1").allowed).toBe(false);
    expect(engine.check("apikey:ci", "site.deploy", "site:b1").allowed).toBe(true);
    expect(engine.check("apikey:ci", "site.deploy", "site:a1").allowed).toBe(false);
  });

  it("never carry owner-only permissions, even for the owner", () => {
    const { engine } = fixture();
    const key = engine.addApiKey({ id: "all", owner: "user:olivia", scopes: ["*"] });
    expect(key.permissions).not.toContain("billing.manage");
    expect(engine.check("apikey:all", "billing.manage", "workspace:acme")).toEqual({
      allowed: false,
      reason: "key_scope",
    });
    expect(
      codeOf(() => engine.addApiKey({ id: "k", owner: "user:olivia", scopes: ["billing.manage"] })),
    ).toBe("OWNER_ONLY_PERMISSION");
    expect(
      codeOf(() => engine.addApiKey({ id: "k", owner: "user:olivia", scopes: ["nothing.*"] })),
    ).toBe("UNKNOWN_PERMISSION");
    expect(engine.apiKey("k")).toBeUndefined();
  });

  it("stop working when expired", () => {
    const { engine, now } = fixture();
    engine.addApiKey({ id: "tmp", owner: "user:otto", scopes: ["site.view"], expiresAt: 1_500 });
    expect(engine.check("apikey:tmp", "site.view", "site:a1").allowed).toBe(true);
    now.value = 1_500;
    expect(engine.check("apikey:tmp", "site.view", "site:a1")).toEqual({
      allowed: false,
      reason: "key_expired",
    });
  });

  it("whose resources were deleted hold nothing, rather than the whole workspace", () => {
    const { engine } = fixture();
    engine.addApiKey({
      id: "k",
      owner: "user:adam",
      scopes: ["site.view"],
      resources: ["site:b1"],
    });
    engine.deleteResource("server:b");
    expect(engine.check("apikey:k", "site.view", "site:a1").allowed).toBe(false);
    expect(engine.listVisible("apikey:k", "site", "site.view").items).toEqual([]);
  });

  it("may name resources that do not exist yet, reaching nothing until they do", () => {
    const { engine } = fixture();
    engine.addApiKey({
      id: "k",
      owner: "user:adam",
      scopes: ["site.view"],
      resources: ["site:new"],
    });
    expect(engine.listVisible("apikey:k", "site", "site.view").items).toEqual([]);
    engine.upsertResource("site:new", "server:b");
    expect(engine.listVisible("apikey:k", "site", "site.view").items).toEqual(["site:new"]);
    expect(() =>
      engine.addApiKey({
        id: "k2",
        owner: "user:adam",
        scopes: ["site.view"],
        // @ts-expect-error resource names are typed by the model's types
        resources: ["nope"],
      }),
    ).toThrow(/not a resource of this model/);
  });

  it("keep their resource constraint by name when a resource is deleted and created again", () => {
    const { engine } = fixture();
    engine.addApiKey({
      id: "k",
      owner: "user:adam",
      scopes: ["site.view"],
      resources: ["site:b1"],
    });
    engine.deleteResource("site:b1");
    engine.upsertResource("site:b1", "server:a");
    expect(engine.check("apikey:k", "site.view", "site:b1").allowed).toBe(true);
    expect(engine.check("apikey:k", "site.view", "site:a1").allowed).toBe(false);
    expect(engine.listVisible("apikey:k", "site", "site.view").items).toEqual(["site:b1"]);
  });
});
