/** The reverse query: subjectsWith, who holds a permission on a resource and through what. */
import { describe, expect, it } from "vitest";
import { codeOf, fixture } from "../../test/panel-fixture.ts";
import { defineModel } from "../model/define-model.ts";
import { createEngine } from "./engine.ts";

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

describe("subjectsAt", () => {
  it("lists access at, above and below a resource, and nothing beside it", () => {
    const { engine } = fixture();
    engine.addGrant({ subject: "user:vic", role: "viewer", scope: "site:b1" });
    const page = engine.subjectsAt("server:a");
    expect(page.items.map((item) => item.subject)).toEqual([
      "user:adam",
      "user:cara",
      "user:olivia",
      "user:otto",
    ]);
    const [adam, cara, , otto] = page.items;
    expect(adam!.via).toEqual([
      {
        grant: expect.objectContaining({ role: "admin", scope: "workspace:acme" }),
        throughGroup: undefined,
        inherited: true,
      },
    ]);
    expect(otto!.via[0]).toMatchObject({ grant: { scope: "server:a" }, inherited: false });
    expect(cara!.via[0]).toMatchObject({ grant: { scope: "site:a1" }, inherited: false });
  });

  it("skips a grant above that carries nothing for this part of the tree", () => {
    const model = defineModel({
      name: "billing",
      types: { workspace: {}, site: { parents: ["workspace"] } },
      permissions: {
        "team.manage": { on: "workspace" },
        "invoice.read": { on: "workspace" },
        "site.view": { on: "site" },
      },
      delegation: "team.manage",
      roles: {
        owner: { owner: true, scopes: ["workspace"] },
        billing: { scopes: ["workspace"], permissions: ["invoice.read"] },
        viewer: { scopes: ["workspace", "site"], permissions: ["site.view"] },
      },
    });
    const engine = createEngine(model, {
      workspace: "w",
      resources: [
        { resource: "site:s", parent: "workspace:w" },
        { resource: "site:t", parent: "workspace:w" },
      ],
      grants: [
        { subject: "user:olivia", role: "owner", scope: "workspace:w" },
        { subject: "user:bill", role: "billing", scope: "workspace:w" },
        { subject: "user:vera", role: "viewer", scope: "workspace:w" },
        { subject: "user:tess", role: "viewer", scope: "site:t" },
      ],
    });
    const subjects = engine.subjectsAt("site:s").items.map((item) => item.subject);
    expect(subjects).toEqual(["user:olivia", "user:vera"]);
  });

  it("lists a group and its members through it, and pages by name", () => {
    const { engine } = fixture();
    engine.addGroupMember("group:web", "user:wen");
    engine.addGrant({ subject: "group:web", role: "viewer", scope: "site:a2" });
    const first = engine.subjectsAt("server:a", { limit: 2 });
    expect(first.items.map((item) => item.subject)).toEqual(["group:web", "user:adam"]);
    const rest = engine.subjectsAt("server:a", { after: first.next });
    expect(rest.items.map((item) => item.subject)).toEqual([
      "user:cara",
      "user:olivia",
      "user:otto",
      "user:wen",
    ]);
    expect(rest.items[3]!.via[0]).toMatchObject({ throughGroup: "group:web", inherited: false });
    expect(engine.subjectsAt("server:nope").items).toEqual([]);
  });
});
