import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  createAccount,
  createApiKey,
  expectStatus,
  type Instances,
  type PostgresDatabase,
  postgresDatabase,
  request,
  signIn,
  startInstances,
} from "./support/instances.ts";

const url = process.env["DATABASE_URL"];

describe.skipIf(url === undefined)("server processes sharing one PostgreSQL schema", () => {
  let database: PostgresDatabase;
  let running: Instances;

  beforeAll(async () => {
    database = await postgresDatabase(url!, "t_inst");
    running = await startInstances(2, { env: database.env });
  }, 120_000);

  afterAll(async () => {
    await running?.close();
    await database?.drop();
  });

  it("are separate processes that each answer on their own port", () => {
    const [a, b] = running.instances;
    expect(a!.pid).not.toBe(b!.pid);
    expect(a!.url).not.toBe(b!.url);
    expect(a!.memoryKiB()?.rss).toBeGreaterThan(0);
  });

  it("share people, sessions and API keys: what is created on one works on the other", async () => {
    const [a, b] = running.instances as [Instances["instances"][0], Instances["instances"][0]];
    const email = `ada@${database.schema}.example.com`;
    const password = "correct horse battery staple";
    await createAccount(database.env, { email, password, name: "Ada" });
    const session = await signIn(b.url, email, password);
    const workspace = (await expectStatus(201, b.url, "POST", "/v1/workspaces", {
      headers: session.headers,
      body: { name: "Shared", preset: "mzpanel" },
    })) as { id: string };
    await expectStatus(200, a.url, "PUT", `/v1/workspaces/${workspace.id}/resources/server/s1`, {
      headers: session.headers,
      body: { parent: `workspace:${workspace.id}` },
    });
    const key = await createApiKey(a.url, session, workspace.id, {
      name: "panel",
      scopes: ["server.view"],
    });
    const answer = await request(b.url, "POST", `/v1/workspaces/${workspace.id}/check`, {
      headers: key.authorization,
      body: { permission: "server.view", resource: "server:s1" },
    });
    expect({ status: answer.status, body: answer.body }).toMatchObject({
      status: 200,
      body: { allowed: true },
    });
  });
});
