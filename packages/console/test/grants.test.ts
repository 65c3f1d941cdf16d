import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { asUser, systemActor } from "@gatehouse/service";
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
 * Issue 16, items 4 and 6, in Chromium against the real server: every grant the model allows (a
 * second server, an end date, a role for a group) given through the console's confirmation, and a
 * site customer's own view in words, kept to the hosting company's workspace.
 */
describe("grants as the model allows them, and the customer's per-site view", {
  timeout: 60_000,
}, () => {
  let server: ConsoleServer;
  let browser: Browser;
  let workspaceId: string;
  /** A stand-in for a site's own admin app (wp-admin, say): it answers the posted assertion. */
  let adminApp: Server;
  let adminUrl: string;
  const contexts: BrowserContext[] = [];
  const pages: Page[] = [];
  let owner: Page;
  let cara: Page;
  /** The end of the temporary grant: next year, 15 June, 10:30 local time. */
  const year = new Date().getFullYear() + 1;
  const until = `${year}-06-15T10:30`;

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
    // Each of them also has a workspace of their own: open the hosting company's.
    await page.goto(`/w/${workspaceId}`);
    await shown(page.getByRole("navigation", { name: "Sections" }));
    return page;
  }

  const poll = <T>(read: () => Promise<T>) => expect.poll(read, { timeout: 15_000, interval: 50 });
  const shown = (locator: Locator) => locator.first().waitFor({ state: "visible" });
  const memberRow = (page: Page, email: string) =>
    page.getByRole("table", { name: "Members" }).getByRole("row").filter({ hasText: email });
  const giveAccess = (page: Page) => page.getByRole("form", { name: "Give access" });

  /** Fills the "Give access" form and confirms the dialog that says what the subject gains. */
  async function give(
    page: Page,
    grant: { who: string; role: string; where: string; until?: string; extras?: string[] },
  ): Promise<Locator> {
    await fill(page, grant);
    const dialog = page.getByRole("dialog");
    await shown(dialog);
    return dialog;
  }

  async function fill(
    page: Page,
    grant: { who: string; role: string; where: string; until?: string; extras?: string[] },
  ): Promise<void> {
    const form = giveAccess(page);
    await pick(page, "Who", grant.who.slice(0, 4), grant.who, form);
    await form.getByLabel("Role").selectOption({ label: grant.role });
    await pick(page, "Where", grant.where.slice(0, 4), grant.where, form);
    if (grant.until !== undefined) await form.getByLabel("Until (optional)").fill(grant.until);
    for (const extra of grant.extras ?? []) await form.getByLabel(extra).check();
    await form.getByRole("button", { name: "Review and give access" }).click();
  }

  beforeAll(async () => {
    const consoleDir = buildConsole();
    server = await startServer(consoleDir);
    ({ workspaceId } = await seedPanel(server.gatehouse));
    const host = systemActor();
    const people: [string, string, string, string | undefined][] = [
      ["otto@example.com", "Otto Operator", "operator", "server:fra-1"],
      ["cara@example.com", "Cara Customer", "customer", "site:shop.example"],
      ["gina@example.com", "Gina Group", "customer", "site:blog.example"],
    ];
    for (const [email, name, role, scope] of people) {
      const { user } = await server.gatehouse.users.signUp({ email, password: PASSWORD, name });
      await server.gatehouse.members.add(host, workspaceId, {
        userId: user.id,
        grants: [{ role, scope: scope! }],
      });
      // Each also runs a workspace of their own: the switcher has something to switch to.
      await server.gatehouse.workspaces.create(asUser(user.id), {
        name: `${name.split(" ")[0]}'s own`,
        preset: "mzpanel",
      });
    }
    adminApp = createServer((request, response) => {
      let body = "";
      request.on("data", (chunk: Buffer) => {
        body += chunk.toString();
      });
      request.on("end", () => {
        const signedIn = request.method === "POST" && body.startsWith("assertion=");
        response.writeHead(200, { "content-type": "text/html" });
        response.end(`<h1>${signedIn ? "Site admin: signed in" : "Site admin: no assertion"}</h1>`);
      });
    });
    await new Promise<void>((resolve) => adminApp.listen(0, "127.0.0.1", resolve));
    adminUrl = `http://127.0.0.1:${(adminApp.address() as AddressInfo).port}/wp-admin`;
    await server.gatehouse.signIn.setTarget(host, workspaceId, {
      resource: "site:shop.example",
      url: adminUrl,
    });
    browser = await launchBrowser();
    owner = await signedIn("olivia@example.com");
    await owner.goto(`/w/${workspaceId}/team`);
    await shown(memberRow(owner, "otto@example.com"));
  }, 120_000);

  afterEach(async ({ task }) => {
    if (task.result?.state !== "fail") return;
    for (const [index, page] of pages.entries()) {
      if (!page.isClosed())
        await screenshot(page, `grants-failure-${index}`).catch(() => undefined);
    }
  });

  afterAll(async () => {
    for (const context of contexts) await context.close();
    await browser?.close();
    await server?.close();
    await new Promise((resolve) => adminApp?.close(resolve));
  });

  it("gives an Operator a second server, after a confirmation in words", async () => {
    const dialog = await give(owner, { who: "Otto Operator", role: "Operator", where: "ams-1" });
    await shown(
      dialog.getByRole("heading", {
        name: "Give Otto Operator the role Operator on Server ams-1?",
      }),
    );
    // What he gains, in the model's words.
    await shown(dialog.getByText("Restart the server"));
    await screenshot(owner, "give-access-confirm");
    await dialog.getByRole("button", { name: "Give access" }).click();
    await shown(owner.getByText("Otto Operator now holds Operator on Server ams-1."));
    await shown(owner.getByLabel("Role of Otto Operator on Server ams-1"));
    await shown(owner.getByLabel("Role of Otto Operator on Server fra-1"));

    const otto = await signedIn("otto@example.com");
    await shown(otto.getByText("Operator · Server ams-1"));
    await poll(() =>
      otto.getByRole("list", { name: "Servers" }).getByRole("link").allInnerTexts(),
    ).toEqual([expect.stringMatching(/ams-1/), expect.stringMatching(/fra-1/)]);
    // A member whose roles keep the full navigation still has the switcher and the account link.
    await shown(otto.getByRole("combobox", { name: "Workspace" }));
    await poll(() => otto.locator('a[href="/account"]').count()).toBe(1);
  });

  it("refuses, before sending, a second role on the same place", async () => {
    await fill(owner, { who: "Otto Operator", role: "Operator", where: "fra-1" });
    await shown(
      giveAccess(owner).getByText(
        "Otto Operator already holds Operator on Server fra-1: change that role instead",
      ),
    );
    await poll(() => owner.getByRole("dialog").count()).toBe(0);
  });

  it("undoes a grant just given, from its acknowledgement", async () => {
    const dialog = await give(owner, {
      who: "Gina Group",
      role: "Customer",
      where: "shop.example",
    });
    await dialog.getByRole("button", { name: "Give access" }).click();
    await shown(owner.getByText(/^Gina Group now holds Customer on .*shop\.example\./));
    const scopesOfGina = async () =>
      (await server.gatehouse.members.list(systemActor(), workspaceId))
        .find((member) => member.email === "gina@example.com")
        ?.grants.map((grant) => grant.scope);
    await poll(scopesOfGina).toContain("site:shop.example");
    await owner.getByTestId("access-ack").getByRole("button", { name: "Undo" }).click();
    await shown(owner.getByText("Undone: Gina Group has Customer on site blog.example again."));
    await poll(scopesOfGina).toEqual(["site:blog.example"]);
  });

  it("shows an expiring grant's end on the Team page and to the member", async () => {
    const dialog = await give(owner, {
      who: "Cara Customer",
      role: "Customer",
      where: "docs.example",
      until,
      extras: ["Delete the site"],
    });
    await shown(dialog.getByText("Delete the site"));
    await shown(dialog.getByText(/It ends by itself on Jun 15, \d{4}/));
    await dialog.getByRole("button", { name: "Give access" }).click();
    const end = new RegExp(`until Jun 15, ${year}, 10:30`);
    await shown(memberRow(owner, "cara@example.com").getByText(end));
    await shown(memberRow(owner, "cara@example.com").getByText("plus: Delete the site"));
    await screenshot(owner, "team-grants");

    cara = await signedIn("cara@example.com");
    await shown(cara.getByText(/Customer · Site docs\.example · until Jun 15/));
    await cara.goto(`/w/${workspaceId}/resources/site/docs.example`);
    await shown(cara.getByText(end));
    await shown(cara.getByRole("list", { name: "On this site" }).getByText("Delete the site"));
  });

  it("takes a further grant away after saying what goes, and Undo gives back exactly that grant (#16)", async () => {
    const caraGrants = async () =>
      (await server.gatehouse.members.list(systemActor(), workspaceId))
        .find((member) => member.email === "cara@example.com")
        ?.grants.map((grant) => ({ ...grant, extras: [...grant.extras] }));
    const before = await caraGrants();
    const docs = before?.find((grant) => grant.scope === "site:docs.example");
    expect(docs?.extras).toHaveLength(1);
    expect(docs?.expiresAt).toBeGreaterThan(Date.now());
    const takeAway = memberRow(owner, "cara@example.com").getByRole("button", {
      name: "Take away Customer on Site docs.example from Cara Customer",
    });
    await takeAway.click();
    const dialog = owner.getByRole("dialog", {
      name: "Take Customer on Site docs.example away from Cara Customer?",
    });
    const loses = dialog.getByRole("list", { name: "Cara Customer loses" });
    await shown(loses);
    expect(await loses.innerText()).toContain("Delete the site");
    await screenshot(owner, "take-away-confirm");
    // Cancelling takes nothing away.
    await dialog.getByRole("button", { name: "Cancel" }).click();
    expect(await caraGrants()).toEqual(before);

    await takeAway.click();
    await dialog.getByRole("button", { name: "Take away" }).click();
    const ack = owner
      .getByTestId("access-ack")
      .filter({ hasText: "Cara Customer no longer holds Customer on site docs.example" });
    await shown(ack);
    await poll(async () => (await caraGrants())?.map((grant) => grant.scope)).toEqual([
      "site:shop.example",
    ]);
    await ack.getByRole("button", { name: "Undo" }).click();
    await shown(owner.getByTestId("access-ack").filter({ hasText: "Undone: Cara Customer has" }));
    // The same role, place, extras and end as before.
    await poll(caraGrants).toEqual(before);
    await shown(memberRow(owner, "cara@example.com").getByText("plus: Delete the site"));
  });

  it("gives a group a role, and its members gain it", async () => {
    await owner.getByRole("textbox", { name: "New group" }).fill("Support");
    await owner.getByRole("button", { name: "Create group" }).click();
    await pick(owner, "Add a member to Support", "Gina", "Gina Group");
    // Joining a group widens access too: previewed and confirmed like any other change (#16).
    const joining = owner.getByRole("dialog", { name: "Add Gina Group to Support?" });
    await joining.getByRole("button", { name: "Add to group" }).click();
    await shown(owner.getByRole("button", { name: "Remove Gina Group from Support" }));
    const dialog = await give(owner, {
      who: "Support",
      role: "Operator",
      where: "fra-1",
    });
    await shown(dialog.getByText("Every member of Support (1 person) gains"));
    await dialog.getByRole("button", { name: "Give access" }).click();
    await shown(owner.getByRole("list", { name: "Roles of Support" }).getByText("Operator"));
    await shown(memberRow(owner, "gina@example.com").getByText("Server fra-1 · through Support"));

    const gina = await signedIn("gina@example.com");
    await shown(gina.getByText("Operator · Server fra-1"));
    await gina.goto(`/w/${workspaceId}/resources/server/fra-1`);
    await shown(gina.getByRole("heading", { name: "fra-1" }));
    await shown(gina.getByRole("list", { name: "On this server" }).getByText("Restart the server"));
  });

  it("takes a member out of a group and a group's role away only after confirming, each with an Undo (#16)", async () => {
    const support = async () =>
      (await server.gatehouse.members.listGroups(systemActor(), workspaceId)).find(
        (group) => group.name === "Support",
      );
    const gina = (await server.gatehouse.users.findByEmail("gina@example.com"))!.id;
    await owner.getByRole("button", { name: "Remove Gina Group from Support" }).click();
    const leaving = owner.getByRole("dialog", { name: "Take Gina Group out of Support?" });
    await shown(
      leaving.getByRole("list", { name: "Gina Group loses" }).getByText("Restart the server"),
    );
    await leaving.getByRole("button", { name: "Take out of group" }).click();
    const ack = owner
      .getByTestId("access-ack")
      .filter({ hasText: "Gina Group is no longer in Support." });
    await shown(ack);
    await poll(async () => (await support())?.members).toEqual([]);
    await ack.getByRole("button", { name: "Undo" }).click();
    await poll(async () => (await support())?.members).toEqual([gina]);
    await shown(owner.getByRole("button", { name: "Remove Gina Group from Support" }));

    await owner
      .getByRole("list", { name: "Roles of Support" })
      .getByRole("button", { name: "Take away Operator on Server fra-1 from Support" })
      .click();
    const taking = owner.getByRole("dialog", {
      name: "Take Operator on Server fra-1 away from Support?",
    });
    await shown(taking.getByText("Every member of the group loses what this grant gave them"));
    await taking.getByRole("button", { name: "Take away" }).click();
    const taken = owner
      .getByTestId("access-ack")
      .filter({ hasText: "Support no longer holds Operator on server fra-1." });
    await shown(taken);
    await poll(async () => (await support())?.grants.length).toBe(0);
    await taken.getByRole("button", { name: "Undo" }).click();
    await poll(async () => (await support())?.grants.map((grant) => grant.scope)).toEqual([
      "server:fra-1",
    ]);
  });

  it("shows a site customer what they can do in words, with no switcher or account pages", async () => {
    await cara.goto(`/w/${workspaceId}/resources/site/shop.example`);
    await shown(cara.getByRole("heading", { name: "What you can do here" }));
    const actions = cara.getByRole("list", { name: "On this site" });
    await shown(actions.getByText("Back up and restore the site"));
    await shown(actions.getByText("The site's databases"));
    await poll(() => cara.getByText("site.deploy").count()).toBe(0);
    // The model's sections are areas of the host's panel: said in words, not dressed as links.
    await shown(cara.getByText("In your panel: Sites · Activity log"));
    // MZPanel's Customer works in the hosting company's workspace only.
    await poll(() => cara.getByRole("combobox", { name: "Workspace" }).count()).toBe(0);
    await poll(() => cara.locator('a[href="/account"]').count()).toBe(0);
    await shown(cara.getByRole("button", { name: "Sign out" }));
    await screenshot(cara, "site-view-customer");

    await cara.getByRole("button", { name: "Sign in to the admin of shop.example" }).click();
    await shown(cara.getByRole("heading", { name: "Site admin: signed in" }));
    expect(cara.url()).toBe(adminUrl);
  });

  it("says so when a site has no admin app yet", async () => {
    await cara.goto(`/w/${workspaceId}/resources/site/docs.example`);
    await cara.getByRole("button", { name: "Sign in to the admin of docs.example" }).click();
    await shown(cara.getByText("This site has no admin app to sign in to yet"));
  });
});
