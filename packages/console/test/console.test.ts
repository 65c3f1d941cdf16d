import * as OTPAuth from "otpauth";
import type { Browser, BrowserContext, Locator, Page } from "playwright-core";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  buildConsole,
  type ConsoleServer,
  launchBrowser,
  PASSWORD,
  pick,
  screenshot,
  seedCompany,
  seedPanel,
  startServer,
} from "./harness.ts";

/**
 * The console end to end, in Debian's Chromium against the real server: one story told in order,
 * each step waiting on what a person sees (roles, labels, text), never on time.
 */
/** Content-Security-Policy violations Chromium reported on the watched pages, as it wrote them. */
const policyViolations: string[] = [];

/** Collects the page's Content-Security-Policy violations (Chromium logs each as an error). */
function watchPolicy(page: Page): void {
  page.on("console", (message) => {
    if (message.type() === "error" && /Content Security Policy/i.test(message.text()))
      policyViolations.push(message.text());
  });
}

describe("the web console in a browser", { timeout: 60_000 }, () => {
  let server: ConsoleServer;
  let browser: Browser;
  let workspaceId: string;
  const contexts: BrowserContext[] = [];
  let owner: Page;
  let operator: Page;
  let customer: Page;

  const path = (rest = "") => `/w/${workspaceId}${rest}`;
  const url = (rest: string) => `${server.base}${rest}`;

  async function newPage(width = 1280): Promise<Page> {
    const context = await browser.newContext({
      viewport: { width, height: width < 600 ? 844 : 860 },
      baseURL: server.base,
    });
    contexts.push(context);
    const page = await context.newPage();
    page.setDefaultTimeout(15_000);
    watchPolicy(page);
    return page;
  }

  /** Waits until `read` answers as expected: what the page shows settles without timed sleeps. */
  const poll = <T>(read: () => Promise<T>) => expect.poll(read, { timeout: 15_000, interval: 50 });
  const shown = (locator: Locator) => locator.first().waitFor({ state: "visible" });
  const texts = (locator: Locator) => poll(() => locator.allInnerTexts());

  const nav = (page: Page) => page.getByRole("navigation", { name: "Sections" });

  beforeAll(async () => {
    const consoleDir = buildConsole();
    server = await startServer(consoleDir);
    ({ workspaceId } = await seedPanel(server.gatehouse));
    browser = await launchBrowser();
  }, 120_000);

  // A failed step leaves a picture of every open page, to see what a person would have seen.
  afterEach(async ({ task }) => {
    if (task.result?.state !== "fail") return;
    for (const [index, page] of [owner, operator, customer].entries()) {
      if (page !== undefined && !page.isClosed())
        await screenshot(page, `failure-${index}`).catch(() => undefined);
    }
  });

  afterAll(async () => {
    for (const context of contexts) await context.close();
    await browser?.close();
    await server?.close();
  });

  it("signs the owner in and lands on the fleet list", async () => {
    owner = await newPage();
    await owner.goto("/");
    await shown(owner.getByRole("heading", { name: "Sign in" }));
    await screenshot(owner, "sign-in");
    await owner.getByLabel("Email", { exact: true }).fill("olivia@example.com");
    await owner.getByLabel("Password").fill(PASSWORD);
    await owner.getByRole("button", { name: "Sign in", exact: true }).click();
    await shown(owner.getByRole("heading", { name: "Resources" }));
    await texts(owner.getByRole("list", { name: "Servers" }).getByRole("link")).toEqual([
      expect.stringMatching(/ams-1/),
      expect.stringMatching(/fra-1/),
    ]);
    expect(new URL(owner.url()).pathname).toBe(path("/resources"));
    await screenshot(owner, "resources");
  });

  it("invites an operator and a customer from the Team page", async () => {
    await nav(owner).getByRole("link", { name: "Team" }).click();
    await shown(owner.getByRole("heading", { name: "Team" }));
    await poll(() => owner.getByTestId("seats").innerText()).toContain("1 member · 0 pending");
    for (const [email, role, scope] of [
      ["otto@example.com", "Operator", "fra-1"],
      ["cara@example.com", "Customer", "shop.example"],
    ] as const) {
      await owner.getByLabel("Email", { exact: true }).fill(email);
      // The invite form's role: the Team page also gives further access (issue 16).
      const invite = owner.getByRole("form", { name: "Invite" });
      await invite.getByLabel("Role", { exact: true }).selectOption({ label: role });
      await pick(owner, "Scope", scope.slice(0, 4), scope, invite);
      await owner.getByRole("button", { name: "Send invitation" }).click();
      await shown(owner.getByText(`Invitation sent to ${email}.`));
    }
    const pending = owner.getByRole("table", { name: "Pending invitations" });
    await poll(() => pending.getByRole("row").count()).toBe(3);
    await poll(() => pending.innerText()).toContain("otto@example.com");
    await poll(() => pending.innerText()).toContain("Server fra-1");
    await poll(() => pending.innerText()).toContain("Site shop.example");
    await poll(() => owner.getByTestId("seats").innerText()).toContain("1 member · 2 pending");
    await screenshot(owner, "team-invitations");
    // A copied link is a second way in; the mailed link, used below, keeps working.
    await pending
      .getByRole("row")
      .filter({ hasText: "otto@example.com" })
      .getByRole("button", { name: "Copy link" })
      .click();
    await poll(() => pending.getByTestId("secret-value").innerText()).toMatch(
      /\/invitations\/accept#[A-Za-z0-9_-]{40,}$/,
    );
  });

  /** Follows the invitation mailed to `email` from the development outbox, creating the account. */
  async function accept(page: Page, email: string, name: string, role: string) {
    await page.goto("/dev/outbox");
    const mail = page
      .getByRole("region", { name: "You are invited to Acme Hosting on Gatehouse" })
      .filter({ hasText: `To ${email}` });
    await mail.getByRole("link", { name: /\/invitations\/accept#/ }).click();
    await shown(page.getByText(`You are invited to Acme Hosting as ${role}`));
    await poll(() => page.getByLabel("Email", { exact: true }).inputValue()).toBe(email);
    await page.getByLabel("Your name").fill(name);
    await page.getByLabel("Choose a password").fill(PASSWORD);
    await page.getByRole("button", { name: "Create account and join" }).click();
  }

  it("accepts the invitations in separate browser contexts, each creating an account", async () => {
    operator = await newPage();
    await operator.goto("/dev/outbox");
    await shown(operator.getByRole("heading", { name: "Development outbox" }));
    await screenshot(operator, "dev-outbox");
    await accept(operator, "otto@example.com", "Otto Operator", "Operator");
    await shown(operator.getByRole("heading", { name: "Resources" }));
    // The operator sees their server and its sites, nothing of ams-1.
    await texts(operator.getByRole("list", { name: "Servers" }).getByRole("link")).toEqual([
      expect.stringMatching(/fra-1/),
    ]);
    await texts(operator.getByRole("list", { name: "Sites" }).getByRole("link")).toEqual([
      expect.stringMatching(/blog\.example/),
      expect.stringMatching(/shop\.example/),
    ]);
    await poll(() => nav(operator).getByRole("link", { name: "Team" }).count()).toBe(0);

    customer = await newPage();
    await customer.goto("/dev/outbox");
    const invite = customer
      .getByRole("region", { name: "You are invited to Acme Hosting on Gatehouse" })
      .filter({ hasText: "To cara@example.com" });
    await invite.getByRole("link", { name: /\/invitations\/accept#/ }).click();
    await shown(customer.getByRole("heading", { name: "Create your account to join" }));
    await screenshot(customer, "accept-invitation");
    await customer.getByLabel("Your name").fill("Cara Customer");
    await customer.getByLabel("Choose a password").fill(PASSWORD);
    await customer.getByRole("button", { name: "Create account and join" }).click();
    await shown(customer.getByRole("heading", { name: "shop.example" }));
  });

  it("lands the customer on the per-site view, with no fleet or workspace navigation", async () => {
    expect(new URL(customer.url()).pathname).toBe(path("/resources/site/shop.example"));
    await shown(customer.getByText("Site · what you can do here"));
    await shown(customer.getByText("Back up and restore the site"));
    const links = nav(customer).getByRole("link");
    await texts(links).toEqual(["shop.example", "API keys"]);
    await screenshot(customer, "site-view");
  });

  it("shows the customer their site's activity on the site page, and nothing of another site", async () => {
    await customer.goto(path("/resources/site/shop.example"));
    const activity = customer.getByRole("table", { name: "Activity of site:shop.example" });
    await shown(activity);
    // The host app registered the site: that entry is the site's own, with who, what and result.
    const created = activity.locator('tr[data-action="resource.create"]');
    await texts(created.getByRole("cell").nth(3)).toEqual(["site:shop.example"]);
    await texts(created.getByRole("cell").nth(4)).toEqual(["success"]);
    await poll(() => activity.getByText("blog.example").count()).toBe(0);
    await poll(() => activity.getByText("fra-1").count()).toBe(0);
    // The workspace's Activity log stays with its readers: no navigation item the API refuses.
    await texts(nav(customer).getByRole("link")).toEqual(["shop.example", "API keys"]);
    await screenshot(customer, "site-activity");
  });

  it("does not let the customer reach a sibling site, the fleet or the team by URL", async () => {
    for (const rest of ["/resources/site/blog.example", "/resources/site/no-such.example"]) {
      await customer.goto(path(rest));
      await shown(customer.getByRole("heading", { name: "Not found" }));
      await shown(customer.getByText("does not exist, or you do not have access to it"));
      // The sibling is answered exactly like a site that does not exist.
      await poll(() => customer.getByText("Back up and restore the site").count()).toBe(0);
    }
    for (const rest of [
      "/resources",
      "/team",
      "/activity",
      "/settings",
      "/resources/server/fra-1",
    ]) {
      await customer.goto(path(rest));
      await shown(customer.getByRole("heading", { name: "Not found" }));
    }
  });

  it("shows the site view on a phone", async () => {
    const phone = await newPage(390);
    await phone.goto("/sign-in");
    await phone.getByLabel("Email", { exact: true }).fill("cara@example.com");
    await phone.getByLabel("Password").fill(PASSWORD);
    await phone.getByRole("button", { name: "Sign in", exact: true }).click();
    await shown(phone.getByRole("heading", { name: "shop.example" }));
    await screenshot(phone, "phone-site-view");
    await phone.getByRole("button", { name: "Menu" }).click();
    await shown(nav(phone).getByRole("link", { name: "shop.example" }));
    await screenshot(phone, "phone-menu");
    // The account page does not pan sideways: its sessions table scrolls inside its card.
    await phone.goto("/account");
    await shown(phone.getByText("This device"));
    expect(await phone.evaluate("document.documentElement.scrollWidth")).toBe(390);
  });

  it("applies the owner's role change to the operator's next page load", async () => {
    await owner.reload();
    const members = owner.getByRole("table", { name: "Members" });
    await poll(() => members.getByRole("row").count()).toBe(4);
    await owner
      .getByLabel("Role of Otto Operator on Server fra-1")
      .selectOption({ label: "Admin" });
    // Saved only through the confirmation (#16).
    await owner.getByRole("button", { name: "Review change" }).click();
    await owner
      .getByRole("dialog", { name: "Change Otto Operator's access?" })
      .getByRole("button", { name: "Change access" })
      .click();
    await poll(() =>
      owner.getByLabel("Role of Otto Operator on Whole workspace").inputValue(),
    ).toBe("admin");
    await screenshot(owner, "team");

    await operator.reload();
    await shown(nav(operator).getByRole("link", { name: "Team" }));
    await shown(operator.getByText("Admin · Whole workspace"));
    await texts(operator.getByRole("list", { name: "Servers" }).getByRole("link")).toEqual([
      expect.stringMatching(/ams-1/),
      expect.stringMatching(/fra-1/),
    ]);
    // An admin sees the team but may not manage people: no dropdowns, no remove.
    await nav(operator).getByRole("link", { name: "Team" }).click();
    await shown(operator.getByRole("table", { name: "Members" }));
    await poll(() => operator.getByRole("button", { name: "Remove" }).count()).toBe(0);
    await poll(() => operator.getByRole("button", { name: "Send invitation" }).count()).toBe(0);
  });

  it("lets the owner view the console as the customer, read-only", async () => {
    await owner
      .getByRole("row")
      .filter({ hasText: "cara@example.com" })
      .getByRole("button", { name: "View as" })
      .click();
    await shown(owner.getByText("Viewing as"));
    await shown(owner.getByRole("heading", { name: "shop.example" }));
    await texts(nav(owner).getByRole("link")).toEqual(["shop.example", "API keys"]);
    await nav(owner).getByRole("link", { name: "API keys" }).click();
    await shown(owner.getByRole("heading", { name: "API keys" }));
    await poll(() => owner.getByRole("button", { name: "Create key" }).count()).toBe(0);
    await owner.goto(path("/resources/site/blog.example"));
    await shown(owner.getByRole("heading", { name: "Not found" }));
    await owner.goto(path("/resources/site/shop.example"));
    await screenshot(owner, "view-as");
    await owner.getByRole("button", { name: /Stop viewing as/ }).click();
    await shown(owner.getByRole("heading", { name: "Team" }));
    await poll(() => owner.getByText("Viewing as").count()).toBe(0);
  });

  it("shows the role matrix and explains a decision", async () => {
    await nav(owner).getByRole("link", { name: "Roles" }).click();
    const matrix = owner.getByRole("table", { name: "Role × permission matrix" });
    await shown(matrix.getByRole("columnheader", { name: /Customer/ }));
    await pick(owner, "Member", "cara", "Cara Customer");
    await owner.getByLabel("Permission", { exact: true }).selectOption("site.deploy");
    await pick(owner, "Resource", "blog", "blog.example");
    await owner.getByRole("button", { name: "Explain" }).click();
    await shown(owner.getByText("Denied", { exact: true }));
    // In words, not the engine's codes (#16).
    await shown(owner.getByText(/Cara Customer may not .* on Site blog\.example/));
    await poll(() => owner.getByText(/user:usr_|no live grant/).count()).toBe(0);
    await screenshot(owner, "roles");
  });

  it("creates an API key whose secret is shown once", async () => {
    await nav(owner).getByRole("link", { name: "API keys" }).click();
    await owner.getByLabel("Name").fill("Deploy bot");
    await owner.getByLabel("Scopes").fill("site.*");
    await pick(owner, "Limit to resource", "fra", "fra-1");
    await owner.getByRole("button", { name: "Create key" }).click();
    await poll(() => owner.getByTestId("secret-value").innerText()).toMatch(/^gh_/);
    await poll(() => owner.getByRole("table", { name: "API keys" }).innerText()).toContain(
      "Deploy bot",
    );
    await screenshot(owner, "api-keys");
  });

  it("shows these actions in the activity log, filterable, with the chain verified", async () => {
    await nav(owner).getByRole("link", { name: "Activity log" }).click();
    const log = owner.getByRole("table", { name: "Activity" });
    for (const action of [
      "invitation.create",
      "invitation.accept",
      "member.grants.set",
      "api_key.create",
    ])
      await shown(log.locator(`tr[data-action="${action}"]`).first());
    await poll(() => owner.getByTestId("chain-status").innerText()).toContain("Chain verified");
    await screenshot(owner, "activity");
    await owner.getByLabel("Action").fill("member.*");
    await owner.getByRole("button", { name: "Apply filters" }).click();
    await poll(() => log.locator("tbody tr").count()).toBe(1);
    await poll(() => log.locator("tbody tr").getAttribute("data-action")).toBe("member.grants.set");
    await poll(() => log.innerText()).toContain("Olivia Owner");
    // The filters are in the address (#16): back shows everything again, forward the filtered log.
    expect(new URL(owner.url()).searchParams.get("action")).toBe("member.*");
    await owner.goBack();
    await poll(() => log.locator("tbody tr").count()).toBeGreaterThan(1);
    await poll(() => owner.getByLabel("Action").inputValue()).toBe("");
    await owner.goForward();
    await poll(() => log.locator("tbody tr").count()).toBe(1);
    await poll(() => owner.getByLabel("Action").inputValue()).toBe("member.*");
    await owner.reload();
    await poll(() => log.locator("tbody tr").getAttribute("data-action")).toBe("member.grants.set");
    const csv = await owner.request.get(
      url(`/v1/workspaces/${workspaceId}/audit/export?format=csv&action=member.*`),
    );
    expect(csv.headers()["content-type"]).toMatch(/^text\/csv/);
    const exported = await csv.text();
    expect(exported).toContain("member.grants.set");
    // Beside the user ids, their emails (#16).
    expect(exported).toContain("olivia@example.com");
  });

  it("closes the workspace only with its exact name typed", async () => {
    await nav(owner).getByRole("link", { name: "Settings" }).click();
    const close = owner.getByRole("button", { name: "Close workspace" });
    await poll(() => close.isDisabled()).toBe(true);
    await owner.getByLabel("Type Acme Hosting to confirm").fill("acme hosting");
    await poll(() => close.isDisabled()).toBe(true);
    await owner.getByLabel("Type Acme Hosting to confirm").fill("Acme Hosting");
    await screenshot(owner, "settings");
    await poll(() => close.isDisabled()).toBe(false);
    await close.click();
    const dialog = owner.getByRole("dialog", { name: "Close Acme Hosting?" });
    await dialog.getByRole("button", { name: "Close it for good" }).click();
    await shown(owner.getByRole("heading", { name: "Resources" }));
    // Acknowledged on the page it lands on (#16).
    await shown(
      owner.getByText("Acme Hosting is closed: its members no longer have access to it."),
    );
    expect(new URL(owner.url()).pathname).not.toContain(workspaceId);
    await owner.goto(path("/team"));
    await shown(owner.getByRole("heading", { name: "Not found" }));
    // The members lost it too, at once.
    await operator.reload();
    await shown(operator.getByRole("heading", { name: "Not found" }));
  });
});

/**
 * Signing in, end to end: sign-up, a magic link from the outbox, TOTP enrolment and the code asked
 * at the next sign-in, and a join request approved with a role.
 */
describe("signing in and joining in a browser", { timeout: 60_000 }, () => {
  let server: ConsoleServer;
  let browser: Browser;
  let context: BrowserContext | undefined;
  let manager: BrowserContext | undefined;
  let nina: Page;
  let secret: string;
  let recoveryCodes: string[] = [];

  const poll = <T>(read: () => Promise<T>) => expect.poll(read, { timeout: 15_000, interval: 50 });
  const shown = (locator: Locator) => locator.first().waitFor({ state: "visible" });
  /** The code of the TOTP step `offset` steps from now (the server accepts one step either way). */
  const codeAt = (offset: number) =>
    new OTPAuth.TOTP({ secret: OTPAuth.Secret.fromBase32(secret), period: 30, digits: 6 }).generate(
      {
        timestamp: Date.now() + offset * 30_000,
      },
    );

  beforeAll(async () => {
    server = await startServer(buildConsole());
    await seedCompany(server.gatehouse);
    browser = await launchBrowser();
    context = await browser.newContext({
      viewport: { width: 1280, height: 860 },
      baseURL: server.base,
    });
    nina = await context.newPage();
    nina.setDefaultTimeout(15_000);
    watchPolicy(nina);
  }, 120_000);

  afterAll(async () => {
    await context?.close();
    await manager?.close();
    await browser?.close();
    await server?.close();
  });

  it("signs up by the link mailed to confirm the address, choosing the password there, and lands in the new account's own workspace", async () => {
    await nina.goto("/sign-up");
    await nina.getByLabel("Name").fill("Nina New");
    await nina.getByLabel("Email", { exact: true }).fill("nina@example.com");
    // The request asks for no password: whoever follows the mailed link chooses it.
    expect(await nina.getByLabel("Password", { exact: true }).count()).toBe(0);
    await nina.getByRole("button", { name: "Create account" }).click();
    await shown(nina.getByRole("heading", { name: "Check your mail" }));
    await nina.goto("/dev/outbox");
    await nina
      .getByRole("region", { name: "Confirm your Gatehouse account" })
      .getByRole("link", { name: /\/sign-in\/magic#/ })
      .click();
    await shown(nina.getByRole("heading", { name: "Choose a password" }));
    await nina.getByLabel("Password", { exact: true }).fill("password1234");
    await nina.getByRole("button", { name: "Create account" }).click();
    await poll(() => nina.getByRole("alert").innerText()).toContain("too common");
    await nina.getByLabel("Password", { exact: true }).fill(PASSWORD);
    await nina.getByRole("button", { name: "Create account" }).click();
    await shown(nina.getByRole("heading", { name: "Resources" }));
    // The password chosen on the link's page is the account's.
    expect(
      (
        await server.app.inject({
          method: "POST",
          url: "/v1/auth/login",
          payload: { email: "nina@example.com", password: PASSWORD },
        })
      ).statusCode,
    ).toBe(200);
    await poll(() => nina.getByRole("banner").last().innerText()).toContain("Nina New");
  });

  it("signs in with a magic link followed from the development outbox", async () => {
    await nina.getByRole("button", { name: "Sign out" }).click();
    await shown(nina.getByRole("heading", { name: "Sign in" }));
    await nina.getByRole("button", { name: "Email me a sign-in link instead" }).click();
    await nina.getByLabel("Email", { exact: true }).fill("nina@example.com");
    await nina.getByRole("button", { name: "Email me a link" }).click();
    await shown(nina.getByText("a sign-in link is on its way"));
    await nina.goto("/dev/outbox");
    await nina
      .getByRole("region", { name: "Your Gatehouse sign-in link" })
      .getByRole("link", { name: /\/sign-in\/magic#/ })
      .click();
    await shown(nina.getByRole("heading", { name: "Resources" }));
    // The token is gone from the address bar once used.
    expect(new URL(nina.url()).hash).toBe("");
  });

  it("enrols in two-factor sign-in and is asked for a code at the next sign-in", async () => {
    await nina.goto("/account");
    await nina.getByRole("button", { name: "Set up two-factor sign-in" }).click();
    secret = (await nina.getByTestId("totp-secret").innerText()).trim();
    await shown(nina.getByRole("img", { name: "QR code for your authenticator app" }));
    await screenshot(nina, "account-2fa");
    await nina.getByLabel("Code from the app").fill(codeAt(0));
    await nina.getByRole("button", { name: "Turn on" }).click();
    await shown(nina.getByText("Two-factor sign-in is on."));
    // The recovery codes are made and shown once, right after enrolling (#16).
    const recovery = nina.getByTestId("recovery-codes");
    await shown(recovery.getByTestId("secret-value"));
    recoveryCodes = (await recovery.getByTestId("secret-value").innerText()).trim().split(/\s+/);
    expect(recoveryCodes).toHaveLength(10);
    await screenshot(nina, "account-recovery-codes");

    await nina.getByRole("button", { name: "Sign out" }).click();
    await nina.getByLabel("Email", { exact: true }).fill("nina@example.com");
    await nina.getByLabel("Password").fill(PASSWORD);
    await nina.getByRole("button", { name: "Sign in", exact: true }).click();
    await shown(nina.getByLabel("Authentication code"));
    await nina.getByLabel("Authentication code").fill("000000");
    await nina.getByRole("button", { name: "Verify and sign in" }).click();
    await shown(nina.getByRole("alert"));
    // Each code works once: the next step's code signs in.
    await nina.getByLabel("Authentication code").fill(codeAt(1));
    await nina.getByRole("button", { name: "Verify and sign in" }).click();
    await shown(nina.getByRole("heading", { name: "Resources" }));
  });

  it("signs in once with each recovery code, for the day the phone is lost", async () => {
    const codes = recoveryCodes;

    const signInWith = async (code: string) => {
      await nina.getByRole("button", { name: "Sign out" }).click();
      await nina.getByLabel("Email", { exact: true }).fill("nina@example.com");
      await nina.getByLabel("Password").fill(PASSWORD);
      await nina.getByRole("button", { name: "Sign in", exact: true }).click();
      await nina.getByLabel("Authentication code").fill(code);
      await nina.getByRole("button", { name: "Verify and sign in" }).click();
    };
    await signInWith(codes[0] ?? "");
    await shown(nina.getByRole("heading", { name: "Resources" }));
    // Used up: the same code is refused at the next sign-in; another one signs in.
    await signInWith(codes[0] ?? "");
    await shown(nina.getByRole("alert"));
    await nina.getByLabel("Authentication code").fill(codes[1] ?? "");
    await nina.getByRole("button", { name: "Verify and sign in" }).click();
    await shown(nina.getByRole("heading", { name: "Resources" }));
    await nina.goto("/account");
    await shown(nina.getByTestId("recovery-codes").getByText("8 recovery codes left."));
  });

  it("asks to join a company with its join key; a manager approves with a role", async () => {
    await nina.goto("/join");
    await nina.getByLabel("Join key").fill("DE123456789");
    await nina.getByLabel("Note for the managers").fill("New in accounting, please add me.");
    await nina.getByRole("button", { name: "Send request" }).click();
    await shown(nina.getByText("Your request is sent."));

    manager = await browser.newContext({
      viewport: { width: 1280, height: 860 },
      baseURL: server.base,
    });
    const bruno = await manager.newPage();
    bruno.setDefaultTimeout(15_000);
    watchPolicy(bruno);
    await bruno.goto("/sign-in");
    await bruno.getByLabel("Email", { exact: true }).fill("bruno@example.com");
    await bruno.getByLabel("Password").fill(PASSWORD);
    await bruno.getByRole("button", { name: "Sign in", exact: true }).click();
    await shown(bruno.getByRole("navigation", { name: "Sections" }));
    await bruno
      .getByRole("navigation", { name: "Sections" })
      .getByRole("link", { name: "Team" })
      .click();
    const requests = bruno.getByRole("table", { name: "Join requests" });
    await poll(() => requests.innerText()).toContain("New in accounting");
    await poll(() => bruno.getByTestId("seats").innerText()).toContain("4 of 5 seats left");
    await screenshot(bruno, "join-requests");
    await bruno.getByLabel("Role for nina@example.com").selectOption({ label: "Billing" });
    await requests.getByRole("button", { name: "Approve" }).click();
    // Approving is confirmed like every change of access, and acknowledged.
    const approve = bruno.getByRole("dialog", { name: /^Let .* join as Billing\?/ });
    await shown(approve);
    await approve.getByRole("button", { name: "Approve" }).click();
    await shown(bruno.getByText(/joined the workspace as Billing\./));
    const members = bruno.getByRole("table", { name: "Members" });
    await poll(() => members.innerText()).toContain("nina@example.com");
    await poll(() => bruno.getByText("No pending join requests").count()).toBe(1);

    // Nina finds the company in her console at her next page load.
    await nina.goto("/");
    await shown(nina.getByRole("combobox", { name: "Workspace" }));
    await poll(() => nina.getByRole("combobox", { name: "Workspace" }).innerText()).toContain(
      "Bruno GmbH",
    );
  });

  it("breaks no rule of the Content-Security-Policy on any page it showed", () => {
    expect(policyViolations).toEqual([]);
  });
});
