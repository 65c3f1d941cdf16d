import { mkdirSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import {
  buildApp,
  createMailer,
  loadConfig,
  type ServerConfig,
  signInMail,
} from "@gatehouse/server";
import { asUser, type Gatehouse, systemActor } from "@gatehouse/service";
import type { FastifyInstance } from "fastify";
import { type Browser, chromium, type Locator, type Page } from "playwright-core";
import { builtConsole } from "../../cli/test/once-per-run.ts";
import { backends, openService, PASSWORD } from "../../service/test/backends.ts";

export { PASSWORD };

const CONSOLE = fileURLToPath(new URL("..", import.meta.url));
const ROOT = resolve(CONSOLE, "../..");

/**
 * Builds the console into packages/server/console, as `npm start` does, once per test run (shared
 * with the packed-packages test, which ships it).
 */
export function buildConsole(): string {
  return builtConsole();
}

export interface ConsoleServer {
  readonly app: FastifyInstance;
  readonly gatehouse: Gatehouse;
  /** `http://127.0.0.1:<port>`: where the browser goes, and the links in mail point. */
  readonly base: string;
  close(): Promise<void>;
}

/**
 * The real server over a fresh SQLite database, serving the built console, on a random loopback
 * port, in development mode (no SMTP: mail goes to the development outbox); `env` adds settings.
 */
export async function startServer(
  consoleDir: string,
  env: Readonly<Record<string, string>> = {},
  /** Service options beyond the defaults, e.g. `models` with a test model. */
  service: Partial<Omit<Parameters<typeof openService>[1], "storage">> = {},
): Promise<ConsoleServer> {
  let base = "";
  // Links in mail and the OpenID Connect callback name the address the server got at listen time.
  // A browser test fires hundreds of requests a minute as one person, faster on a quiet machine:
  // the per-caller rate limit (600 a minute by default) is tested on its own (limits.test.ts).
  const loaded = loadConfig({
    DEMO: "true",
    LOG_LEVEL: "silent",
    RATE_LIMIT: "10000000",
    RATE_LIMIT_HOST: "10000000",
    ...env,
  });
  const config: ServerConfig = {
    ...loaded,
    get publicUrl() {
      return base;
    },
    oidc:
      loaded.oidc === undefined
        ? undefined
        : {
            ...loaded.oidc,
            get redirectUrl() {
              return `${base}/v1/auth/oidc/callback`;
            },
          },
  };
  const mailer = createMailer({ smtpUrl: undefined, from: config.mailFrom, log: () => undefined });
  const { gatehouse } = await openService(backends[0]!, {
    clock: Date.now,
    secretKey: "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff",
    signInMail: signInMail(mailer, config),
    // Sign-in handoff assertions name an issuer; the port is known only after listen, and the
    // tests' stand-in admin apps do not verify it.
    issuer: "http://127.0.0.1",
    ...service,
  });
  const app = await buildApp({ gatehouse, config, consoleDir, logger: false, mailer });
  await app.listen({ port: 0, host: "127.0.0.1" });
  const address = app.server.address();
  if (address === null || typeof address === "string") throw new Error("no address");
  base = `http://127.0.0.1:${address.port}`;
  return {
    app,
    gatehouse,
    base,
    async close() {
      await app.close();
      await gatehouse.close();
    },
  };
}

/** An MZPanel workspace owned by Olivia: fra-1 holds shop and blog, ams-1 holds docs. */
export async function seedPanel(gatehouse: Gatehouse): Promise<{ workspaceId: string }> {
  const { user: olivia } = await gatehouse.users.signUp({
    email: "olivia@example.com",
    password: PASSWORD,
    name: "Olivia Owner",
  });
  const workspace = await gatehouse.workspaces.create(asUser(olivia.id), {
    name: "Acme Hosting",
    preset: "mzpanel",
  });
  const host = systemActor();
  const root = `workspace:${workspace.id}`;
  for (const [resource, parent] of [
    ["server:fra-1", root],
    ["server:ams-1", root],
    ["site:shop.example", "server:fra-1"],
    ["site:blog.example", "server:fra-1"],
    ["site:docs.example", "server:ams-1"],
  ] as const) {
    await gatehouse.resources.upsert(host, workspace.id, { resource, parent });
  }
  return { workspaceId: workspace.id };
}

/** A `company` workspace owned by Bruno, taking join requests with its tax number as the join key. */
export async function seedCompany(gatehouse: Gatehouse): Promise<{ workspaceId: string }> {
  const { user: bruno } = await gatehouse.users.signUp({
    email: "bruno@example.com",
    password: PASSWORD,
    name: "Bruno Boss",
  });
  const company = await gatehouse.workspaces.create(asUser(bruno.id), {
    name: "Bruno GmbH",
    preset: "company",
    plan: "standard",
  });
  await gatehouse.workspaces.updateSettings(asUser(bruno.id), company.id, {
    joinKey: "DE123456789",
  });
  return { workspaceId: company.id };
}

/** Debian's Chromium, headless, without network features the machine has no use for. */
export function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: process.env["CHROMIUM_PATH"] ?? "/usr/bin/chromium",
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
}

/**
 * Screenshots go to SCREENSHOTS_DIR (`npm run screenshots` sets docs/screenshots) or a temporary
 * folder, so that `npm test` never changes the tree.
 */
const SHOTS =
  process.env["SCREENSHOTS_DIR"] === undefined
    ? mkdtempSync(join(tmpdir(), "gatehouse-shots-"))
    : resolve(ROOT, process.env["SCREENSHOTS_DIR"]);
mkdirSync(SHOTS, { recursive: true });
console.info(`screenshots: ${SHOTS}`);

export async function screenshot(page: Page, name: string): Promise<void> {
  // Fonts and pending requests settle before the picture.
  await page.evaluate("document.fonts.ready.then(() => window.scrollTo(0, 0))");
  await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
}

/**
 * Chooses in a type-ahead picker (picker.tsx) as a person does: types `text` into the combobox
 * named `label`, then clicks the option whose label is exactly `option`.
 */
export async function pick(
  page: Page,
  label: string,
  text: string,
  option: string,
  within: Locator = page.locator("body"),
): Promise<void> {
  const box = within.getByRole("combobox", { name: label, exact: true });
  await box.click();
  await box.fill(text);
  const list = page.locator(`[id="${await box.getAttribute("aria-controls")}"]`);
  await list
    .getByRole("option")
    .filter({ has: page.getByText(option, { exact: true }) })
    .click();
  await box.blur();
}
