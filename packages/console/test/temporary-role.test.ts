import { asUser, systemActor } from "@gatehouse/service";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, it } from "vitest";
import {
  buildConsole,
  type ConsoleServer,
  launchBrowser,
  PASSWORD,
  screenshot,
  seedCompany,
  startServer,
} from "./harness.ts";

/**
 * Issue 18: in a `company` workspace a Read Only member elevated to Technical over their standing
 * role sees, beside the grant, what it returns to: "elevated until …, then Read Only".
 */
describe("a temporary role over a standing one in the console", { timeout: 60_000 }, () => {
  let server: ConsoleServer;
  let browser: Browser;
  let page: Page | undefined;
  let workspaceId: string;

  beforeAll(async () => {
    server = await startServer(buildConsole());
    ({ workspaceId } = await seedCompany(server.gatehouse));
    const root = `workspace:${workspaceId}`;
    const { user: rita } = await server.gatehouse.users.signUp({
      email: "rita@example.com",
      password: PASSWORD,
      name: "Rita Reader",
    });
    await server.gatehouse.members.add(systemActor(), workspaceId, {
      userId: rita.id,
      grants: [{ role: "read_only", scope: root }],
    });
    const [bruno] = (await server.gatehouse.members.list(systemActor(), workspaceId)).filter(
      (member) => member.email === "bruno@example.com",
    );
    const { eligibility } = await server.gatehouse.elevations.set(
      asUser(bruno!.userId),
      workspaceId,
      { subject: `user:${rita.id}`, role: "technical", scope: root, maxDurationMs: 3_600_000 },
    );
    await server.gatehouse.elevations.activate(asUser(rita.id), workspaceId, eligibility.id, {
      durationMs: 3_600_000,
      reason: "patch the mail server",
    });
    browser = await launchBrowser();
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  it("says what the elevated grant returns to", async () => {
    const context = await browser.newContext({ baseURL: server.base });
    page = await context.newPage();
    page.setDefaultTimeout(15_000);
    await page.goto("/sign-in");
    await page.getByLabel("Email", { exact: true }).fill("rita@example.com");
    await page.getByLabel("Password").fill(PASSWORD);
    await page.getByRole("button", { name: "Sign in", exact: true }).click();
    await page.goto(`/w/${workspaceId}`);
    try {
      await page
        .getByText(/Technical · .* · elevated until .*, then Read Only/)
        .first()
        .waitFor({ state: "visible" });
    } catch (error) {
      await screenshot(page, "temporary-role-failure").catch(() => undefined);
      throw error;
    }
    await context.close();
  });
});
