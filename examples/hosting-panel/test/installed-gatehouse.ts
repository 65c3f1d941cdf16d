import { join } from "node:path";
import { packedProject } from "../../../packages/cli/test/packed-project.ts";

/** Where the example finds its @gatehouse/* packages, and how node must run to load them. */
export interface InstalledGatehouse {
  /** A node_modules folder holding @gatehouse/client and @gatehouse/cli (with `.bin/gatehouse`). */
  readonly nodeModules: string;
  /** Extra `node` flags the example runs with. */
  readonly nodeOptions: readonly string[];
}

/**
 * The packages the example panel runs against: the repository's packages built, packed and installed
 * with plain npm into an empty project (packages/cli/test/packed-project.ts, once per test run) — what
 * a panel builder installs, run with plain `node`.
 */
export async function installedGatehouse(): Promise<InstalledGatehouse> {
  return { nodeModules: join(await packedProject(), "node_modules"), nodeOptions: [] };
}
