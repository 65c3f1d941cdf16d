/** The server's expiry sweep timer (#18): a database fault is logged and retried, never thrown. */
import { describe, expect, it } from "vitest";
import { backends, openService } from "../../service/test/backends.ts";
import { sweepExpiries } from "../src/start-server.ts";

describe("the expiry sweep timer", () => {
  it("logs a sweep that fails on the database and tries again on the next tick", async () => {
    const { gatehouse } = await openService(backends[0]!);
    // A closed database: every query of the sweep fails.
    await gatehouse.close();
    const warnings: string[] = [];
    let twice: () => void = () => {};
    const warnedTwice = new Promise<void>((resolve) => {
      twice = resolve;
    });
    const stop = sweepExpiries(gatehouse, 5, {
      warn(_details, message) {
        warnings.push(message);
        if (warnings.length === 2) twice();
      },
    });
    await warnedTwice;
    stop();
    expect(warnings.slice(0, 2)).toEqual(["expiry sweep failed", "expiry sweep failed"]);
  });

  it("runs nothing with an interval of 0", async () => {
    const { gatehouse } = await openService(backends[0]!);
    const stop = sweepExpiries(gatehouse, 0, {
      warn() {
        throw new Error("never called");
      },
    });
    stop();
    await gatehouse.close();
  });
});
