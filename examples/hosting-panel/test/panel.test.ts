import { type ChildProcess, spawn } from "node:child_process";
import { cpSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { Browser, Locator, Page } from "playwright-core";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { launchBrowser, pick, screenshot } from "../../../packages/console/test/harness.ts";
import { installedGatehouse } from "./installed-gatehouse.ts";

const EXAMPLE = resolve(import.meta.dirname, "..");
/** Gatehouse's configuration variables: the example sets its own, a test run's must not leak in. */
const CONFIG_KEYS = ["DATABASE_URL", "DATABASE_SCHEMA", "DATA_DIR", "SECRET_KEY", "SMTP_URL"];

/** A free loopback port (the example takes fixed ports, as an operator would give it). */
function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const probe = createServer().listen(0, "127.0.0.1", () => {
      const address = probe.address();
      probe.close(() =>
        typeof address === "object" && address !== null
          ? resolvePort(address.port)
          : reject(new Error("no port")),
      );
    });
  });
}

/**
 * The example panel as its README runs it (`npm start`), from a copy of the example in a temporary
 * project whose node_modules holds the installed @gatehouse/* packages.
 */
async function startExample(): Promise<{
  child: ChildProcess;
  app: string;
  panel: string;
  gatehouse: string;
}> {
  const installed = await installedGatehouse();
  const app = mkdtempSync(join(tmpdir(), "gatehouse-example-"));
  for (const entry of ["package.json", "model.json", "seed.json", "src"])
    cpSync(join(EXAMPLE, entry), join(app, entry), { recursive: true });
  symlinkSync(installed.nodeModules, join(app, "node_modules"));
  const [panelPort, gatehousePort] = [await freePort(), await freePort()];
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const key of CONFIG_KEYS) delete env[key];
  const child = spawn(process.execPath, [...installed.nodeOptions, "src/start.mjs"], {
    cwd: app,
    env: {
      ...env,
      // What `npm start` does for the example: the installed `gatehouse` on the PATH.
      PATH: `${join(app, "node_modules/.bin")}:${env["PATH"] ?? ""}`,
      PANEL_PORT: String(panelPort),
      GATEHOUSE_PORT: String(gatehousePort),
      LOG_LEVEL: "silent",
    },
  });
  let output = "";
  await new Promise<void>((ready, reject) => {
    const onData = (chunk: Buffer) => {
      output += chunk.toString("utf8");
      if (/Panel listening on/.test(output)) ready();
    };
    child.stdout?.on("data", onData);
    child.stderr?.on("data", onData);
    child.once("exit", (code) => reject(new Error(`exited with ${code}:\n${output}`)));
  });
  return {
    child,
    app,
    panel: `http://127.0.0.1:${panelPort}`,
    gatehouse: `http://127.0.0.1:${gatehousePort}`,
  };
}

describe("the example hosting panel, on the installed packages", { timeout: 90_000 }, () => {
  let example: Awaited<ReturnType<typeof startExample>>;
  let browser: Browser;
  const pages: Page[] = [];

  const poll = <T>(read: () => Promise<T>) => expect.poll(read, { timeout: 15_000, interval: 50 });
  const shown = (locator: Locator) => locator.first().waitFor({ state: "visible" });
  const nav = (page: Page) => page.getByRole("navigation", { name: "Sections" });
  const sites = (page: Page) =>
    page.getByRole("table", { name: "Sites" }).getByRole("link").allInnerTexts();

  async function newPage(): Promise<Page> {
    const context = await browser.newContext({ viewport: { width: 1280, height: 860 } });
    const page = await context.newPage();
    page.setDefaultTimeout(15_000);
    pages.push(page);
    return page;
  }

  async function signIntoPanel(page: Page, email: string, password: string): Promise<void> {
    await page.goto(`${example.panel}/sign-in`);
    await page.getByLabel("Email").fill(email);
    await page.getByLabel("Password").fill(password);
    await page.getByRole("button", { name: "Sign in" }).click();
    await shown(page.getByRole("button", { name: "Sign out" }));
  }

  /**
   * Gatehouse's current revision of the reseller's workspace, read with the panel's own host
   * credential, and then the panel's cache having reached it: what the panel's next request is
   * decided on. Waits on the revision the stream delivers, never on a sleep.
   */
  async function panelCaughtUp(): Promise<number> {
    const hostKey = readFileSync(join(example.app, "data/host-credential"), "utf8").trim();
    const { workspaceId } = JSON.parse(readFileSync(join(example.app, "data/panel.json"), "utf8"));
    const snapshot = await fetch(`${example.gatehouse}/v1/workspaces/${workspaceId}/snapshot`, {
      headers: { authorization: `Bearer ${hostKey}` },
    });
    const { revision } = (await snapshot.json()) as { revision: number };
    await poll(async () => {
      const status = await fetch(`${example.panel}/status`);
      return ((await status.json()) as { gatehouse: { revision: number } }).gatehouse.revision;
    }).toBeGreaterThanOrEqual(revision);
    return revision;
  }

  beforeAll(async () => {
    example = await startExample();
    browser = await launchBrowser();
  }, 180_000);

  // A failed step leaves a picture of every open page, to see what a person would have seen.
  afterEach(async ({ task }) => {
    if (task.result?.state !== "fail") return;
    for (const [index, page] of pages.entries())
      await screenshot(page, `example-failure-${index}`).catch(() => undefined);
  });

  afterAll(async () => {
    await browser?.close();
    if (example !== undefined) {
      const exited = new Promise((done) => example.child.once("exit", done));
      example.child.kill("SIGTERM");
      await exited;
      rmSync(example.app, { recursive: true, force: true });
    }
  });

  let cora: Page;
  let rita: Page;
  let invitation: string;

  it("shows a customer only their own sites, and answers a sibling's site as not found", async () => {
    cora = await newPage();
    await signIntoPanel(cora, "cora@panel.example", "cora-demo-password");
    await poll(() => sites(cora)).toEqual([
      "cafe.example",
      "menu.cafe.example",
      "shop.cafe.example",
    ]);
    // Navigation holds only what she may use: no billing for a customer admin.
    await poll(() => nav(cora).getByRole("link").allInnerTexts()).toEqual(["Sites", "Customers"]);
    await shown(cora.getByRole("button", { name: "Manage team" }));
    // Requests with her session cookie: a sibling's site is exactly a site that does not exist.
    const sibling = await cora.request.get(`${example.panel}/domains/bakery.example`);
    const missing = await cora.request.get(`${example.panel}/domains/no-such.example`);
    expect(sibling.status()).toBe(404);
    expect(await sibling.text()).toBe(await missing.text());
    expect((await cora.request.get(`${example.panel}/billing`)).status()).toBe(404);
  });

  it("lets the owner invite a colleague in the console, opened with Manage team", async () => {
    rita = await newPage();
    await signIntoPanel(rita, "rita@panel.example", "rita-demo-password");
    await poll(() => sites(rita)).toEqual([
      "bakery.example",
      "cafe.example",
      "menu.cafe.example",
      "shop.cafe.example",
    ]);
    await poll(() => nav(rita).getByRole("link").allInnerTexts()).toEqual([
      "Sites",
      "Customers",
      "Billing",
    ]);
    await rita.getByRole("button", { name: "Manage team" }).click();
    // The one-time link signed her into the console, on Gatehouse's address.
    await poll(async () => rita.url()).toContain(example.gatehouse);
    await poll(async () => rita.url()).not.toContain("/sign-in");
    await rita
      .getByRole("navigation", { name: "Sections" })
      .getByRole("link", { name: "Team" })
      .click();
    await rita.getByLabel("Email", { exact: true }).fill("dan@panel.example");
    const invite = rita.getByRole("form", { name: "Invite" });
    await invite.getByLabel("Role", { exact: true }).selectOption({ label: "DNS editor" });
    await pick(rita, "Scope", "bake", "bakery.example", invite);
    await rita.getByRole("button", { name: "Send invitation" }).click();
    await shown(rita.getByText("Invitation sent to dan@panel.example."));
    const pending = rita.getByRole("table", { name: "Pending invitations" });
    await pending
      .getByRole("row")
      .filter({ hasText: "dan@panel.example" })
      .getByRole("button", { name: "Copy link" })
      .click();
    invitation = await pending.getByTestId("secret-value").innerText();
    expect(invitation).toMatch(/\/invitations\/accept#/);
  });

  it("gives the colleague the invited site in the panel once they accept", async () => {
    const dan = await newPage();
    await signIntoPanel(dan, "dan@panel.example", "dan-demo-password");
    await shown(dan.getByText("You have no access in this panel yet."));
    await poll(() => nav(dan).getByRole("link").count()).toBe(0);
    // Into the console as himself (a provisioned user has no Gatehouse password), then accept.
    await dan.getByRole("button", { name: "Your Gatehouse account" }).click();
    await poll(async () => dan.url()).toContain(example.gatehouse);
    await poll(async () => dan.url()).not.toContain("/sign-in");
    await dan.goto(invitation);
    await dan.getByRole("button", { name: "Accept and join" }).click();
    await poll(async () => dan.url()).not.toContain("/invitations/");
    await panelCaughtUp();
    await dan.goto(`${example.panel}/`);
    await poll(() => sites(dan)).toEqual(["bakery.example"]);
    await poll(() => nav(dan).getByRole("link").allInnerTexts()).toEqual(["Sites"]);
    await dan.getByRole("link", { name: "bakery.example" }).click();
    await dan.getByLabel("New record").fill("www CNAME bakery.example.");
    await dan.getByRole("button", { name: "Add record" }).click();
    await poll(() => dan.getByRole("list", { name: "DNS records" }).innerText()).toContain(
      "www CNAME bakery.example.",
    );
  });

  it("denies the customer's next panel request once the owner removes her in the console", async () => {
    const members = rita.getByRole("table", { name: "Members" });
    await members
      .getByRole("row")
      .filter({ hasText: "Cora Café" })
      .getByRole("button", { name: "Remove" })
      .click();
    await rita.getByRole("button", { name: "Remove member" }).click();
    await poll(() => members.getByRole("row").filter({ hasText: "Cora Café" }).count()).toBe(0);
    const removedAt = Date.now();
    await panelCaughtUp();
    console.info(`the removal reached the panel's cache ${Date.now() - removedAt} ms later`);
    // The very next request is decided without her grant: her site and her list are gone.
    expect((await cora.request.get(`${example.panel}/domains/cafe.example`)).status()).toBe(404);
    expect((await cora.request.get(`${example.panel}/domains`)).status()).toBe(404);
    await cora.goto(`${example.panel}/`);
    await shown(cora.getByText("You have no access in this panel yet."));
  });
});
