import { join, resolve } from "node:path";
import { buildConsole } from "../../../packages/console/test/harness.ts";

/** Where the example finds its @gatehouse/* packages, and how node must run to load them. */
export interface InstalledGatehouse {
  /** A node_modules folder holding @gatehouse/client and @gatehouse/cli (with `.bin/gatehouse`). */
  readonly nodeModules: string;
  /** Extra `node` flags the example runs with. */
  readonly nodeOptions: readonly string[];
}

const ROOT = resolve(import.meta.dirname, "../../..");

/**
 * The packages the example panel runs against. Today: the workspace's own packages (TypeScript
 * source, hence tsx's loader, and the console built into packages/console/dist). With the packed
 * packages (packages/cli/test/packed-project.ts), the body becomes
 * `return { nodeModules: join(await packedProject(), "node_modules"), nodeOptions: [] };` —
 * the only change the test needs.
 */
export async function installedGatehouse(): Promise<InstalledGatehouse> {
  buildConsole();
  return { nodeModules: join(ROOT, "node_modules"), nodeOptions: ["--import", "tsx"] };
}
