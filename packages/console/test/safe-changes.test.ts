import { asUser, type Gatehouse, systemActor } from "@gatehouse/service";
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
 * Safe changes and words for people (#16), in Chromium against the real server: access changes
 * only through a confirmation, with an undo; errors in words next to their field; an ended
 * session back to the page; invitations at the seat limit and over a pending one.
 */
describe("safe changes in the console (#16)", { timeout: 90_000 }, () => {
  let server: ConsoleServer;
  let gatehouse: Gatehouse;
  let browser: Browser;
  let panel: string;
  let company: string;
  let oliviaId: string;
  let ottoId: string;
  let owner: Page;
  const contexts: BrowserContext[] = [];

  const poll = <T>(read: () => Promise<T>) => expect.poll(read, { timeout: 20_000, interval: 50 });
  const shown = (locator: Locator) => locator.first().waitFor({ state: "visible" });

  /** Otto's grants as the API answers them: what was saved, whatever the page shows. */
  const ottoGrants = async () =>
    (await gatehouse.members.list(asUser(oliviaId), panel))
      .find((member) => member.userId === ottoId)
      ?.grants.map((grant) => `${grant.role}@${grant.scope}`);

  async function signedIn(email: string, next = "/"): Promise<Page> {
    const context = await browser.newContext({
      viewport: { width: 1280, height: 860 },
      baseURL: server.base,
    });
    contexts.push(context);
    const page = await context.newPage();
    page.setDefaultTimeout(20_000);
    await page.goto(`/sign-in?next=${encodeURIComponent(next)}`);
    await page.getByLabel("Email", { exact: true }).fill(email);
    await page.getByLabel("Password").fill(PASSWORD);
    await page.getByRole("button", { name: "Sign in", exact: true }).click();
    await page.waitForURL((url) => url.pathname !== "/sign-in");
    return page;
  }

  beforeAll(async () => {
    const consoleDir = buildConsole();
    server = await startServer(consoleDir);
    gatehouse = server.gatehouse;
    ({ workspaceId: panel } = await seedPanel(gatehouse));
    ({ workspaceId: company } = await seedCompany(gatehouse));
    oliviaId = (await gatehouse.users.findByEmail("olivia@example.com"))!.id;
    const { user: otto } = await gatehouse.users.signUp({
      email: "otto@example.com",
      password: PASSWORD,
      name: "Otto Operator",
    });
    ottoId = otto.id;
    await gatehouse.members.add(systemActor(), panel, {
      userId: otto.id,
      grants: [{ role: "operator", scope: "server:fra-1" }],
    });
    browser = await launchBrowser();
    owner = await signedIn("olivia@example.com", `/w/${panel}/team`);
  }, 180_000);

  afterEach(async ({ task }) => {
    if (task.result?.state === "fail" && !owner.isClosed())
      await screenshot(owner, "failure-safe-changes").catch(() => undefined);
  });

  afterAll(async () => {
    for (const context of contexts) await context.close();
    await browser?.close();
    await server?.close();
  });

  it("saves nothing on an arrow key: a role changes only through the confirmation, and undoes", async () => {
    await shown(owner.getByRole("table", { name: "Members" }));
    const role = owner.getByLabel("Role of Otto Operator on Server fra-1");
    await role.focus();
    await role.press("ArrowUp");
    await poll(() => role.inputValue()).toBe("admin");
    await shown(owner.getByRole("button", { name: "Review change" }));
    // The one keypress of the issue saved nothing.
    expect(await ottoGrants()).toEqual(["operator@server:fra-1"]);

    await owner.getByRole("button", { name: "Review change" }).click();
    const dialog = owner.getByRole("dialog", { name: "Change Otto Operator's access?" });
    await shown(dialog);
    await poll(() => dialog.getByTestId("access-before").innerText()).toBe(
      "Operator on server fra-1",
    );
    await poll(() => dialog.getByTestId("access-after").innerText()).toBe(
      "Admin on whole workspace",
    );
    // What Otto gains, in the role matrix's words, not permission codes.
    const gains = dialog.getByRole("list", { name: "Otto Operator gains" });
    await shown(gains);
    expect(await gains.innerText()).not.toMatch(/\b[a-z]+\.[a-z_]+\b/);
    await screenshot(owner, "access-change-confirm");
    // Cancelling saves nothing either.
    await dialog.getByRole("button", { name: "Cancel" }).click();
    expect(await ottoGrants()).toEqual(["operator@server:fra-1"]);

    await owner.getByRole("button", { name: "Review change" }).click();
    await dialog.getByRole("button", { name: "Change access" }).click();
    const ack = owner.getByTestId("access-ack");
    await poll(() => ack.innerText()).toContain("Otto Operator is now Admin on whole workspace.");
    await poll(() => ottoGrants()).toEqual([`admin@workspace:${panel}`]);
    await screenshot(owner, "access-change-ack");

    await ack.getByRole("button", { name: "Undo" }).click();
    await poll(() => ack.innerText()).toContain(
      "Undone: Otto Operator has Operator on server fra-1",
    );
    await poll(() => ottoGrants()).toEqual(["operator@server:fra-1"]);
    await poll(() => owner.getByLabel("Role of Otto Operator on Server fra-1").inputValue()).toBe(
      "operator",
    );
  });

  it("says that removing a member cannot be undone", async () => {
    await owner
      .getByRole("row")
      .filter({ hasText: "otto@example.com" })
      .getByRole("button", { name: "Remove" })
      .click();
    const dialog = owner.getByRole("dialog", { name: "Remove Otto Operator?" });
    await shown(dialog.getByText("This cannot be undone."));
    await shown(dialog.getByRole("list", { name: "Otto Operator loses" }));
    await dialog.getByRole("button", { name: "Cancel" }).click();
    expect(await ottoGrants()).toEqual(["operator@server:fra-1"]);
  });

  it("checks the email in the browser, and explains the server's refusal in words next to the field", async () => {
    const form = owner.getByRole("form", { name: "Invite" });
    const email = form.getByLabel("Email", { exact: true });
    const before = (await gatehouse.invitations.list(asUser(oliviaId), panel)).length;
    // Empty: the browser refuses to send.
    await email.fill("");
    await form.getByRole("button", { name: "Send invitation" }).click();
    expect(
      await email.evaluate(
        (input) =>
          (input as unknown as { validity: { valueMissing: boolean } }).validity.valueMissing,
      ),
    ).toBe(true);
    // An address the browser accepts and the server does not: its refusal, in words, by the field.
    await email.fill("bob@localhost");
    await form.getByRole("combobox", { name: "Role" }).selectOption({ label: "Admin" });
    await form.getByRole("button", { name: "Send invitation" }).click();
    const words = "Enter an email address, like name@example.com.";
    await shown(form.getByText(words));
    const describedBy = await email.getAttribute("aria-describedby");
    expect(describedBy).not.toBeNull();
    expect(await owner.locator(`[id="${describedBy}"]`).innerText()).toBe(words);
    expect(await email.getAttribute("aria-invalid")).toBe("true");
    expect(await form.innerText()).not.toMatch(/schema|must NOT|body\./);
    expect((await gatehouse.invitations.list(asUser(oliviaId), panel)).length).toBe(before);
    await screenshot(owner, "invite-error-in-words");
  });

  it("asks before replacing a pending invitation, showing what each offers", async () => {
    const form = owner.getByRole("form", { name: "Invite" });
    await form.getByLabel("Email", { exact: true }).fill("cara@example.com");
    await form.getByRole("combobox", { name: "Role" }).selectOption({ label: "Customer" });
    await pick(owner, "Scope", "shop", "shop.example", form);
    await form.getByRole("button", { name: "Send invitation" }).click();
    await shown(owner.getByText("Invitation sent to cara@example.com."));
    await form.getByLabel("Email", { exact: true }).fill("cara@example.com");
    await form.getByRole("combobox", { name: "Role" }).selectOption({ label: "Admin" });
    await form.getByRole("button", { name: "Send invitation" }).click();
    const dialog = owner.getByRole("dialog", {
      name: "Replace the pending invitation to cara@example.com?",
    });
    await poll(() => dialog.getByTestId("pending-offer").innerText()).toBe(
      "Customer on site shop.example",
    );
    await poll(() => dialog.getByTestId("new-offer").innerText()).toBe("Admin on whole workspace");
    // The earlier success is gone: one banner at a time.
    await poll(() => owner.getByText("Invitation sent to cara@example.com.").count()).toBe(0);
    await dialog.getByRole("button", { name: "Cancel" }).click();
    const pending = await gatehouse.invitations.list(asUser(oliviaId), panel, {
      status: "pending",
    });
    expect(pending.map((invitation) => `${invitation.email} ${invitation.role}`)).toEqual([
      "cara@example.com customer",
    ]);
  });

  it("returns to sign-in when the session ends, and back to the page afterwards", async () => {
    const page = await signedIn("olivia@example.com", `/w/${panel}/team`);
    await shown(page.getByRole("table", { name: "Members" }));
    await gatehouse.storage.db
      .updateTable("sessions")
      .set({ revoked_at: Date.now() })
      .where("user_id", "=", oliviaId)
      .where("revoked_at", "is", null)
      .execute();
    await page
      .getByRole("navigation", { name: "Sections" })
      .getByRole("link", { name: "Activity log" })
      .click();
    await shown(page.getByText("Your session has ended."));
    const url = new URL(page.url());
    expect(url.pathname).toBe("/sign-in");
    expect(url.searchParams.get("next")).toBe(`/w/${panel}/activity`);
    await page.getByLabel("Email", { exact: true }).fill("olivia@example.com");
    await page.getByLabel("Password").fill(PASSWORD);
    await page.getByRole("button", { name: "Sign in", exact: true }).click();
    await poll(async () => new URL(page.url()).pathname).toBe(`/w/${panel}/activity`);
    // The old session of the owner's first page ended too: sign it in again for what follows.
    owner = await signedIn("olivia@example.com", `/w/${panel}/team`);
  });

  it("follows only a path of this console after sign-in", async () => {
    const page = await signedIn("olivia@example.com", "//evil.example/w");
    await poll(async () => new URL(page.url()).host).toBe(new URL(server.base).host);
  });

  it("saves nothing of a group membership or a further grant before the confirmation, and says a deleted group cannot be undone", async () => {
    await gatehouse.members.createGroup(systemActor(), panel, { name: "Night shift" });
    const nightShift = async () =>
      (await gatehouse.members.listGroups(asUser(oliviaId), panel)).find(
        (group) => group.name === "Night shift",
      );
    await owner.goto(`/w/${panel}/team`);
    await pick(owner, "Add a member to Night shift", "Otto", "Otto Operator");
    const joining = owner.getByRole("dialog", { name: "Add Otto Operator to Night shift?" });
    await shown(joining.getByTestId("access-before"));
    await joining.getByRole("button", { name: "Cancel" }).click();
    expect((await nightShift())?.members).toEqual([]);

    const form = owner.getByRole("form", { name: "Give access" });
    await pick(owner, "Who", "Otto", "Otto Operator", form);
    await form.getByLabel("Role").selectOption({ label: "Operator" });
    await pick(owner, "Where", "ams", "ams-1", form);
    // Arrow keys in the pickers choose nothing and save nothing.
    await form.getByRole("combobox", { name: "Who", exact: true }).press("ArrowDown");
    await form.getByRole("combobox", { name: "Who", exact: true }).press("Escape");
    await form.getByRole("button", { name: "Review and give access" }).click();
    const giving = owner.getByRole("dialog", {
      name: "Give Otto Operator the role Operator on Server ams-1?",
    });
    await poll(() => giving.getByTestId("access-after").innerText()).toBe(
      "Operator on server fra-1; Operator on server ams-1",
    );
    await giving.getByRole("button", { name: "Cancel" }).click();
    expect(await ottoGrants()).toEqual(["operator@server:fra-1"]);

    await owner.getByRole("button", { name: "Delete group" }).click();
    const deleting = owner.getByRole("dialog", { name: "Delete the group Night shift?" });
    await shown(deleting.getByText("This cannot be undone."));
    await deleting.getByRole("button", { name: "Delete group" }).click();
    const ack = owner
      .getByTestId("access-ack")
      .filter({ hasText: "The group Night shift is deleted." });
    await shown(ack);
    expect(await ack.getByRole("button", { name: "Undo" }).count()).toBe(0);
    await poll(nightShift).toBeUndefined();
  });

  it("disables the invite form at the seat limit, saying why", async () => {
    const bruno = (await gatehouse.users.findByEmail("bruno@example.com"))!;
    for (const name of ["b1", "b2", "b3", "b4"]) {
      await gatehouse.invitations.create(asUser(bruno.id), company, {
        email: `${name}@example.com`,
        role: "billing",
      });
    }
    const page = await signedIn("bruno@example.com", `/w/${company}/team`);
    await shown(page.getByTestId("invite-full"));
    await poll(() => page.getByTestId("invite-full").innerText()).toContain(
      "Every seat of the Standard plan is taken (1 member, 4 pending invitations)",
    );
    const form = page.getByRole("form", { name: "Invite" });
    expect(await form.getByLabel("Email", { exact: true }).isDisabled()).toBe(true);
    expect(await form.getByRole("button", { name: "Send invitation" }).isDisabled()).toBe(true);
    await screenshot(page, "invite-at-limit");
  });
});
