import { afterEach, describe, expect, it } from "vitest";
import { asUser, systemActor } from "../src/actor.ts";
import type { Gatehouse } from "../src/gatehouse.ts";
import { totpCode } from "../src/sign-in/two-factor.ts";
import {
  backends,
  codeOf,
  openPeerServices,
  openService,
  postgresBackend,
  signUpPerson,
} from "./backends.ts";

const HOUR = 3_600_000;

describe.each(backends)("just-in-time elevation (#18) on $name", (backend) => {
  let gatehouse: Gatehouse;
  let clock: { now: number };
  const closing: Array<() => Promise<void>> = [];

  afterEach(async () => {
    for (const close of closing.splice(0)) await close();
  });

  /** An mzpanel workspace: owner Olivia, admin Adam, customer Cara on site:shop (under server:fra-1), Bea on site:blog (server:ams-1). */
  async function panel() {
    ({ gatehouse, clock } = await openService(backend));
    closing.push(() => gatehouse.close());
    const olivia = await signUpPerson(gatehouse, "olivia");
    const ws = await gatehouse.workspaces.create(asUser(olivia.id), {
      name: "Panel",
      preset: "mzpanel",
    });
    const host = systemActor();
    const root = `workspace:${ws.id}`;
    for (const [resource, parent] of [
      ["server:fra-1", root],
      ["server:ams-1", root],
      ["site:shop", "server:fra-1"],
      ["site:blog", "server:ams-1"],
    ] as const)
      await gatehouse.resources.upsert(host, ws.id, { resource, parent });
    const people: Record<string, string> = {};
    for (const [name, role, scope] of [
      ["adam", "admin", root],
      ["cara", "customer", "site:shop"],
      ["bea", "customer", "site:blog"],
    ] as const) {
      const user = await signUpPerson(gatehouse, name);
      await gatehouse.members.add(host, ws.id, { userId: user.id, grants: [{ role, scope }] });
      people[name] = user.id;
    }
    const cara = people["cara"]!;
    const owner = asUser(olivia.id);
    const restart = () =>
      gatehouse.decisions.check(asUser(cara), ws.id, {
        permission: "server.restart",
        resource: "server:fra-1",
      });
    return { ws, owner, olivia, adam: people["adam"]!, cara, bea: people["bea"]!, restart };
  }

  it("gives nothing until activated, then an expiring grant named as elevated that ends by the clock", async () => {
    const { ws, owner, cara, restart } = await panel();
    const { eligibility } = await gatehouse.elevations.set(owner, ws.id, {
      subject: `user:${cara}`,
      role: "operator",
      scope: "server:fra-1",
      maxDurationMs: 2 * HOUR,
    });
    expect((await restart()).allowed).toBe(false);
    expect(eligibility).toMatchObject({ require2fa: false, active: null, maxDurationMs: 2 * HOUR });

    const { grant } = await gatehouse.elevations.activate(asUser(cara), ws.id, eligibility.id, {
      durationMs: HOUR,
      reason: "restart php after the incident",
    });
    expect(grant).toMatchObject({ role: "operator", expiresAt: clock.now + HOUR });
    expect(grant.note).toContain(`(eligibility ${eligibility.id}): restart php after the incident`);
    expect(await restart()).toMatchObject({ allowed: true, via: { note: grant.note } });
    const explanation = await gatehouse.decisions.explain(asUser(cara), ws.id, {
      permission: "server.restart",
      resource: "server:fra-1",
    });
    expect(explanation.summary).toContain("elevated until");
    const [mine] = await gatehouse.elevations.list(asUser(cara), ws.id);
    expect(mine?.active).toEqual({ until: clock.now + HOUR, note: grant.note });

    clock.now += HOUR;
    expect((await restart()).allowed).toBe(false);
    expect((await gatehouse.elevations.list(asUser(cara), ws.id))[0]?.active).toBeNull();
    // Once it ran out, it can be activated again.
    await gatehouse.elevations.activate(asUser(cara), ws.id, eligibility.id, {
      durationMs: HOUR,
      reason: "again",
    });
    expect((await restart()).allowed).toBe(true);

    const actions = (await gatehouse.activityLog.list(owner, ws.id)).entries.map(
      (entry) => entry.action,
    );
    expect(actions).toEqual(expect.arrayContaining(["eligibility.set", "elevation.activate"]));
  });

  it("lets the member end it early, and refuses a second activation while live", async () => {
    const { ws, owner, cara, restart } = await panel();
    const { eligibility } = await gatehouse.elevations.set(owner, ws.id, {
      subject: `user:${cara}`,
      role: "operator",
      scope: "server:fra-1",
      maxDurationMs: HOUR,
    });
    const activate = () =>
      gatehouse.elevations.activate(asUser(cara), ws.id, eligibility.id, {
        durationMs: HOUR,
        reason: "deploy",
      });
    await activate();
    expect(await codeOf(activate())).toBe("CONFLICT");
    await gatehouse.elevations.deactivate(asUser(cara), ws.id, eligibility.id);
    expect((await restart()).allowed).toBe(false);
    expect(await codeOf(gatehouse.elevations.deactivate(asUser(cara), ws.id, eligibility.id))).toBe(
      "NOT_FOUND",
    );
    const actions = (await gatehouse.activityLog.list(owner, ws.id)).entries.map(
      (entry) => entry.action,
    );
    expect(actions).toContain("elevation.end");
  });

  it("bounds the duration by the eligibility's maximum and needs a reason", async () => {
    const { ws, owner, cara } = await panel();
    const { eligibility } = await gatehouse.elevations.set(owner, ws.id, {
      subject: `user:${cara}`,
      role: "operator",
      scope: "server:fra-1",
      maxDurationMs: HOUR,
    });
    const activate = (durationMs: number, reason: string) =>
      gatehouse.elevations.activate(asUser(cara), ws.id, eligibility.id, { durationMs, reason });
    expect(await codeOf(activate(HOUR + 1, "too long"))).toBe("INVALID_INPUT");
    expect(await codeOf(activate(HOUR, " "))).toBe("INVALID_INPUT");
    expect(await codeOf(activate(HOUR, "fine"))).toBeUndefined();
  });

  it("sets eligibility only under the delegation rules of the grant itself, and only for members", async () => {
    const { ws, owner, adam, cara, bea } = await panel();
    const input = {
      subject: `user:${cara}`,
      role: "operator",
      scope: "server:fra-1",
      maxDurationMs: HOUR,
    };
    // Adam (admin) may not manage people; Bea does not even reach server:fra-1.
    expect(await codeOf(gatehouse.elevations.set(asUser(adam), ws.id, input))).toBe(
      "PERMISSION_DENIED",
    );
    expect(await codeOf(gatehouse.elevations.set(asUser(bea), ws.id, input))).toBe(
      "RESOURCE_NOT_FOUND",
    );
    expect(
      await codeOf(gatehouse.elevations.set(owner, ws.id, { ...input, role: "owner" })),
    ).not.toBeUndefined();
    expect(
      await codeOf(gatehouse.elevations.set(owner, ws.id, { ...input, subject: "user:nobody" })),
    ).toBe("MEMBER_NOT_FOUND");
    const { eligibility } = await gatehouse.elevations.set(owner, ws.id, input);
    // Someone else's eligibility is invisible to Bea and answers as nonexistent.
    expect(await gatehouse.elevations.list(asUser(bea), ws.id)).toEqual([]);
    expect(await codeOf(gatehouse.elevations.remove(asUser(bea), ws.id, eligibility.id))).toBe(
      "NOT_FOUND",
    );
    // Only the eligible member activates it.
    expect(
      await codeOf(
        gatehouse.elevations.activate(asUser(bea), ws.id, eligibility.id, {
          durationMs: HOUR,
          reason: "me too",
        }),
      ),
    ).toBe("NOT_FOUND");
    expect((await gatehouse.elevations.list(owner, ws.id)).map((e) => e.id)).toEqual([
      eligibility.id,
    ]);
    await gatehouse.elevations.remove(owner, ws.id, eligibility.id);
    expect(await gatehouse.elevations.list(asUser(cara), ws.id)).toEqual([]);
  });

  it("asks for a fresh authenticator code when the eligibility requires two-factor", async () => {
    const { ws, owner, cara, restart } = await panel();
    const { eligibility } = await gatehouse.elevations.set(owner, ws.id, {
      subject: `user:${cara}`,
      role: "operator",
      scope: "server:fra-1",
      maxDurationMs: HOUR,
      require2fa: true,
    });
    const activate = (totpCode?: string) =>
      gatehouse.elevations.activate(asUser(cara), ws.id, eligibility.id, {
        durationMs: HOUR,
        reason: "patch",
        totpCode,
      });
    expect(await codeOf(activate())).toBe("TOTP_REQUIRED");
    expect(await codeOf(activate("123456"))).toBe("TOTP_ENROLLMENT_REQUIRED");
    const { secret } = await gatehouse.twoFactor.enroll(cara);
    await gatehouse.twoFactor.confirm(cara, totpCode(secret, clock.now));
    clock.now += 30_000;
    expect(await codeOf(activate("000000"))).toBe("TOTP_INVALID");
    expect((await restart()).allowed).toBe(false);
    const code = totpCode(secret, clock.now);
    await activate(code);
    expect((await restart()).allowed).toBe(true);
    // A code works once.
    await gatehouse.elevations.deactivate(asUser(cara), ws.id, eligibility.id);
    expect(await codeOf(activate(code))).toBe("TOTP_INVALID");
  });

  it("is never activated through an API key, nor by the assistant acting through one", async () => {
    const { ws, owner, cara, restart } = await panel();
    const { eligibility } = await gatehouse.elevations.set(owner, ws.id, {
      subject: `user:${cara}`,
      role: "operator",
      scope: "server:fra-1",
      maxDurationMs: HOUR,
    });
    const { key } = await gatehouse.apiKeys.create(asUser(cara), ws.id, {
      name: "cara's key",
      scopes: ["*"],
    });
    const input = { durationMs: HOUR, reason: "through a key" };
    for (const actor of [
      { type: "api_key", keyId: key.id, userId: cara },
      { type: "assistant", keyId: key.id, userId: cara },
    ] as const)
      expect(
        await codeOf(gatehouse.elevations.activate({ actor }, ws.id, eligibility.id, input)),
      ).toBe("NOT_FOUND");
    expect((await restart()).allowed).toBe(false);
  });

  it("drops a member's eligibilities with the membership", async () => {
    const { ws, owner, cara } = await panel();
    await gatehouse.elevations.set(owner, ws.id, {
      subject: `user:${cara}`,
      role: "operator",
      scope: "server:fra-1",
      maxDurationMs: HOUR,
    });
    await gatehouse.members.remove(owner, ws.id, cara);
    expect(await gatehouse.elevations.list(owner, ws.id)).toEqual([]);
  });

  it("lets one of two simultaneous activations through", async () => {
    const { ws, owner, cara } = await panel();
    const { eligibility } = await gatehouse.elevations.set(owner, ws.id, {
      subject: `user:${cara}`,
      role: "operator",
      scope: "server:fra-1",
      maxDurationMs: HOUR,
    });
    const results = await Promise.all(
      [1, 2].map((n) =>
        codeOf(
          gatehouse.elevations.activate(asUser(cara), ws.id, eligibility.id, {
            durationMs: HOUR,
            reason: `try ${n}`,
          }),
        ),
      ),
    );
    expect(results.sort()).toEqual(["CONFLICT", undefined].sort());
  });
});

describe.runIf(postgresBackend !== undefined)("elevation races across instances (#18)", () => {
  it("lets exactly one of two instances' simultaneous activations through", async () => {
    const clock = { now: Date.UTC(2026, 11, 7, 12) };
    const { instances, close } = await openPeerServices(postgresBackend!, 2, clock);
    try {
      const [a, b] = instances as [Gatehouse, Gatehouse];
      const olivia = await signUpPerson(a, "olivia");
      const ws = await a.workspaces.create(asUser(olivia.id), { name: "Race", preset: "mzpanel" });
      await a.resources.upsert(systemActor(), ws.id, {
        resource: "server:fra-1",
        parent: `workspace:${ws.id}`,
      });
      const cara = await signUpPerson(a, "cara");
      await a.members.add(systemActor(), ws.id, {
        userId: cara.id,
        grants: [{ role: "admin", scope: `workspace:${ws.id}` }],
      });
      const { eligibility } = await a.elevations.set(asUser(olivia.id), ws.id, {
        subject: `user:${cara.id}`,
        role: "operator",
        scope: "server:fra-1",
        maxDurationMs: HOUR,
      });
      for (let round = 0; round < 5; round++) {
        const results = await Promise.all(
          [a, b].map((instance) =>
            codeOf(
              instance.elevations.activate(asUser(cara.id), ws.id, eligibility.id, {
                durationMs: HOUR,
                reason: `round ${round}`,
              }),
            ),
          ),
        );
        expect(results.filter((code) => code === undefined)).toHaveLength(1);
        expect(results.filter((code) => code !== undefined)).toEqual(["CONFLICT"]);
        clock.now += HOUR;
      }
      const grants = await a.storage.db
        .selectFrom("grants")
        .select(["scope", "note"])
        .where("workspace_id", "=", ws.id)
        .where("subject", "=", `user:${cara.id}`)
        .execute();
      expect(grants.filter((grant) => grant.scope === "server:fra-1")).toHaveLength(1);
    } finally {
      await close();
    }
  }, 60_000);
});
