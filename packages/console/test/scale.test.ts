import { asUser, systemActor } from "@gatehouse/service";
import axe from "axe-core";
import type { Browser, Locator, Page } from "playwright-core";
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

const SITES = 300;
const SERVERS = 20;
const MEMBERS = 60;
const three = (n: number) => String(n).padStart(3, "0");

/**
 * The console on a workspace of hosting size (#16): 20 servers, 300 sites and 60 members beside
 * the owner. Every picker finds site #250 or member #55 by typing (the server searches; nothing
 * lists everything), and the Team page searches and pages its members.
 */
describe("the console at scale in a browser (#16)", { timeout: 90_000 }, () => {
  let server: ConsoleServer;
  let browser: Browser;
  let owner: Page;
  let workspaceId: string;

  const poll = <T>(read: () => Promise<T>) => expect.poll(read, { timeout: 15_000, interval: 50 });
  const shown = (locator: Locator) => locator.first().waitFor({ state: "visible" });
  const nav = () => owner.getByRole("navigation", { name: "Sections" });

  beforeAll(async () => {
    const consoleDir = buildConsole();
    server = await startServer(consoleDir);
    const { gatehouse } = server;
    const { user: olivia } = await gatehouse.users.signUp({
      email: "olivia@example.com",
      password: PASSWORD,
      name: "Olivia Owner",
    });
    const workspace = await gatehouse.workspaces.create(asUser(olivia.id), {
      name: "Big Hosting",
      preset: "mzpanel",
    });
    workspaceId = workspace.id;
    const host = systemActor();
    // The whole fleet in one sync, as a host app registers it.
    await gatehouse.resources.sync(host, workspaceId, {
      resources: [
        ...Array.from({ length: SERVERS }, (_, index) => ({
          resource: `server:srv-${three(index + 1)}`,
          parent: `workspace:${workspaceId}`,
        })),
        ...Array.from({ length: SITES }, (_, index) => ({
          resource: `site:site-${three(index + 1)}`,
          parent: `server:srv-${three((index % SERVERS) + 1)}`,
        })),
      ],
    });
    for (let n = 1; n <= MEMBERS; n++) {
      await gatehouse.hostUsers.put(host, `m${three(n)}`, {
        email: `member${three(n)}@example.com`,
        name: `Member ${three(n)}`,
      });
      await gatehouse.members.add(host, workspaceId, {
        userId: `m${three(n)}`,
        grants: [{ role: "admin", scope: `workspace:${workspaceId}` }],
      });
    }
    await gatehouse.members.createGroup(host, workspaceId, { name: "Support" });
    browser = await launchBrowser();
    const context = await browser.newContext({
      viewport: { width: 1280, height: 900 },
      baseURL: server.base,
    });
    owner = await context.newPage();
    owner.setDefaultTimeout(15_000);
    await owner.goto("/");
    await owner.getByLabel("Email", { exact: true }).fill("olivia@example.com");
    await owner.getByLabel("Password").fill(PASSWORD);
    await owner.getByRole("button", { name: "Sign in", exact: true }).click();
    await shown(owner.getByRole("heading", { name: "Resources" }));
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  it("pages the resources and finds site #250 by its id", async () => {
    const sites = owner.getByRole("list", { name: "Sites" });
    await poll(() => sites.getByRole("link").count()).toBe(50);
    const pager = owner.getByRole("navigation", { name: "Site pages" });
    await pager.getByRole("button", { name: "Next" }).click();
    await poll(() => sites.getByRole("link").first().innerText()).toContain("site-051");
    await owner.getByLabel("Search sites").fill("site-25");
    await poll(() => sites.getByRole("link").allInnerTexts()).toEqual(
      Array.from({ length: 10 }, (_, index) => expect.stringContaining(`site-25${index}`)),
    );
    await screenshot(owner, "resources-search");
  });

  it("opens server #7 in place: its count, its 15 sites ten at a time, Show more, by keyboard", async () => {
    await owner.goto(`/w/${workspaceId}/resources`);
    const servers = owner.getByRole("list", { name: "Servers" });
    // Every twentieth site runs on srv-007: site-007, site-027, … site-287.
    const ofServer = Array.from({ length: 15 }, (_, index) => `site-${three(7 + index * 20)}`);
    const toggle = servers.getByRole("button", { name: "15 sites of srv-007" });
    await poll(() => toggle.getAttribute("aria-expanded")).toBe("false");
    await toggle.focus();
    await owner.keyboard.press("Enter");
    await poll(() => toggle.getAttribute("aria-expanded")).toBe("true");
    const sites = servers.getByRole("list", { name: "Sites of srv-007" });
    await poll(() => sites.getByRole("link").allInnerTexts()).toEqual(
      ofServer.slice(0, 10).map((id) => expect.stringContaining(id)),
    );
    await owner.getByRole("button", { name: "Show more sites of srv-007" }).click();
    await poll(() => sites.getByRole("link").allInnerTexts()).toEqual(
      ofServer.map((id) => expect.stringContaining(id)),
    );
    await poll(() =>
      owner.getByRole("button", { name: "Show more sites of srv-007" }).count(),
    ).toBe(0);
    await toggle.press("Enter");
    await poll(() => toggle.getAttribute("aria-expanded")).toBe("false");
    await poll(() => sites.count()).toBe(0);
    // The search still narrows the servers, each with its count.
    await owner.getByLabel("Search servers").fill("srv-01");
    await poll(() => servers.getByRole("button").allInnerTexts()).toEqual(
      Array.from({ length: 10 }, () => expect.stringContaining("15 sites")),
    );
    await owner.getByLabel("Search servers").fill("");
    await poll(() => servers.getByRole("link").count()).toBe(20);
  });

  it("shows an opened server's sites on a 390 px phone without sideways panning or an axe-core violation", async () => {
    const context = await browser.newContext({
      viewport: { width: 390, height: 800 },
      baseURL: server.base,
    });
    try {
      const login = await context.request.post("/v1/auth/login", {
        data: { email: "olivia@example.com", password: PASSWORD },
      });
      expect(login.status()).toBe(200);
      const phone = await context.newPage();
      await phone.goto(`/w/${workspaceId}/resources`);
      await phone.getByRole("button", { name: "15 sites of srv-007" }).click();
      const sites = phone.getByRole("list", { name: "Sites of srv-007" });
      await poll(() => sites.getByRole("link").count()).toBe(10);
      await poll(() => phone.locator(".state-loading").count()).toBe(0);
      expect(
        await phone.evaluate("document.documentElement.scrollWidth <= window.innerWidth"),
      ).toBe(true);
      await phone.evaluate(axe.source);
      const violations = (await phone.evaluate(
        `axe.run(document, { resultTypes: ["violations"] }).then((result) => result.violations.filter((v) => v.impact === "serious" || v.impact === "critical").map((v) => v.id + ": " + v.nodes.map((n) => n.target.join(" ")).join(", ")))`,
      )) as string[];
      expect(violations).toEqual([]);
      await screenshot(phone, "phone-resources-tree");
    } finally {
      await context.close();
    }
  });

  it("invites someone to site #250, chosen by typing in the scope picker", async () => {
    await nav().getByRole("link", { name: "Team" }).click();
    await shown(owner.getByRole("heading", { name: "Team" }));
    await owner.getByLabel("Email", { exact: true }).fill("nina@example.com");
    await owner
      .getByRole("form", { name: "Invite" })
      .getByLabel("Role", { exact: true })
      .selectOption({ label: "Customer" });
    // The picker is a combobox: the list opens on typing, ↓ moves, Escape closes.
    const scope = owner.getByRole("combobox", { name: "Scope", exact: true });
    await scope.fill("250");
    const matches = owner.locator(`[id="${await scope.getAttribute("aria-controls")}"]`);
    await poll(() => matches.getByRole("option").allInnerTexts()).toEqual([
      expect.stringContaining("site-250"),
    ]);
    await expect.poll(() => scope.getAttribute("aria-expanded")).toBe("true");
    await scope.press("Escape");
    await expect.poll(() => scope.getAttribute("aria-expanded")).toBe("false");
    await pick(owner, "Scope", "site-250", "site-250");
    await owner.getByRole("button", { name: "Send invitation" }).click();
    await shown(owner.getByText("Invitation sent to nina@example.com."));
    await poll(() =>
      owner.getByRole("table", { name: "Pending invitations" }).innerText(),
    ).toContain("Site site-250");
  });

  it("searches and pages the Team page's members on the server", async () => {
    const members = owner.getByRole("table", { name: "Members" });
    // 61 people: 25 a page, with the owner first.
    await poll(() => members.getByRole("row").count()).toBe(26);
    const pager = owner.getByRole("navigation", { name: "Member pages" });
    await pager.getByRole("button", { name: "Next" }).click();
    await poll(() => members.getByRole("row").nth(1).innerText()).toContain(
      "member025@example.com",
    );
    await owner.getByLabel("Search members").fill("member055");
    await poll(() => members.getByRole("row").count()).toBe(2);
    await poll(() => members.innerText()).toContain("Member 055");
    await screenshot(owner, "team-search");
  });

  it("changes member #55's role to Customer of site #250 through the scope picker", async () => {
    await owner
      .getByLabel("Role of Member 055 on Whole workspace")
      .selectOption({ label: "Customer" });
    await pick(owner, "Scope for Customer", "site-250", "site-250");
    // Nothing is saved until the change is reviewed and confirmed (#16).
    await owner.getByRole("button", { name: "Review change" }).click();
    await owner
      .getByRole("dialog", { name: "Change Member 055's access?" })
      .getByRole("button", { name: "Change access" })
      .click();
    await shown(owner.getByLabel("Role of Member 055 on Site site-250"));
  });

  it("adds member #55 to a group through the people picker", async () => {
    await owner.getByLabel("Search members").fill("");
    await pick(owner, "Add a member to Support", "member055", "Member 055");
    await owner
      .getByRole("dialog", { name: "Add Member 055 to Support?" })
      .getByRole("button", { name: "Add to group" })
      .click();
    await shown(owner.getByRole("button", { name: "Remove Member 055 from Support" }));
  });

  it("gives member #55 a further grant, chosen by typing in Give access", async () => {
    const form = owner.getByRole("form", { name: "Give access" });
    await pick(owner, "Who", "member055", "Member 055", form);
    await form.getByLabel("Role").selectOption({ label: "Operator" });
    await pick(owner, "Where", "srv-020", "srv-020", form);
    await form.getByRole("button", { name: "Review and give access" }).click();
    await owner
      .getByRole("dialog", { name: /^Give Member 055 the role Operator/ })
      .getByRole("button", { name: "Give access" })
      .click();
    await shown(owner.getByText("Member 055 now holds Operator on Server srv-020."));
  });

  it("limits an API key to site #250 through the resource picker", async () => {
    await nav().getByRole("link", { name: "API keys" }).click();
    await owner.getByLabel("Name").fill("Site 250 deploys");
    await pick(owner, "Limit to resource", "site-250", "site-250");
    await owner.getByRole("button", { name: "Create key" }).click();
    await poll(() => owner.getByRole("table", { name: "API keys" }).innerText()).toContain(
      "site:site-250",
    );
  });

  it("filters the activity log by member #55, chosen by typing", async () => {
    await nav().getByRole("link", { name: "Activity log" }).click();
    await pick(owner, "Actor", "Member 05", "Member 055");
    await pick(owner, "Resource", "site-250", "site-250");
    await owner.getByRole("button", { name: "Apply filters" }).click();
    await poll(() => owner.getByText("No entries match these filters").count()).toBeGreaterThan(0);
    expect(new URL(owner.url()).searchParams.get("resource")).toBe("site:site-250");
  });

  it("explains a decision on site #250, chosen by typing in the resource picker", async () => {
    await nav().getByRole("link", { name: "Roles" }).click();
    await pick(owner, "Member", "member055", "Member 055");
    await pick(owner, "Resource", "site-250", "site-250");
    await owner.getByRole("button", { name: "Explain" }).click();
    await shown(owner.getByText(/Member 055 may .* on Site site-250/));
  });

  it("chooses member #55 as the new owner by typing", async () => {
    await nav().getByRole("link", { name: "Settings" }).click();
    await pick(owner, "New owner", "055", "Member 055");
    await owner.getByRole("button", { name: "Transfer ownership" }).click();
    await shown(owner.getByText(/Member 055 becomes the owner/));
    await owner.getByRole("button", { name: "Cancel" }).click();
  });
});
