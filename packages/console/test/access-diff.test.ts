import { asUser, type Gatehouse, systemActor } from "@gatehouse/service";
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
 * The access diff in the confirmation (#18), in Chromium against the real server: before a role
 * changes, the dialog names who loses what where, from the API's dry run of the change itself.
 */
describe("everyone a change affects, in the confirmation (#18)", { timeout: 90_000 }, () => {
  let server: ConsoleServer;
  let gatehouse: Gatehouse;
  let browser: Browser;
  let panel: string;
  let oliviaId: string;
  let adamId: string;
  let owner: Page;
  const contexts: BrowserContext[] = [];
  const shown = (locator: Locator) => locator.first().waitFor({ state: "visible" });

  beforeAll(async () => {
    server = await startServer(buildConsole());
    gatehouse = server.gatehouse;
    ({ workspaceId: panel } = await seedPanel(gatehouse));
    oliviaId = (await gatehouse.users.findByEmail("olivia@example.com"))!.id;
    const { user: adam } = await gatehouse.users.signUp({
      email: "adam@example.com",
      password: PASSWORD,
      name: "Adam Admin",
    });
    adamId = adam.id;
    await gatehouse.members.add(systemActor(), panel, {
      userId: adam.id,
      grants: [{ role: "admin", scope: `workspace:${panel}` }],
    });
    browser = await launchBrowser();
    const context = await browser.newContext({
      viewport: { width: 1280, height: 860 },
      baseURL: server.base,
    });
    contexts.push(context);
    owner = await context.newPage();
    owner.setDefaultTimeout(20_000);
    await owner.goto(`/sign-in?next=${encodeURIComponent(`/w/${panel}/team`)}`);
    await owner.getByLabel("Email", { exact: true }).fill("olivia@example.com");
    await owner.getByLabel("Password").fill(PASSWORD);
    await owner.getByRole("button", { name: "Sign in", exact: true }).click();
    await owner.waitForURL((url) => url.pathname !== "/sign-in");
  }, 180_000);

  afterEach(async ({ task }) => {
    if (task.result?.state === "fail" && !owner.isClosed())
      await screenshot(owner, "failure-access-diff").catch(() => undefined);
  });

  afterAll(async () => {
    for (const context of contexts) await context.close();
    await browser?.close();
    await server?.close();
  });

  it("names what is lost where before a role changes, and saves nothing until confirmed", async () => {
    await shown(owner.getByRole("table", { name: "Members" }));
    await owner
      .getByLabel("Role of Adam Admin on Whole workspace")
      .selectOption({ label: "Operator" });
    await pick(owner, "Scope for Operator", "fra", "fra-1");
    await owner.getByRole("button", { name: "Review change" }).click();
    const dialog = owner.getByRole("dialog", { name: "Change Adam Admin's access?" });
    const affected = dialog.getByRole("list", { name: "Everyone affected" });
    await shown(affected);
    const lines = await affected.innerText();
    // Off fra-1, Adam keeps nothing: the dry run names the other server he loses.
    expect(lines).toMatch(/Adam Admin loses .+ on server ams-1/i);
    expect(await dialog.getByTestId("access-effect").innerText()).toMatch(
      /Everyone affected: 1 person or team on \d+ resources/,
    );
    await screenshot(owner, "access-diff-confirm");
    await dialog.getByRole("button", { name: "Cancel" }).click();
    const grants = (await gatehouse.members.list(asUser(oliviaId), panel))
      .find((member) => member.userId === adamId)
      ?.grants.map((grant) => `${grant.role}@${grant.scope}`);
    expect(grants).toEqual([`admin@workspace:${panel}`]);
  });
});
