import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: [
      "packages/*/src/**/*.test.ts",
      "packages/*/test/**/*.test.ts",
      "examples/*/test/**/*.test.ts",
    ],
    reporters: ["default"],
    // Suites that spawn servers, hash passwords or drive a browser share two cores with each other.
    testTimeout: 30_000,
    // Most suites wait on databases, child processes and the browser: two files at a time on two cores
    // (vitest's default leaves one core idle).
    maxWorkers: 2,
    hookTimeout: 60_000,
  },
});
