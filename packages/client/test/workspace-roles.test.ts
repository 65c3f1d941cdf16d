import type { AddressInfo } from "node:net";
import { presets } from "@gatehouse/engine/presets";
import { asUser, systemActor } from "@gatehouse/service";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { backends, openServer, signUp, type TestServer } from "../../server/test/harness.ts";
import { deployer, studio } from "../../service/test/studio-model.ts";
import { createClient, type GatehouseClient } from "../src/index.ts";

describe.each(backends)("workspace roles in the client SDK on $name", (backend) => {
  let server: TestServer;
  let gatehouse: GatehouseClient;
  let ws: string;
  let dana: string;

  /** Olivia's studio workspace with site:shop; the client holds Olivia's API key. */
  beforeEach(async () => {
    server = await openServer(backend, { service: { models: { ...presets, studio } } });
    await server.app.listen({ port: 0, host: "127.0.0.1" });
    const port = (server.app.server.address() as AddressInfo).port;
    const olivia = await signUp(server.app, "olivia");
    dana = (await signUp(server.app, "dana")).userId;
    ws = (
      await server.gatehouse.workspaces.create(asUser(olivia.userId), {
        name: "Studio",
        preset: "studio",
      })
    ).id;
    await server.gatehouse.resources.upsert(systemActor(), ws, {
      resource: "site:shop",
      parent: `workspace:${ws}`,
    });
    const { secret } = await server.gatehouse.apiKeys.create(asUser(olivia.userId), ws, {
      name: "panel backend",
      scopes: ["*"],
    });
    gatehouse = createClient({ baseUrl: `http://127.0.0.1:${port}`, apiKey: secret });
  });
  afterEach(async () => {
    await server.close();
  });

  it("defines, changes and deletes a role; the local cache decides with it and follows its changes", async () => {
    const defined = await gatehouse.defineRole(ws, deployer);
    expect(defined.data?.role.name).toBe("deployer");
    await server.gatehouse.members.add(systemActor(), ws, {
      userId: dana,
      grants: [{ role: "deployer", scope: "site:shop" }],
    });
    const { data: local, error } = await gatehouse.localDecisions(ws);
    if (error !== undefined) throw new Error(error.code);
    try {
      const deploy = ["site.deploy", "site:shop"] as const;
      const until = Date.now() + 5_000;
      while (local.state !== "live") {
        if (Date.now() > until) throw new Error("the cache is not live");
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      expect((await local.check(`user:${dana}`, ...deploy)).data?.allowed).toBe(true);

      const changed = await gatehouse.updateRole(ws, "deployer", { permissions: ["site.view"] });
      expect(changed.data?.role.permissions).toEqual(["site.view"]);
      // The roles.change op makes the cache reload the snapshot, with the role as it now is.
      const deadline = Date.now() + 5_000;
      while (!(local.revision >= changed.data!.revision && local.state === "live")) {
        if (Date.now() > deadline) throw new Error("the cache did not catch up");
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      const answered = local.stats.local;
      expect((await local.check(`user:${dana}`, ...deploy)).data?.allowed).toBe(false);
      expect((await local.check(`user:${dana}`, "site.view", "site:shop")).data?.allowed).toBe(
        true,
      );
      expect(local.stats.local).toBe(answered + 2);
    } finally {
      local.close();
    }

    expect((await gatehouse.deleteRole(ws, "deployer")).error?.code).toBe("ROLE_IN_USE");
    await server.gatehouse.members.remove(systemActor(), ws, dana);
    expect((await gatehouse.deleteRole(ws, "deployer")).data?.revision).toBeGreaterThan(0);
    expect(
      (await gatehouse.defineRole(ws, { ...deployer, permissions: ["billing.manage"] })).error
        ?.code,
    ).toBe("INVALID_INPUT");
  });
});
