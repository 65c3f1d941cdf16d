import type { AddressInfo } from "node:net";
import { SMTPServer } from "smtp-server";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createMailer } from "../src/mail/mailer.ts";
import {
  backends,
  call,
  expectProblem,
  openServer,
  PASSWORD,
  type Session,
  signIn,
  signUp,
  type TestServer,
} from "./harness.ts";

const LINK = /http:\/\/localhost:8080\/account\/email#(ghe_[A-Za-z0-9_-]{43})/;

/** A received mail's text: quoted-printable or base64 decoded as UTF-8. */
function bodyOf(raw: string): string {
  const split = raw.indexOf("\r\n\r\n");
  const headers = raw.slice(0, split);
  const body = raw.slice(split + 4);
  const encoding = /^content-transfer-encoding:\s*(\S+)/im.exec(headers)?.[1]?.toLowerCase();
  if (encoding === "base64") return Buffer.from(body, "base64").toString("utf8");
  if (encoding === "quoted-printable") {
    const bytes = body
      .replace(/=\r\n/g, "")
      .replace(/=([0-9A-F]{2})/g, (_, hex: string) => `%${hex}`)
      .replace(/[^%]/g, (char) => encodeURIComponent(char));
    return decodeURIComponent(bytes);
  }
  return body;
}

/** Changing the caller's email over HTTP (#16), mailed through a real SMTP peer. */
describe.each(backends)("changing the caller's email over HTTP on $name", (backend) => {
  let server: TestServer;
  let smtp: SMTPServer;
  let received: { to: string[]; subject: string; body: string }[];

  beforeEach(async () => {
    received = [];
    smtp = new SMTPServer({
      authOptional: true,
      disabledCommands: ["STARTTLS"],
      logger: false,
      onData(stream, session, callback) {
        const chunks: Buffer[] = [];
        stream.on("data", (chunk: Buffer) => chunks.push(chunk));
        stream.on("end", () => {
          const raw = Buffer.concat(chunks).toString("utf8");
          received.push({
            to: session.envelope.rcptTo.map((address) => address.address),
            subject: /^Subject: (.*)$/m.exec(raw)?.[1] ?? "",
            body: bodyOf(raw),
          });
          callback();
        });
      },
    });
    await new Promise<void>((resolve) => smtp.listen(0, "127.0.0.1", resolve));
    const { port } = smtp.server.address() as AddressInfo;
    const mailer = createMailer({
      smtpUrl: `smtp://127.0.0.1:${port}`,
      from: "Gatehouse <gatehouse@example.com>",
      log: () => undefined,
    });
    server = await openServer(backend, { mailer });
  });
  afterEach(async () => {
    await server.close();
    await new Promise<void>((resolve) => smtp.close(() => resolve()));
  });

  const ask = (session: Session | undefined, body: Record<string, unknown>) =>
    call(server.app, session, "POST", "/v1/me/email", body);
  const confirm = (session: Session | undefined, token: string) =>
    call(server.app, session, "POST", "/v1/me/email/confirm", { token });
  /** The mail the SMTP peer received since the last call. */
  async function mail() {
    await server.gatehouse.mailSettled();
    const out = received;
    received = [];
    return out;
  }

  it("mails the new address a link that, followed, moves the account; the old address is told", async () => {
    const ada = await signUp(server.app, "ada");
    const asked = await ask(ada, { email: "Ada@New.Example", currentPassword: PASSWORD });
    expect(asked.statusCode).toBe(202);
    expect(asked.json()).toEqual({ status: "confirmation-sent" });
    const [link, ...others] = await mail();
    expect(others).toEqual([]);
    expect(link!.to).toEqual(["ada@new.example"]);
    const token = LINK.exec(link!.body)?.[1];
    expect(token).toBeDefined();
    expect(asked.body).not.toContain(token!);
    // Nothing changes before the link is followed.
    expect((await call(server.app, ada, "GET", "/v1/me")).json().user.email).toBe(
      "ada@example.com",
    );

    const confirmed = await confirm(ada, token!);
    expect(confirmed.statusCode).toBe(200);
    expect(confirmed.json().user).toMatchObject({ id: ada.userId, email: "ada@new.example" });
    const [notice, ...more] = await mail();
    expect(more).toEqual([]);
    expect(notice!.to).toEqual(["ada@example.com"]);
    expect(notice!.body).toContain("ada@new.example");
    expect(notice!.body).not.toContain("ghe_");
    // The same session goes on; the new address signs in, the old one no longer does.
    expect((await call(server.app, ada, "GET", "/v1/me")).json().user.email).toBe(
      "ada@new.example",
    );
    expect((await signIn(server.app, "ada@new.example")).userId).toBe(ada.userId);
    await expect(signIn(server.app, "ada@example.com")).rejects.toThrow(/401/);
    // Once only.
    expectProblem(await confirm(ada, token!), 410, "EMAIL_CHANGE_LINK_INVALID");
  });

  it("answers the same for a taken address, whose owner is mailed a notice without a link", async () => {
    const ada = await signUp(server.app, "ada");
    await signUp(server.app, "bob");
    const taken = await ask(ada, { email: "bob@example.com", currentPassword: PASSWORD });
    const free = await ask(ada, { email: "free@example.com", currentPassword: PASSWORD });
    expect(taken.statusCode).toBe(202);
    expect(taken.body).toBe(free.body);
    // Delivered in either order.
    const sent = (await mail()).sort((a, b) => a.to[0]!.localeCompare(b.to[0]!));
    expect(sent.map((each) => each.to)).toEqual([["bob@example.com"], ["free@example.com"]]);
    expect(sent[0]!.body).not.toMatch(LINK);
    expect(sent[0]!.body).toContain("Nothing was changed");
    expect(sent[1]!.body).toMatch(LINK);
  });

  it("needs the current password and a session of the same account", async () => {
    const ada = await signUp(server.app, "ada");
    const eve = await signUp(server.app, "eve");
    expectProblem(
      await ask(ada, { email: "ada@new.example", currentPassword: "not my password" }),
      401,
      "INVALID_CREDENTIALS",
    );
    expectProblem(await ask(ada, { email: "ada@new.example" }), 401, "INVALID_CREDENTIALS");
    expectProblem(
      await ask(ada, { email: "ada@example.com", currentPassword: PASSWORD }),
      400,
      "INVALID_INPUT",
    );
    expect(
      (await ask(undefined, { email: "ada@new.example", currentPassword: PASSWORD })).statusCode,
    ).toBe(401);
    // An API key acts for its creator, but never changes how they sign in.
    const ws = (await call(server.app, ada, "GET", "/v1/me")).json().workspaces[0].id as string;
    const created = await call(server.app, ada, "POST", `/v1/workspaces/${ws}/api-keys`, {
      name: "bot",
      scopes: ["*"],
    });
    const bot = {
      userId: ada.userId,
      headers: { authorization: `Bearer ${created.json().secret}` },
    };
    expectProblem(
      await ask(bot, { email: "ada@new.example", currentPassword: PASSWORD }),
      403,
      "PERMISSION_DENIED",
    );
    expect(await mail()).toEqual([]);

    await ask(ada, { email: "ada@new.example", currentPassword: PASSWORD });
    const token = LINK.exec((await mail())[0]!.body)![1]!;
    expectProblem(await confirm(eve, token), 410, "EMAIL_CHANGE_LINK_INVALID");
    expect((await confirm(undefined, token)).statusCode).toBe(401);
    expectProblem(await confirm(bot, token), 403, "PERMISSION_DENIED");
    expect((await confirm(ada, token)).statusCode).toBe(200);
  });
});
