/**
 * Database faults the storage adapters turn into stable codes: a full disk under SQLite
 * (DATABASE_FULL, nothing half-written), and a PostgreSQL that does not answer in time
 * (DATABASE_UNAVAILABLE, bounded by the connect and statement timeouts). Outages of a real
 * cluster are tested end to end in packages/server/test/database-faults.test.ts.
 */
import { createServer, type Server, type Socket } from "node:net";
import { isGatehouseError } from "@gatehouse/engine";
import { sql } from "kysely";
import { afterAll, describe, expect, it } from "vitest";
import { asUser, systemActor } from "../src/actor.ts";
import { openPostgres } from "../src/database/postgres/open.ts";
import { backends, codeOf, openService, signUpPerson } from "./backends.ts";

const sqlite = backends.find((backend) => backend.name === "sqlite")!;

describe("a full disk under SQLite", () => {
  it("refuses the write with DATABASE_FULL, writes none of it, and serves once there is room", async () => {
    const { gatehouse } = await openService(sqlite);
    try {
      const olivia = await signUpPerson(gatehouse, "olivia");
      const ws = await gatehouse.workspaces.create(asUser(olivia.id), {
        name: "Full",
        preset: "hosting-customer",
      });
      const host = systemActor();
      const { db } = gatehouse.storage;
      // The file may not grow past the pages it has now: a disk that just filled up.
      const pages = (await sql<{ page_count: number }>`pragma page_count`.execute(db)).rows[0]!;
      await sql.raw(`pragma max_page_count = ${pages.page_count}`).execute(db);
      const acknowledged: string[] = [];
      let code: string | undefined;
      for (let n = 0; n < 2_000 && code === undefined; n++) {
        const resource = `customer:c${n}-${"x".repeat(40)}`;
        code = await codeOf(
          gatehouse.resources.upsert(host, ws.id, { resource, parent: `workspace:${ws.id}` }),
        );
        if (code === undefined) acknowledged.push(resource);
      }
      expect(code).toBe("DATABASE_FULL");
      const stored = await db
        .selectFrom("resources")
        .select("resource")
        .where("workspace_id", "=", ws.id)
        .execute();
      expect(stored.map((row) => row.resource).sort()).toEqual([...acknowledged].sort());
      const row = await db
        .selectFrom("workspaces")
        .select("revision")
        .where("id", "=", ws.id)
        .executeTakeFirstOrThrow();
      const changes = await db
        .selectFrom("changes")
        .select(({ fn }) => fn.max("revision").as("last"))
        .where("workspace_id", "=", ws.id)
        .executeTakeFirstOrThrow();
      // The refused write left no revision, change or resource behind.
      expect(Number(changes.last)).toBe(row.revision);

      await sql`pragma max_page_count = 1073741823`.execute(db);
      const { revision } = await gatehouse.resources.upsert(host, ws.id, {
        resource: "customer:after",
        parent: `workspace:${ws.id}`,
      });
      expect(revision).toBe(row.revision + 1);
    } finally {
      await gatehouse.close();
    }
  });
});

describe("a PostgreSQL that does not answer", () => {
  const sockets = new Set<Socket>();
  let silent: Server | undefined;

  afterAll(async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise((resolve) => silent?.close(resolve) ?? resolve(undefined));
  });

  it("gives up connecting after the connect timeout with DATABASE_UNAVAILABLE", async () => {
    // Accepts connections and never says a word, like a host that went away mid-handshake.
    silent = createServer((socket) => {
      sockets.add(socket);
    });
    await new Promise<void>((resolve) => silent!.listen(0, "127.0.0.1", resolve));
    const address = silent.address();
    const port = typeof address === "object" && address !== null ? address.port : 0;
    const storage = await openPostgres({
      connectionString: `postgres://postgres@127.0.0.1:${port}/none`,
      migrate: false,
      connectTimeoutMs: 300,
    });
    try {
      const started = performance.now();
      const error = await sql`select 1`.execute(storage.db).then(
        () => undefined,
        (thrown: unknown) => thrown,
      );
      expect(performance.now() - started).toBeLessThan(2_000);
      expect(isGatehouseError(error) && error.code).toBe("DATABASE_UNAVAILABLE");
      expect(isGatehouseError(error) && error.details["retryAfterMs"]).toBeGreaterThan(0);
    } finally {
      await storage.close();
    }
  });

  const url = process.env["DATABASE_URL"];
  it.skipIf(url === undefined)(
    "cancels a statement past the statement timeout with DATABASE_UNAVAILABLE, and serves on",
    async () => {
      const storage = await openPostgres({
        connectionString: url!,
        migrate: false,
        maxConnections: 1,
        statementTimeoutMs: 300,
      });
      try {
        const started = performance.now();
        const code = await codeOf(sql`select pg_sleep(5)`.execute(storage.db));
        expect(performance.now() - started).toBeLessThan(2_000);
        expect(code).toBe("DATABASE_UNAVAILABLE");
        const { rows } = await sql<{ one: number }>`select 1 as one`.execute(storage.db);
        expect(rows).toEqual([{ one: 1 }]);
      } finally {
        await storage.close();
      }
    },
  );
});
