import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["packages/*/src/**/*.test.ts", "packages/*/test/**/*.test.ts"],
    reporters: ["default"],
    // Suites that spawn servers, hash passwords or drive a browser share two cores with each other.
    testTimeout: 30_000,
    hookTimeout: 60_000,
  },
});
