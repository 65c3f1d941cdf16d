import type { AddressInfo } from "node:net";
import { systemActor } from "@gatehouse/service";
import type { LightMyRequestResponse } from "fastify";
import { SMTPServer } from "smtp-server";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createMailer, type Mailer } from "../src/mail/mailer.ts";
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

const DAY_MS = 24 * 60 * 60 * 1000;
const LINK = /http:\/\/localhost:8080\/invitations\/accept#([A-Za-z0-9_-]+)/;

/** The session a response started, as headers to call with (like the harness's signIn). */
function sessionOf(response: LightMyRequestResponse): Session {
  const cookies = Object.fromEntries(response.cookies.map((cookie) => [cookie.name, cookie.value]));
  return {
    userId: response.json().user.id,
    headers: {
      cookie: Object.entries(cookies)
        .map(([name, value]) => `${name}=${value}`)
        .join("; "),
      "x-csrf-token": cookies["gatehouse_csrf"]!,
    },
  };
}

/** The body of a raw RFC 5322 message, decoded from its transfer encoding. */
function bodyOf(raw: string): string {
  const split = raw.indexOf("\r\n\r\n");
  const headers = raw.slice(0, split);
  const body = raw.slice(split + 4);
  const encoding = /^content-transfer-encoding:\s*(\S+)/im.exec(headers)?.[1]?.toLowerCase();
  if (encoding === "base64") return Buffer.from(body, "base64").toString("utf8");
  if (encoding === "quoted-printable") {
    return body
      .replace(/=\r\n/g, "")
      .replace(/=([0-9A-F]{2})/g, (_, hex: string) =>
        String.fromCharCode(Number.parseInt(hex, 16)),
      );
  }
  return body;
}

describe.each(backends)("invitations over HTTP on $name", (backend) => {
  let server: TestServer;

  afterEach(async () => {
    await server.close();
  });

  /** Ada's personal MZPanel workspace, with server s1 holding sites a and b. */
  async function panel() {
    const ada = await signUp(server.app, "ada");
    const ws = (await call(server.app, ada, "GET", "/v1/me")).json().workspaces[0].id as string;
    const host = systemActor();
    await server.gatehouse.resources.upsert(host, ws, {
      resource: "server:s1",
      parent: `workspace:${ws}`,
    });
    await server.gatehouse.resources.upsert(host, ws, { resource: "site:a", parent: "server:s1" });
    await server.gatehouse.resources.upsert(host, ws, { resource: "site:b", parent: "server:s1" });
    return { ada, ws };
  }

  function invite(session: Session | undefined, ws: string, payload: unknown) {
    return call(server.app, session, "POST", `/v1/workspaces/${ws}/invitations`, payload);
  }

  function accept(session: Session | undefined, payload: unknown) {
    return call(server.app, session, "POST", "/v1/invitations/accept", payload);
  }

  /** The token of the newest mail in the development outbox. */
  function outboxToken(): string {
    return LINK.exec(server.mailer.outbox!.at(-1)!.text)![1]!;
  }

  describe("with the development outbox", () => {
    beforeEach(async () => {
      server = await openServer(backend);
    });

    it("invites by email and role, mails the link to the outbox and never returns the token", async () => {
      const { ada, ws } = await panel();
      const response = await invite(ada, ws, {
        email: "Carol@Example.com",
        role: "customer",
        scopes: ["site:a"],
      });
      expect(response.statusCode).toBe(201);
      const body = response.json();
      expect(body).toMatchObject({
        invitation: {
          email: "carol@example.com",
          role: "customer",
          scopes: ["site:a"],
          extras: [],
          status: "pending",
          invitedBy: `user:${ada.userId}`,
          expiresAt: server.clock.now + 7 * DAY_MS,
        },
        mailed: true,
      });
      expect(body.revision).toBeGreaterThan(0);
      expect(response.headers["x-gatehouse-revision"]).toBe(String(body.revision));
      const mail = server.mailer.outbox!.at(-1)!;
      expect(mail.to).toBe("carol@example.com");
      expect(mail.subject).toContain("ada");
      expect(mail.text).toContain("as Customer");
      const token = outboxToken();
      expect(token.length).toBeGreaterThanOrEqual(43);
      expect(response.body).not.toContain(token);

      const list = await call(server.app, ada, "GET", `/v1/workspaces/${ws}/invitations`);
      expect(list.statusCode).toBe(200);
      expect(list.json().invitations).toHaveLength(1);
      expect(list.body).not.toContain(token);
      const pending = await call(
        server.app,
        ada,
        "GET",
        `/v1/workspaces/${ws}/invitations?status=pending`,
      );
      expect(pending.json().invitations.map((item: { id: string }) => item.id)).toEqual([
        body.invitation.id,
      ]);
      const accepted = await call(
        server.app,
        ada,
        "GET",
        `/v1/workspaces/${ws}/invitations?status=accepted`,
      );
      expect(accepted.json().invitations).toEqual([]);
    });

    it("accepts anonymously with a new account, signs it in, and the member has only the invited scope", async () => {
      const { ada, ws } = await panel();
      const created = await invite(ada, ws, {
        email: "carol@example.com",
        role: "customer",
        scopes: ["site:a"],
      });
      const id = created.json().invitation.id as string;
      const token = outboxToken();
      const response = await accept(undefined, { token, password: PASSWORD, name: "Carol" });
      expect(response.statusCode).toBe(200);
      expect(response.json()).toMatchObject({
        user: { email: "carol@example.com", name: "Carol" },
        workspaceId: ws,
        createdAccount: true,
        session: { sessionId: expect.any(String) },
      });
      const cookie = response.cookies.find((candidate) => candidate.name === "gatehouse_session");
      expect(cookie).toMatchObject({ httpOnly: true, sameSite: "Lax" });
      const carol = sessionOf(response);
      const me = (await call(server.app, carol, "GET", "/v1/me")).json();
      expect(me.workspaces).toHaveLength(1);
      expect(me.workspaces[0].id).toBe(ws);
      expect(
        me.workspaces[0].grants.map((grant: { role: string; scope: string }) => [
          grant.role,
          grant.scope,
        ]),
      ).toEqual([["customer", "site:a"]]);

      const again = await accept(undefined, { token, password: PASSWORD });
      expect(again.statusCode).toBe(409);
      expect(again.json().code).toBe("INVITATION_ALREADY_USED");
      const revoke = await call(
        server.app,
        ada,
        "DELETE",
        `/v1/workspaces/${ws}/invitations/${id}`,
      );
      expect(revoke.statusCode).toBe(409);
      expect(revoke.json().code).toBe("INVITATION_ALREADY_USED");
    });

    it("refuses to replace a pending invitation unless asked with replace: true (INVITATION_PENDING, #16)", async () => {
      const { ada, ws } = await panel();
      const first = await invite(ada, ws, {
        email: "carol@example.com",
        role: "customer",
        scopes: ["site:a"],
      });
      expect(first.statusCode).toBe(201);
      const mails = server.mailer.outbox!.length;
      const wider = { email: "Carol@example.com", role: "admin" };
      const refused = await invite(ada, ws, wider);
      expectProblem(refused, 409, "INVITATION_PENDING");
      expect(refused.json().detail).toContain("customer at site:a");
      expect(server.mailer.outbox!.length).toBe(mails);
      const pending = async () =>
        (
          await call(server.app, ada, "GET", `/v1/workspaces/${ws}/invitations?status=pending`)
        ).json().invitations;
      expect(await pending()).toMatchObject([{ id: first.json().invitation.id, role: "customer" }]);
      expectProblem(await invite(ada, ws, { ...wider, replace: "yes" }), 400, "INVALID_INPUT");
      const replaced = await invite(ada, ws, { ...wider, replace: true });
      expect(replaced.statusCode).toBe(201);
      expect(await pending()).toMatchObject([
        { id: replaced.json().invitation.id, role: "admin", scopes: [`workspace:${ws}`] },
      ]);
    });

    it("creates the account but starts no session where the workspace requires 2FA", async () => {
      const { ada, ws } = await panel();
      await invite(ada, ws, { email: "carol@example.com", role: "admin" });
      // The host app requires 2FA: Ada, who has none, could not (#16), and her session ends.
      await server.gatehouse.workspaces.updateSettings(systemActor(), ws, { require2fa: true });
      const response = await accept(undefined, { token: outboxToken(), password: PASSWORD });
      expect(response.statusCode).toBe(200);
      expect(response.json()).toMatchObject({ createdAccount: true, session: null });
      expect(response.cookies).toEqual([]);
      const login = await server.app.inject({
        method: "POST",
        url: "/v1/auth/login",
        payload: { email: "carol@example.com", password: PASSWORD },
      });
      expect(login.json().code).toBe("TOTP_ENROLLMENT_REQUIRED");
    });

    it("accepts for the signed-in invitee; another account is refused with 403", async () => {
      const { ada, ws } = await panel();
      const bob = await signUp(server.app, "bob");
      const mallory = await signUp(server.app, "mallory");
      await invite(ada, ws, { email: "bob@example.com", role: "operator", scopes: ["server:s1"] });
      const token = outboxToken();

      const wrong = await accept(mallory, { token });
      expect(wrong.statusCode).toBe(403);
      expect(wrong.json().code).toBe("INVITATION_EMAIL_MISMATCH");
      const withPassword = await accept(bob, { token, password: PASSWORD });
      expect(withPassword.statusCode).toBe(400);
      expect(withPassword.json().code).toBe("INVALID_INPUT");

      const response = await accept(bob, { token });
      expect(response.statusCode).toBe(200);
      expect(response.json()).toMatchObject({
        user: { id: bob.userId },
        workspaceId: ws,
        createdAccount: false,
        session: null,
      });
      const me = (await call(server.app, bob, "GET", "/v1/me")).json();
      expect(me.workspaces.map((workspace: { id: string }) => workspace.id)).toContain(ws);
    });

    it("sends an existing account to sign in first: 401 without a password, 409 EMAIL_TAKEN with one", async () => {
      const { ada, ws } = await panel();
      await signUp(server.app, "bob");
      await invite(ada, ws, { email: "bob@example.com", role: "admin" });
      const token = outboxToken();
      const anonymous = await accept(undefined, { token });
      expect(anonymous.statusCode).toBe(401);
      expect(anonymous.json().code).toBe("INVALID_CREDENTIALS");
      const taken = await accept(undefined, { token, password: PASSWORD });
      expect(taken.statusCode).toBe(409);
      expect(taken.json().code).toBe("EMAIL_TAKEN");
    });

    it("answers 404 for an unknown token, 409 once revoked and 410 once expired", async () => {
      const { ada, ws } = await panel();
      const unknown = await accept(undefined, { token: "x".repeat(43), password: PASSWORD });
      expect(unknown.statusCode).toBe(404);
      expect(unknown.json().code).toBe("INVITATION_NOT_FOUND");

      const created = await invite(ada, ws, { email: "carol@example.com", role: "admin" });
      const revokedToken = outboxToken();
      const url = `/v1/workspaces/${ws}/invitations/${created.json().invitation.id}`;
      const revoked = await call(server.app, ada, "DELETE", url);
      expect(revoked.statusCode).toBe(200);
      expect(revoked.json().invitation.status).toBe("revoked");
      expect(revoked.json().revision).toBeGreaterThan(created.json().revision);
      expect((await call(server.app, ada, "DELETE", url)).statusCode).toBe(200);
      const afterRevoke = await accept(undefined, { token: revokedToken, password: PASSWORD });
      expect(afterRevoke.statusCode).toBe(409);
      expect(afterRevoke.json().code).toBe("INVITATION_REVOKED");

      await invite(ada, ws, { email: "carol@example.com", role: "admin" });
      const expiredToken = outboxToken();
      server.clock.now += 7 * DAY_MS + 1;
      const expired = await accept(undefined, { token: expiredToken, password: PASSWORD });
      expect(expired.statusCode).toBe(410);
      expect(expired.json().code).toBe("INVITATION_EXPIRED");
      // Sessions idle out after 7 days too: sign in again.
      const again = await signIn(server.app, "ada@example.com");
      const listed = await call(
        server.app,
        again,
        "GET",
        `/v1/workspaces/${ws}/invitations?status=expired`,
      );
      expect(listed.json().invitations).toHaveLength(1);

      const missing = await call(
        server.app,
        again,
        "DELETE",
        `/v1/workspaces/${ws}/invitations/inv_nothing`,
      );
      expect(missing.statusCode).toBe(404);
      expect(missing.json().code).toBe("INVITATION_NOT_FOUND");
    });

    it("refuses bad input with 400 problem+json, and what the plan or the team forbids", async () => {
      const { ada, ws } = await panel();
      const extra = await invite(ada, ws, { email: "carol@example.com", role: "admin", admin: 1 });
      expect(extra.statusCode).toBe(400);
      expect(extra.headers["content-type"]).toContain("application/problem+json");
      expect(extra.json()).toMatchObject({ status: 400, code: "INVALID_INPUT" });
      const tooLong = await invite(ada, ws, {
        email: `${"x".repeat(250)}@example.com`,
        role: "admin",
      });
      expect(tooLong.json().code).toBe("INVALID_INPUT");
      const badStatus = await call(
        server.app,
        ada,
        "GET",
        `/v1/workspaces/${ws}/invitations?status=lost`,
      );
      expect(badStatus.statusCode).toBe(400);
      const badQuery = await call(
        server.app,
        ada,
        "GET",
        `/v1/workspaces/${ws}/invitations?page=5`,
      );
      expect(badQuery.statusCode).toBe(400);
      const role = await invite(ada, ws, { email: "carol@example.com", role: "wizard" });
      expect(role.statusCode).toBe(400);
      expect(role.json().code).toBe("UNKNOWN_ROLE");
      const owner = await invite(ada, ws, { email: "carol@example.com", role: "owner" });
      expect(owner.json().code).toBe("OWNER_ROLE_NOT_GRANTED");
      const self = await invite(ada, ws, { email: "ada@example.com", role: "admin" });
      expect(self.statusCode).toBe(409);
      expect(self.json().code).toBe("ALREADY_MEMBER");
      const noBody = await accept(undefined, { password: PASSWORD });
      expect(noBody.json().code).toBe("INVALID_INPUT");
      expect(server.mailer.outbox).toHaveLength(0);
    });

    it("keeps outsiders out with 404 and members without the team gate with 403", async () => {
      const { ada, ws } = await panel();
      const mallory = await signUp(server.app, "mallory");
      const carol = await signUp(server.app, "carol");
      await server.gatehouse.members.add(systemActor(), ws, {
        userId: carol.userId,
        grants: [{ role: "customer", scope: "site:a" }],
      });
      const created = await invite(ada, ws, { email: "dave@example.com", role: "admin" });
      const id = created.json().invitation.id as string;

      for (const response of [
        await invite(mallory, ws, { email: "eve@example.com", role: "admin" }),
        await call(server.app, mallory, "GET", `/v1/workspaces/${ws}/invitations`),
        await call(server.app, mallory, "DELETE", `/v1/workspaces/${ws}/invitations/${id}`),
        await call(server.app, ada, "GET", "/v1/workspaces/ws_nothing/invitations"),
      ]) {
        expect(response.statusCode).toBe(404);
        expect(response.json().code).toBe("WORKSPACE_NOT_FOUND");
      }
      const list = await call(server.app, carol, "GET", `/v1/workspaces/${ws}/invitations`);
      expect(list.statusCode).toBe(403);
      expect(list.json().code).toBe("PERMISSION_DENIED");
      const send = await invite(carol, ws, {
        email: "eve@example.com",
        role: "customer",
        scopes: ["site:a"],
      });
      expect(send.statusCode).toBe(403);
      expect(send.json().code).toBe("PERMISSION_DENIED");
      const anonymous = await invite(undefined, ws, { email: "eve@example.com", role: "admin" });
      expect(anonymous.statusCode).toBe(401);
      expect(anonymous.json().code).toBe("INVALID_CREDENTIALS");
    });

    it("refuses an invitation past the plan's member limit with 409", async () => {
      const ada = await signUp(server.app, "ada");
      const ws = await server.gatehouse.workspaces.create(
        { actor: { type: "user", userId: ada.userId } },
        { name: "Ada GmbH", preset: "company", plan: "standard" },
      );
      for (const name of ["b1", "b2", "b3", "b4"]) {
        const response = await invite(ada, ws.id, {
          email: `${name}@example.com`,
          role: "billing",
        });
        expect(response.statusCode).toBe(201);
      }
      const fifth = await invite(ada, ws.id, { email: "b5@example.com", role: "billing" });
      expect(fifth.statusCode).toBe(409);
      expect(fifth.json().code).toBe("MEMBER_LIMIT_REACHED");
    });
  });

  it("still creates the invitation when the mail cannot be sent, and says so", async () => {
    const failing: Mailer = {
      outbox: undefined,
      async send() {
        throw new Error("connection refused");
      },
    };
    server = await openServer(backend, { mailer: failing });
    const { ada, ws } = await panel();
    const response = await invite(ada, ws, { email: "carol@example.com", role: "admin" });
    expect(response.statusCode).toBe(201);
    expect(response.json()).toMatchObject({ invitation: { status: "pending" }, mailed: false });
  });

  it("mails the invitation through a real SMTP peer; its link is accepted and the member sees the workspace", async () => {
    const received: { to: string[]; raw: string }[] = [];
    const smtp = new SMTPServer({
      authOptional: true,
      disabledCommands: ["STARTTLS"],
      logger: false,
      onData(stream, session, callback) {
        const chunks: Buffer[] = [];
        stream.on("data", (chunk: Buffer) => chunks.push(chunk));
        stream.on("end", () => {
          received.push({
            to: session.envelope.rcptTo.map((address) => address.address),
            raw: Buffer.concat(chunks).toString("utf8"),
          });
          callback();
        });
      },
    });
    await new Promise<void>((resolve) => smtp.listen(0, "127.0.0.1", resolve));
    try {
      const { port } = smtp.server.address() as AddressInfo;
      const mailer = createMailer({
        smtpUrl: `smtp://127.0.0.1:${port}`,
        from: "Gatehouse <gatehouse@example.com>",
        log: () => undefined,
      });
      server = await openServer(backend, { mailer });
      expect(server.mailer.outbox).toBeUndefined();
      const { ada, ws } = await panel();
      const response = await invite(ada, ws, {
        email: "carol@example.com",
        role: "customer",
        scopes: ["site:b"],
      });
      expect(response.statusCode).toBe(201);
      expect(response.json().mailed).toBe(true);
      expect(received).toHaveLength(1);
      expect(received[0]!.to).toEqual(["carol@example.com"]);
      expect(received[0]!.raw).toMatch(/^From: Gatehouse <gatehouse@example\.com>/m);
      // The mail says who invites, as what and on what (#16).
      const body = bodyOf(received[0]!.raw);
      expect(body).toMatch(/^.*ada@example\.com.* invited you to join .+ as Customer\.$/m);
      expect(body).toContain("Customer on: Site b.");
      const token = LINK.exec(body)![1]!;
      expect(response.body).not.toContain(token);

      const accepted = await accept(undefined, { token, password: PASSWORD });
      expect(accepted.statusCode).toBe(200);
      const me = (await call(server.app, sessionOf(accepted), "GET", "/v1/me")).json();
      expect(me.user.email).toBe("carol@example.com");
      expect(me.workspaces.map((workspace: { id: string }) => workspace.id)).toEqual([ws]);
    } finally {
      await new Promise<void>((resolve) => smtp.close(() => resolve()));
    }
  });
});
