import { randomBytes } from "node:crypto";
import { asUser, type Gatehouse, systemActor } from "@gatehouse/service";

export interface DemoAccount {
  readonly role: string;
  readonly email: string;
  readonly password: string;
}

/**
 * On an empty database, creates a demo MZPanel workspace — two servers, three sites — with an
 * owner, an operator and a customer, and returns their credentials (random passwords).
 */
export async function seedDemo(
  gatehouse: Gatehouse,
): Promise<{ workspaceId: string; accounts: DemoAccount[] } | undefined> {
  const existing = await gatehouse.storage.db
    .selectFrom("users")
    .select("id")
    .limit(1)
    .executeTakeFirst();
  if (existing !== undefined) return undefined;
  const accounts: DemoAccount[] = [];
  const person = async (role: string, name: string) => {
    const email = `${name}@demo.gatehouse.test`;
    const password = randomBytes(12).toString("base64url");
    const { user } = await gatehouse.users.signUp({ email, password, name });
    accounts.push({ role, email, password });
    return user;
  };
  const owner = await person("owner", "olivia");
  const workspace = await gatehouse.workspaces.create(asUser(owner.id), {
    name: "Demo Hosting",
    preset: "mzpanel",
  });
  const host = systemActor("demo");
  const root = `workspace:${workspace.id}`;
  for (const [resource, parent] of [
    ["server:fra-1", root],
    ["server:ams-1", root],
    ["site:shop.example", "server:fra-1"],
    ["site:blog.example", "server:fra-1"],
    ["site:docs.example", "server:ams-1"],
  ] as const) {
    await gatehouse.resources.upsert(host, workspace.id, { resource, parent });
  }
  const operator = await person("operator of fra-1", "otto");
  await gatehouse.members.add(host, workspace.id, {
    userId: operator.id,
    grants: [{ role: "operator", scope: "server:fra-1" }],
  });
  const customer = await person("customer of shop.example", "cara");
  await gatehouse.members.add(host, workspace.id, {
    userId: customer.id,
    grants: [{ role: "customer", scope: "site:shop.example" }],
  });
  return { workspaceId: workspace.id, accounts };
}
