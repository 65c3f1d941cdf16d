/** Explanations and suggestions. */
import { describe, expect, it } from "vitest";
import { fixture, model } from "../../test/panel-fixture.ts";
import { Engine } from "./engine.ts";

describe("explain", () => {
  it("lists every grant with its outcome and suggests the least role at the narrowest scope", () => {
    const { engine } = fixture();
    engine.addGrant({ subject: "user:otto", role: "viewer", scope: "site:b1" });
    const explanation = engine.explain("user:otto", "site.deploy", "site:b1");
    expect(explanation.decision).toEqual({ allowed: false, reason: "no_grant" });
    const outcomes = explanation.considered.map((entry) => [entry.grant.scope, entry.outcome]);
    expect(outcomes).toEqual(
      expect.arrayContaining([
        ["server:a", "not_on_path"],
        ["site:b1", "lacks_permission"],
      ]),
    );
    expect(explanation.suggestion).toEqual({ role: "customer", scope: "site:b1" });
    expect(explanation.summary).toContain('role "customer" on site:b1');
  });

  it("says when only the owner can ever hold a permission", () => {
    const { engine } = fixture();
    const explanation = engine.explain("user:adam", "billing.manage", "workspace:acme");
    expect(explanation.ownerOnly).toBe(true);
    expect(explanation.summary).toContain("only the owner");
  });

  it("names the allowing grant and the group it came through", () => {
    const { engine } = fixture();
    engine.addGrant({ subject: "group:ops", role: "operator", scope: "server:b" });
    engine.addGroupMember("group:ops", "user:gus");
    const explanation = engine.explain("user:gus", "site.deploy", "site:b1");
    expect(explanation.considered).toEqual([
      {
        grant: expect.objectContaining({ scope: "server:b" }),
        throughGroup: "group:ops",
        outcome: "allows",
      },
    ]);
    expect(explanation.summary).toContain("through group:ops");
  });

  it("reports the key's own outcome for API keys", () => {
    const { engine } = fixture();
    engine.addApiKey({ id: "k", owner: "user:otto", scopes: ["site.view"] });
    expect(engine.explain("apikey:k", "site.deploy", "site:a1").key).toEqual({
      id: "k",
      outcome: "lacks_scope",
    });
  });

  it("names an elevated grant's note while it is live, and reports it expired after (#18)", () => {
    const now = { value: 1_000 };
    const { engine } = fixture(now);
    const note = 'elevated (eligibility el_1) until 1970-01-01T00:00:02.000Z: "fix the cert"';
    engine.addGrant({
      subject: "user:otto",
      role: "operator",
      scope: "server:b",
      expiresAt: 2_000,
      note,
    });
    const live = engine.explain("user:otto", "site.deploy", "site:b1");
    expect(live.decision).toMatchObject({ allowed: true, via: { note, expiresAt: 2_000 } });
    expect(live.summary).toContain(note);
    now.value = 2_000;
    const after = engine.explain("user:otto", "site.deploy", "site:b1");
    expect(after.decision).toEqual({ allowed: false, reason: "no_grant" });
    expect(after.considered).toContainEqual({
      grant: expect.objectContaining({ note }),
      throughGroup: undefined,
      outcome: "expired",
    });
  });

  it("keeps a note through a snapshot (#18)", () => {
    const { engine } = fixture();
    engine.addGrant({ subject: "user:otto", role: "viewer", scope: "site:b1", note: "elevated" });
    const restored = Engine.fromSnapshot(model, engine.snapshot(), { workspace: "acme" });
    expect(restored.grantsOf("user:otto")).toContainEqual(
      expect.objectContaining({ scope: "site:b1", note: "elevated" }),
    );
  });
});
