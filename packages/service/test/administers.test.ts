import { defineModel } from "@gatehouse/engine";
import { presets } from "@gatehouse/engine/presets";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { asUser, systemActor } from "../src/actor.ts";
import type { Gatehouse } from "../src/gatehouse.ts";
import { backends, openService, signUpPerson } from "./backends.ts";

/**
 * A model whose delegation permission acts on customers only: a Customer Admin holds it at their
 * customer, and so administers its sites too, though the permission is not one of the site's.
 */
const agency = defineModel({
  name: "agency",
  types: {
    workspace: { label: "Workspace" },
    customer: { label: "Customer", parents: ["workspace"] },
    site: { label: "Site", parents: ["customer"] },
  },
  permissions: {
    "people.manage": { on: "customer" },
    "customer.view": { on: "customer" },
    "site.view": { on: "site" },
  },
  delegation: "people.manage",
  roles: {
    owner: { owner: true, scopes: ["workspace"] },
    customer_admin: {
      scopes: ["customer"],
      permissions: ["people.manage", "customer.view", "site.view"],
    },
    viewer: { scopes: ["customer"], permissions: ["customer.view", "site.view"] },
  },
});

describe.each(backends)(
  "capabilities say where the caller administers (#15) on $name",
  (backend) => {
    let gatehouse: Gatehouse;

    beforeEach(async () => {
      ({ gatehouse } = await openService(backend, { models: { ...presets, agency } }));
    });
    afterEach(async () => {
      await gatehouse.close();
    });

    it("administers the sites below a customer where the delegation permission is held, though it acts on customers only", async () => {
      const owner = await signUpPerson(gatehouse, "olga");
      const { id: ws } = await gatehouse.workspaces.create(asUser(owner.id), {
        name: "Agency",
        preset: "agency",
      });
      const host = systemActor();
      await gatehouse.resources.sync(host, ws, {
        resources: [
          { resource: "customer:c1", parent: `workspace:${ws}` },
          { resource: "customer:c2", parent: `workspace:${ws}` },
          { resource: "site:a", parent: "customer:c1" },
          { resource: "site:z", parent: "customer:c2" },
        ],
      });
      const ada = await signUpPerson(gatehouse, "ada");
      const vic = await signUpPerson(gatehouse, "vic");
      await gatehouse.members.add(host, ws, {
        userId: ada.id,
        grants: [{ role: "customer_admin", scope: "customer:c1" }],
      });
      await gatehouse.members.add(host, ws, {
        userId: vic.id,
        grants: [{ role: "viewer", scope: "customer:c1" }],
      });
      const capabilities = (id: string, resource: string) =>
        gatehouse.decisions.capabilities(asUser(id), ws, { resource });

      const site = await capabilities(ada.id, "site:a");
      expect(site.permissions).toEqual(["site.view"]);
      expect(site.administers).toBe(true);
      expect((await capabilities(ada.id, "customer:c1")).administers).toBe(true);
      // Not the other customer's site, nor anywhere for a viewer, nor a resource that does not exist.
      expect((await capabilities(ada.id, "site:z")).administers).toBe(false);
      expect((await capabilities(ada.id, "site:nothing")).administers).toBe(false);
      expect((await capabilities(vic.id, "site:a")).administers).toBe(false);
      expect((await capabilities(vic.id, "customer:c1")).administers).toBe(false);
      // Asked about another member, for the owner: that member's answer.
      const asked = await gatehouse.decisions.capabilities(asUser(owner.id), ws, {
        resource: "site:a",
        subject: `user:${ada.id}`,
      });
      expect(asked.administers).toBe(true);
      expect((await capabilities(owner.id, "site:z")).administers).toBe(true);
      // The Permissions card's list answers where `administers` says so.
      const listed = await gatehouse.decisions.permissionsAt(asUser(ada.id), ws, {
        resource: "site:a",
      });
      expect(listed.items.map((item) => item.subject)).toContain(`user:${ada.id}`);
    });
  },
);
