/** The engine cache: least recently used first, within a memory budget; and the service using it. */
import { type ChangeOp, createEngine, type Engine, type ResourceInput } from "@gatehouse/engine";
import { presets } from "@gatehouse/engine/presets";
import { afterEach, describe, expect, it } from "vitest";
import { asUser, systemActor } from "../src/actor.ts";
import type { Gatehouse } from "../src/gatehouse.ts";
import { EngineCache, type WorkspaceRow } from "../src/sync/engine-cache.ts";
import { backends, openService, signUpPerson } from "./backends.ts";

/** An mzpanel engine with `sites` sites under one server. */
function engineWith(id: string, sites: number): Engine {
  const resources: ResourceInput[] = [{ resource: `server:${id}`, parent: `workspace:${id}` }];
  for (let i = 0; i < sites; i++)
    resources.push({ resource: `site:${id}-${i}`, parent: `server:${id}` });
  return createEngine(presets.mzpanel, { workspace: id, resources });
}

function rowOf(id: string, revision = 1): WorkspaceRow {
  return {
    id,
    name: id,
    preset: "mzpanel",
    plan: null,
    personal: 0,
    join_key: null,
    require_2fa: 0,
    one_workspace_per_email: null,
    revision,
    audit_seq: 0,
    audit_head: "",
    created_at: 0,
    closed_at: null,
  };
}

describe("EngineCache", () => {
  it("evicts the least recently used workspace first and keeps the estimate within the budget", () => {
    const engines = ["a", "b", "c", "d"].map((id) => engineWith(id, 100));
    const each = engines[0]!.footprint.estimatedBytes;
    // Room for three of these workspaces, not four.
    const cache = new EngineCache(each * 3 + each / 2);
    const [a, b, c, d] = engines as [Engine, Engine, Engine, Engine];
    const entryA = cache.store(a, rowOf("a"), 0);
    cache.store(b, rowOf("b"), 0);
    cache.store(c, rowOf("c"), 0);
    // "a" was loaded first but used last: "b" is now the least recently used.
    cache.use(entryA);
    cache.store(d, rowOf("d"), 0);
    expect(cache.peek("b")).toBeUndefined();
    expect([..."acd"].map((id) => cache.peek(id)?.engine)).toEqual([a, c, d]);
    expect(cache.stats).toEqual({
      workspaces: 3,
      bytes: each * 3,
      budgetBytes: each * 3 + each / 2,
      loads: 4,
      evictions: 1,
    });
    // Peeking is no use: "c" goes next, then "a".
    cache.peek("c");
    cache.store(engineWith("e", 100), rowOf("e"), 0);
    expect(cache.peek("c")).toBeUndefined();
    expect(cache.peek("a")).toBeDefined();
    // Evicting on purpose frees its bytes but is not counted as a budget eviction.
    cache.evict("a");
    expect(cache.stats).toMatchObject({ workspaces: 2, bytes: each * 2, evictions: 2 });
  });

  it("keeps a workspace larger than the budget alone, and drops the others for it", () => {
    const small = engineWith("small", 10);
    const large = engineWith("large", 1_000);
    const cache = new EngineCache(small.footprint.estimatedBytes * 4);
    cache.store(small, rowOf("small"), 0);
    cache.store(large, rowOf("large"), 0);
    expect(cache.peek("small")).toBeUndefined();
    expect(cache.peek("large")?.engine).toBe(large);
    expect(cache.stats).toMatchObject({
      workspaces: 1,
      bytes: large.footprint.estimatedBytes,
      evictions: 1,
    });
  });

  it("recounts a workspace's bytes as it grows through committed changes", () => {
    const a = engineWith("a", 100);
    const b = engineWith("b", 100);
    const each = a.footprint.estimatedBytes;
    const cache = new EngineCache(each * 2 + 1_000);
    cache.store(a, rowOf("a"), 0);
    cache.store(b, rowOf("b"), 0);
    const ops = Array.from(
      { length: 50 },
      (_, i): ChangeOp => ({
        op: "resource.upsert",
        resource: `site:b-new-${i}`,
        parent: "server:b",
      }),
    );
    expect(cache.advance("b", [{ revision: 2, ops }], rowOf("b", 2), 0)).toBe(true);
    // "b" grew past the room left: "a", the least recently used, went.
    expect(cache.peek("a")).toBeUndefined();
    expect(cache.stats).toMatchObject({ workspaces: 1, bytes: b.footprint.estimatedBytes });
    expect(b.footprint.estimatedBytes).toBeGreaterThan(each);
  });
});

describe.each(backends)("the service's engine cache on $name", (backend) => {
  let gatehouse: Gatehouse | undefined;
  afterEach(async () => {
    await gatehouse?.close();
    gatehouse = undefined;
  });

  it("reloads a workspace evicted for memory and answers as before", async () => {
    // Room for about two small workspaces.
    const opened = await openService(backend, { personalPreset: null, engineCacheBytes: 12_000 });
    const service = opened.gatehouse;
    gatehouse = service;
    const olivia = await signUpPerson(service, "olivia");
    const workspaces = [];
    for (const name of ["One", "Two", "Three"]) {
      const ws = await service.workspaces.create(asUser(olivia.id), { name, preset: "mzpanel" });
      await service.resources.upsert(systemActor(), ws.id, {
        resource: "server:s1",
        parent: `workspace:${ws.id}`,
      });
      workspaces.push(ws);
    }
    const allowed = async (id: string) =>
      (
        await service.decisions.check(systemActor(), id, {
          subject: `user:${olivia.id}`,
          permission: "server.restart",
          resource: "server:s1",
        })
      ).allowed;
    const [one, two, three] = workspaces.map((ws) => ws.id) as [string, string, string];
    const stats = () => service.sync.engineCache;
    for (const id of [one, two, three, one, two, three]) expect(await allowed(id)).toBe(true);
    expect(stats().bytes).toBeLessThanOrEqual(12_000);
    expect(stats().workspaces).toBe(2);
    expect(stats().evictions).toBeGreaterThan(0);
    // Two and Three are cached; using Two makes Three the next to go when One comes back.
    await allowed(two);
    const loads = stats().loads;
    await allowed(one);
    expect(stats().loads).toBe(loads + 1);
    await allowed(two);
    expect(stats().loads).toBe(loads + 1);
    await allowed(three);
    expect(stats().loads).toBe(loads + 2);
    expect(stats().bytes).toBeLessThanOrEqual(12_000);
  });
});
