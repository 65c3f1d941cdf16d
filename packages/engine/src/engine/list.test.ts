/** Listing: permissionsOn and listVisible with paging. */
import { describe, expect, it } from "vitest";
import { codeOf, fixture, model } from "../../test/panel-fixture.ts";
import { createEngine } from "./engine.ts";
import type { Page, PageRequest, ResourceRef } from "./types.ts";

describe("permissionsOn", () => {
  it("returns exactly the permissions check allows there", () => {
    const { engine } = fixture();
    expect(engine.permissionsOn("user:otto", "server:a")).toEqual([
      "server.view",
      "server.restart",
    ]);
    expect(engine.permissionsOn("user:otto", "site:a1")).toEqual(["site.view", "site.deploy"]);
    expect(engine.permissionsOn("user:otto", "server:b")).toEqual([]);
    expect(engine.permissionsOn("user:olivia", "workspace:acme")).toEqual([
      "billing.manage",
      "team.manage",
      "report.read",
    ]);
  });
});

describe("listVisible", () => {
  it("lists only what the subject may see, sorted by name", () => {
    const { engine } = fixture();
    expect(engine.listVisible("user:cara", "site", "site.view").items).toEqual(["site:a1"]);
    expect(engine.listVisible("user:otto", "site", "site.view").items).toEqual([
      "site:a1",
      "site:a2",
    ]);
    expect(engine.listVisible("user:otto", "server", "server.view").items).toEqual(["server:a"]);
    expect(engine.listVisible("user:cara", "server", "server.view").items).toEqual([]);
    expect(engine.listVisible("user:adam", "site", "site.view").items).toEqual([
      "site:a1",
      "site:a2",
      "site:b1",
    ]);
  });

  it("pages with a cursor, for scoped and workspace-wide subjects alike", () => {
    const { engine } = fixture();
    for (const subject of ["user:adam", "user:otto"] as const) {
      const all = engine.listVisible(subject, "site", "site.view").items;
      const seen: string[] = [];
      let after: `site:${string}` | undefined;
      do {
        const page = engine.listVisible(subject, "site", "site.view", { limit: 1, after });
        seen.push(...page.items);
        after = page.next as `site:${string}` | undefined;
      } while (after !== undefined);
      expect(seen).toEqual(all);
    }
  });

  it("follows moves and deletions", () => {
    const { engine } = fixture();
    engine.moveResource("site:b1", "server:a");
    expect(engine.listVisible("user:otto", "site", "site.view").items).toEqual([
      "site:a1",
      "site:a2",
      "site:b1",
    ]);
    engine.deleteResource("site:a2");
    expect(engine.listVisible("user:otto", "site", "site.view").items).toEqual([
      "site:a1",
      "site:b1",
    ]);
    expect(engine.listVisible("user:adam", "site", "site.view").items).toEqual([
      "site:a1",
      "site:b1",
    ]);
  });

  it("rejects unknown types and bad limits", () => {
    const { engine } = fixture();
    // @ts-expect-error the type name is typed
    expect(codeOf(() => engine.listVisible("user:adam", "planet", "site.view"))).toBe(
      "UNKNOWN_RESOURCE_TYPE",
    );
    expect(codeOf(() => engine.listVisible("user:adam", "site", "site.view", { limit: -1 }))).toBe(
      "INVALID_INPUT",
    );
  });
});

describe("listVisible over many resources", () => {
  it("pages the same whether it gathers the covered resources or scans the sorted list", () => {
    const resources: {
      resource: `server:${string}` | `site:${string}`;
      parent: `workspace:${string}` | `server:${string}`;
    }[] = [];
    for (let server = 0; server < 6; server++) {
      resources.push({ resource: `server:s${server}`, parent: "workspace:big" });
      for (let site = 0; site < 40; site++)
        resources.push({ resource: `site:${site}-on-${server}`, parent: `server:s${server}` });
    }
    const grants = [
      { subject: "user:otto", role: "operator", scope: "server:s1" },
      { subject: "user:otto", role: "operator", scope: "server:s4" },
      { subject: "user:otto", role: "customer", scope: "site:7-on-2" },
    ] as const;
    const gathering = createEngine(model, { workspace: "big", resources, grants });
    const scanning = createEngine(model, { workspace: "big", resources, grants, gatherLimit: 1 });
    const all = gathering.listVisible("user:otto", "site", "site.view").items;
    expect(all).toHaveLength(81);
    for (const limit of [1, 7, 50, 100]) {
      const pages: string[] = [];
      let after: `site:${string}` | undefined;
      do {
        const page = scanning.listVisible("user:otto", "site", "site.view", { limit, after });
        expect(page).toEqual(
          gathering.listVisible("user:otto", "site", "site.view", { limit, after }),
        );
        pages.push(...page.items);
        after = page.next as `site:${string}` | undefined;
      } while (after !== undefined);
      expect(pages).toEqual(all);
    }
  });
});

describe("a page of listVisible, gathering and scanning in turns", () => {
  // Enough resources that both ways run for several turns before either finishes.
  const resources: {
    resource: `server:${string}` | `site:${string}`;
    parent: `workspace:${string}` | `server:${string}`;
  }[] = [];
  for (let server = 0; server < 40; server++) {
    resources.push({ resource: `server:s${server}`, parent: "workspace:big" });
    for (let site = 0; site < 50; site++) {
      // Interleaved names on the even servers, a block of names at the end on the odd ones.
      const name = server % 2 === 0 ? `${site}-${server}` : `z${server}-${site}`;
      resources.push({ resource: `site:${name}`, parent: `server:s${server}` });
    }
  }
  const grants = [
    // Many: every fourth server.
    ...Array.from({ length: 10 }, (_, i) => ({
      subject: "user:fleet" as const,
      role: "operator" as const,
      scope: `server:s${i * 4}` as const,
    })),
    // Few, whose names sort last.
    { subject: "user:late", role: "operator", scope: "server:s39" },
    { subject: "user:late", role: "customer", scope: "site:3-0" },
    // Many, all of them sorting last.
    ...Array.from({ length: 12 }, (_, i) => ({
      subject: "user:tail" as const,
      role: "operator" as const,
      scope: `server:s${i * 2 + 15}` as const,
    })),
  ] as const;

  it("pages exactly the full list, whichever way finishes first and whatever the gather limit", () => {
    for (const gatherLimit of [1, 100, 700, 2048, 100_000]) {
      const engine = createEngine(model, { workspace: "big", resources, grants, gatherLimit });
      for (const subject of ["user:fleet", "user:late", "user:tail"] as const) {
        const all = engine.listVisible(subject, "site", "site.view").items;
        expect(all.length).toBeGreaterThan(0);
        expect(all).toEqual([...all].sort());
        for (const limit of [0, 3, 7, 100, 501]) {
          const pages: string[] = [];
          let after: `site:${string}` | undefined;
          let turns = 0;
          do {
            const page = engine.listVisible(subject, "site", "site.view", { limit, after });
            expect(page.items.length).toBeLessThanOrEqual(limit);
            pages.push(...page.items);
            after = page.next as `site:${string}` | undefined;
            if (after !== undefined) expect(page.items).toHaveLength(limit);
          } while (after !== undefined && ++turns < 10_000);
          expect(pages).toEqual(limit === 0 ? [] : all);
        }
      }
    }
  });
});

describe("listVisible and resourcesOfType with a text to match (#16)", () => {
  const resources: {
    resource: `server:${string}` | `site:${string}`;
    parent: `workspace:${string}` | `server:${string}`;
  }[] = [];
  for (let server = 0; server < 4; server++) {
    resources.push({ resource: `server:s${server}`, parent: "workspace:big" });
    for (let site = 0; site < 60; site++)
      resources.push({ resource: `site:Shop-${site}-on-${server}`, parent: `server:s${server}` });
  }
  const grants = [
    { subject: "user:otto", role: "operator", scope: "server:s1" },
    { subject: "user:otto", role: "customer", scope: "site:Shop-12-on-2" },
    { subject: "user:olivia", role: "owner", scope: "workspace:big" },
  ] as const;
  const gathering = createEngine(model, { workspace: "big", resources, grants });
  const scanning = createEngine(model, { workspace: "big", resources, grants, gatherLimit: 1 });

  /** Every page of a listing with `match`, following `next`. */
  function walk(list: (page: PageRequest<"site">) => Page, limit: number, match: string): string[] {
    const items: string[] = [];
    let after: ResourceRef<"site"> | undefined;
    do {
      const page = list({ limit, after, match });
      items.push(...page.items);
      if (page.next !== undefined) expect(page.items).toHaveLength(limit);
      after = page.next as ResourceRef<"site"> | undefined;
    } while (after !== undefined);
    return items;
  }

  it("keeps the ids that contain the text, ignoring case, on every listing path", () => {
    for (const match of ["shop-12", "SHOP-1", "-on-2", "nothing", "site"]) {
      const naive = (subject: "user:otto" | "user:olivia") =>
        gathering
          .listVisible(subject, "site", "site.view")
          .items.filter((name) => name.slice(5).toLowerCase().includes(match.toLowerCase()));
      for (const limit of [1, 5, 1000]) {
        for (const subject of ["user:otto", "user:olivia"] as const) {
          for (const engine of [gathering, scanning]) {
            expect(
              walk((page) => engine.listVisible(subject, "site", "site.view", page), limit, match),
            ).toEqual(naive(subject));
          }
        }
        expect(walk((page) => gathering.resourcesOfType("site", page), limit, match)).toEqual(
          naive("user:olivia"),
        );
      }
    }
  });
});

describe("a resource's children", () => {
  it("lists and counts only the children the subject may see, per parent (#16)", () => {
    const { engine } = fixture();
    const servers = ["server:a", "server:b", "server:nowhere"] as const;
    const sites = { type: "site", permission: "site.view" } as const;
    expect(engine.countVisibleChildren("user:adam", servers, sites)).toEqual([2, 1, 0]);
    expect(engine.countVisibleChildren("user:otto", servers, sites)).toEqual([2, 0, 0]);
    // A customer of one site counts it under its server, which she does not see herself.
    expect(engine.countVisibleChildren("user:cara", servers, sites)).toEqual([1, 0, 0]);
    expect(engine.countChildren(servers, "site")).toEqual([2, 1, 0]);
    expect(
      engine.listVisible("user:otto", "site", "site.view", { parent: "server:a", limit: 1 }),
    ).toEqual({ items: ["site:a1"], next: "site:a1" });
    expect(
      engine.listVisible("user:otto", "site", "site.view", {
        parent: "server:a",
        after: "site:a1",
      }),
    ).toEqual({ items: ["site:a2"], next: undefined });
    expect(
      engine.listVisible("user:otto", "site", "site.view", { parent: "server:b" }).items,
    ).toEqual([]);
    expect(engine.resourcesOfType("site", { parent: "server:b" }).items).toEqual(["site:b1"]);
    expect(
      codeOf(() => engine.listVisible("user:otto", "site", "site.view", { parent: "server:zz" })),
    ).toBe("RESOURCE_NOT_FOUND");
  });
});
