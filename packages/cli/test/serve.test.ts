import { join } from "node:path";
import { describe, expect, it, vi } from "vitest";
import { type CliDatabase, cliBackends, ROOT, startCommand } from "./harness.ts";

vi.setConfig({ testTimeout: 120_000 });

async function stop(child: import("node:child_process").ChildProcess): Promise<number | null> {
  const exited = new Promise<number | null>((resolve) =>
    child.once("exit", (code) => resolve(code)),
  );
  child.kill("SIGTERM");
  return exited;
}

describe.each(cliBackends)("gatehouse serve on $name", (backend) => {
  it("serves the API until SIGTERM, then exits 0", async () => {
    const database: CliDatabase = backend.create();
    try {
      const { child, match } = await startCommand(
        join(ROOT, "node_modules/.bin/gatehouse"),
        ["serve", "--port", "0", "--host", "127.0.0.1", "--no-demo"],
        { env: { ...database.env, LOG_LEVEL: "silent" }, ready: /listening on 127\.0\.0\.1:(\d+)/ },
      );
      const base = `http://127.0.0.1:${match[1]}`;
      expect((await fetch(`${base}/healthz`)).status).toBe(200);
      expect((await fetch(`${base}/readyz`)).status).toBe(200);
      const presets = (await (await fetch(`${base}/v1/presets`)).json()) as {
        presets: { name: string }[];
      };
      expect(presets.presets.map((preset) => preset.name)).toContain("mzpanel");
      expect(await stop(child)).toBe(0);
    } finally {
      await database.drop();
    }
  });
});

describe("npm start", () => {
  it("runs the same server as gatehouse serve, with the demo workspace on first start", async () => {
    const database = cliBackends[0]!.create();
    try {
      // What the root package.json's "start" script runs.
      const { child, output } = await startCommand(
        join(ROOT, "node_modules/.bin/tsx"),
        ["packages/server/src/main.ts"],
        {
          env: { ...database.env, PORT: "0", HOST: "127.0.0.1", LOG_LEVEL: "silent" },
          ready: /\(These passwords are shown once; they are stored hashed\.\)/,
        },
      );
      expect(output()).toMatch(/Gatehouse is listening on 127\.0\.0\.1:\d+/);
      expect(output()).toMatch(/owner +olivia@demo\.gatehouse\.test +password: \S+/);
      expect(await stop(child)).toBe(0);
    } finally {
      await database.drop();
    }
  });
});
