import { asUser, systemActor } from "@gatehouse/service";
import type { Browser, BrowserContext, Locator, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
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
 * A hosting-customer Customer Admin's Permissions card, in Chromium against the real server: they
 * land on their customer, see who has access there and below (nothing of the other customer),
 * revoke a grant on one of its hostings after confirming (and undo it), grant a role there to
 * someone found by typing, saved only on confirming (#16) — the owner finds anyone in the
 * workspace — and see, withdraw and send the pending invitations of their part (one into a
 * team), and remove a member who is there only through their team.
 */
describe("the Permissions card of a Customer Admin", { timeout: 60_000 }, () => {
  let server: ConsoleServer;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let workspaceId: string;

  const poll = <T>(read: () => Promise<T>) => expect.poll(read, { timeout: 15_000, interval: 50 });
  const shown = (locator: Locator) => locator.first().waitFor({ state: "visible" });
  /** A member's grants as the API answers them, "role@scope", sorted. */
  const grantsOf = async (email: string) =>
    (await server.gatehouse.members.list(systemActor(), workspaceId))
      .find((member) => member.email === email)
      ?.grants.map((grant) => `${grant.role}@${grant.scope}`)
      .sort() ?? [];

  beforeAll(async () => {
    const consoleDir = buildConsole();
    server = await startServer(consoleDir);
    const { gatehouse } = server;
    const person = async (email: string, name: string) =>
      (await gatehouse.users.signUp({ email, password: PASSWORD, name })).user;
    const hanna = await person("hanna@example.com", "Hanna Host");
    const workspace = await gatehouse.workspaces.create(asUser(hanna.id), {
      name: "Hanna's agency",
      preset: "hosting-customer",
    });
    workspaceId = workspace.id;
    const host = systemActor();
    for (const customer of ["acme", "globex"]) {
      await gatehouse.resources.upsert(host, workspaceId, {
        resource: `customer:${customer}`,
        parent: `workspace:${workspaceId}`,
      });
      await gatehouse.resources.upsert(host, workspaceId, {
        resource: `hosting:${customer}-web`,
        parent: `customer:${customer}`,
      });
    }
    for (const [email, name, role, scope] of [
      ["carla@example.com", "Carla Admin", "customer_admin", "customer:acme"],
      ["wes@example.com", "Wes Web", "hosting_web", "hosting:acme-web"],
      ["gus@example.com", "Gus Globex", "hosting_web", "hosting:globex-web"],
    ] as const) {
      const user = await person(email, name);
      await gatehouse.members.add(host, workspaceId, {
        userId: user.id,
        grants: [{ role, scope }],
      });
    }
    browser = await launchBrowser();
    context = await browser.newContext({
      viewport: { width: 1280, height: 860 },
      baseURL: server.base,
    });
    page = await context.newPage();
    page.setDefaultTimeout(15_000);
  }, 120_000);

  afterAll(async () => {
    await context?.close();
    await browser?.close();
    await server?.close();
  });

  it("shows who has access to the customer and below, and revokes after confirming", async () => {
    await page.goto("/");
    await page.getByLabel("Email", { exact: true }).fill("carla@example.com");
    await page.getByLabel("Password").fill(PASSWORD);
    const signedIn = page.waitForResponse((response) => response.url().endsWith("/v1/auth/login"));
    await page.getByRole("button", { name: "Sign in", exact: true }).click();
    expect((await signedIn).status()).toBe(200);
    // From the navigation: their customer's page (sign-up gave them a personal workspace too).
    await page.goto(`/w/${workspaceId}/resources/customer/acme`);
    const card = page.getByRole("table", { name: "Permissions" });
    await card.waitFor({ state: "visible" });
    const rows = card.locator("tbody tr");
    // Rows are sorted by subject id: compare as a set.
    const emails = async () =>
      (await rows.allInnerTexts()).map((text) => /\S+@example\.com/.exec(text)?.[0]).sort();
    await poll(emails).toEqual(["carla@example.com", "hanna@example.com", "wes@example.com"]);
    expect((await card.innerText()).includes("gus@example.com")).toBe(false);
    await screenshot(page, "permissions-card");
    const wes = card.locator('tr[data-subject="wes@example.com"]');
    await wes.getByRole("button", { name: "Revoke" }).click();
    const dialog = page.getByRole("dialog", { name: /Revoke/ });
    await shown(dialog.getByRole("list", { name: "Wes Web loses" }));
    await dialog.getByRole("button", { name: "Revoke" }).click();
    await poll(emails).toEqual(["carla@example.com", "hanna@example.com"]);
    expect(await grantsOf("wes@example.com")).toEqual([]);
    // The acknowledgement's Undo gives the grant back.
    await page.getByTestId("access-ack").getByRole("button", { name: "Undo" }).click();
    await poll(() => grantsOf("wes@example.com")).toEqual(["hosting_web@hosting:acme-web"]);
    await poll(emails).toEqual(["carla@example.com", "hanna@example.com", "wes@example.com"]);
  });

  it("grants a role here to someone found by typing, only after confirming (#16)", async () => {
    const form = page.getByRole("form", { name: "Grant a role here" });
    // A Customer Admin may not list the workspace's members: the picker searches the card's people.
    await pick(page, "Who", "wes", "Wes Web", form);
    await form.getByLabel("Role").selectOption({ label: "Customer Domain" });
    await form.getByRole("button", { name: "Review and grant" }).click();
    const dialog = page.getByRole("dialog", { name: /^Give Wes Web the role Customer Domain/ });
    await shown(dialog.getByRole("list", { name: "Wes Web gains" }));
    await dialog.getByRole("button", { name: "Cancel" }).click();
    // Nothing is saved before the confirmation.
    expect(await grantsOf("wes@example.com")).toEqual(["hosting_web@hosting:acme-web"]);
    await form.getByRole("button", { name: "Review and grant" }).click();
    await dialog.getByRole("button", { name: "Grant" }).click();
    await poll(() => grantsOf("wes@example.com")).toEqual([
      "customer_domain@customer:acme",
      "hosting_web@hosting:acme-web",
    ]);
    await shown(page.getByText("Wes Web now holds Customer Domain on customer acme."));
    await screenshot(page, "permissions-card-grant");
    // Someone with no access in Carla's part of the tree is not offered.
    const who = form.getByRole("combobox", { name: "Who", exact: true });
    await who.fill("gus");
    const list = page.locator(`[id="${await who.getAttribute("aria-controls")}"]`);
    await shown(form.getByText("Nothing matches “gus”"));
    expect(await list.getByRole("option").count()).toBe(0);
    await who.press("Escape");
  });

  it("lets the owner grant here to a member the card does not list yet", async () => {
    const owner = await context.browser()!.newContext({
      viewport: { width: 1280, height: 860 },
      baseURL: server.base,
    });
    const hanna = await owner.newPage();
    hanna.setDefaultTimeout(15_000);
    await hanna.goto("/");
    await hanna.getByLabel("Email", { exact: true }).fill("hanna@example.com");
    await hanna.getByLabel("Password").fill(PASSWORD);
    await hanna.getByRole("button", { name: "Sign in", exact: true }).click();
    await shown(hanna.getByRole("navigation", { name: "Sections" }));
    await hanna.goto(`/w/${workspaceId}/resources/customer/acme`);
    const form = hanna.getByRole("form", { name: "Grant a role here" });
    await pick(hanna, "Who", "gus", "Gus Globex", form);
    await form.getByLabel("Role").selectOption({ label: "Customer Manager" });
    await form.getByRole("button", { name: "Review and grant" }).click();
    await hanna
      .getByRole("dialog", { name: /^Give Gus Globex the role Customer Manager/ })
      .getByRole("button", { name: "Grant" })
      .click();
    await poll(() => grantsOf("gus@example.com")).toEqual([
      "customer_manager@customer:acme",
      "hosting_web@hosting:globex-web",
    ]);
    await shown(
      hanna
        .getByRole("table", { name: "Permissions" })
        .locator('tr[data-subject="gus@example.com"]'),
    );
    await owner.close();
  });

  it("shows the pending invitations in their part, withdraws one, and invites into a team", async () => {
    const { gatehouse } = server;
    const hanna = asUser((await gatehouse.users.findByEmail("hanna@example.com"))!.id);
    const { group } = await gatehouse.members.createGroup(hanna, workspaceId, { name: "Acme web" });
    await gatehouse.members.grant(hanna, workspaceId, {
      subject: `group:${group.id}`,
      role: "hosting_web",
      scope: "hosting:acme-web",
    });
    for (const [email, scope] of [
      ["pia@example.com", "hosting:acme-web"],
      ["gil@example.com", "hosting:globex-web"],
    ] as const)
      await gatehouse.invitations.create(hanna, workspaceId, {
        email,
        role: "hosting_mail",
        scopes: [scope],
      });
    const tina = (
      await gatehouse.users.signUp({ email: "tina@example.com", password: PASSWORD, name: "Tina" })
    ).user;
    await gatehouse.members.add(systemActor(), workspaceId, {
      userId: tina.id,
      groups: [group.id],
    });
    await page.goto(`/w/${workspaceId}/resources/customer/acme`);
    const table = page.getByRole("table", { name: "Pending invitations here" });
    await table.waitFor({ state: "visible" });
    const invited = async () =>
      (await table.locator("tbody tr").allInnerTexts())
        .map((text) => /\S+@example\.com/.exec(text)?.[0])
        .sort();
    await poll(invited).toEqual(["pia@example.com"]);
    await table
      .locator('tr[data-invitation="pia@example.com"]')
      .getByRole("button", { name: "Withdraw" })
      .click();
    const dialog = page.getByRole("dialog", { name: /Withdraw the invitation/ });
    await dialog.getByRole("button", { name: "Withdraw invitation" }).click();
    await page.getByText("No pending invitations give access here.").waitFor();

    const form = page.getByRole("form", { name: "Invite here" });
    await form.getByLabel("Invite email").fill("tom@example.com");
    await form.getByLabel("Role here").selectOption({ label: "No role (team only)" });
    await form.getByLabel("Team").selectOption({ label: "Acme web" });
    const sent = page.waitForResponse(
      (response) =>
        response.url().endsWith("/invitations") && response.request().method() === "POST",
    );
    await form.getByRole("button", { name: "Send invitation" }).click();
    expect((await sent).status()).toBe(201);
    await poll(invited).toEqual(["tom@example.com"]);
    expect(await table.locator('tr[data-invitation="tom@example.com"]').innerText()).toContain(
      "team Acme web",
    );
    // Tina is in the workspace only through Carla's team: Carla removes her from it.
    const people = page.getByRole("table", { name: "Permissions" });
    await people.locator('tr[data-subject="tina@example.com"]').waitFor();
    const removal = page.getByRole("group", { name: "Remove from the workspace" });
    await removal.getByLabel("Member to remove").selectOption({ label: "tina@example.com" });
    await removal.getByRole("button", { name: "Remove…" }).click();
    await page
      .getByRole("dialog", { name: /Remove tina@example.com/ })
      .getByRole("button", { name: "Remove member" })
      .click();
    await people.locator('tr[data-subject="tina@example.com"]').waitFor({ state: "detached" });
    expect(
      (await gatehouse.members.list(hanna, workspaceId)).some(
        (member) => member.userId === tina.id,
      ),
    ).toBe(false);
    const pending = await gatehouse.invitations.list(hanna, workspaceId, { status: "pending" });
    expect(pending.find((item) => item.email === "tom@example.com")).toMatchObject({
      role: null,
      groups: [{ id: group.id, name: "Acme web" }],
      invitedBy: expect.stringMatching(/^user:/),
    });
  });
});
