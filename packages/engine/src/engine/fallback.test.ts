/** A temporary role over a standing one: a grant that falls back to another role at its expiry. */
import { describe, expect, it } from "vitest";
import { codeOf, fixture, model } from "../../test/panel-fixture.ts";
import { ErrorCode } from "../errors.ts";
import { Engine } from "./engine.ts";

const UNTIL = 2_000;

/** otto: operator on server:b until UNTIL, then viewer (his standing role there). */
function elevated() {
  const { engine, now } = fixture();
  engine.addGrant({
    subject: "user:otto",
    role: "operator",
    scope: "server:b",
    expiresAt: UNTIL,
    note: "elevated: incident 7",
    fallback: { role: "viewer" },
  });
  return { engine, now };
}

describe("a grant with a fallback", () => {
  it("gives its role until expiresAt and the fallback from then on, by the clock alone", () => {
    const { engine, now } = elevated();
    const before = engine.check("user:otto", "server.restart", "server:b");
    expect(before).toMatchObject({
      allowed: true,
      via: { role: "operator", expiresAt: UNTIL, fallback: { role: "viewer", extras: [] } },
    });
    expect(engine.permissionsOn("user:otto", "server:b")).toContain("server.restart");
    now.value = UNTIL;
    expect(engine.check("user:otto", "server.restart", "server:b")).toEqual({
      allowed: false,
      reason: "no_grant",
    });
    const after = engine.check("user:otto", "site.view", "site:b1");
    expect(after).toEqual({
      allowed: true,
      via: {
        subject: "user:otto",
        role: "viewer",
        scope: "server:b",
        extras: [],
        expiresAt: undefined,
      },
    });
    expect(engine.permissionsOn("user:otto", "server:b")).not.toContain("server.restart");
    expect(engine.listVisible("user:otto", "site", "site.view").items).toEqual([
      "site:a1",
      "site:a2",
      "site:b1",
    ]);
    expect(engine.listVisible("user:otto", "site", "site.deploy").items).toEqual([
      "site:a1",
      "site:a2",
    ]);
  });

  it("is what grantsOf, who-can-access and explain show at each instant", () => {
    const { engine, now } = elevated();
    expect(engine.grantsOf("user:otto").map((grant) => grant.role)).toEqual([
      "operator",
      "operator",
    ]);
    const during = engine.explain("user:otto", "site.deploy", "site:b1");
    expect(during.summary).toContain('role "operator" on server:b');
    expect(during.summary).toContain("[elevated: incident 7]");
    expect(during.summary).toContain('then role "viewer"');
    expect(engine.subjectsWith("site.deploy", "site:b1").items.map((item) => item.subject)).toEqual(
      ["user:adam", "user:olivia", "user:otto"],
    );
    now.value = UNTIL + 1;
    const shown = engine.grantsOf("user:otto").find((grant) => grant.scope === "server:b");
    expect(shown).toEqual({
      subject: "user:otto",
      role: "viewer",
      scope: "server:b",
      extras: [],
      expiresAt: undefined,
    });
    const afterwards = engine.explain("user:otto", "site.view", "site:b1");
    expect(afterwards.summary).toContain('role "viewer" on server:b');
    expect(afterwards.summary).not.toContain("elevated");
    const denied = engine.explain("user:otto", "site.deploy", "site:b1");
    expect(denied.considered).toContainEqual({
      grant: shown,
      throughGroup: undefined,
      outcome: "lacks_permission",
    });
    const viewers = engine.subjectsWith("site.view", "site:b1").items;
    expect(viewers.find((item) => item.subject === "user:otto")?.expiresAt).toBeUndefined();
    expect(engine.subjectsWith("site.deploy", "site:b1").items.map((item) => item.subject)).toEqual(
      ["user:adam", "user:olivia"],
    );
  });

  it("narrows an API key of its holder the same way", () => {
    const { engine, now } = elevated();
    engine.addApiKey({ id: "k1", owner: "user:otto", scopes: ["*"] });
    expect(engine.check("apikey:k1", "server.restart", "server:b").allowed).toBe(true);
    now.value = UNTIL;
    expect(engine.check("apikey:k1", "server.restart", "server:b").allowed).toBe(false);
    expect(engine.permissionsOn("apikey:k1", "site:b1")).toEqual(["site.view"]);
  });

  it("is refused without an expiry, toward the owner role or a role not grantable there", () => {
    const { engine } = fixture();
    const base = { subject: "user:otto", role: "operator", scope: "server:b" } as const;
    expect(codeOf(() => engine.addGrant({ ...base, fallback: { role: "viewer" } }))).toBe(
      ErrorCode.INVALID_INPUT,
    );
    expect(
      codeOf(() => engine.addGrant({ ...base, expiresAt: UNTIL, fallback: { role: "owner" } })),
    ).toBe(ErrorCode.INVALID_INPUT);
    expect(
      codeOf(() => engine.addGrant({ ...base, expiresAt: UNTIL, fallback: { role: "customer" } })),
    ).toBe(ErrorCode.ROLE_NOT_GRANTABLE_AT_SCOPE);
    expect(
      codeOf(() =>
        engine.addGrant({
          ...base,
          expiresAt: UNTIL,
          fallback: { role: "viewer", extras: ["billing.manage"] },
        }),
      ),
    ).toBe(ErrorCode.OWNER_ONLY_PERMISSION);
    expect(engine.grantsOf("user:otto")).toHaveLength(1);
  });

  it("loads from store rows and survives a snapshot round trip", () => {
    const now = { value: 1_000 };
    const engine = new Engine(model, { workspace: "acme", clock: () => now.value });
    engine.upsertResource("server:b", "workspace:acme");
    engine.upsertResource("site:b1", "server:b");
    engine.loadGrants([
      ["user:otto", "server:b", "operator", null, UNTIL, "elevated", { role: "viewer" }],
    ]);
    const restored = Engine.fromSnapshot(model, engine.snapshot(), {
      workspace: "acme",
      clock: () => now.value,
    });
    // A snapshot of a restored engine copies grants still held in its columns, fallback included.
    const options = { workspace: "acme", clock: () => now.value };
    const unread = Engine.fromSnapshot(model, engine.snapshot(), options);
    const again = Engine.fromSnapshot(model, unread.snapshot(), options);
    for (const copy of [engine, restored, again]) {
      now.value = 1_000;
      expect(copy.check("user:otto", "server.restart", "server:b")).toMatchObject({
        allowed: true,
        via: { note: "elevated", fallback: { role: "viewer" } },
      });
      now.value = UNTIL;
      expect(copy.check("user:otto", "server.restart", "server:b").allowed).toBe(false);
      expect(copy.check("user:otto", "site.view", "site:b1")).toMatchObject({
        allowed: true,
        via: { role: "viewer" },
      });
    }
  });

  it("reads a snapshot of the previous format, which never carries a fallback", () => {
    const { engine } = fixture();
    const bytes = engine.snapshot();
    new Uint32Array(bytes.buffer, bytes.byteOffset, 2)[1] = 2;
    const restored = Engine.fromSnapshot(model, bytes, { workspace: "acme" });
    expect(restored.check("user:otto", "site.deploy", "site:a1").allowed).toBe(true);
  });
});
