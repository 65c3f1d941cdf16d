import { describe, expect, it, vi } from "vitest";
import { CLI, type CliDatabase, cliBackends, startCommand } from "./harness.ts";

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
        [...CLI, "serve", "--port", "0", "--host", "127.0.0.1", "--no-demo"],
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
