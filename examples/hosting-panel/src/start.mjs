// `npm start`: Gatehouse (the installed `gatehouse` CLI, serving this panel's model) and the panel.
// First run: a host credential made with `gatehouse host-credential create`, kept in data/.
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { connectGatehouse } from "./gatehouse.mjs";
import { createPanel } from "./panel.mjs";
import { openStore } from "./store.mjs";

const HERE = resolve(import.meta.dirname, "..");
const DATA = resolve(process.env.PANEL_DATA_DIR ?? join(HERE, "data"));
const PANEL_PORT = Number(process.env.PANEL_PORT ?? 3000);
const GATEHOUSE_PORT = Number(process.env.GATEHOUSE_PORT ?? 8080);
const GATEHOUSE_URL = `http://127.0.0.1:${GATEHOUSE_PORT}`;
const MODEL_FILE = join(HERE, "model.json");

mkdirSync(join(DATA, "gatehouse"), { recursive: true });
// Gatehouse's own configuration: its data beside the panel's, this panel's model, no demo data.
const gatehouseEnv = {
  ...process.env,
  DATA_DIR: join(DATA, "gatehouse"),
  MODELS: MODEL_FILE,
  PERSONAL_WORKSPACE_MODEL: "none",
  PUBLIC_URL: GATEHOUSE_URL,
  LOG_LEVEL: process.env.LOG_LEVEL ?? "warn",
};

/** Runs the installed `gatehouse` CLI (npm puts node_modules/.bin on PATH) to completion. */
function gatehouse(args) {
  return new Promise((resolvePromise, reject) => {
    const child = spawn("gatehouse", args, {
      env: gatehouseEnv,
      stdio: ["ignore", "pipe", "inherit"],
    });
    let stdout = "";
    child.stdout.setEncoding("utf8").on("data", (chunk) => {
      stdout += chunk;
    });
    child.on("error", reject);
    child.on("close", (code) =>
      code === 0
        ? resolvePromise(stdout)
        : reject(new Error(`gatehouse ${args.join(" ")} exited with ${code}`)),
    );
  });
}

// The host credential: created once, stored only here (owner-readable), never logged.
const credentialFile = join(DATA, "host-credential");
if (!existsSync(credentialFile)) {
  await gatehouse(["migrate"]);
  const secret = (await gatehouse(["host-credential", "create", "--name", "hosting-panel"])).trim();
  writeFileSync(credentialFile, `${secret}\n`, { mode: 0o600 });
}
const hostKey = readFileSync(credentialFile, "utf8").trim();

const server = spawn(
  "gatehouse",
  ["serve", "--port", String(GATEHOUSE_PORT), "--host", "127.0.0.1", "--no-demo"],
  { env: gatehouseEnv, stdio: ["ignore", "pipe", "inherit"] },
);
const stopGatehouse = () => server.kill("SIGTERM");
process.once("exit", stopGatehouse);
server.on("exit", (code) => {
  console.error(`Gatehouse stopped (${code}); stopping the panel`);
  process.exit(1);
});
await new Promise((ready) => {
  let output = "";
  server.stdout.setEncoding("utf8").on("data", (chunk) => {
    output += chunk;
    if (/listening on/.test(output)) ready(undefined);
  });
});

const model = JSON.parse(readFileSync(MODEL_FILE, "utf8"));
const store = await openStore(join(DATA, "panel.json"), join(HERE, "seed.json"));
const access = await connectGatehouse({ baseUrl: GATEHOUSE_URL, hostKey, store, model });
const panel = createPanel({ store, access });
panel.listen(PANEL_PORT, "127.0.0.1", () => {
  console.log(`Panel listening on http://localhost:${PANEL_PORT} (Gatehouse at ${GATEHOUSE_URL})`);
});
for (const signal of ["SIGINT", "SIGTERM"]) {
  process.once(signal, () => {
    server.removeAllListeners("exit");
    access.local.close();
    panel.close();
    server.once("exit", () => process.exit(0));
    stopGatehouse();
  });
}
