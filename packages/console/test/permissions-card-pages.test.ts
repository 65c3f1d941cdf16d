import { asUser, systemActor } from "@gatehouse/service";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  buildConsole,
  type ConsoleServer,
  launchBrowser,
  PASSWORD,
  screenshot,
  startServer,
} from "./harness.ts";

/**
 * The Permissions card on the resource pages a member administers, and on no other (#15), in a
 * hosting-customer team: a Hosting Admin's hosting page has it; a Hosting Web's hosting page and
 * a Customer Manager's customer page do not.
 */
describe("the Permissions card on each page the member administers (#15)", {
  timeout: 60_000,
}, () => {
  let server: ConsoleServer;
  let browser: Browser;
  let workspaceId: string;
  const contexts: BrowserContext[] = [];

  const poll = <T>(read: () => Promise<T>) => expect.poll(read, { timeout: 15_000, interval: 50 });

  beforeAll(async () => {
    server = await startServer(buildConsole());
    const { gatehouse } = server;
    const person = async (email: string, name: string) =>
      (await gatehouse.users.signUp({ email, password: PASSWORD, name })).user;
    const hanna = await person("hanna@example.com", "Hanna Host");
    workspaceId = (
      await gatehouse.workspaces.create(asUser(hanna.id), {
        name: "Hanna's agency",
        preset: "hosting-customer",
      })
    ).id;
    const host = systemActor();
    await gatehouse.resources.sync(host, workspaceId, {
      resources: [
        { resource: "customer:acme", parent: `workspace:${workspaceId}` },
        { resource: "customer:globex", parent: `workspace:${workspaceId}` },
        { resource: "hosting:acme-web", parent: "customer:acme" },
        { resource: "hosting:globex-web", parent: "customer:globex" },
      ],
    });
    for (const [email, name, role, scope] of [
      ["hal@example.com", "Hal Admin", "hosting_admin", "hosting:acme-web"],
      ["wes@example.com", "Wes Web", "hosting_web", "hosting:acme-web"],
      ["mona@example.com", "Mona Manager", "customer_manager", "customer:acme"],
      ["gus@example.com", "Gus Globex", "hosting_web", "hosting:globex-web"],
    ] as const) {
      const user = await person(email, name);
      await gatehouse.members.add(host, workspaceId, {
        userId: user.id,
        grants: [{ role, scope }],
      });
    }
    browser = await launchBrowser();
  }, 120_000);

  afterAll(async () => {
    for (const context of contexts) await context.close();
    await browser?.close();
    await server?.close();
  });

  /** `email`'s browser on `path`, once its heading shows and nothing is loading. */
  async function open(email: string, path: string, heading: string): Promise<Page> {
    const context = await browser.newContext({
      viewport: { width: 1280, height: 860 },
      baseURL: server.base,
    });
    contexts.push(context);
    const login = await context.request.post("/v1/auth/login", {
      data: { email, password: PASSWORD },
    });
    expect(login.status()).toBe(200);
    const page = await context.newPage();
    page.setDefaultTimeout(15_000);
    await page.goto(`/w/${workspaceId}${path}`);
    await page.getByRole("heading", { name: heading, level: 1 }).waitFor();
    await poll(() => page.locator(".state-loading").count()).toBe(0);
    return page;
  }

  it("shows a Hosting Admin the card on their hosting page: who has access there, nothing of another customer", async () => {
    const page = await open("hal@example.com", "/resources/hosting/acme-web", "acme-web");
    const card = page.getByRole("table", { name: "Permissions" });
    await card.waitFor({ state: "visible" });
    const emails = async () =>
      (await card.locator("tbody tr").allInnerTexts())
        .map((text) => /\S+@example\.com/.exec(text)?.[0])
        .sort();
    await poll(emails).toEqual(["hal@example.com", "hanna@example.com", "wes@example.com"]);
    await screenshot(page, "permissions-card-hosting");
  });

  it("shows no card to a Hosting Web on the same hosting page, nor to a Customer Manager on the customer page", async () => {
    const web = await open("wes@example.com", "/resources/hosting/acme-web", "acme-web");
    expect(await web.getByRole("heading", { name: "Permissions" }).count()).toBe(0);
    expect(await web.getByRole("table", { name: "Permissions" }).count()).toBe(0);
    const manager = await open("mona@example.com", "/resources/customer/acme", "acme");
    expect(await manager.getByRole("heading", { name: "Permissions" }).count()).toBe(0);
    expect(await manager.getByRole("table", { name: "Permissions" }).count()).toBe(0);
  });
});
