/**
 * Vitest's global setup: names this test run, so the files that need the packed and installed
 * packages share one project (see packed-project.ts), and removes that project afterwards.
 */
import { randomBytes } from "node:crypto";
import { rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export default function setup(): () => void {
  const run = randomBytes(6).toString("hex");
  process.env["GATEHOUSE_TEST_RUN"] = run;
  return () => rmSync(join(tmpdir(), `gatehouse-packed-${run}`), { recursive: true, force: true });
}
