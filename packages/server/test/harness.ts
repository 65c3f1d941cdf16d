import { type Gatehouse, systemActor } from "@gatehouse/service";
import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from "fastify";
import { expect } from "vitest";
import { type Backend, openService, PASSWORD } from "../../service/test/backends.ts";
import { buildApp } from "../src/app.ts";
import { loadConfig } from "../src/config.ts";
import { createMailer, type Mailer } from "../src/mail/mailer.ts";
import { signInMail } from "../src/mail/sign-in-mail.ts";

export { backends, PASSWORD } from "../../service/test/backends.ts";

export interface TestServer {
  readonly app: FastifyInstance;
  readonly gatehouse: Gatehouse;
  readonly clock: { now: number };
  readonly mailer: Mailer;
  close(): Promise<void>;
}

/** The service behind each test server's app, for helpers that are given the app only. */
const services = new WeakMap<FastifyInstance, Gatehouse>();
/** The newest sign-up link token per address, per test server's app. */
const signUpLinks = new WeakMap<FastifyInstance, Map<string, string>>();

/** A server over a fresh database of `backend`, with the development outbox and a test clock. */
export async function openServer(
  backend: Backend,
  options: {
    mailer?: Mailer;
    env?: Record<string, string>;
    service?: Partial<Omit<Parameters<typeof openService>[1], "storage">>;
    consoleDir?: string;
    /**
     * Whether sign-up links also go to the mailer; by default the harness only keeps them (for
     * `signUp`), so the outbox holds what a test itself causes.
     */
    mailSignUpLinks?: boolean;
  } = {},
): Promise<TestServer> {
  // Suites fire thousands of requests as one person: the rate limit is tested on its own.
  const config = loadConfig({
    DEMO: "false",
    RATE_LIMIT: "10000000",
    RATE_LIMIT_HOST: "10000000",
    ...options.env,
  });
  const mailer =
    options.mailer ??
    createMailer({ smtpUrl: undefined, from: "Gatehouse <test@localhost>", log: () => undefined });
  const links = new Map<string, string>();
  const port = signInMail(mailer, config);
  const { gatehouse, clock } = await openService(backend, {
    secretKey: "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff",
    issuer: config.publicUrl,
    signInMail: {
      ...port,
      async sendSignUpLink(to, link) {
        links.set(to, link.token);
        if (options.mailSignUpLinks === true) await port.sendSignUpLink(to, link);
      },
    },
    // Every test request comes from the loopback address: sign-ups are not limited per address.
    signUpLimits: { perIp: 10_000 },
    ...options.service,
  });
  const app = await buildApp({
    gatehouse,
    config,
    logger: false,
    mailer,
    consoleDir: options.consoleDir,
  });
  services.set(app, gatehouse);
  signUpLinks.set(app, links);
  return {
    app,
    gatehouse,
    clock,
    mailer,
    async close() {
      await app.close();
      await gatehouse.close();
    },
  };
}

/** Headers that authenticate as a signed-in person: the session cookie plus the CSRF echo. */
export interface Session {
  readonly userId: string;
  readonly headers: Record<string, string>;
}

/** Signs in through POST /v1/auth/login and returns the headers to send as that person. */
export async function signIn(
  app: FastifyInstance,
  email: string,
  password = PASSWORD,
): Promise<Session> {
  const response = await app.inject({
    method: "POST",
    url: "/v1/auth/login",
    payload: { email, password },
  });
  if (response.statusCode !== 200)
    throw new Error(`sign-in of ${email} failed: ${response.statusCode} ${response.body}`);
  return sessionOf(response);
}

/** The session a sign-in answer started: its cookie and CSRF echo. */
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

/** The token of the newest link mailed to `to` with this subject, from the development outbox. */
export async function mailedToken(
  app: FastifyInstance,
  to: string,
  subject: string,
): Promise<string> {
  await services.get(app)?.mailSettled();
  const mail = app.mailer.outbox?.findLast(
    (candidate) => candidate.to === to && candidate.subject === subject,
  );
  const token = mail?.text.match(/#(ghm_[A-Za-z0-9_-]{43})/)?.[1];
  if (token === undefined) throw new Error(`no "${subject}" mail to ${to}`);
  return token;
}

/** The newest sign-up link the server made for `email` (kept by the harness, mailed or not). */
export async function signUpLinkOf(app: FastifyInstance, email: string): Promise<string> {
  await services.get(app)?.mailSettled();
  const token = signUpLinks.get(app)?.get(email);
  if (token === undefined) throw new Error(`no sign-up link for ${email}`);
  return token;
}

/**
 * Signs up `name@example.com` through the API: asks for the account, then follows the sign-up
 * link the server sent with the password ({@link PASSWORD}), which creates the account and signs in.
 */
export async function signUp(app: FastifyInstance, name: string): Promise<Session> {
  const email = `${name}@example.com`;
  const response = await app.inject({
    method: "POST",
    url: "/v1/auth/signup",
    payload: { email, name },
  });
  if (response.statusCode !== 202)
    throw new Error(`sign-up of ${name} failed: ${response.statusCode} ${response.body}`);
  const token = await signUpLinkOf(app, email);
  const confirmed = await app.inject({
    method: "POST",
    url: "/v1/auth/magic-link/consume",
    payload: { token, password: PASSWORD },
  });
  if (confirmed.statusCode !== 200)
    throw new Error(
      `confirming ${name}'s sign-up failed: ${confirmed.statusCode} ${confirmed.body}`,
    );
  return sessionOf(confirmed);
}

/** `app.inject` as a session (or anonymously without one). */
export function call(
  app: FastifyInstance,
  session: Session | undefined,
  method: NonNullable<InjectOptions["method"]>,
  url: string,
  payload?: unknown,
): Promise<LightMyRequestResponse> {
  const options: InjectOptions = { method, url, headers: session?.headers ?? {} };
  if (payload !== undefined) options.payload = payload as NonNullable<InjectOptions["payload"]>;
  return app.inject(options);
}

/** A fresh host credential of the host application, as headers to call with. */
export async function hostCaller(gatehouse: Gatehouse): Promise<Session> {
  const { secret } = await gatehouse.hostCredentials.create(systemActor("cli"), {
    name: "host-app",
  });
  return { userId: "", headers: { authorization: `Bearer ${secret}` } };
}

/** Asserts a problem+json answer with this status and stable code. */
export function expectProblem(
  response: LightMyRequestResponse,
  status: number,
  code: string,
): void {
  expect({ status: response.statusCode, code: response.json().code }).toEqual({ status, code });
  expect(response.headers["content-type"]).toMatch(/^application\/problem\+json/);
}

/**
 * The small MZPanel fleet several suites share, registered by the host app one resource at a
 * time: server s1 with sites a and b, server s2 with site c.
 */
export async function registerFleet(gatehouse: Gatehouse, ws: string): Promise<void> {
  const host = systemActor();
  for (const [resource, parent] of [
    ["server:s1", `workspace:${ws}`],
    ["site:a", "server:s1"],
    ["site:b", "server:s1"],
    ["server:s2", `workspace:${ws}`],
    ["site:c", "server:s2"],
  ] as const) {
    await gatehouse.resources.upsert(host, ws, { resource, parent });
  }
}
