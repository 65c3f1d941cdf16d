import { systemActor } from "@gatehouse/service";
import type { Browser, BrowserContext, Locator, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  OIDC_CLIENT_ID,
  OIDC_CLIENT_SECRET,
  startTestProvider,
  type TestProvider,
} from "../../server/test/support/oidc-provider.ts";
import {
  buildConsole,
  type ConsoleServer,
  launchBrowser,
  screenshot,
  seedPanel,
  startServer,
} from "./harness.ts";

/**
 * Issue 12: users the host application provisioned by its own ids reach the console without a
 * Gatehouse password — by a host-issued sign-in link, and through the panel's OpenID provider (a
 * real `oidc-provider` on loopback) — in Chromium against the real server.
 */
describe("console sign-in for host-provisioned users (#12)", { timeout: 60_000 }, () => {
  let provider: TestProvider;
  let server: ConsoleServer;
  let browser: Browser;
  let workspaceId: string;
  let hostSecret: string;
  const contexts: BrowserContext[] = [];

  const shown = (locator: Locator) => locator.first().waitFor({ state: "visible" });

  async function newPage(): Promise<Page> {
    const context = await browser.newContext({
      viewport: { width: 1280, height: 860 },
      baseURL: server.base,
    });
    contexts.push(context);
    const page = await context.newPage();
    page.setDefaultTimeout(15_000);
    return page;
  }

  /** The host application's call, with its credential. */
  async function host(method: string, path: string, body?: unknown): Promise<Response> {
    const response = await fetch(`${server.base}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${hostSecret}`,
        ...(body === undefined ? {} : { "content-type": "application/json" }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    if (!response.ok)
      throw new Error(`${method} ${path}: ${response.status} ${await response.text()}`);
    return response;
  }

  /** Provisions the host's user `id` and makes them an operator of fra-1 in Acme Hosting. */
  async function provisionOperator(id: string, email: string, name: string): Promise<void> {
    await host("PUT", `/v1/users/${id}`, { email, name });
    await host("POST", `/v1/workspaces/${workspaceId}/members`, {
      userId: id,
      grants: [{ role: "operator", scope: "server:fra-1" }],
    });
  }

  /** What a signed-in operator of fra-1 sees: the workspace's resources, fra-1 among them. */
  async function expectInConsole(page: Page, name: string): Promise<void> {
    await shown(page.getByRole("heading", { name: "Resources" }));
    await shown(page.getByText("Acme Hosting"));
    await shown(page.getByRole("link", { name: /fra-1/ }));
    const me = (await page.evaluate(() => fetch("/v1/me").then((response) => response.json()))) as {
      user: { name: string };
      workspaces: { id: string }[];
    };
    expect(me.user.name).toBe(name);
    expect(me.workspaces.map((workspace) => workspace.id)).toEqual([workspaceId]);
  }

  beforeAll(async () => {
    const consoleDir = buildConsole();
    provider = await startTestProvider(() => `${server.base}/v1/auth/oidc/callback`);
    server = await startServer(consoleDir, {
      OIDC_ISSUER: provider.issuer,
      OIDC_CLIENT_ID,
      OIDC_CLIENT_SECRET,
      OIDC_NAME: "Acme ID",
    });
    ({ workspaceId } = await seedPanel(server.gatehouse));
    hostSecret = (
      await server.gatehouse.hostCredentials.create(systemActor("cli"), { name: "acme-panel" })
    ).secret;
    browser = await launchBrowser();
  }, 120_000);

  afterAll(async () => {
    for (const context of contexts) await context.close();
    await browser?.close();
    await server?.close();
    await provider?.close();
  });

  it("signs a provisioned user in with a host-issued link, once", async () => {
    await provisionOperator("42", "user42@example.com", "Hanna Host");
    const { url } = (await (await host("POST", "/v1/users/42/sign-in-links")).json()) as {
      url: string;
    };
    expect(url.startsWith(`${server.base}/sign-in/magic#ghm_`)).toBe(true);
    const page = await newPage();
    await page.goto(url);
    await expectInConsole(page, "Hanna Host");
    // The token left the address bar.
    expect(page.url()).not.toContain("ghm_");

    const again = await newPage();
    await again.goto(url);
    await shown(again.getByText("This link has expired or was already used. Ask for a new one."));
    const me = await again.evaluate(() => fetch("/v1/me").then((response) => response.status));
    expect(me).toBe(401);
  });

  /** Signs in at the test provider's development pages as `login`, consenting for Gatehouse. */
  async function signInAtProvider(page: Page, login: string, from = "/sign-in"): Promise<void> {
    await page.goto(from);
    await page.getByRole("link", { name: "Sign in with Acme ID" }).click();
    await page.getByPlaceholder("Enter any login").fill(login);
    await page.getByPlaceholder("and password").fill("anything");
    await page.getByRole("button", { name: "Sign-in" }).click();
    await page.getByRole("button", { name: "Continue" }).click();
  }

  it("signs a provisioned user in through the OpenID provider, the subject being the host's id", async () => {
    await provisionOperator("77", "user77@example.com", "Otto OIDC");
    const page = await newPage();
    await signInAtProvider(page, "77");
    await expectInConsole(page, "Otto OIDC");
    expect(page.url()).not.toContain("ghm_");
    await screenshot(page, "oidc-signed-in");
  });

  it("returns to the page that asked for the sign-in, through the provider", async () => {
    await provisionOperator("78", "user78@example.com", "Nora Next");
    const page = await newPage();
    // (Not fra-1's page: an operator of one server lands there anyway.)
    const deep = `/w/${workspaceId}/api-keys`;
    // Signed out, a deep link goes to sign-in with the page to return to.
    await signInAtProvider(page, "78", deep);
    await page.waitForURL((url) => url.pathname === deep);
    await shown(page.getByRole("heading", { name: "API keys" }));
    expect(page.url()).not.toContain("ghm_");
  });

  it("refuses a subject the host never provisioned, creating no account", async () => {
    const page = await newPage();
    await signInAtProvider(page, "stranger-9");
    await shown(page.getByRole("alert"));
    expect(await page.getByRole("alert").innerText()).toContain(
      "Signing in with Acme ID failed. Your account there is not set up for this console.",
    );
    await shown(page.getByRole("heading", { name: "Sign in" }));
    const me = await page.evaluate(() => fetch("/v1/me").then((response) => response.status));
    expect(me).toBe(401);
    const row = await server.gatehouse.storage.db
      .selectFrom("users")
      .select("id")
      .where("id", "=", "stranger-9")
      .executeTakeFirst();
    expect(row).toBeUndefined();
    await screenshot(page, "oidc-unknown-user");
  });
});
