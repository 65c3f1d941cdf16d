import { asUser, systemActor } from "@gatehouse/service";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  backends,
  call,
  expectProblem,
  openServer,
  registerFleet,
  signUp,
  type TestServer,
} from "./harness.ts";

const HOUR = 3_600_000;

describe.each(backends)("just-in-time elevation over HTTP on $name (#18)", (backend) => {
  let server: TestServer;

  beforeEach(async () => {
    server = await openServer(backend);
  });
  afterEach(async () => {
    await server.close();
  });

  /** Olivia's MZPanel fleet; Cara the customer of site:a, Bea the customer of site:c. */
  async function fleet() {
    const olivia = await signUp(server.app, "olivia");
    const ws = (
      await server.gatehouse.workspaces.create(asUser(olivia.userId), {
        name: "Fleet",
        preset: "mzpanel",
      })
    ).id;
    await registerFleet(server.gatehouse, ws);
    const cara = await signUp(server.app, "cara");
    const bea = await signUp(server.app, "bea");
    for (const [person, scope] of [
      [cara, "site:a"],
      [bea, "site:c"],
    ] as const)
      await server.gatehouse.members.add(systemActor(), ws, {
        userId: person.userId,
        grants: [{ role: "customer", scope }],
      });
    return { olivia, cara, bea, ws };
  }

  it("sets, activates (seen in check and explain), lists and ends an elevation", async () => {
    const { olivia, cara, ws } = await fleet();
    const base = `/v1/workspaces/${ws}/eligibilities`;
    const set = await call(server.app, olivia, "POST", base, {
      subject: `user:${cara.userId}`,
      role: "operator",
      scope: "server:s1",
      maxDurationMs: HOUR,
    });
    expect(set.statusCode).toBe(201);
    const id = set.json().eligibility.id as string;
    expect(set.json().eligibility).toMatchObject({ role: "operator", active: null });

    const activated = await call(server.app, cara, "POST", `${base}/${id}/activate`, {
      durationMs: HOUR,
      reason: "restart the server",
    });
    expect(activated.statusCode).toBe(200);
    expect(activated.json().grant).toMatchObject({
      role: "operator",
      scope: "server:s1",
      expiresAt: server.clock.now + HOUR,
    });
    expect(activated.json().grant.note).toContain("restart the server");

    const check = await call(server.app, cara, "POST", `/v1/workspaces/${ws}/check`, {
      permission: "server.restart",
      resource: "server:s1",
    });
    expect(check.json()).toMatchObject({
      allowed: true,
      via: { note: expect.stringContaining("elevated until") },
    });
    const explained = await call(server.app, cara, "POST", `/v1/workspaces/${ws}/explain`, {
      permission: "server.restart",
      resource: "server:s1",
    });
    expect(explained.json().summary).toContain(`(eligibility ${id})`);

    const listed = await call(server.app, cara, "GET", base);
    expect(listed.json().eligibilities).toEqual([
      expect.objectContaining({
        id,
        active: expect.objectContaining({ until: server.clock.now + HOUR }),
      }),
    ]);

    const ended = await call(server.app, cara, "POST", `${base}/${id}/deactivate`);
    expect(ended.statusCode).toBe(200);
    expectProblem(
      await call(server.app, cara, "POST", `${base}/${id}/deactivate`),
      404,
      "NOT_FOUND",
    );
    const after = await call(server.app, cara, "POST", `/v1/workspaces/${ws}/check`, {
      permission: "server.restart",
      resource: "server:s1",
    });
    expect(after.json().allowed).toBe(false);
    expect((await call(server.app, olivia, "DELETE", `${base}/${id}`)).statusCode).toBe(200);
    expect((await call(server.app, cara, "GET", base)).json().eligibilities).toEqual([]);
  });

  it("answers 404 for what is out of reach, identical to nonexistent", async () => {
    const { olivia, cara, bea, ws } = await fleet();
    const base = `/v1/workspaces/${ws}/eligibilities`;
    const id = (
      await call(server.app, olivia, "POST", base, {
        subject: `user:${cara.userId}`,
        role: "operator",
        scope: "server:s1",
        maxDurationMs: HOUR,
      })
    ).json().eligibility.id as string;
    const activate = { durationMs: HOUR, reason: "mine now" };
    for (const target of [id, "el_nonexistent"]) {
      expectProblem(
        await call(server.app, bea, "POST", `${base}/${target}/activate`, activate),
        404,
        "NOT_FOUND",
      );
      expectProblem(
        await call(server.app, bea, "POST", `${base}/${target}/deactivate`),
        404,
        "NOT_FOUND",
      );
      expectProblem(await call(server.app, bea, "DELETE", `${base}/${target}`), 404, "NOT_FOUND");
    }
    expect((await call(server.app, bea, "GET", base)).json().eligibilities).toEqual([]);
    // Bea cannot name a scope she does not reach, and Cara may not set her own.
    expectProblem(
      await call(server.app, bea, "POST", base, {
        subject: `user:${bea.userId}`,
        role: "operator",
        scope: "server:s1",
        maxDurationMs: HOUR,
      }),
      404,
      "RESOURCE_NOT_FOUND",
    );
    expectProblem(
      await call(server.app, cara, "POST", base, {
        subject: `user:${cara.userId}`,
        role: "customer",
        scope: "site:a",
        maxDurationMs: HOUR,
      }),
      403,
      "PERMISSION_DENIED",
    );
    // Nobody writes a note by hand: the grants route refuses the field (no mass assignment).
    expectProblem(
      await call(server.app, olivia, "POST", `/v1/workspaces/${ws}/grants`, {
        subject: `user:${bea.userId}`,
        role: "operator",
        scope: "server:s2",
        note: "elevated until forever",
      }),
      400,
      "INVALID_INPUT",
    );
    // Longer than allowed, or with unknown fields: bad input.
    expectProblem(
      await call(server.app, cara, "POST", `${base}/${id}/activate`, {
        ...activate,
        durationMs: 2 * HOUR,
      }),
      400,
      "INVALID_INPUT",
    );
    expectProblem(
      await call(server.app, cara, "POST", `${base}/${id}/activate`, {
        ...activate,
        role: "admin",
      }),
      400,
      "INVALID_INPUT",
    );
  });
});
