import { asUser, systemActor } from "@gatehouse/service";
import { afterEach, describe, expect, it } from "vitest";
import {
  backends,
  call,
  expectProblem,
  hostCaller,
  openServer,
  signUp,
  type TestServer,
} from "./harness.ts";

describe.each(backends)("support access over HTTP on $name", (backend) => {
  let server: TestServer;

  afterEach(async () => {
    await server.close();
  });

  it("the host asks with its credential, the owner approves and revokes; members may not ask", async () => {
    server = await openServer(backend);
    const olivia = await signUp(server.app, "olivia");
    const carla = await signUp(server.app, "carla");
    const ws = (
      await server.gatehouse.workspaces.create(asUser(olivia.userId), {
        name: "Agency",
        preset: "hosting-customer",
      })
    ).id;
    for (const [resource, parent] of [
      ["customer:c1", `workspace:${ws}`],
      ["hosting:c1-web", "customer:c1"],
    ] as const) {
      await server.gatehouse.resources.upsert(systemActor(), ws, { resource, parent });
    }
    await server.gatehouse.members.add(systemActor(), ws, {
      userId: carla.userId,
      grants: [{ role: "customer_domain", scope: "customer:c1" }],
    });
    const host = await hostCaller(server.gatehouse);
    const provisioned = await call(server.app, host, "PUT", "/v1/users/support-7", {
      email: "sam@host.example",
      name: "Sam from Support",
    });
    expect(provisioned.statusCode).toBeLessThan(300);
    const sam = "support-7";
    const body = {
      userId: sam,
      role: "hosting_admin",
      scope: "hosting:c1-web",
      reason: "Ticket 4711",
      durationMinutes: 60,
    };
    const url = `/v1/workspaces/${ws}/support-requests`;

    // A member, even the owner, may not ask for support access: 404 as for a workspace out of reach.
    expectProblem(await call(server.app, olivia, "POST", url, body), 404, "WORKSPACE_NOT_FOUND");
    expectProblem(await call(server.app, carla, "POST", url, body), 404, "WORKSPACE_NOT_FOUND");
    expectProblem(
      await call(server.app, host, "POST", `/v1/workspaces/nothing/support-requests`, body),
      404,
      "WORKSPACE_NOT_FOUND",
    );

    const asked = await call(server.app, host, "POST", url, body);
    expect(asked.statusCode).toBe(201);
    const id = asked.json().request.id as string;
    expect(asked.json().request).toMatchObject({
      userId: sam,
      status: "pending",
      requestedBy: expect.stringMatching(/^system:/),
    });
    // Carla may not give that role there: the request is out of her reach.
    expectProblem(
      await call(
        server.app,
        carla,
        "POST",
        `/v1/workspaces/${ws}/access-requests/${id}/approve`,
        {},
      ),
      404,
      "ACCESS_REQUEST_NOT_FOUND",
    );
    const approved = await call(
      server.app,
      olivia,
      "POST",
      `/v1/workspaces/${ws}/access-requests/${id}/approve`,
      { durationMinutes: 30 },
    );
    expect(approved.statusCode).toBe(200);
    expect(approved.json().request.status).toBe("approved");
    // The host asks, for Sam, what Sam may do now.
    const check = await call(server.app, host, "POST", `/v1/workspaces/${ws}/check`, {
      subject: `user:${sam}`,
      permission: "hosting.mail.accounts.manage",
      resource: "hosting:c1-web",
    });
    expect(check.json().allowed).toBe(true);

    expectProblem(
      await call(server.app, carla, "POST", `/v1/workspaces/${ws}/access-requests/${id}/revoke`),
      404,
      "ACCESS_REQUEST_NOT_FOUND",
    );
    const revoked = await call(
      server.app,
      olivia,
      "POST",
      `/v1/workspaces/${ws}/access-requests/${id}/revoke`,
    );
    expect(revoked.statusCode).toBe(200);
    expect(revoked.json().request.status).toBe("revoked");
    const after = await call(server.app, host, "POST", `/v1/workspaces/${ws}/check`, {
      subject: `user:${sam}`,
      permission: "hosting.mail.accounts.manage",
      resource: "hosting:c1-web",
    });
    expect(after.json().allowed).toBe(false);
    expectProblem(
      await call(server.app, olivia, "POST", `/v1/workspaces/${ws}/access-requests/${id}/revoke`),
      409,
      "ACCESS_REQUEST_DECIDED",
    );
    // The customer's activity log shows the support session's steps.
    const log = await call(
      server.app,
      olivia,
      "GET",
      `/v1/workspaces/${ws}/audit?action=support_access.*`,
    );
    expect(log.json().entries.map((entry: { action: string }) => entry.action)).toEqual([
      "support_access.revoke",
      "support_access.approve",
      "support_access.request",
    ]);
  });
});
