import { asUser } from "@gatehouse/service";
import axe from "axe-core";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
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
 * Every page of the console (#16), as the owner, a read-only admin, a site customer and a visitor:
 * at 360 and 390 px no page pans sideways and no control is cut off; at phone and desktop widths
 * axe-core finds no serious or critical violation; Tab alone reaches every control; a dialog keeps
 * focus inside and gives it back.
 */
/** axe-core's whole engine as a script, run in each page (outside its Content-Security-Policy). */
const axeSource = axe.source;

type Person = "owner" | "admin" | "customer" | "visitor";

interface Visit {
  readonly who: Person;
  readonly path: (workspaceId: string) => string;
  /** A heading the settled page shows. */
  readonly heading: string | RegExp;
}

const visits: readonly Visit[] = [
  { who: "visitor", path: () => "/sign-in", heading: "Sign in" },
  { who: "visitor", path: () => "/sign-up", heading: /Create/ },
  { who: "visitor", path: () => "/dev/outbox", heading: "Development outbox" },
  { who: "owner", path: (id) => `/w/${id}/access`, heading: "Acme Hosting" },
  { who: "owner", path: (id) => `/w/${id}/resources`, heading: "Resources" },
  { who: "owner", path: (id) => `/w/${id}/resources/server/fra-1`, heading: "fra-1" },
  { who: "owner", path: (id) => `/w/${id}/resources/site/shop.example`, heading: "shop.example" },
  { who: "owner", path: (id) => `/w/${id}/team`, heading: "Team" },
  { who: "owner", path: (id) => `/w/${id}/roles`, heading: "Roles" },
  { who: "owner", path: (id) => `/w/${id}/api-keys`, heading: "API keys" },
  { who: "owner", path: (id) => `/w/${id}/activity`, heading: "Activity log" },
  { who: "owner", path: (id) => `/w/${id}/settings`, heading: "Settings" },
  { who: "owner", path: () => "/account", heading: "Your account" },
  { who: "owner", path: () => "/join", heading: /join/i },
  { who: "owner", path: () => "/new-workspace", heading: /workspace/i },
  { who: "admin", path: (id) => `/w/${id}/team`, heading: "Team" },
  { who: "admin", path: (id) => `/w/${id}/api-keys`, heading: "API keys" },
  // The Request access card (the admin holds no role on the site itself) and the requests page.
  { who: "admin", path: (id) => `/w/${id}/resources/site/blog.example`, heading: "blog.example" },
  { who: "admin", path: (id) => `/w/${id}/access-requests`, heading: "Access requests" },
  {
    who: "customer",
    path: (id) => `/w/${id}/resources/site/shop.example`,
    heading: "shop.example",
  },
  { who: "customer", path: (id) => `/w/${id}/api-keys`, heading: "API keys" },
  { who: "customer", path: () => "/account", heading: "Your account" },
];

const emails: Record<Exclude<Person, "visitor">, string> = {
  owner: "olivia@example.com",
  admin: "adam@example.com",
  customer: "cara@example.com",
};

describe("every console page on phones, by keyboard and under axe-core", {
  timeout: 120_000,
}, () => {
  let server: ConsoleServer;
  let browser: Browser;
  let workspaceId: string;
  const contexts: BrowserContext[] = [];

  const poll = <T>(read: () => Promise<T>) => expect.poll(read, { timeout: 15_000, interval: 50 });

  beforeAll(async () => {
    server = await startServer(buildConsole());
    ({ workspaceId } = await seedPanel(server.gatehouse));
    const { gatehouse } = server;
    const olivia = asUser((await gatehouse.users.findByEmail(emails.owner))!.id);
    // Members to list, a pending invitation, an API key and activity: every table has rows.
    for (const [email, name, role, scope] of [
      [emails.admin, "Adam Admin", "admin", `workspace:${workspaceId}`],
      [emails.customer, "Cara Customer", "customer", "site:shop.example"],
    ] as const) {
      const { token } = await gatehouse.invitations.create(olivia, workspaceId, {
        email,
        role,
        scopes: [scope],
      });
      await gatehouse.invitations.accept({ token, newAccount: { password: PASSWORD, name } });
    }
    await gatehouse.invitations.create(olivia, workspaceId, {
      email: "otto@example.com",
      role: "operator",
      scopes: ["server:fra-1"],
    });
    await gatehouse.apiKeys.create(olivia, workspaceId, { name: "Deploy bot", scopes: ["site.*"] });
    browser = await launchBrowser();
  }, 120_000);

  afterAll(async () => {
    for (const context of contexts) await context.close();
    await browser?.close();
    await server?.close();
  });

  const signedIn = new Map<string, BrowserContext>();

  /** One browser context per person and width, signed in through the API (its cookie). */
  async function pageFor(who: Person, width: number): Promise<Page> {
    const key = `${who} ${width}`;
    let context = signedIn.get(key);
    if (context === undefined) {
      context = await browser.newContext({
        viewport: { width, height: width < 600 ? 800 : 860 },
        baseURL: server.base,
      });
      contexts.push(context);
      // axe-core in every document of the widths it checks, from the start (outside the page's
      // Content-Security-Policy): the browser compiles it once, not once per page as an evaluate.
      if (width !== 360) await context.addInitScript({ content: axeSource });
      if (who !== "visitor") {
        const answer = await context.request.post("/v1/auth/login", {
          data: { email: emails[who], password: PASSWORD },
        });
        expect(answer.status()).toBe(200);
      }
      signedIn.set(key, context);
    }
    const page = context.pages()[0] ?? (await context.newPage());
    page.setDefaultTimeout(15_000);
    return page;
  }

  /**
   * Opens the visit's page and waits until its heading shows and nothing is loading; a page that
   * is already there (the 390 px one the sideways check opened, for axe-core) stays as it is.
   */
  async function open(visit: Visit, width: number): Promise<Page> {
    const page = await pageFor(visit.who, width);
    const address = new URL(visit.path(workspaceId), server.base).href;
    if (page.url() !== address) await page.goto(address);
    await page.getByRole("heading", { name: visit.heading, level: 1 }).first().waitFor();
    await poll(() => page.locator(".state-loading").count()).toBe(0);
    return page;
  }

  /** The page's serious and critical axe-core violations, as "rule: target" lines. */
  async function seriousViolations(page: Page): Promise<string[]> {
    if (!(await page.evaluate("typeof window.axe === 'object'"))) await page.evaluate(axeSource);
    const violations = (await page.evaluate(
      `axe.run(document, { resultTypes: ["violations"] }).then((result) => result.violations.map((v) => ({ id: v.id, impact: v.impact, targets: v.nodes.map((n) => n.target.join(" ")) })))`,
    )) as { id: string; impact: string | null; targets: string[] }[];
    return violations
      .filter((violation) => violation.impact === "serious" || violation.impact === "critical")
      .map((violation) => `${violation.id}: ${violation.targets.join(", ")}`);
  }

  /** What overflows the viewport sideways: the page's width and controls cut off at its edges. */
  const overflowScript = `(() => {
    const width = window.innerWidth;
    const scrollsInside = (element) => {
      for (let node = element.parentElement; node !== null && node !== document.body; node = node.parentElement) {
        const style = getComputedStyle(node);
        if (/(auto|scroll)/.test(style.overflowX) && node.scrollWidth > node.clientWidth) return true;
      }
      return false;
    };
    const clipped = [...document.querySelectorAll("a[href], button, input, select, textarea")]
      .filter((element) => element.checkVisibility() && !element.closest(".sr-only, .skip-link"))
      .filter((element) => {
        const box = element.getBoundingClientRect();
        return box.width > 0 && (box.left < -0.5 || box.right > width + 0.5) && !scrollsInside(element);
      })
      .map((element) => (element.getAttribute("aria-label") || element.textContent || element.name || element.tagName).trim().slice(0, 40));
    return { scrollWidth: document.documentElement.scrollWidth, width, clipped };
  })()`;

  /** Where the page pans sideways or cuts a control off, at `width`. */
  async function overflowAt(visit: Visit, width: number): Promise<string[]> {
    const page = await open(visit, width);
    const found = (await page.evaluate(overflowScript)) as {
      scrollWidth: number;
      width: number;
      clipped: string[];
    };
    return [
      ...(found.scrollWidth > found.width ? [`${width}: ${found.scrollWidth} px wide`] : []),
      ...(found.clipped.length > 0 ? [`${width}: cut off ${found.clipped.join(" | ")}`] : []),
    ];
  }

  /** The controls of the page that Tab alone does not reach, by their names. */
  async function unreachable(page: Page): Promise<string[]> {
    // Number the page's visible controls; Tab through the page and strike each one focused.
    const total = (await page.evaluate(`(() => {
      const controls = [...document.querySelectorAll("a[href], button, input, select, textarea, [tabindex]")]
        .filter((element) => !element.disabled && element.tabIndex >= 0 && element.checkVisibility())
        .filter((element) => element.type !== "radio" || element.checked || !document.querySelector('input[type=radio][name="' + element.name + '"]:checked'));
      controls.forEach((element, index) => element.setAttribute("data-tab-check", String(index)));
      return controls.length;
    })()`)) as number;
    await page.evaluate("document.activeElement?.blur()");
    const reached = new Set<string>();
    // A date-time field takes a Tab per part (day, month, year, hour, minute): room for those.
    for (let step = 0; step < total + 40 && reached.size < total; step++) {
      await page.keyboard.press("Tab");
      const mark = (await page.evaluate(
        "document.activeElement?.getAttribute('data-tab-check') ?? null",
      )) as string | null;
      if (mark !== null) reached.add(mark);
    }
    return (await page.evaluate(
      `[...document.querySelectorAll("[data-tab-check]")].filter((element) => !${JSON.stringify([...reached])}.includes(element.getAttribute("data-tab-check"))).map((element) => (element.getAttribute("aria-label") || element.textContent || element.name || element.tagName).trim().slice(0, 40))`,
    )) as string[];
  }

  for (const visit of visits) {
    const name = `${visit.who} on ${visit.path(":ws")}`;

    it(`${name}: no sideways panning and no control cut off at 360 and 390 px (#16)`, async () => {
      expect([...(await overflowAt(visit, 360)), ...(await overflowAt(visit, 390))]).toEqual([]);
    });

    it(`${name}: no serious axe-core violation at 1280 and 390 px; Tab reaches every control (#16)`, async () => {
      const desktop = await open(visit, 1280);
      expect(await seriousViolations(desktop)).toEqual([]);
      expect(await unreachable(desktop)).toEqual([]);
      expect(await seriousViolations(await open(visit, 390))).toEqual([]);
    });
  }

  it("keeps focus inside a confirmation dialog and gives it back on Escape (#16)", async () => {
    const page = await open(visits.find((visit) => visit.heading === "Settings")!, 1280);
    // Settings' close-workspace flow needs the name typed: the team page's Remove is one press.
    await page.goto(`/w/${workspaceId}/team`);
    const remove = page
      .getByRole("row")
      .filter({ hasText: emails.customer })
      .getByRole("button", { name: "Remove" });
    await remove.focus();
    await page.keyboard.press("Enter");
    const dialog = page.getByRole("dialog");
    await dialog.waitFor();
    for (let step = 0; step < 6; step++) {
      await page.keyboard.press("Tab");
      expect(await page.evaluate("document.activeElement?.closest('dialog') !== null")).toBe(true);
    }
    await page.keyboard.press("Escape");
    await dialog.waitFor({ state: "hidden" });
    await poll(() =>
      page.evaluate("document.activeElement?.closest('tr')?.getAttribute('data-member') ?? null"),
    ).toBe(emails.customer);
    await poll(() => page.evaluate("document.activeElement?.textContent")).toBe("Remove");
  });

  it("changes the name and the password on the account page, ending the other sessions (#16)", async () => {
    const phone = await pageFor("admin", 390);
    expect((await phone.request.get("/v1/me")).status()).toBe(200);
    const desk = await open(
      { who: "admin", path: () => "/account", heading: "Your account" },
      1280,
    );
    await desk.getByLabel("Name", { exact: true }).fill("Adam A. Admin");
    await desk.getByRole("button", { name: "Save name" }).click();
    await desk.getByText("Your name is saved.").waitFor();
    await poll(() => desk.getByRole("heading", { level: 1 }).locator("..").innerText()).toContain(
      "Adam A. Admin",
    );
    // Sessions are named in words, not user-agent strings.
    await poll(() => desk.getByRole("table").innerText()).toMatch(/Chrome on Linux/);
    await desk.getByLabel("Current password").fill("not the password");
    await desk.getByLabel("New password").fill("another long passphrase for adam");
    await desk.getByRole("button", { name: "Change password" }).click();
    await desk.getByText("The current password is wrong.").waitFor();
    await desk.getByLabel("Current password").fill(PASSWORD);
    await desk.getByRole("button", { name: "Change password" }).click();
    // The other sessions: the admin's phone-width browsers (360 and 390 px, or only this test's).
    await desk.getByText(/^Your password is changed; \d+ other sessions? ended\.$/).waitFor();
    await screenshot(desk, "account-profile");
    // The phone's session is gone.
    expect((await phone.request.get("/v1/me")).status()).toBe(401);
  });

  it("renews the phone screenshots", async () => {
    for (const visit of visits.filter((visit) =>
      ["Team", "API keys", "Roles", "Activity log"].includes(String(visit.heading)),
    )) {
      if (visit.who !== "owner") continue;
      const page = await open(visit, 390);
      await screenshot(page, `phone-${String(visit.heading).toLowerCase().replace(/ /g, "-")}`);
    }
  });
});
