/**
 * Vitest's global setup: names this test run, so work done once per run (once-per-run.ts: the
 * console's build, the packed and installed packages) is shared by the test files, and removes
 * what that work left in the temporary folder afterwards.
 */
import { randomBytes } from "node:crypto";
import { rmSync } from "node:fs";
import { runFolder } from "./once-per-run.ts";

export default function setup(): () => void {
  const run = randomBytes(6).toString("hex");
  process.env["GATEHOUSE_TEST_RUN"] = run;
  return () => rmSync(runFolder(run), { recursive: true, force: true });
}
