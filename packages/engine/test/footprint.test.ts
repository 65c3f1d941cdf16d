/**
 * `Engine.footprint.estimatedBytes` against the memory an engine really retains (V8's heap in use
 * after a full collection, plus the snapshot's buffer a restored engine keeps): the engine cache's
 * budget evicts by this estimate, so a restored workspace must not count as several times its size
 * (issue 17). Measures memory, not time.
 */
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { describe, expect, it } from "vitest";
import { createEngine, Engine } from "../src/engine/engine.ts";
import { mzpanel } from "../src/presets/mzpanel.ts";

setFlagsFromString("--expose-gc");
const collect = runInNewContext("gc") as () => void;

/** Heap in use after full collections. */
function heapUsed(): number {
  collect();
  collect();
  return process.memoryUsage().heapUsed;
}

const SERVERS = 100;
const SITES = 20_000;
const USERS = 20_000;

/** 20k sites under 100 servers, 20k users with 5 sites each (100k grants), as a snapshot. */
function snapshot(): Uint8Array {
  const engine = createEngine(mzpanel, { workspace: "acme" });
  for (let s = 0; s < SERVERS; s++) engine.upsertResource(`server:srv-${s}`, "workspace:acme");
  for (let i = 0; i < SITES; i++)
    engine.upsertResource(`site:s${i}.example`, `server:srv-${i % SERVERS}`);
  for (let u = 0; u < USERS; u++)
    for (let k = 0; k < 5; k++)
      engine.addGrant({
        subject: `user:u${u}`,
        role: "customer",
        scope: `site:s${(u * 7 + k * 4001) % SITES}.example`,
      });
  return engine.snapshot();
}

describe("the memory estimate", () => {
  it("follows a restored engine's columns, then its records once read", () => {
    const bytes = snapshot();
    const before = heapUsed();
    const restored = Engine.fromSnapshot(mzpanel, bytes, { workspace: "acme" });
    // The restored engine keeps the snapshot's buffer (its grant columns are views of it).
    const measured = heapUsed() - before + bytes.byteLength;
    const estimate = restored.footprint.estimatedBytes;
    expect(restored.footprint.grants).toBe(USERS * 5);
    expect(estimate).toBeGreaterThan(measured * 0.6);
    expect(estimate).toBeLessThan(measured * 1.6);

    // Reading every grant builds the records: the estimate grows to a built engine's.
    let read = 0;
    for (const _ of restored.grants()) read++;
    expect(read).toBe(USERS * 5);
    const built = heapUsed() - before;
    const grown = restored.footprint.estimatedBytes;
    expect(grown).toBeGreaterThan(estimate * 2);
    expect(grown).toBeGreaterThan(built * 0.6);
    expect(grown).toBeLessThan(built * 1.6);
  });
});
