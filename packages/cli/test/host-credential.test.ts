import { buildApp, loadConfig } from "@gatehouse/server";
import { afterEach, describe, expect, it, vi } from "vitest";
import { type CliDatabase, cliBackends, gatehouse } from "./harness.ts";

// Each test spawns the CLI a few times (up to seconds each on a busy machine).
vi.setConfig({ testTimeout: 90_000 });

const SECRET = /^ghh_[A-Za-z0-9_-]{8}_[A-Za-z0-9_-]{43}$/;

describe.each(cliBackends)("gatehouse host-credential on $name", (backend) => {
  let database: CliDatabase;
  afterEach(async () => {
    await database.drop();
  });

  /** The HTTP API over the CLI's database, in this process; answers the status of `PUT /v1/users/42`. */
  async function provisionWith(secret: string): Promise<{ status: number; code?: string }> {
    const service = await database.open();
    const app = await buildApp({
      gatehouse: service,
      config: loadConfig({ DEMO: "false" }),
      logger: false,
    });
    try {
      const response = await app.inject({
        method: "PUT",
        url: "/v1/users/42",
        headers: { authorization: `Bearer ${secret}` },
        payload: { email: "ada@example.com", name: "Ada" },
      });
      return { status: response.statusCode, code: response.json().code };
    } finally {
      await app.close();
      await service.close();
    }
  }

  it("creates a credential that works over HTTP, lists it without its secret, and revokes it", async () => {
    database = backend.create();
    expect((await gatehouse(["migrate"], { env: database.env })).code).toBe(0);
    const created = await gatehouse(["host-credential", "create", "--name", "billing-panel"], {
      env: database.env,
    });
    expect(created.code).toBe(0);
    const secret = created.stdout.trim();
    expect(secret).toMatch(SECRET);
    expect(created.stderr).toContain('Created host credential "billing-panel"');
    expect(created.stderr).not.toContain(secret);

    expect(await provisionWith(secret)).toEqual({ status: 201 });

    const listed = await gatehouse(["host-credential", "list", "--json"], { env: database.env });
    expect(listed.code).toBe(0);
    expect(listed.stdout).not.toContain(secret.slice(14));
    expect(JSON.parse(listed.stdout).credentials).toEqual([
      expect.objectContaining({
        name: "billing-panel",
        prefix: secret.slice(0, 12),
        status: "active",
        workspaces: null,
      }),
    ]);

    const revoked = await gatehouse(["host-credential", "revoke", "billing-panel"], {
      env: database.env,
    });
    expect(revoked.code).toBe(0);
    expect(revoked.stdout).toContain('Revoked host credential "billing-panel"');
    expect(await provisionWith(secret)).toEqual({ status: 401, code: "INVALID_CREDENTIALS" });
    const table = await gatehouse(["host-credential", "list"], { env: database.env });
    expect(table.stdout).toMatch(/billing-panel\s+hcr_\S+\s+ghh_\S+\s+revoked\s+all/);
  });

  it("refuses a bad name, an unknown workspace and an unknown credential with exit 1 and a code", async () => {
    database = backend.create();
    expect((await gatehouse(["migrate"], { env: database.env })).code).toBe(0);
    const [badName, unknownWorkspace, unknownCredential] = [
      await gatehouse(["host-credential", "create", "--name", "no spaces"], { env: database.env }),
      await gatehouse(
        ["host-credential", "create", "--name", "reseller", "--workspace", "ws_missing"],
        { env: database.env },
      ),
      await gatehouse(["host-credential", "revoke", "nobody"], { env: database.env }),
    ];
    expect(badName.code).toBe(1);
    expect(badName.stderr).toContain("[INVALID_INPUT]");
    expect(unknownWorkspace.code).toBe(1);
    expect(unknownWorkspace.stderr).toContain("[WORKSPACE_NOT_FOUND]");
    expect(unknownCredential.code).toBe(1);
    expect(unknownCredential.stderr).toContain("[HOST_CREDENTIAL_NOT_FOUND]");
    const listed = await gatehouse(["host-credential", "list"], { env: database.env });
    expect(listed.stdout.trim()).toBe("No host credentials.");
  });
});
