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

/** A server over a fresh database of `backend`, with the development outbox and a test clock. */
export async function openServer(
  backend: Backend,
  options: {
    mailer?: Mailer;
    env?: Record<string, string>;
    service?: Partial<Omit<Parameters<typeof openService>[1], "storage">>;
    consoleDir?: string;
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
  const { gatehouse, clock } = await openService(backend, {
    secretKey: "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff",
    issuer: config.publicUrl,
    signInMail: signInMail(mailer, config),
    ...options.service,
  });
  const app = await buildApp({
    gatehouse,
    config,
    logger: false,
    mailer,
    consoleDir: options.consoleDir,
  });
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

/** Signs up `name@example.com` through the API and signs in. */
export async function signUp(app: FastifyInstance, name: string): Promise<Session> {
  const response = await app.inject({
    method: "POST",
    url: "/v1/auth/signup",
    payload: { email: `${name}@example.com`, password: PASSWORD, name },
  });
  if (response.statusCode !== 201)
    throw new Error(`sign-up of ${name} failed: ${response.statusCode} ${response.body}`);
  return signIn(app, `${name}@example.com`);
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
