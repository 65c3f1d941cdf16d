import { asUser, systemActor } from "@gatehouse/service";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
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
    // Standing roles only, to ask above: Read Only (below Manager, Technical and Billing; above QSA /
    // Auditor, which gives nothing Read Only lacks) and Manager (above every other role).
    for (const [email, role] of [
      ["tess@example.com", "read_only"],
      ["max@example.com", "manager"],
    ] as const) {
      const { user } = await server.gatehouse.users.signUp({
        email,
        password: PASSWORD,
        name: email,
      });
      await server.gatehouse.members.add(systemActor(), workspaceId, {
        userId: user.id,
        grants: [{ role, scope: root }],
      });
    }
    browser = await launchBrowser();
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  async function signIn(email: string): Promise<Page> {
    const context = await browser.newContext({ baseURL: server.base });
    const page = await context.newPage();
    page.setDefaultTimeout(15_000);
    await page.goto("/sign-in");
    await page.getByLabel("Email", { exact: true }).fill(email);
    await page.getByLabel("Password").fill(PASSWORD);
    await page.getByRole("button", { name: "Sign in", exact: true }).click();
    await page.waitForURL((url) => url.pathname !== "/sign-in");
    return page;
  }

  it("says what the elevated grant returns to", async () => {
    const page = await signIn("rita@example.com");
    const context = page.context();
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

  it("offers to ask only for roles above the standing one", async () => {
    const rootPage = `/w/${workspaceId}/resources/workspace/${workspaceId}`;
    const tess = await signIn("tess@example.com");
    await tess.goto(rootPage);
    const card = tess.getByRole("region", { name: "Request access" });
    await card.waitFor({ state: "visible" });
    await card.getByText("You are Read Only here.").waitFor({ state: "visible" });
    expect(await card.getByLabel("Role").locator("option").allInnerTexts()).toEqual([
      "Manager",
      "Technical",
      "Billing",
    ]);
    await tess.context().close();

    // A Manager holds everything every other role gives: nothing to ask for, so no card.
    const max = await signIn("max@example.com");
    await max.goto(rootPage);
    await max.getByText("Your access to the whole").waitFor({ state: "visible" });
    expect(await max.getByRole("region", { name: "Request access" }).count()).toBe(0);
    await max.context().close();
  });
});
