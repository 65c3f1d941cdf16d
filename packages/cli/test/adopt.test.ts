import type { ChildProcess } from "node:child_process";
import { join } from "node:path";
import { describe, expect, it, vi } from "vitest";
import { CLI, type CliDatabase, cliBackends, gatehouse, ROOT, startCommand } from "./harness.ts";

vi.setConfig({ testTimeout: 120_000 });

const RESELLER_FILE = join(ROOT, "docs/examples/models/reseller.json");

async function stop(child: ChildProcess): Promise<number | null> {
  const exited = new Promise<number | null>((resolve) =>
    child.once("exit", (code) => resolve(code)),
  );
  child.kill("SIGTERM");
  return exited;
}

/**
 * A panel adopting Gatehouse as its builder would, entirely over the network: its own model (none
 * of the presets) served by `gatehouse serve`, a host credential made with the CLI, its tree synced,
 * its users provisioned by its own ids, roles granted, and checks with its own user ids.
 */
describe.each(cliBackends)("a panel adopts Gatehouse over HTTP on $name", (backend) => {
  it("serves its own model, and its host credential syncs, provisions, grants and checks by the panel's ids", async () => {
    const database: CliDatabase = backend.create();
    const env = { ...database.env, MODELS: RESELLER_FILE, PERSONAL_WORKSPACE_MODEL: "none" };
    let server: ChildProcess | undefined;
    try {
      expect((await gatehouse(["migrate"], { env })).code).toBe(0);
      const created = await gatehouse(["host-credential", "create", "--name", "reseller-panel"], {
        env,
      });
      expect(created.code, created.stderr).toBe(0);
      const secret = created.stdout.trim();
      const started = await startCommand(
        [...CLI, "serve", "--port", "0", "--host", "127.0.0.1", "--no-demo"],
        { env: { ...env, LOG_LEVEL: "silent" }, ready: /listening on 127\.0\.0\.1:(\d+)/ },
      );
      server = started.child;
      const base = `http://127.0.0.1:${started.match[1]}`;
      const call = async (method: string, path: string, body?: unknown) => {
        const response = await fetch(`${base}${path}`, {
          method,
          headers: {
            authorization: `Bearer ${secret}`,
            ...(body === undefined ? {} : { "content-type": "application/json" }),
          },
          ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        });
        return {
          status: response.status,
          body: (await response.json()) as Record<string, unknown>,
        };
      };

      const presets = await call("GET", "/v1/presets");
      expect(presets.body["presets"]).toContainEqual(expect.objectContaining({ name: "reseller" }));

      // The panel's users, by the panel's own ids.
      for (const [id, name] of [
        ["7", "Rita"],
        ["42", "Cora"],
        ["99", "Dan"],
      ] as const) {
        const put = await call("PUT", `/v1/users/${id}`, {
          email: `${name.toLowerCase()}@panel.example`,
          name,
        });
        expect(put.status, JSON.stringify(put.body)).toBe(201);
      }
      // A workspace for the reseller, owned by the panel's user 7.
      const workspace = await call("POST", "/v1/workspaces", {
        name: "Rita's resellers",
        preset: "reseller",
        owner: "7",
      });
      expect(workspace.status, JSON.stringify(workspace.body)).toBe(201);
      const ws =
        (workspace.body.workspace as unknown as { id: string } | undefined)?.id ??
        (workspace.body as unknown as { id: string }).id;

      // The tree, children before parents, in one sync.
      const sync = await call("POST", `/v1/workspaces/${ws}/resources/sync`, {
        resources: [
          { resource: "domain:shop.example", parent: "subscription:sub-1" },
          { resource: "domain:blog.example", parent: "subscription:sub-2" },
          { resource: "subscription:sub-1", parent: "customer:c1" },
          { resource: "subscription:sub-2", parent: "customer:c2" },
          { resource: "customer:c1", parent: `reseller:${ws}` },
          { resource: "customer:c2", parent: `reseller:${ws}` },
        ],
      });
      expect(sync.status, JSON.stringify(sync.body)).toBe(200);
      expect(sync.body).toMatchObject({ added: 6 });

      // Roles for the panel's users, directly: the host app's path.
      const cora = await call("POST", `/v1/workspaces/${ws}/members`, {
        userId: "42",
        grants: [{ role: "customer_admin", scope: "customer:c1" }],
      });
      expect(cora.status, JSON.stringify(cora.body)).toBe(201);
      const dan = await call("POST", `/v1/workspaces/${ws}/members`, {
        userId: "99",
        grants: [{ role: "dns_editor", scope: "domain:blog.example" }],
      });
      expect(dan.status, JSON.stringify(dan.body)).toBe(201);

      const check = async (subject: string, permission: string, resource: string) => {
        const answer = await call("POST", `/v1/workspaces/${ws}/check`, {
          subject,
          permission,
          resource,
          atLeastRevision: dan.body["revision"] as number,
        });
        expect(answer.status, JSON.stringify(answer.body)).toBe(200);
        return answer.body["allowed"] as boolean;
      };
      expect(await check("user:42", "domain.dns", "domain:shop.example")).toBe(true);
      expect(await check("user:42", "domain.dns", "domain:blog.example")).toBe(false);
      expect(await check("user:99", "domain.dns", "domain:blog.example")).toBe(true);
      expect(await check("user:99", "subscription.manage", "subscription:sub-2")).toBe(false);
      expect(await check("user:7", "billing.manage", `reseller:${ws}`)).toBe(true);

      // Who can edit blog.example's DNS: the owner through the root, and Dan directly.
      const who = await call(
        "GET",
        `/v1/workspaces/${ws}/resources/domain/blog.example/access?permission=domain.dns`,
      );
      expect(who.status, JSON.stringify(who.body)).toBe(200);
      const subjects = (who.body["items"] as { subject: string }[]).map((item) => item.subject);
      expect(subjects.sort()).toEqual(["user:7", "user:99"]);
      expect(await stop(server)).toBe(0);
      server = undefined;
    } finally {
      if (server !== undefined) await stop(server);
      await database.drop();
    }
  });
});
