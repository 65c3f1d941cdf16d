import { afterEach, beforeEach, describe, expect, it } from "vitest";
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

const NEW_PASSWORD = "a different long passphrase for ada";

/** The account page's API (#16): the caller's name, password, and signing out everywhere else. */
describe.each(backends)("the caller's account over HTTP on $name", (backend) => {
  let server: TestServer;

  beforeEach(async () => {
    server = await openServer(backend);
  });
  afterEach(async () => {
    await server.close();
  });

  const me = (session: Session) => call(server.app, session, "GET", "/v1/me");

  it("renames the caller, as their workspaces then show them", async () => {
    const ada = await signUp(server.app, "ada");
    const renamed = await call(server.app, ada, "PATCH", "/v1/me", { name: "  Ada Lovelace " });
    expect(renamed.statusCode).toBe(200);
    expect(renamed.json().user.name).toBe("Ada Lovelace");
    expect((await me(ada)).json().user.name).toBe("Ada Lovelace");
    const ws = (await me(ada)).json().workspaces[0].id as string;
    const members = await call(server.app, ada, "GET", `/v1/workspaces/${ws}/members`);
    expect(members.json().members[0].name).toBe("Ada Lovelace");
    expectProblem(
      await call(server.app, ada, "PATCH", "/v1/me", { name: "   " }),
      400,
      "INVALID_INPUT",
    );
    expect((await call(server.app, undefined, "PATCH", "/v1/me", { name: "Eve" })).statusCode).toBe(
      401,
    );
  });

  it("changes the password only with the current one, and ends every other session", async () => {
    const ada = await signUp(server.app, "ada");
    const laptop = await signIn(server.app, "ada@example.com");
    const change = (currentPassword: string, newPassword: string) =>
      call(server.app, ada, "PUT", "/v1/me/password", { currentPassword, newPassword });

    expectProblem(await change("not my password", NEW_PASSWORD), 401, "INVALID_CREDENTIALS");
    expectProblem(await change(PASSWORD, "password1234"), 400, "WEAK_PASSWORD");
    // Refusals change nothing: the laptop is still signed in, the old password still works.
    expect((await me(laptop)).statusCode).toBe(200);

    const changed = await change(PASSWORD, NEW_PASSWORD);
    expect(changed.statusCode).toBe(200);
    expect(changed.json()).toEqual({ sessionsEnded: 1 });
    expect((await me(ada)).statusCode).toBe(200);
    expect((await me(laptop)).statusCode).toBe(401);
    const login = (password: string) =>
      server.app.inject({
        method: "POST",
        url: "/v1/auth/login",
        payload: { email: "ada@example.com", password },
      });
    expect((await login(PASSWORD)).statusCode).toBe(401);
    expect((await login(NEW_PASSWORD)).statusCode).toBe(200);
  });

  it("signs out every other session, keeping this one", async () => {
    const ada = await signUp(server.app, "ada");
    const phone = await signIn(server.app, "ada@example.com");
    const laptop = await signIn(server.app, "ada@example.com");
    const ended = await call(server.app, ada, "DELETE", "/v1/me/sessions");
    expect(ended.statusCode).toBe(200);
    expect(ended.json()).toEqual({ sessionsEnded: 2 });
    expect((await me(ada)).statusCode).toBe(200);
    expect((await me(phone)).statusCode).toBe(401);
    expect((await me(laptop)).statusCode).toBe(401);
    const listed = await call(server.app, ada, "GET", "/v1/me/sessions");
    expect(listed.json().sessions).toHaveLength(1);
  });

  it("refuses an API key the password change and the sign-out of sessions", async () => {
    const ada = await signUp(server.app, "ada");
    const ws = (await me(ada)).json().workspaces[0].id as string;
    const created = await call(server.app, ada, "POST", `/v1/workspaces/${ws}/api-keys`, {
      name: "bot",
      scopes: ["*"],
    });
    expect(created.statusCode).toBe(201);
    const bot = {
      userId: ada.userId,
      headers: { authorization: `Bearer ${created.json().secret}` },
    };
    expectProblem(
      await call(server.app, bot, "PUT", "/v1/me/password", {
        currentPassword: PASSWORD,
        newPassword: NEW_PASSWORD,
      }),
      403,
      "PERMISSION_DENIED",
    );
    expectProblem(
      await call(server.app, bot, "DELETE", "/v1/me/sessions"),
      403,
      "PERMISSION_DENIED",
    );
    expect((await me(ada)).statusCode).toBe(200);
  });
});
