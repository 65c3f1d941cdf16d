import { presets } from "@gatehouse/engine/presets";
import { asUser, systemActor } from "@gatehouse/service";
import type { Browser, Locator, Page } from "playwright-core";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { studio } from "../../service/test/studio-model.ts";
import {
  buildConsole,
  type ConsoleServer,
  launchBrowser,
  PASSWORD,
  pick,
  screenshot,
  startServer,
} from "./harness.ts";

/**
 * Issue 18, item 5, in Chromium against the real server: the owner of a workspace whose model
 * allows it defines a role on the Roles page, gives it through Give access, and sees it in the
 * role × permission matrix.
 */
describe("workspace-defined roles in the console", { timeout: 90_000 }, () => {
  let server: ConsoleServer;
  let browser: Browser;
  let page: Page;
  let workspaceId: string;

  const shown = (locator: Locator) => locator.first().waitFor({ state: "visible" });
  const poll = <T>(read: () => Promise<T>) => expect.poll(read, { timeout: 15_000, interval: 50 });

  beforeAll(async () => {
    server = await startServer(buildConsole(), {}, { models: { ...presets, studio } });
    const gatehouse = server.gatehouse;
    const { user: olivia } = await gatehouse.users.signUp({
      email: "olivia@example.com",
      password: PASSWORD,
      name: "Olivia Owner",
    });
    workspaceId = (
      await gatehouse.workspaces.create(asUser(olivia.id), { name: "Studio", preset: "studio" })
    ).id;
    const host = systemActor();
    for (const site of ["site:shop", "site:blog"])
      await gatehouse.resources.upsert(host, workspaceId, {
        resource: site,
        parent: `workspace:${workspaceId}`,
      });
    const { user: dana } = await gatehouse.users.signUp({
      email: "dana@example.com",
      password: PASSWORD,
      name: "Dana Dev",
    });
    await gatehouse.members.add(host, workspaceId, {
      userId: dana.id,
      grants: [{ role: "viewer", scope: "site:blog" }],
    });
    browser = await launchBrowser();
    const context = await browser.newContext({
      viewport: { width: 1280, height: 900 },
      baseURL: server.base,
    });
    page = await context.newPage();
    page.setDefaultTimeout(15_000);
    await page.goto("/sign-in");
    await page.getByLabel("Email", { exact: true }).fill("olivia@example.com");
    await page.getByLabel("Password").fill(PASSWORD);
    await page.getByRole("button", { name: "Sign in", exact: true }).click();
    await shown(page.getByRole("navigation", { name: "Sections" }));
  }, 120_000);

  afterEach(async ({ task }) => {
    if (task.result?.state === "fail")
      await screenshot(page, "workspace-roles-failure").catch(() => undefined);
  });

  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  it("defines a role on the Roles page, gives it, and shows it in the matrix", async () => {
    await page.goto(`/w/${workspaceId}/roles`);
    const form = page.getByRole("form", { name: "Define a role" });
    await shown(form);
    // Owner-only permissions are never offered.
    await poll(() => form.getByText("billing.manage").count()).toBe(0);
    await form.getByLabel("Name").fill("deployer");
    await form.getByLabel("Label").fill("Deployer");
    await form
      .getByRole("group", { name: "Given at" })
      .getByRole("checkbox", { name: "site", exact: true })
      .check();
    const permissions = form.getByRole("group", { name: "Permissions" });
    await permissions.getByRole("checkbox", { name: /^site\.view/ }).check();
    await permissions.getByRole("checkbox", { name: /^site\.deploy/ }).check();
    await form.getByRole("button", { name: "Define role" }).click();
    await shown(page.getByText("Role Deployer defined"));
    const matrix = page.getByRole("table", { name: "Role × permission matrix" });
    await shown(matrix.getByRole("columnheader", { name: /Deployer/ }));
    await shown(page.getByRole("list", { name: "Workspace roles" }).getByText("Deployer"));
    await screenshot(page, "workspace-roles-defined");

    // The new role is in the team page's role picker.
    await page.goto(`/w/${workspaceId}/team`);
    const give = page.getByRole("form", { name: "Give access" });
    await shown(give);
    await pick(page, "Who", "Dana", "Dana Dev", give);
    await give.getByLabel("Role", { exact: true }).selectOption({ label: "Deployer" });
    await pick(page, "Where", "shop", "shop", give);
    await give.getByRole("button", { name: "Review and give access" }).click();
    const dialog = page.getByRole("dialog");
    await shown(dialog);
    await dialog.getByRole("button", { name: "Give access" }).click();
    await shown(page.getByText(/Dana Dev now holds Deployer on/));
    const check = await server.gatehouse.decisions.check(systemActor(), workspaceId, {
      subject: `user:${(await server.gatehouse.members.list(systemActor(), workspaceId)).find((m) => m.email === "dana@example.com")!.userId}`,
      permission: "site.deploy",
      resource: "site:shop",
    });
    expect(check.allowed).toBe(true);

    // While Dana holds it, the role is not deleted.
    await page.goto(`/w/${workspaceId}/roles`);
    await page.getByRole("button", { name: "Delete Deployer" }).click();
    await page.getByRole("dialog").getByRole("button", { name: "Delete role" }).click();
    await shown(page.getByText(/Someone still has this role/));
  });
});
