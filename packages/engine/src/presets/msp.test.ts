import { describe, expect, it } from "vitest";
import { roleMatrix } from "../../test/role-matrix.ts";
import { createEngine } from "../engine/engine.ts";
import { msp } from "./msp.ts";

// End client: "they can, however, view all the information of the clients they are assigned to".
const END_CLIENT = ["client.view", "department.view", "device.view"] as const;

// MSP User: "allowed to manage only the clients assigned to them, under which they're able to create
// new departments as well" — no Billing, no users, no new clients, no client assignment.
const MSP_USER = [
  ...END_CLIENT,
  "client.manage",
  "department.create",
  "department.manage",
  "device.manage",
] as const;

const matrix = roleMatrix(msp, {
  workspace: "msp",
  tree: [
    ["client:c1", "workspace:msp"],
    ["client:c2", "workspace:msp"],
    ["department:c1-sales", "client:c1"],
    ["department:c1-it", "client:c1"],
    ["department:c2-hq", "client:c2"],
  ],
  actsOn: {
    "account.close": ["workspace"],
    "settings.manage": ["workspace"],
    "users.manage": ["workspace"],
    "billing.view": ["workspace"],
    "billing.manage": ["workspace"],
    "client.create": ["workspace"],
    "client.view": ["client"],
    "client.manage": ["client"],
    "client.delete": ["client"],
    "department.create": ["client"],
    "department.view": ["department"],
    "department.manage": ["department"],
    "device.view": ["client", "department"],
    "device.manage": ["client", "department"],
  },
  ownerOnly: ["account.close"],
  roles: {
    // "It has access to all your clients, and all the features within the MSP Panel."
    owner: { scopes: ["workspace"], permissions: "everything" },
    // "access to all the features within the MSP Panel, and capabilities to view and manage all of
    // your clients, regardless of the ones assigned to them" — all but closing the account.
    msp_admin: {
      scopes: ["workspace"],
      permissions: [
        "settings.manage",
        "users.manage",
        "billing.view",
        "billing.manage",
        "client.create",
        "client.delete",
        ...MSP_USER,
      ],
    },
    msp_user: { scopes: ["client"], permissions: MSP_USER },
    // "This role will only be able to view the Billing section of your MSP panel."
    billing_only: { scopes: ["workspace"], permissions: ["billing.view"] },
    end_client: { scopes: ["client"], permissions: END_CLIENT },
  },
});

describe("msp: role × scope × permission matrix", () => {
  for (const { name, mismatches } of matrix) it(name, () => expect(mismatches()).toEqual([]));
});

function panel() {
  return createEngine(msp, {
    workspace: "msp",
    resources: [
      { resource: "client:c1", parent: "workspace:msp" },
      { resource: "client:c2", parent: "workspace:msp" },
      { resource: "department:c1-sales", parent: "client:c1" },
      { resource: "department:c1-it", parent: "client:c1" },
      { resource: "department:c2-hq", parent: "client:c2" },
    ],
  });
}

describe("msp", () => {
  it("assigns a client in its entirety, including every department under it", () => {
    const engine = panel();
    engine.addGrant({ subject: "user:uma", role: "msp_user", scope: "client:c1" });

    expect(engine.check("user:uma", "department.manage", "department:c1-sales").allowed).toBe(true);
    expect(engine.check("user:uma", "device.manage", "department:c1-it").allowed).toBe(true);
    expect(engine.check("user:uma", "department.view", "department:c2-hq").allowed).toBe(false);
    expect(engine.listVisible("user:uma", "department", "department.view").items).toEqual([
      "department:c1-it",
      "department:c1-sales",
    ]);
    // Departments created later are part of the assignment too.
    engine.upsertResource("department:c1-new", "client:c1");
    expect(engine.check("user:uma", "department.manage", "department:c1-new").allowed).toBe(true);
  });

  it("lets an MSP user create departments but not clients, users or billing", () => {
    const engine = panel();
    engine.addGrant({ subject: "user:uma", role: "msp_user", scope: "client:c1" });

    expect(engine.check("user:uma", "department.create", "client:c1").allowed).toBe(true);
    expect(engine.check("user:uma", "client.create", "workspace:msp").allowed).toBe(false);
    expect(engine.check("user:uma", "users.manage", "workspace:msp").allowed).toBe(false);
    expect(engine.check("user:uma", "billing.view", "workspace:msp").allowed).toBe(false);
  });

  it("does not let an MSP user grant anything, not even on their own client", () => {
    const engine = panel();
    engine.addGrant({ subject: "user:uma", role: "msp_user", scope: "client:c1" });

    expect(engine.canGrant("user:uma", "end_client", "client:c1")).toEqual({
      allowed: false,
      reason: "no_people_management",
    });
    expect(engine.canGrant("user:uma", "msp_user", "client:c1")).toEqual({
      allowed: false,
      reason: "no_people_management",
    });
  });

  it("lets an MSP admin manage every client, assigned or not, and assign clients to users", () => {
    const engine = panel();
    engine.addGrant({ subject: "user:ada", role: "msp_admin", scope: "workspace:msp" });

    expect(engine.listVisible("user:ada", "client", "client.manage").items).toEqual([
      "client:c1",
      "client:c2",
    ]);
    expect(engine.canGrant("user:ada", "msp_user", "client:c2").allowed).toBe(true);
    expect(engine.canGrant("user:ada", "billing_only", "workspace:msp").allowed).toBe(true);
    expect(engine.check("user:ada", "account.close", "workspace:msp").allowed).toBe(false);
  });

  it("lets an end client view their clients but manage no devices, clients or departments", () => {
    const engine = panel();
    engine.addGrant({ subject: "user:eve", role: "end_client", scope: "client:c2" });

    expect(engine.check("user:eve", "client.view", "client:c2").allowed).toBe(true);
    expect(engine.check("user:eve", "device.view", "department:c2-hq").allowed).toBe(true);
    expect(engine.check("user:eve", "device.manage", "department:c2-hq").allowed).toBe(false);
    expect(engine.check("user:eve", "client.manage", "client:c2").allowed).toBe(false);
    expect(engine.check("user:eve", "department.create", "client:c2").allowed).toBe(false);
    expect(engine.check("user:eve", "client.view", "client:c1").allowed).toBe(false);
  });

  it("shows a billing-only member nothing but the Billing section", () => {
    const engine = panel();
    engine.addGrant({ subject: "user:bob", role: "billing_only", scope: "workspace:msp" });

    expect(engine.permissionsOn("user:bob", "workspace:msp")).toEqual(["billing.view"]);
    expect(engine.permissionsOn("user:bob", "client:c1")).toEqual([]);
    expect(engine.listVisible("user:bob", "client", "client.view").items).toEqual([]);
  });

  it("changes the owner only through support", () => {
    expect(msp.policy.selfServiceTransfer).toBe(false);
  });
});
