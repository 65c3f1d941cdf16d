import { presets } from "@gatehouse/engine/presets";
import { asUser, systemActor } from "@gatehouse/service";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { deployer, studio } from "../../service/test/studio-model.ts";
import { backends, call, expectProblem, openServer, signUp, type TestServer } from "./harness.ts";

describe.each(backends)("workspace roles over HTTP on $name", (backend) => {
  let server: TestServer;

  beforeEach(async () => {
    server = await openServer(backend, { service: { models: { ...presets, studio } } });
  });
  afterEach(async () => {
    await server.close();
  });

  async function studioWorkspace() {
    const olivia = await signUp(server.app, "olivia");
    const ws = await server.gatehouse.workspaces.create(asUser(olivia.userId), {
      name: "Studio",
      preset: "studio",
    });
    await server.gatehouse.resources.upsert(systemActor(), ws.id, {
      resource: "site:shop",
      parent: `workspace:${ws.id}`,
    });
    return { olivia, ws: ws.id };
  }

  it("defines, lists in the matrix, changes and deletes a role", async () => {
    const { olivia, ws } = await studioWorkspace();
    const defined = await call(server.app, olivia, "POST", `/v1/workspaces/${ws}/roles`, deployer);
    expect(defined.statusCode).toBe(201);
    expect(defined.json().role).toEqual(deployer);
    expect(defined.headers["x-gatehouse-revision"]).toBe(String(defined.json().revision));

    const matrix = (await call(server.app, olivia, "GET", `/v1/workspaces/${ws}/roles`)).json();
    expect(matrix.workspaceRoles).toEqual({ allowed: true, mayDefine: true });
    expect(matrix.roles.at(-1)).toMatchObject({ name: "deployer", workspace: true });

    const changed = await call(server.app, olivia, "PATCH", `/v1/workspaces/${ws}/roles/deployer`, {
      permissions: ["site.view"],
    });
    expect(changed.statusCode).toBe(200);
    expect(changed.json().role.permissions).toEqual(["site.view"]);

    const dana = await signUp(server.app, "dana");
    await server.gatehouse.members.add(systemActor(), ws, {
      userId: dana.userId,
      grants: [{ role: "deployer", scope: "site:shop" }],
    });
    const check = await call(server.app, dana, "POST", `/v1/workspaces/${ws}/check`, {
      permission: "site.view",
      resource: "site:shop",
    });
    expect(check.json().allowed).toBe(true);

    expectProblem(
      await call(server.app, olivia, "DELETE", `/v1/workspaces/${ws}/roles/deployer`),
      409,
      "ROLE_IN_USE",
    );
    await call(server.app, olivia, "DELETE", `/v1/workspaces/${ws}/members/${dana.userId}`);
    const deleted = await call(server.app, olivia, "DELETE", `/v1/workspaces/${ws}/roles/deployer`);
    expect(deleted.statusCode).toBe(200);
    expectProblem(
      await call(server.app, olivia, "DELETE", `/v1/workspaces/${ws}/roles/deployer`),
      404,
      "ROLE_NOT_FOUND",
    );
  });

  it("answers the refusals with their codes", async () => {
    const { olivia, ws } = await studioWorkspace();
    const post = (session = olivia, body: unknown = deployer) =>
      call(server.app, session, "POST", `/v1/workspaces/${ws}/roles`, body);
    const ownerOnly = await post(olivia, {
      name: "payer",
      scopes: ["workspace"],
      permissions: ["billing.manage"],
    });
    expectProblem(ownerOnly, 400, "INVALID_INPUT");
    expect(JSON.stringify(ownerOnly.json())).toContain("owner-only");
    expectProblem(await post(olivia, { ...deployer, owner: true }), 400, "INVALID_INPUT");
    const mallory = await signUp(server.app, "mallory");
    expectProblem(await post(mallory), 404, "WORKSPACE_NOT_FOUND");

    // A preset keeps roles fixed.
    const company = await server.gatehouse.workspaces.create(asUser(olivia.userId), {
      name: "Company",
      preset: "company",
    });
    expectProblem(
      await call(server.app, olivia, "POST", `/v1/workspaces/${company.id}/roles`, {
        ...deployer,
        scopes: ["workspace"],
        permissions: [],
      }),
      403,
      "WORKSPACE_ROLES_DISABLED",
    );
  });
});
