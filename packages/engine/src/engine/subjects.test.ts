/** The reverse query: subjectsWith, who holds a permission on a resource and through what. */
import { describe, expect, it } from "vitest";
import { codeOf, fixture } from "../../test/panel-fixture.ts";

describe("subjectsWith", () => {
  it("lists every user holding the permission, sorted by name, with the grant at or above", () => {
    const { engine } = fixture();
    const page = engine.subjectsWith("site.deploy", "site:a1");
    expect(page.items.map((item) => item.subject)).toEqual([
      "user:adam",
      "user:cara",
      "user:olivia",
      "user:otto",
    ]);
    expect(page.next).toBeUndefined();
    const cara = page.items[1]!;
    expect(cara.via).toEqual([
      {
        grant: expect.objectContaining({ role: "customer", scope: "site:a1" }),
        throughGroup: undefined,
        inherited: false,
      },
    ]);
    expect(page.items[3]!.via[0]).toMatchObject({ grant: { scope: "server:a" }, inherited: true });
  });

  it("does not leak upward: a site grant gives nothing on its server", () => {
    const { engine } = fixture();
    const subjects = engine.subjectsWith("server.view", "server:a").items.map((i) => i.subject);
    expect(subjects).toEqual(["user:adam", "user:olivia", "user:otto"]);
  });

  it("lists a group and each of its members through it, naming the group", () => {
    const { engine } = fixture();
    engine.addGroupMember("group:web", "user:wen");
    engine.addGroupMember("group:web", "user:cara");
    engine.addGrant({ subject: "group:web", role: "viewer", scope: "server:b" });
    const page = engine.subjectsWith("site.view", "site:b1");
    expect(page.items.map((item) => item.subject)).toEqual([
      "group:web",
      "user:adam",
      "user:cara",
      "user:olivia",
      "user:wen",
    ]);
    expect(page.items[4]!.via).toEqual([
      {
        grant: expect.objectContaining({ subject: "group:web", role: "viewer" }),
        throughGroup: "group:web",
        inherited: true,
      },
    ]);
  });

  it("gives nothing through an expired grant and reports when a live one ends", () => {
    const now = { value: 1_000 };
    const { engine } = fixture(now);
    engine.addGrant({ subject: "user:tim", role: "customer", scope: "site:b1", expiresAt: 2_000 });
    const tim = () =>
      engine.subjectsWith("site.view", "site:b1").items.find((i) => i.subject === "user:tim");
    expect(tim()?.expiresAt).toBe(2_000);
    now.value = 2_000;
    expect(tim()).toBeUndefined();
  });

  it("does not list API keys, which act for their owners", () => {
    const { engine } = fixture();
    engine.addApiKey({ id: "k1", owner: "user:otto", scopes: ["site.*"] });
    const subjects = engine.subjectsWith("site.view", "site:a1").items.map((i) => i.subject);
    expect(subjects).not.toContain("apikey:k1");
    expect(subjects).toContain("user:otto");
  });

  it("pages with a cursor and sets next whenever more exist", () => {
    const { engine } = fixture();
    const first = engine.subjectsWith("site.view", "site:a1", { limit: 3 });
    expect(first.items.map((i) => i.subject)).toEqual(["user:adam", "user:cara", "user:olivia"]);
    expect(first.next).toBe("user:olivia");
    const second = engine.subjectsWith("site.view", "site:a1", { limit: 3, after: first.next });
    expect(second.items.map((i) => i.subject)).toEqual(["user:otto"]);
    expect(second.next).toBeUndefined();
  });

  it("answers nothing for an unknown resource or a permission not acting on its type", () => {
    const { engine } = fixture();
    expect(engine.subjectsWith("site.view", "site:nowhere").items).toEqual([]);
    expect(engine.subjectsWith("site.view", "server:a").items).toEqual([]);
    expect(codeOf(() => engine.subjectsWith("site.nope" as "site.view", "site:a1"))).toBe(
      "UNKNOWN_PERMISSION",
    );
    expect(codeOf(() => engine.subjectsWith("site.view", "site:a1", { limit: -1 }))).toBe(
      "INVALID_INPUT",
    );
  });
});
