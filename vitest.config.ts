import { defineConfig } from "vitest/config";

/**
 * The packages' exports name their TypeScript sources under this condition (before the built
 * dist/ files), so the tests run the sources without a build step; then Vite's default server
 * conditions.
 */
const conditions = ["@gatehouse/source", "module", "node", "development|production"];

export default defineConfig({
  resolve: { conditions },
  ssr: { resolve: { conditions } },
  test: {
    include: [
      "packages/*/src/**/*.test.ts",
      "packages/*/test/**/*.test.ts",
      "examples/*/test/**/*.test.ts",
    ],
    reporters: ["default"],
    globalSetup: ["packages/cli/test/test-run.ts"],
    // Suites that spawn servers, hash passwords or drive a browser share two cores with each other.
    testTimeout: 30_000,
    // Most suites wait on databases, child processes and the browser: two files at a time on two cores
    // (vitest's default leaves one core idle).
    maxWorkers: 2,
    hookTimeout: 60_000,
  },
});
