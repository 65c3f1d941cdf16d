/**
 * The published packages work for a panel builder: packed, installed into an empty project with
 * plain npm, and used from plain `.mjs` files with plain Node.js (no TypeScript loader). And `npm
 * start` runs the built JavaScript with plain Node.js.
 */
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { cliBackends, ROOT } from "./harness.ts";
import { PUBLISHED, packedProject } from "./packed-project.ts";

// Every step spawns processes on two cores shared with the rest of the suite.
vi.setConfig({ testTimeout: 300_000, hookTimeout: 20 * 60_000 });

const execFileAsync = promisify(execFile);
/** What a child process inherits: where programs are, and nothing of this test's configuration. */
const PLAIN = { PATH: process.env["PATH"] ?? "", HOME: process.env["HOME"] ?? "" };
let project = "";

beforeAll(async () => {
  project = await packedProject();
  writeFileSync(join(project, "engine.mjs"), ENGINE);
  writeFileSync(join(project, "server.mjs"), SERVER);
  writeFileSync(join(project, "check.mjs"), readmeCheck());
});

describe("the tarballs", () => {
  it.each(PUBLISHED)("@gatehouse/%s ships its README, its licence and no stale module", (name) => {
    const installed = join(project, "node_modules/@gatehouse", name);
    expect(readFileSync(join(installed, "README.md"), "utf8")).toContain(`# @gatehouse/${name}`);
    expect(readFileSync(join(installed, "LICENSE"), "utf8")).toMatch(/^MIT License/);
    // Every module in dist/ comes from a source the package still has (scripts/prune-dist.mjs).
    const modules = readdirSync(join(installed, "dist"), { recursive: true, encoding: "utf8" });
    const stale = modules
      .filter((file) => file.endsWith(".js"))
      .filter((file) => !existsSync(join(installed, "src", file.replace(/\.js$/, ".ts"))))
      .filter((file) => !existsSync(join(installed, "src", file.replace(/\.js$/, ".tsx"))));
    expect(modules.length).toBeGreaterThan(0);
    expect(stale).toEqual([]);
  });
});

/** A panel's first check with the engine alone, in-process. */
const ENGINE = `
import { createEngine } from "@gatehouse/engine";
import { mzpanel } from "@gatehouse/engine/presets";

const engine = createEngine(mzpanel, { workspace: "acme" });
engine.upsertResource("server:fra-1", "workspace:acme");
engine.upsertResource("site:shop.example", "server:fra-1");
engine.addGrant({ subject: "user:carol", role: "customer", scope: "site:shop.example" });
console.log(JSON.stringify({
  deploy: engine.check("user:carol", "site.deploy", "site:shop.example").allowed,
  server: engine.check("user:carol", "server.view", "server:fra-1").allowed,
}));
`;

/** The server from the installed @gatehouse/server, configured from the environment. */
const SERVER = `
import { loadConfig, startServer } from "@gatehouse/server";

await startServer(loadConfig(process.env));
`;

/**
 * The README's "For panel builders" check, as written there: the panel's users, a workspace on its
 * own model (docs/examples/models/reseller.json), its resource tree, a role and a check.
 */
function readmeCheck(): string {
  const readme = readFileSync(join(ROOT, "README.md"), "utf8");
  const section = readme.slice(readme.indexOf("## For panel builders"));
  const block = section.match(/```js\n([\s\S]*?)```/);
  if (block === null) throw new Error("README: no check.mjs in For panel builders");
  return block[1]!.replace(/^ {3}/gm, "");
}

/** Runs a file or command in the installed project with plain Node.js. */
async function node(
  args: readonly string[],
  env: Readonly<Record<string, string>> = {},
): Promise<string> {
  const { stdout } = await execFileAsync(process.execPath, [...args], {
    cwd: project,
    env: { ...PLAIN, ...env },
  });
  return stdout;
}

/** Starts a server process and resolves with its base URL once it listens. */
function listen(
  command: string,
  args: readonly string[],
  { cwd, env }: { cwd: string; env: Readonly<Record<string, string>> },
): Promise<{ child: ChildProcess; base: string; output: () => string }> {
  const child = spawn(command, [...args], {
    cwd,
    env: { ...PLAIN, ...env },
  });
  let output = "";
  return new Promise((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      output += chunk.toString("utf8");
      const match = output.match(/listening on 127\.0\.0\.1:(\d+)/);
      if (match !== null && /\n/.test(output.slice(output.indexOf(match[0])))) {
        resolve({ child, base: `http://127.0.0.1:${match[1]}`, output: () => output });
      }
    };
    child.stdout.on("data", onData);
    child.stderr.on("data", onData);
    child.on("error", reject);
    child.on("exit", (code) => reject(new Error(`exited with ${code}:\n${output}`)));
  });
}

function stop(child: ChildProcess): Promise<number | null> {
  const exited = new Promise<number | null>((resolve) => child.once("exit", resolve));
  child.kill("SIGTERM");
  return exited;
}

describe("the packed packages, installed into an empty project", () => {
  it("are JavaScript with declarations, and none is a workspace link", () => {
    for (const name of PUBLISHED) {
      const dir = join(project, "node_modules/@gatehouse", name);
      const manifest = JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as {
        version: string;
        exports?: Record<string, { types: string; default: string }>;
      };
      expect(manifest.version).toBe("0.1.0");
      for (const entry of Object.values(manifest.exports ?? {})) {
        expect(entry.default).toMatch(/^\.\/dist\/.*\.js$/);
        expect(readFileSync(join(dir, entry.types), "utf8")).toContain("export");
        expect(readFileSync(join(dir, `${entry.types}.map`), "utf8")).toContain('"sources"');
      }
    }
    // The engine has no dependencies at all.
    const engine = JSON.parse(
      readFileSync(join(project, "node_modules/@gatehouse/engine/package.json"), "utf8"),
    ) as { dependencies?: object };
    expect(engine.dependencies).toBeUndefined();
  });

  it("build an engine from a preset and decide", async () => {
    expect(JSON.parse(await node(["engine.mjs"]))).toEqual({ deploy: true, server: false });
  });

  it("run the installed gatehouse --help", async () => {
    const { stdout } = await execFileAsync(
      join(project, "node_modules/.bin/gatehouse"),
      ["--help"],
      { cwd: project, env: PLAIN },
    );
    expect(stdout).toMatch(/Usage: gatehouse/);
    expect(stdout).toMatch(/serve/);
  });

  describe.each(cliBackends)("on $name", (backend) => {
    let database: ReturnType<typeof backend.create>;
    beforeAll(() => {
      database = backend.create();
    });
    afterAll(async () => {
      await database.drop();
    });

    it("start the installed server with a model file; the README's client check decides", async () => {
      const env = {
        ...database.env,
        MODELS: join(ROOT, "docs/examples/models/reseller.json"),
        PERSONAL_WORKSPACE_MODEL: "none",
      };
      const gatehouse = join(project, "node_modules/.bin/gatehouse");
      await execFileAsync(gatehouse, ["migrate"], {
        cwd: project,
        env: { ...PLAIN, ...env },
      });
      const { stdout: secret } = await execFileAsync(
        gatehouse,
        ["host-credential", "create", "--name", "panel"],
        { cwd: project, env: { ...PLAIN, ...env } },
      );
      const server = await listen(process.execPath, ["server.mjs"], {
        cwd: project,
        env: { ...env, HOST: "127.0.0.1", PORT: "0", DEMO: "false", LOG_LEVEL: "warn" },
      });
      try {
        expect((await fetch(`${server.base}/readyz`)).status).toBe(200);
        // The console, shipped inside @gatehouse/server.
        const page = await fetch(`${server.base}/`);
        expect(page.status).toBe(200);
        expect(await page.text()).toMatch(/<script type="module"[^>]*src="\/assets\//);
        const printed = await node(["check.mjs"], {
          GATEHOUSE_URL: server.base,
          GATEHOUSE_SECRET: secret.trim(),
        });
        expect(printed.trim()).toBe("true");
      } finally {
        expect(await stop(server.child)).toBe(0);
      }
    });

    it("run the installed bundled server as the container does (node …/bundle/main.js)", async () => {
      const server = await listen(
        process.execPath,
        ["node_modules/@gatehouse/server/bundle/main.js"],
        {
          cwd: project,
          env: {
            ...database.env,
            // The database the test above used, with its model.
            MODELS: join(ROOT, "docs/examples/models/reseller.json"),
            PERSONAL_WORKSPACE_MODEL: "none",
            HOST: "127.0.0.1",
            PORT: "0",
            DEMO: "false",
            LOG_LEVEL: "warn",
          },
        },
      );
      try {
        expect((await fetch(`${server.base}/readyz`)).status).toBe(200);
        expect((await fetch(`${server.base}/`)).status).toBe(200);
        // The API reference: @fastify/swagger's document and swagger-ui's files (left outside the
        // bundle: it serves them from its own folder).
        const openapi = (await (await fetch(`${server.base}/openapi.json`)).json()) as {
          paths: object;
        };
        expect(Object.keys(openapi.paths).length).toBeGreaterThan(50);
        const css = await fetch(`${server.base}/docs/static/swagger-ui.css`);
        expect(css.status).toBe(200);
        // A validated request: the schema compilers inside the bundle answer with a problem.
        const login = await fetch(`${server.base}/v1/auth/login`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ email: 42 }),
        });
        expect(login.status).toBe(400);
      } finally {
        expect(await stop(server.child)).toBe(0);
      }
    });
  });
});

/** Node.js strips TypeScript types itself from 22.6 (flagged) and 23.6 (by default); 20 cannot. */
const stripsTypes = (process.features as { typescript?: unknown }).typescript !== undefined;

describe("the engine's TypeScript sources", () => {
  it.runIf(stripsTypes)("run unchanged under Node's own type stripping", async () => {
    const { stdout } = await execFileAsync(
      process.execPath,
      [
        "--experimental-strip-types",
        "--no-warnings",
        "--conditions=@gatehouse/source",
        "--input-type=module",
        "-e",
        ENGINE,
      ],
      { cwd: join(ROOT, "packages/engine"), env: PLAIN },
    );
    expect(JSON.parse(stdout)).toEqual({ deploy: true, server: false });
  });
});

describe("npm start", () => {
  it("runs the built server with plain Node.js, with the demo workspace on first start", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "gatehouse-start-"));
    try {
      // What the root package.json's "start" script runs, once "prestart" has built.
      const script = (
        JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as {
          scripts: Record<string, string>;
        }
      ).scripts["start"]!;
      const [command, ...args] = script.split(" ");
      expect(command).toBe("node");
      const server = await listen(process.execPath, args, {
        cwd: ROOT,
        env: { DATA_DIR: dataDir, PORT: "0", HOST: "127.0.0.1", LOG_LEVEL: "silent" },
      });
      await vi.waitUntil(() => server.output().includes("(These passwords are shown once"), {
        timeout: 30_000,
      });
      const password = server
        .output()
        .match(/owner +olivia@demo\.gatehouse\.test +password: (\S+)/)?.[1];
      expect(password).toBeDefined();
      // Signing in sets the session cookie (the cookie package runs on this Node.js).
      const login = await fetch(`${server.base}/v1/auth/login`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ email: "olivia@demo.gatehouse.test", password }),
      });
      expect(login.status).toBe(200);
      const cookie = login.headers.getSetCookie().map((line) => line.split(";")[0]);
      const me = await fetch(`${server.base}/v1/me`, { headers: { cookie: cookie.join("; ") } });
      expect(me.status).toBe(200);
      expect(await stop(server.child)).toBe(0);
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
