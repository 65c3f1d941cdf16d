import { asUser, type Gatehouse, systemActor } from "@gatehouse/service";
import type { Browser, BrowserContext, Locator, Page } from "playwright-core";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  buildConsole,
  type ConsoleServer,
  launchBrowser,
  PASSWORD,
  screenshot,
  seedPanel,
  startServer,
} from "./harness.ts";

/**
 * Access requests (#18) in Chromium against the real server: a member asks for a role on a site
 * for a while, the owner approves it (shorter) through the access change confirmation, and the
 * member holds the role until it ends.
 */
describe("access requests in the console (#18)", { timeout: 90_000 }, () => {
  let server: ConsoleServer;
  let gatehouse: Gatehouse;
  let browser: Browser;
  let panel: string;
  let oliviaId: string;
  let ottoId: string;
  const pages: Page[] = [];
  const contexts: BrowserContext[] = [];

  const poll = <T>(read: () => Promise<T>) => expect.poll(read, { timeout: 20_000, interval: 50 });
  const shown = (locator: Locator) => locator.first().waitFor({ state: "visible" });

  /** Otto's grants on the shop site as the API answers them, with their ends. */
  const ottoOnShop = async () =>
    (await gatehouse.members.list(asUser(oliviaId), panel))
      .find((member) => member.userId === ottoId)
      ?.grants.filter((grant) => grant.scope === "site:shop.example")
      .map((grant) => ({ role: grant.role, expiresAt: grant.expiresAt }));

  async function signedIn(email: string, next: string): Promise<Page> {
    const context = await browser.newContext({
      viewport: { width: 1280, height: 860 },
      baseURL: server.base,
    });
    contexts.push(context);
    const page = await context.newPage();
    pages.push(page);
    page.setDefaultTimeout(20_000);
    await page.goto(`/sign-in?next=${encodeURIComponent(next)}`);
    await page.getByLabel("Email", { exact: true }).fill(email);
    await page.getByLabel("Password").fill(PASSWORD);
    await page.getByRole("button", { name: "Sign in", exact: true }).click();
    await page.waitForURL((url) => url.pathname !== "/sign-in");
    return page;
  }

  beforeAll(async () => {
    const consoleDir = buildConsole();
    server = await startServer(consoleDir);
    gatehouse = server.gatehouse;
    ({ workspaceId: panel } = await seedPanel(gatehouse));
    oliviaId = (await gatehouse.users.findByEmail("olivia@example.com"))!.id;
    const { user: otto } = await gatehouse.users.signUp({
      email: "otto@example.com",
      password: PASSWORD,
      name: "Otto Operator",
    });
    ottoId = otto.id;
    await gatehouse.members.add(systemActor(), panel, {
      userId: otto.id,
      grants: [{ role: "operator", scope: "server:fra-1" }],
    });
    browser = await launchBrowser();
  }, 180_000);

  afterEach(async ({ task }) => {
    if (task.result?.state !== "fail") return;
    for (const [index, page] of pages.entries())
      if (!page.isClosed())
        await screenshot(page, `failure-access-requests-${index}`).catch(() => undefined);
  });

  afterAll(async () => {
    for (const context of contexts) await context.close();
    await browser?.close();
    await server?.close();
  });

  it("lets a member ask for a role on a site, the owner approve it shorter, and the member hold it until it ends", async () => {
    const site = `/w/${panel}/resources/site/shop.example`;
    const otto = await signedIn("otto@example.com", site);
    const card = otto.getByRole("region", { name: "Request access" });
    await shown(card);
    await card.getByLabel("Role").selectOption({ label: "Customer" });
    await card.getByLabel("For how long").selectOption({ label: "4 hours" });
    await card.getByLabel("Reason").fill("Hand the shop over to its new owner");
    await card.getByRole("button", { name: "Request access" }).click();
    await shown(card.getByText("Asked for Customer for 4 hours."));
    await shown(card.getByRole("list", { name: "Your waiting requests" }));
    // Asking gives nothing yet.
    expect(await ottoOnShop()).toEqual([]);

    const olivia = await signedIn("olivia@example.com", `/w/${panel}/access-requests`);
    const row = olivia.locator('tr[data-access-request="otto@example.com"]');
    await shown(row);
    await poll(() => row.innerText()).toContain("Hand the shop over to its new owner");
    await row.getByLabel("How long for otto@example.com").selectOption({ label: "2 hours" });
    await row.getByRole("button", { name: "Approve…" }).click();
    const dialog = olivia.getByRole("dialog", { name: "Approve Otto Operator's request?" });
    await shown(dialog);
    await poll(() => dialog.getByTestId("access-after").innerText()).toContain(
      "Customer on site shop.example",
    );
    // Nothing is saved before the confirmation.
    expect(await ottoOnShop()).toEqual([]);
    const before = Date.now();
    await dialog.getByRole("button", { name: "Approve" }).click();
    await shown(olivia.getByTestId("access-ack"));
    await poll(() => olivia.getByTestId("access-ack").innerText()).toContain(
      "Otto Operator has Customer on Site shop.example for 2 hours.",
    );
    const granted = await ottoOnShop();
    expect(granted?.map((grant) => grant.role)).toEqual(["customer"]);
    // Two hours, as approved — not the four asked for.
    const ends = granted?.[0]?.expiresAt ?? 0;
    expect(ends - before).toBeGreaterThan(2 * 60 * 60 * 1000 - 60_000);
    expect(ends - before).toBeLessThanOrEqual(2 * 60 * 60 * 1000 + 60_000);

    // The site's Permissions card says where Otto's role came from.
    await olivia.goto(site);
    await poll(() => olivia.locator("body").innerText()).toContain(
      "requested, approved by Olivia Owner until",
    );

    // Otto now holds the role on the site, with its end shown.
    await otto.reload();
    await poll(() => otto.locator(".page-description").innerText()).toMatch(/as Customer \(until /);
    await otto.goto(`/w/${panel}/access-requests`);
    const mine = otto.getByRole("region", { name: "Your requests" });
    await shown(mine);
    await poll(() => mine.innerText()).toContain("Approved");
  });

  it("lets the owner approve the host's support request and revoke it before it ends", async () => {
    const { user: sam } = await gatehouse.hostUsers.put(systemActor(), "support-7", {
      email: "sam@host.example",
      name: "Sam from Support",
    });
    const samOnShop = async () =>
      (await gatehouse.members.list(asUser(oliviaId), panel))
        .find((member) => member.userId === sam.id)
        ?.grants.filter((grant) => grant.scope === "site:shop.example")
        .map((grant) => grant.role);
    await gatehouse.accessRequests.createSupport(systemActor(), panel, {
      userId: sam.id,
      role: "customer",
      scope: "site:shop.example",
      reason: "Ticket 4711: the checkout fails",
      durationMinutes: 120,
    });
    // Asking makes Sam nobody here yet.
    expect(await samOnShop()).toBeUndefined();

    const olivia = await signedIn("olivia@example.com", `/w/${panel}/access-requests`);
    const row = olivia.locator('tr[data-access-request="sam@host.example"]');
    await shown(row);
    await poll(() => row.innerText()).toContain("Support access");
    await poll(() => row.innerText()).toContain("Ticket 4711: the checkout fails");
    await row.getByRole("button", { name: "Approve…" }).click();
    const dialog = olivia.getByRole("dialog", { name: "Approve Sam from Support's request?" });
    await shown(dialog);
    expect(await samOnShop()).toBeUndefined();
    await dialog.getByRole("button", { name: "Approve" }).click();
    await shown(olivia.getByTestId("access-ack"));
    await poll(samOnShop).toEqual(["customer"]);

    // The site's Permissions card marks the grant as support access.
    await olivia.goto(`/w/${panel}/resources/site/shop.example`);
    await poll(() => olivia.locator("body").innerText()).toContain(
      "support access asked by system:",
    );
    await shown(olivia.getByText("Support access", { exact: true }));

    // The Team page marks Sam as there through support access, until its end.
    await olivia.goto(`/w/${panel}/team`);
    const member = olivia.locator('tr[data-member="sam@host.example"]');
    await shown(member);
    await poll(() => member.innerText()).toContain("Support access until");

    // Back on Access requests, Olivia ends the session now.
    await olivia.goto(`/w/${panel}/access-requests`);
    const approved = olivia.locator('tr[data-access-request="sam@host.example"]');
    await shown(approved.getByRole("button", { name: "Revoke sam@host.example's access" }));
    await approved.getByRole("button", { name: "Revoke sam@host.example's access" }).click();
    await poll(() => approved.innerText()).toContain("Revoked");
    await poll(samOnShop).toBeUndefined();
  });
});
