import { systemActor } from "@gatehouse/service";
import type { Browser, BrowserContext, Locator, Page } from "playwright-core";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  buildConsole,
  type ConsoleServer,
  launchBrowser,
  PASSWORD,
  pick,
  screenshot,
  seedPanel,
  startServer,
} from "./harness.ts";

/**
 * Issue 18, item 2, in Chromium against the real server: the owner makes a customer eligible for
 * Operator on a server from "Give access"; the customer elevates themself with a reason, sees the
 * "Elevated until" badge, and ends it early.
 */
describe("just-in-time elevation in the console", { timeout: 60_000 }, () => {
  let server: ConsoleServer;
  let browser: Browser;
  let workspaceId: string;
  let caraId: string;
  const contexts: BrowserContext[] = [];
  const pages: Page[] = [];

  const poll = <T>(read: () => Promise<T>) => expect.poll(read, { timeout: 15_000, interval: 50 });
  const shown = (locator: Locator) => locator.first().waitFor({ state: "visible" });

  async function signedIn(email: string): Promise<Page> {
    const context = await browser.newContext({
      viewport: { width: 1280, height: 900 },
      baseURL: server.base,
    });
    contexts.push(context);
    const page = await context.newPage();
    page.setDefaultTimeout(15_000);
    pages.push(page);
    await page.goto("/sign-in");
    await page.getByLabel("Email", { exact: true }).fill(email);
    await page.getByLabel("Password").fill(PASSWORD);
    await page.getByRole("button", { name: "Sign in", exact: true }).click();
    await shown(page.getByRole("navigation", { name: "Sections" }));
    await page.goto(`/w/${workspaceId}`);
    await shown(page.getByRole("navigation", { name: "Sections" }));
    return page;
  }

  const mayRestart = async () =>
    (
      await server.gatehouse.decisions.check(systemActor(), workspaceId, {
        subject: `user:${caraId}`,
        permission: "server.restart",
        resource: "server:fra-1",
      })
    ).allowed;

  beforeAll(async () => {
    server = await startServer(buildConsole());
    ({ workspaceId } = await seedPanel(server.gatehouse));
    const { user } = await server.gatehouse.users.signUp({
      email: "cara@example.com",
      password: PASSWORD,
      name: "Cara Customer",
    });
    caraId = user.id;
    await server.gatehouse.members.add(systemActor(), workspaceId, {
      userId: user.id,
      grants: [{ role: "customer", scope: "site:shop.example" }],
    });
    browser = await launchBrowser();
  }, 120_000);

  afterEach(async ({ task }) => {
    if (task.result?.state !== "fail") return;
    for (const [index, page] of pages.entries())
      if (!page.isClosed())
        await screenshot(page, `elevation-failure-${index}`).catch(() => undefined);
  });

  afterAll(async () => {
    for (const context of contexts) await context.close();
    await browser?.close();
    await server?.close();
  });

  it("makes a member eligible, who elevates with a reason, sees the badge and ends it early", async () => {
    const owner = await signedIn("olivia@example.com");
    await owner.goto(`/w/${workspaceId}/team`);
    const form = owner.getByRole("form", { name: "Give access" });
    await shown(form);
    await pick(owner, "Who", "Cara", "Cara Customer", form);
    await form.getByLabel("Role", { exact: true }).selectOption({ label: "Operator" });
    await pick(owner, "Where", "fra-", "fra-1", form);
    await form.getByLabel(/Eligible only/).check();
    await form.getByLabel("Longest activation (hours)").fill("2");
    await form.getByRole("button", { name: "Review and give access" }).click();
    const dialog = owner.getByRole("dialog");
    await shown(
      dialog.getByRole("heading", {
        name: "Make Cara Customer eligible for Operator on Server fra-1?",
      }),
    );
    await shown(dialog.getByText("Restart the server"));
    await dialog.getByRole("button", { name: "Make eligible" }).click();
    await shown(owner.getByText(/Cara Customer may now elevate to Operator on Server fra-1/));
    expect(await mayRestart()).toBe(false);

    const cara = await signedIn("cara@example.com");
    const card = cara.getByRole("listitem").filter({ hasText: "up to 2 hours" });
    await shown(card);
    await card.getByRole("button", { name: "Elevate" }).click();
    const elevate = cara.getByRole("form", { name: /Elevate to Operator/ });
    await elevate.getByLabel("For how long (minutes)").fill("30");
    await elevate.getByLabel("Why").fill("restart php after the deploy");
    await elevate.getByRole("button", { name: "Elevate now" }).click();
    await shown(card.getByText(/Elevated until/));
    // The sidebar's badge of her grants says it too.
    await shown(cara.getByText(/Operator · Server fra-1 · elevated until/));
    await poll(mayRestart).toBe(true);
    await screenshot(cara, "elevation-active");

    // The owner sees it on the Team page as elevated.
    await owner.reload();
    await shown(owner.getByText(/Elevated until/));

    await card.getByRole("button", { name: /End .* now/ }).click();
    await poll(() => card.getByText(/Elevated until/).count()).toBe(0);
    await poll(mayRestart).toBe(false);
  });
});
