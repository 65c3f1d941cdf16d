import type { Browser, BrowserContext, Locator, Page } from "playwright-core";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  buildConsole,
  type ConsoleServer,
  launchBrowser,
  PASSWORD,
  screenshot,
  startServer,
} from "./harness.ts";

/**
 * Changing the account's email in a browser (#16): asked on the account page, confirmed by the
 * link mailed to the new address (followed from the development outbox, signed out, so the page
 * sends the person to sign in first and then confirms), and signing in with the new address.
 */
describe("changing the email in a browser", { timeout: 60_000 }, () => {
  let server: ConsoleServer;
  let browser: Browser;
  let context: BrowserContext | undefined;
  let ada: Page;

  const shown = (locator: Locator) => locator.first().waitFor({ state: "visible" });

  async function signIn(email: string): Promise<void> {
    await shown(ada.getByRole("heading", { name: "Sign in" }));
    await ada.getByLabel("Email", { exact: true }).fill(email);
    await ada.getByLabel("Password").fill(PASSWORD);
    await ada.getByRole("button", { name: "Sign in", exact: true }).click();
  }

  beforeAll(async () => {
    server = await startServer(buildConsole());
    await server.gatehouse.users.signUp({
      email: "ada@example.com",
      password: PASSWORD,
      name: "Ada Lovelace",
    });
    browser = await launchBrowser();
    context = await browser.newContext({
      viewport: { width: 1280, height: 860 },
      baseURL: server.base,
    });
    ada = await context.newPage();
    ada.setDefaultTimeout(15_000);
  }, 120_000);

  afterEach(async ({ task }) => {
    if (task.result?.state === "fail") await screenshot(ada, "email-change-failure");
  });

  afterAll(async () => {
    await context?.close();
    await browser?.close();
    await server?.close();
  });

  it("asks for the change with the current password, and says to check the new inbox", async () => {
    await ada.goto("/account");
    await signIn("ada@example.com");
    const card = ada.getByRole("form", { name: "Change your email" });
    await shown(card);
    expect(await ada.getByTestId("current-email").innerText()).toBe("ada@example.com");
    await card.getByLabel("New email").fill("ada@new.example");
    await card.getByLabel("Your password").fill("not my password");
    await card.getByRole("button", { name: "Send confirmation link" }).click();
    // A wrong password is said in words, and does not sign the person out.
    await shown(card.getByText("The current password is wrong."));
    await card.getByLabel("Your password").fill(PASSWORD);
    await card.getByRole("button", { name: "Send confirmation link" }).click();
    await shown(ada.getByTestId("email-sent"));
    expect(await ada.getByTestId("email-sent").innerText()).toContain(
      "Check the inbox of ada@new.example",
    );
    // Nothing changes before the link is followed.
    expect(await ada.getByTestId("current-email").innerText()).toBe("ada@example.com");
    await screenshot(ada, "account-email-sent");
  });

  it("confirms from the link in the new inbox, after signing in, and signs in with the new address", async () => {
    await ada.getByRole("button", { name: "Sign out" }).click();
    await shown(ada.getByRole("heading", { name: "Sign in" }));
    await ada.goto("/dev/outbox");
    await ada
      .getByRole("region", { name: "Confirm your new Gatehouse email address" })
      .getByRole("link", { name: /\/account\/email#ghe_/ })
      .click();
    // Signed out: the page keeps the token and asks to sign in first.
    await signIn("ada@example.com");
    await shown(ada.getByTestId("email-changed"));
    expect(await ada.getByTestId("email-changed").innerText()).toContain(
      "Your email is now ada@new.example",
    );
    expect(new URL(ada.url()).hash).toBe("");
    await screenshot(ada, "account-email-changed");

    // The old address was told.
    await ada.goto("/dev/outbox");
    await shown(ada.getByRole("region", { name: "Your Gatehouse email address was changed" }));

    await ada.goto("/account");
    await ada.getByRole("button", { name: "Sign out" }).click();
    await signIn("ada@new.example");
    await ada.waitForURL((url) => !url.pathname.startsWith("/sign-in"));
    await ada.goto("/account");
    await shown(ada.getByTestId("current-email"));
    expect(await ada.getByTestId("current-email").innerText()).toBe("ada@new.example");
  });
});
