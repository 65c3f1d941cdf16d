import { describe, expect, it } from "vitest";
import type { Model } from "../model/define-model.ts";
import { presets } from "./index.ts";

/** The roles whose permissions include the sign-in permission of `type` (the owner holds everything). */
function rolesSigningIn(model: Model, type: string): string[] {
  const permission = model.definition.gates?.signIn?.[type];
  if (permission === undefined) return [];
  return Object.entries(model.definition.roles)
    .filter(([, role]) => role.owner === true || (role.permissions ?? []).includes(permission))
    .map(([name]) => name);
}

describe("sign-in gates of the presets", () => {
  it("managed: wp-admin SSO per environment for the roles that may change a site, not observer or billing", () => {
    expect(presets.managed.definition.gates?.signIn).toEqual({ environment: "sso.login" });
    expect(rolesSigningIn(presets.managed, "environment")).toEqual([
      "owner",
      "admin",
      "site_manager",
    ]);
  });

  it("mzpanel: a site's own admin for whoever runs its content — owner, admin, operator, customer", () => {
    expect(rolesSigningIn(presets.mzpanel, "site")).toEqual([
      "owner",
      "admin",
      "operator",
      "customer",
    ]);
  });

  it("hosting-customer: the website's admin for the web side, never for mail-only or stats roles", () => {
    expect(rolesSigningIn(presets["hosting-customer"], "hosting")).toEqual([
      "owner",
      "customer_admin",
      "hosting_admin",
      "hosting_web",
    ]);
  });

  it("company and msp: no site admin apps, so no sign-in links", () => {
    expect(presets.company.definition.gates?.signIn).toBeUndefined();
    expect(presets.msp.definition.gates?.signIn).toBeUndefined();
  });
});
