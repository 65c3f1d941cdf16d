import type { AddressInfo } from "node:net";
import { asUser, systemActor } from "@gatehouse/service";
import { SMTPServer } from "smtp-server";
import { afterEach, describe, expect, it } from "vitest";
import { createMailer } from "../src/mail/mailer.ts";
import {
  backends,
  call,
  expectProblem,
  openServer,
  registerFleet,
  type Session,
  signUp,
  type TestServer,
} from "./harness.ts";

const MINUTE_MS = 60_000;

/** The text of a raw message, its soft line breaks and quoted-printable escapes undone. */
function textOf(raw: string): string {
  return raw
    .replace(/=\r\n/g, "")
    .replace(/=([0-9A-F]{2})/g, (_, hex: string) => String.fromCharCode(Number.parseInt(hex, 16)));
}

describe.each(backends)("access requests over HTTP on $name", (backend) => {
  let server: TestServer;
  let smtp: SMTPServer | undefined;
  const received: { to: string[]; raw: string }[] = [];

  afterEach(async () => {
    await server.close();
    if (smtp !== undefined) await new Promise<void>((resolve) => smtp!.close(() => resolve()));
    smtp = undefined;
    received.length = 0;
  });

  /** A server mailing through a real SMTP peer that keeps what it receives. */
  async function openWithSmtp(): Promise<void> {
    smtp = new SMTPServer({
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
    await new Promise<void>((resolve) => smtp!.listen(0, "127.0.0.1", resolve));
    const { port } = smtp.server.address() as AddressInfo;
    const mailer = createMailer({
      smtpUrl: `smtp://127.0.0.1:${port}`,
      from: "Gatehouse <gatehouse@example.com>",
      log: () => undefined,
    });
    server = await openServer(backend, { mailer });
  }

  /** Ada's MZPanel workspace (servers s1, s2; sites a, b, c): Ann is admin, Carol customer of site a. */
  async function panel() {
    const ada = await signUp(server.app, "ada");
    const ann = await signUp(server.app, "ann");
    const carol = await signUp(server.app, "carol");
    const ws = await server.gatehouse.workspaces.create(asUser(ada.userId), {
      name: "Ada Hosting",
      preset: "mzpanel",
    });
    await registerFleet(server.gatehouse, ws.id);
    for (const [session, role, scope] of [
      [ann, "admin", `workspace:${ws.id}`],
      [carol, "customer", "site:a"],
    ] as const) {
      await server.gatehouse.members.add(systemActor(), ws.id, {
        userId: session.userId,
        grants: [{ role, scope }],
      });
    }
    return { ada, ann, carol, ws: ws.id };
  }

  const path = (ws: string, rest = "") => `/v1/workspaces/${ws}/access-requests${rest}`;
  const ask = (session: Session, ws: string, payload: unknown) =>
    call(server.app, session, "POST", path(ws), payload);

  it("asks, mails who may decide through SMTP, approves narrower, and explains the grant", async () => {
    await openWithSmtp();
    // A hosting panel: Carla administers customer c1; Bob manages its domains and asks for more.
    const olivia = await signUp(server.app, "olivia");
    const carla = await signUp(server.app, "carla");
    const bob = await signUp(server.app, "bob");
    const ws = (
      await server.gatehouse.workspaces.create(asUser(olivia.userId), {
        name: "Agency",
        preset: "hosting-customer",
      })
    ).id;
    await server.gatehouse.resources.upsert(systemActor(), ws, {
      resource: "customer:c1",
      parent: `workspace:${ws}`,
    });
    await server.gatehouse.resources.upsert(systemActor(), ws, {
      resource: "hosting:c1-web",
      parent: "customer:c1",
    });
    for (const [session, role] of [
      [carla, "customer_admin"],
      [bob, "customer_domain"],
    ] as const) {
      await server.gatehouse.members.add(systemActor(), ws, {
        userId: session.userId,
        grants: [{ role, scope: "customer:c1" }],
      });
    }
    const asked = await ask(bob, ws, {
      role: "hosting_admin",
      scope: "hosting:c1-web",
      reason: "The shop's mail is down",
      durationMinutes: 120,
    });
    expect(asked.statusCode).toBe(201);
    expect(asked.headers["x-gatehouse-revision"]).toBe(String(asked.json().revision));
    const id = asked.json().request.id as string;
    expect(asked.json().request).toMatchObject({
      userId: bob.userId,
      role: "hosting_admin",
      scope: "hosting:c1-web",
      status: "pending",
      granted: null,
    });
    // Those who may give the role there are mailed who asks, for what and why.
    expect(received.map((mail) => mail.to).sort()).toEqual([
      ["carla@example.com"],
      ["olivia@example.com"],
    ]);
    const mail = textOf(received[0]!.raw);
    expect(mail).toMatch(/^Subject: bob \(bob@example\.com\) asks for access in Agency/m);
    expect(mail).toContain("asks for Hosting Admin on Hosting c1-web in Agency for 2 hours.");
    expect(mail).toContain("Reason: The shop's mail is down");
    expect(mail).toContain(`http://localhost:8080/w/${ws}/access-requests`);

    const pending = await call(server.app, carla, "GET", path(ws, "?status=pending"));
    expect(pending.json().accessRequests.map((item: { id: string }) => item.id)).toEqual([id]);
    const approved = await call(server.app, carla, "POST", path(ws, `/${id}/approve`), {
      role: "hosting_mail",
      durationMinutes: 60,
    });
    expect(approved.statusCode).toBe(200);
    const approvedAt = server.clock.now;
    expect(approved.json().request).toMatchObject({
      status: "approved",
      decidedBy: `user:${carla.userId}`,
      granted: {
        role: "hosting_mail",
        scope: "hosting:c1-web",
        expiresAt: approvedAt + 60 * MINUTE_MS,
      },
    });
    const question = { permission: "hosting.mail.accounts.manage", resource: "hosting:c1-web" };
    const explained = await call(server.app, bob, "POST", `/v1/workspaces/${ws}/explain`, question);
    expect(explained.json().decision.allowed).toBe(true);
    expect(
      explained.json().considered.map((entry: { accessRequest: unknown }) => entry.accessRequest),
    ).toContainEqual({
      requestId: id,
      requestedBy: `user:${bob.userId}`,
      approvedBy: `user:${carla.userId}`,
      approver: { email: "carla@example.com", name: "carla" },
      approvedAt,
      reason: "The shop's mail is down",
      support: false,
    });
    expect(explained.json().summary).toContain(`approved by user:${carla.userId}`);
    // Narrowed: the web features were not given.
    const web = await call(server.app, bob, "POST", `/v1/workspaces/${ws}/check`, {
      permission: "hosting.web.manage",
      resource: "hosting:c1-web",
    });
    expect(web.json().allowed).toBe(false);
    // Decided once.
    expectProblem(
      await call(server.app, olivia, "POST", path(ws, `/${id}/reject`), {}),
      409,
      "ACCESS_REQUEST_DECIDED",
    );
    // The grant ends on its own.
    server.clock.now = approvedAt + 60 * MINUTE_MS;
    const later = await call(server.app, bob, "POST", `/v1/workspaces/${ws}/check`, question);
    expect(later.json().allowed).toBe(false);
  });

  it("answers 404 for what is out of reach, and refuses wider approvals and repeated asks", async () => {
    server = await openServer(backend);
    const { ada, ann, carol, ws } = await panel();
    const asked = await ask(ann, ws, {
      role: "operator",
      scope: "server:s2",
      reason: "Backups",
      durationMinutes: 30,
    });
    const id = asked.json().request.id as string;
    // Carol, a site customer, neither sees nor decides it; it answers as an unknown one.
    expect((await call(server.app, carol, "GET", path(ws))).json().accessRequests).toEqual([]);
    for (const verb of ["approve", "reject", "withdraw"]) {
      const body = verb === "withdraw" ? undefined : {};
      expectProblem(
        await call(server.app, carol, "POST", path(ws, `/${id}/${verb}`), body),
        404,
        "ACCESS_REQUEST_NOT_FOUND",
      );
      expectProblem(
        await call(server.app, carol, "POST", path(ws, `/arq_nope/${verb}`), body),
        404,
        "ACCESS_REQUEST_NOT_FOUND",
      );
    }
    // Resources beyond her reach answer as ones that do not exist.
    for (const scope of ["server:s1", "site:b", "site:nope"]) {
      expectProblem(
        await ask(carol, ws, { role: "customer", scope, reason: "x", durationMinutes: 5 }),
        404,
        "RESOURCE_NOT_FOUND",
      );
    }
    // Outsiders do not learn the workspace exists.
    const eve = await signUp(server.app, "eve");
    expectProblem(await call(server.app, eve, "GET", path(ws)), 404, "WORKSPACE_NOT_FOUND");
    expectProblem(
      await ask(eve, ws, {
        role: "admin",
        scope: `workspace:${ws}`,
        reason: "x",
        durationMinutes: 5,
      }),
      404,
      "WORKSPACE_NOT_FOUND",
    );
    // One pending request per role and resource.
    expectProblem(
      await ask(ann, ws, { role: "operator", scope: "server:s2", reason: "y", durationMinutes: 5 }),
      409,
      "CONFLICT",
    );
    // Unknown fields and wider approvals are refused.
    expectProblem(
      await call(server.app, ada, "POST", path(ws, `/${id}/approve`), { expiresAt: 1 }),
      400,
      "INVALID_INPUT",
    );
    expectProblem(
      await call(server.app, ada, "POST", path(ws, `/${id}/approve`), { durationMinutes: 31 }),
      400,
      "INVALID_INPUT",
    );
    expectProblem(
      await call(server.app, ada, "POST", path(ws, `/${id}/approve`), { scope: "server:s1" }),
      400,
      "INVALID_INPUT",
    );
    // Ann withdraws her own (a bare POST); then it is decided.
    const withdrawn = await call(server.app, ann, "POST", path(ws, `/${id}/withdraw`));
    expect(withdrawn.statusCode).toBe(200);
    expect(withdrawn.json().request.status).toBe("withdrawn");
    const mine = await call(server.app, ann, "GET", path(ws, "?mine=true&status=withdrawn"));
    expect(mine.json().accessRequests.map((item: { id: string }) => item.id)).toEqual([id]);
    expectProblem(
      await call(server.app, ada, "POST", path(ws, `/${id}/approve`), {}),
      409,
      "ACCESS_REQUEST_DECIDED",
    );
  });

  it("limits how many requests a member sends in a day (429 with Retry-After)", async () => {
    server = await openServer(backend);
    const { ann, ws } = await panel();
    for (let index = 0; index < 10; index++) {
      const asked = await ask(ann, ws, {
        role: index % 2 === 0 ? "operator" : "customer",
        scope: index % 2 === 0 ? "server:s1" : "site:a",
        reason: `try ${index}`,
        durationMinutes: 5,
      });
      expect(asked.statusCode).toBe(201);
      await call(server.app, ann, "POST", path(ws, `/${asked.json().request.id}/withdraw`));
      server.clock.now += MINUTE_MS;
    }
    const limited = await ask(ann, ws, {
      role: "operator",
      scope: "server:s2",
      reason: "one more",
      durationMinutes: 5,
    });
    expectProblem(limited, 429, "ACCESS_REQUEST_RATE_LIMITED");
    expect(Number(limited.headers["retry-after"])).toBe(24 * 60 * 60 - 10 * 60);
  });
});
