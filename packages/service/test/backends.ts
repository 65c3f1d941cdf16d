import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { isGatehouseError } from "@gatehouse/engine";
import { testSchema } from "../../cli/test/once-per-run.ts";
import { openPostgres } from "../src/database/postgres/open.ts";
import { openSqlite } from "../src/database/sqlite/open.ts";
import type { Storage } from "../src/database/storage.ts";
import { createGatehouse, type Gatehouse } from "../src/gatehouse.ts";
import type { User } from "../src/sign-in/users.ts";
import type { FollowOptions } from "../src/sync/change-follower.ts";
import { openPostgresCopy, openSqliteCopy, releasePostgresCopy } from "./database-template.ts";

/** Everything `createGatehouse` takes. */
type ServiceOptions = Parameters<typeof createGatehouse>[0];

/** Fast scrypt for tests; the OWASP default is exercised by its own test. */
export const TEST_PASSWORD_COST = { N: 2 ** 10, r: 8, p: 1 } as const;

export interface Backend {
  readonly name: "sqlite" | "postgres";
  /**
   * A fresh, empty, migrated database: a new SQLite file, or a new PostgreSQL schema — a copy of
   * the run's migrated template (database-template.ts).
   */
  open(): Promise<Storage>;
  /**
   * `count` storages on one fresh database, each with its own connections (several instances
   * sharing a database). Closing the first drops the database.
   */
  openPeers(count: number): Promise<Storage[]>;
}

const sqlite: Backend = {
  name: "sqlite",
  async open() {
    const [storage] = await sqlite.openPeers(1);
    return storage!;
  },
  async openPeers(count) {
    const folder = mkdtempSync(join(tmpdir(), "gatehouse-"));
    const file = join(folder, "gatehouse.db");
    const storages: Storage[] = [];
    // The first a copy of the run's migrated template; the others open it as instances do.
    storages.push(await openSqliteCopy(file));
    for (let index = 1; index < count; index++) storages.push(await openSqlite({ file }));
    const first = storages[0]!;
    const close = first.close;
    storages[0] = {
      ...first,
      close: async () => {
        await close();
        rmSync(folder, { recursive: true, force: true });
      },
    };
    return storages;
  },
};

/**
 * PostgreSQL runs when DATABASE_URL is set (CI sets it); each open gets its own schema, given back
 * on close (reset to the template for a later open, or dropped).
 */
function postgres(url: string): Backend {
  const backend: Backend = {
    name: "postgres",
    async open() {
      const [storage] = await backend.openPeers(1);
      return storage!;
    },
    async openPeers(count) {
      const schema = testSchema("t");
      const storages: Storage[] = [];
      // The first a copy of the run's migrated template; the others open it as instances do.
      storages.push(await openPostgresCopy(url, schema, 20));
      for (let index = 1; index < count; index++) {
        storages.push(await openPostgres({ connectionString: url, schema, maxConnections: 20 }));
      }
      const first = storages[0]!;
      const close = first.close;
      storages[0] = {
        ...first,
        close: async () => {
          await close();
          // Reset for the next open, or dropped when a test changed its definitions.
          await releasePostgresCopy(url, schema);
        },
      };
      return storages;
    },
  };
  return backend;
}

export const backends: readonly Backend[] = [
  sqlite,
  ...(process.env["DATABASE_URL"] ? [postgres(process.env["DATABASE_URL"])] : []),
];

export const postgresBackend: Backend | undefined = process.env["DATABASE_URL"]
  ? postgres(process.env["DATABASE_URL"])
  : undefined;

/** A service over a fresh database of `backend`, with a controllable clock. */
export async function openService(
  backend: Backend,
  options: Partial<Omit<ServiceOptions, "storage">> = {},
): Promise<{ gatehouse: Gatehouse; clock: { now: number } }> {
  const clock = { now: Date.UTC(2026, 10, 23, 12, 0, 0) };
  const storage = await backend.open();
  const gatehouse = createGatehouse({
    storage,
    clock: () => clock.now,
    passwordCost: TEST_PASSWORD_COST,
    ...options,
  });
  return { gatehouse, clock };
}

/** The password every test person signs up with. */
export const PASSWORD = "correct horse battery staple";

/** Signs up `name@example.com` (with a personal workspace where the preset gives one). */
export async function signUpPerson(gatehouse: Gatehouse, name: string): Promise<User> {
  const { user } = await gatehouse.users.signUp({
    email: `${name}@example.com`,
    password: PASSWORD,
    name,
  });
  return user;
}

/** The GatehouseError code `promise` rejects with; `undefined` when it resolves. */
export async function codeOf(promise: Promise<unknown>): Promise<string | undefined> {
  try {
    await promise;
  } catch (error) {
    if (isGatehouseError(error)) return error.code;
    throw error;
  }
  return undefined;
}

/** `count` services (instances) on one fresh database of `backend`, sharing a test clock. */
export async function openPeerServices(
  backend: Backend,
  count: number,
  clock: { now: number },
  options: Partial<Omit<ServiceOptions, "storage">> = {},
  /** How each instance follows the others, by index; `options.follow` or the defaults otherwise. */
  follow: readonly (FollowOptions | undefined)[] = [],
): Promise<{ instances: Gatehouse[]; close(): Promise<void> }> {
  const storages = await backend.openPeers(count);
  const instances = storages.map((storage, index) =>
    createGatehouse({
      storage,
      clock: () => clock.now,
      passwordCost: TEST_PASSWORD_COST,
      ...options,
      ...(follow[index] === undefined ? {} : { follow: follow[index] }),
    }),
  );
  await Promise.all(instances.map((instance) => instance.ready()));
  return {
    instances,
    async close() {
      // The first storage drops the database on close: close it last.
      for (const instance of instances.slice(1)) await instance.close();
      await instances[0]?.close();
    },
  };
}
