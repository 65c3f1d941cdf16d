import { systemActor } from "@gatehouse/service";
import type { LightMyRequestResponse } from "fastify";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../src/config.ts";
import { backends, call, openServer, type TestServer } from "./harness.ts";
import {
  OIDC_CLIENT_ID,
  OIDC_CLIENT_SECRET,
  startTestProvider,
  type TestProvider,
} from "./support/oidc-provider.ts";

const CALLBACK = "http://localhost:8080/v1/auth/oidc/callback";

function problemsOf(env: Record<string, string>): readonly string[] {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  return [];
}

describe("OpenID Connect configuration", () => {
  it("is off without OIDC_ISSUER, and names every bad OIDC_* setting", () => {
    expect(loadConfig({}).oidc).toBeUndefined();
    expect(problemsOf({ OIDC_CLIENT_ID: "x" })).toEqual([
      "OIDC_CLIENT_ID applies to OpenID Connect: set OIDC_ISSUER too",
    ]);
    expect(
      problemsOf({
        OIDC_ISSUER: "http://id.example.com",
        OIDC_REDIRECT_URL: "https://panel.example/callback",
        OIDC_SCOPES: "email profile",
        OIDC_SUBJECT_CLAIM: "a claim",
      }),
    ).toEqual([
      "OIDC_ISSUER must be an https:// URL (plain http only on localhost)",
      "OIDC_CLIENT_ID is required with OIDC_ISSUER: the client registered for Gatehouse",
      "OIDC_REDIRECT_URL must end in /v1/auth/oidc/callback (Gatehouse's callback)",
      'OIDC_SUBJECT_CLAIM is a claim\'s name, not "a claim"',
      "OIDC_SCOPES must include openid (the ID token carries the user's id)",
    ]);
  });

  it("derives the callback from PUBLIC_URL and the button's name from the issuer", () => {
    const config = loadConfig({
      PUBLIC_URL: "https://gatehouse.panel.example/",
      OIDC_ISSUER: "https://id.panel.example/realms/customers",
      OIDC_CLIENT_ID: "gatehouse",
      OIDC_SUBJECT_CLAIM: "panel_user_id",
      OIDC_SCOPES: "openid,profile",
    });
    expect(config.oidc).toEqual({
      issuer: "https://id.panel.example/realms/customers",
      clientId: "gatehouse",
      clientSecret: undefined,
      redirectUrl: "https://gatehouse.panel.example/v1/auth/oidc/callback",
      subjectClaim: "panel_user_id",
      scopes: "openid profile",
      name: "id.panel.example",
      allowHttp: false,
    });
  });
});

/** A minimal browser: a cookie jar for the provider, redirects followed by hand. */
class ProviderBrowser {
  readonly #cookies = new Map<string, string>();

  async #fetch(url: string, init: RequestInit = {}): Promise<Response> {
    const response = await fetch(url, {
      ...init,
      redirect: "manual",
      headers: {
        ...(init.headers as Record<string, string>),
        cookie: [...this.#cookies].map(([name, value]) => `${name}=${value}`).join("; "),
      },
    });
    for (const line of response.headers.getSetCookie()) {
      const [pair] = line.split(";");
      const at = pair!.indexOf("=");
      this.#cookies.set(pair!.slice(0, at), pair!.slice(at + 1));
    }
    return response;
  }

  /**
   * Signs in at the provider as `login` from its authorization URL, consenting where asked, and
   * answers where the provider sends the browser back (Gatehouse's callback with the code).
   */
  async signIn(authorizationUrl: string, login: string): Promise<URL> {
    let url = authorizationUrl;
    for (let step = 0; step < 10; step += 1) {
      if (url.startsWith(CALLBACK)) return new URL(url);
      const page = await this.#fetch(url);
      const location = page.headers.get("location");
      if (location !== null) {
        url = new URL(location, url).href;
        continue;
      }
      const html = await page.text();
      const prompt = /name="prompt" value="(\w+)"/.exec(html)?.[1];
      if (prompt === undefined) throw new Error(`unexpected page at ${url}: ${page.status}`);
      const form = new URLSearchParams({ prompt, login, password: "anything" });
      const submitted = await this.#fetch(url, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: form.toString(),
      });
      url = new URL(submitted.headers.get("location")!, url).href;
    }
    throw new Error("the provider never sent the browser back");
  }
}

function cookieHeader(response: LightMyRequestResponse): string {
  return response.cookies.map((cookie) => `${cookie.name}=${cookie.value}`).join("; ");
}

describe.each(backends)("OpenID Connect sign-in on $name", (backend) => {
  let provider: TestProvider;
  let server: TestServer;

  beforeAll(async () => {
    provider = await startTestProvider(() => CALLBACK);
  });
  afterAll(async () => {
    await provider.close();
  });
  beforeEach(async () => {
    provider.available = true;
    server = await openServer(backend, {
      env: { OIDC_ISSUER: provider.issuer, OIDC_CLIENT_ID, OIDC_CLIENT_SECRET },
    });
    const host = systemActor("cli");
    await server.gatehouse.hostUsers.put(host, "42", { email: "user42@example.com", name: "Ida" });
  });
  afterEach(async () => {
    await server.close();
  });

  /** The browser's first leg: Gatehouse's start route, then the provider. */
  async function start(query = ""): Promise<{ flowCookie: string; authorizationUrl: URL }> {
    const started = await server.app.inject({
      method: "GET",
      url: `/v1/auth/oidc/start${query}`,
    });
    expect(started.statusCode).toBe(303);
    expect(started.headers["cache-control"]).toBe("no-store");
    const flow = started.cookies.find((cookie) => cookie.name === "gatehouse_oidc");
    expect(flow).toMatchObject({ httpOnly: true, sameSite: "Lax", path: "/v1/auth/oidc" });
    return {
      flowCookie: cookieHeader(started),
      authorizationUrl: new URL(String(started.headers.location)),
    };
  }

  function callback(url: URL, cookie: string) {
    return server.app.inject({
      method: "GET",
      url: `${url.pathname}${url.search}`,
      headers: cookie === "" ? {} : { cookie },
    });
  }

  it("offers the provider to sign-in pages", async () => {
    const methods = await call(server.app, undefined, "GET", "/v1/auth/methods");
    expect(methods.json()).toEqual({
      oidc: { name: "127.0.0.1", startUrl: "/v1/auth/oidc/start" },
    });
  });

  it("asks for a code with PKCE, state and nonce, and signs the provisioned user in once", async () => {
    const { flowCookie, authorizationUrl } = await start();
    expect(authorizationUrl.origin).toBe(provider.issuer);
    const asked = authorizationUrl.searchParams;
    expect({
      client: asked.get("client_id"),
      type: asked.get("response_type"),
      method: asked.get("code_challenge_method"),
      redirect: asked.get("redirect_uri"),
      scope: asked.get("scope"),
    }).toEqual({
      client: OIDC_CLIENT_ID,
      type: "code",
      method: "S256",
      redirect: CALLBACK,
      scope: "openid",
    });
    expect(asked.get("state")?.length).toBeGreaterThanOrEqual(43);
    expect(asked.get("nonce")?.length).toBeGreaterThanOrEqual(43);

    const back = await new ProviderBrowser().signIn(authorizationUrl.href, "42");
    const landed = await callback(back, flowCookie);
    expect(landed.statusCode).toBe(303);
    const location = String(landed.headers.location);
    expect(location).toMatch(/^\/sign-in\/magic#ghm_[A-Za-z0-9_-]{43}$/);
    // The flow is spent: its cookie is cleared.
    expect(landed.cookies).toContainEqual(
      expect.objectContaining({ name: "gatehouse_oidc", value: "" }),
    );

    const token = location.split("#")[1];
    const consumed = await call(server.app, undefined, "POST", "/v1/auth/magic-link/consume", {
      token,
    });
    expect(consumed.statusCode).toBe(200);
    expect(consumed.json().user).toMatchObject({ id: "42", email: "user42@example.com" });
    const twice = await call(server.app, undefined, "POST", "/v1/auth/magic-link/consume", {
      token,
    });
    expect(twice.statusCode).toBe(401);
    // The same code again (a replayed callback) signs nobody in.
    const replayed = await callback(back, flowCookie);
    expect(replayed.headers.location).toBe("/sign-in?oidc=failed");

    const log = await server.gatehouse.storage.db
      .selectFrom("instance_log")
      .select(["action", "actor", "details"])
      .where("action", "=", "user.oidc_sign_in")
      .execute();
    expect(log).toHaveLength(1);
    expect(log[0]!.actor).toBe("user:42");
    expect(JSON.parse(String(log[0]!.details))).toMatchObject({
      userId: "42",
      issuer: provider.issuer,
    });
  });

  it("returns to the console page the sign-in began from, and only to a page of the console", async () => {
    const next = "/w/ws_1/team?q=ida";
    const { flowCookie, authorizationUrl } = await start(`?next=${encodeURIComponent(next)}`);
    const back = await new ProviderBrowser().signIn(authorizationUrl.href, "42");
    const landed = await callback(back, flowCookie);
    expect(String(landed.headers.location)).toMatch(/^\/sign-in\/magic\?next=[^#]+#ghm_/);
    expect(new URL(String(landed.headers.location), "http://x").searchParams.get("next")).toBe(
      next,
    );
    // A refusal keeps where the sign-in began, for the next try.
    const stranger = await start(`?next=${encodeURIComponent(next)}`);
    const refused = await callback(
      await new ProviderBrowser().signIn(stranger.authorizationUrl.href, "stranger"),
      stranger.flowCookie,
    );
    expect(refused.headers.location).toBe(
      `/sign-in?oidc=unknown-user&next=${encodeURIComponent(next)}`,
    );
    // Anything but a path of this console returns to "/".
    for (const elsewhere of [
      "https://evil.example/",
      "//evil.example/",
      "/\\evil.example",
      "team",
      "/a b",
    ]) {
      const other = await start(`?next=${encodeURIComponent(elsewhere)}`);
      const done = await callback(
        await new ProviderBrowser().signIn(other.authorizationUrl.href, "42"),
        other.flowCookie,
      );
      expect(String(done.headers.location)).toMatch(/^\/sign-in\/magic#ghm_/);
    }
  });

  it("refuses a subject the host never provisioned, creating no account", async () => {
    const { flowCookie, authorizationUrl } = await start();
    const back = await new ProviderBrowser().signIn(authorizationUrl.href, "stranger");
    const landed = await callback(back, flowCookie);
    expect(landed.headers.location).toBe("/sign-in?oidc=unknown-user");
    const users = await server.gatehouse.storage.db
      .selectFrom("users")
      .select("id")
      .where("id", "=", "stranger")
      .execute();
    expect(users).toEqual([]);
    expect(
      await server.gatehouse.storage.db.selectFrom("magic_links").selectAll().execute(),
    ).toEqual([]);
  });

  it("refuses a callback without its flow cookie or with another sign-in's state", async () => {
    const first = await start();
    const second = await start();
    const back = await new ProviderBrowser().signIn(first.authorizationUrl.href, "42");
    expect((await callback(back, "")).headers.location).toBe("/sign-in?oidc=failed");
    // The code of the first sign-in, arriving with the second one's cookie (login CSRF).
    expect((await callback(back, second.flowCookie)).headers.location).toBe("/sign-in?oidc=failed");
    expect(
      await server.gatehouse.storage.db.selectFrom("magic_links").selectAll().execute(),
    ).toEqual([]);
  });

  it("refuses an error the provider sends back", async () => {
    const { flowCookie, authorizationUrl } = await start();
    const state = authorizationUrl.searchParams.get("state")!;
    const denied = new URL(CALLBACK);
    denied.search = new URLSearchParams({
      error: "access_denied",
      state,
      iss: provider.issuer,
    }).toString();
    expect((await callback(denied, flowCookie)).headers.location).toBe("/sign-in?oidc=failed");
  });

  it("maps another claim to the host's user id, read from userinfo when the ID token lacks it", async () => {
    await server.close();
    server = await openServer(backend, {
      env: {
        OIDC_ISSUER: provider.issuer,
        OIDC_CLIENT_ID,
        OIDC_CLIENT_SECRET,
        OIDC_SUBJECT_CLAIM: "panel_user_id",
        OIDC_SCOPES: "openid panel",
      },
    });
    const host = systemActor("cli");
    await server.gatehouse.hostUsers.put(host, "acme-9", { email: "nine@example.com", name: "N" });
    // Provider login "9" is the panel's user acme-9; provider login "acme-9" is nobody here.
    const { flowCookie, authorizationUrl } = await start();
    expect(authorizationUrl.searchParams.get("scope")).toBe("openid panel");
    const back = await new ProviderBrowser().signIn(authorizationUrl.href, "9");
    const landed = await callback(back, flowCookie);
    const token = String(landed.headers.location).split("#")[1];
    const consumed = await call(server.app, undefined, "POST", "/v1/auth/magic-link/consume", {
      token,
    });
    expect(consumed.json().user).toMatchObject({ id: "acme-9", email: "nine@example.com" });
    const other = await start();
    const stranger = await new ProviderBrowser().signIn(other.authorizationUrl.href, "acme-9");
    expect((await callback(stranger, other.flowCookie)).headers.location).toBe(
      "/sign-in?oidc=unknown-user",
    );
  });

  it("starts while the provider is down and discovers it at a later sign-in", async () => {
    await server.close();
    provider.available = false;
    server = await openServer(backend, {
      env: { OIDC_ISSUER: provider.issuer, OIDC_CLIENT_ID, OIDC_CLIENT_SECRET },
    });
    const down = await server.app.inject({ method: "GET", url: "/v1/auth/oidc/start" });
    expect(down.headers.location).toBe("/sign-in?oidc=unavailable");
    expect(down.cookies).toEqual([]);
    provider.available = true;
    const { authorizationUrl } = await start();
    expect(authorizationUrl.origin).toBe(provider.issuer);
  });
});

describe("without OpenID Connect configured", () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await openServer(backends[0]!);
  });
  afterAll(async () => {
    await server.close();
  });

  it("offers no provider and has no OIDC routes", async () => {
    const methods = await call(server.app, undefined, "GET", "/v1/auth/methods");
    expect(methods.json()).toEqual({ oidc: null });
    const started = await call(server.app, undefined, "GET", "/v1/auth/oidc/start");
    expect(started.statusCode).toBe(404);
  });
});
