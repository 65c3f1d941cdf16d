/** A temporary role over a standing one, and temporary access that ends visibly (#18). */
import { afterEach, describe, expect, it } from "vitest";
import { asUser, systemActor } from "../src/actor.ts";
import type { Gatehouse } from "../src/gatehouse.ts";
import {
  backends,
  codeOf,
  openPeerServices,
  openService,
  postgresBackend,
  signUpPerson,
} from "./backends.ts";

const HOUR = 3_600_000;
const MINUTE = 60_000;

/** A company workspace: owner Olivia, Rita read-only (the role every member holds at the root). */
async function company(gatehouse: Gatehouse) {
  const olivia = await signUpPerson(gatehouse, "olivia");
  const ws = await gatehouse.workspaces.create(asUser(olivia.id), {
    name: "Company",
    preset: "company",
  });
  const root = `workspace:${ws.id}` as const;
  const rita = await signUpPerson(gatehouse, "rita");
  await gatehouse.members.add(systemActor(), ws.id, {
    userId: rita.id,
    grants: [{ role: "read_only", scope: root }],
  });
  const owner = asUser(olivia.id);
  const may = async (permission: string) =>
    (await gatehouse.decisions.check(asUser(rita.id), ws.id, { permission, resource: root }))
      .allowed;
  const ritaGrants = async () =>
    (await gatehouse.members.list(owner, ws.id)).find((member) => member.userId === rita.id)!
      .grants;
  return { ws, root, olivia, rita, owner, may, ritaGrants };
}

/** A host-provisioned support person given Technical at the root for 30 minutes, approved by the owner. */
async function supportFor30Minutes(
  gatehouse: Gatehouse,
  { ws, root, owner }: Awaited<ReturnType<typeof company>>,
  externalId: string,
  email: string,
) {
  const host = systemActor();
  const { user } = await gatehouse.hostUsers.put(host, externalId, { email, name: "Sam" });
  const { request } = await gatehouse.accessRequests.createSupport(host, ws.id, {
    userId: user.id,
    role: "technical",
    scope: root,
    reason: `ticket for ${externalId}`,
    durationMinutes: 30,
  });
  await gatehouse.accessRequests.approve(owner, ws.id, request.id);
  return user;
}

describe.each(backends)("temporary roles over standing ones (#18) on $name", (backend) => {
  const closing: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const close of closing.splice(0)) await close();
  });
  async function open() {
    const service = await openService(backend);
    closing.push(() => service.gatehouse.close());
    return service;
  }

  it("elevates read_only to technical for an hour, then falls back exactly at its end", async () => {
    const { gatehouse, clock } = await open();
    const { ws, root, rita, owner, may, ritaGrants } = await company(gatehouse);
    const { eligibility } = await gatehouse.elevations.set(owner, ws.id, {
      subject: `user:${rita.id}`,
      role: "technical",
      scope: root,
      maxDurationMs: 2 * HOUR,
    });
    expect(await may("server.manage")).toBe(false);
    const start = clock.now;
    const { grant } = await gatehouse.elevations.activate(asUser(rita.id), ws.id, eligibility.id, {
      durationMs: HOUR,
      reason: "patch the mail server",
    });
    expect(grant).toMatchObject({
      role: "technical",
      expiresAt: start + HOUR,
      fallback: { role: "read_only", extras: [] },
    });
    expect(await may("server.manage")).toBe(true);
    expect(await may("company.view")).toBe(false);
    const during = await gatehouse.decisions.explain(asUser(rita.id), ws.id, {
      permission: "server.manage",
      resource: root,
    });
    expect(during.summary).toContain(`(eligibility ${eligibility.id}): patch the mail server`);
    expect(during.summary).toContain('then role "read_only"');
    const managers = await gatehouse.decisions.whoCan(owner, ws.id, {
      permission: "server.manage",
      resource: root,
    });
    expect(managers.items.map((item) => item.subject)).toContain(`user:${rita.id}`);

    clock.now = start + HOUR - 1;
    expect(await may("server.manage")).toBe(true);
    clock.now = start + HOUR;
    expect(await may("server.manage")).toBe(false);
    expect(await may("company.view")).toBe(true);
    const after = await gatehouse.decisions.explain(asUser(rita.id), ws.id, {
      permission: "company.view",
      resource: root,
    });
    expect(after.summary).toContain('role "read_only"');
    expect(after.summary).not.toContain("eligibility");
    expect(await ritaGrants()).toEqual([
      expect.objectContaining({ role: "read_only", scope: root }),
    ]);
    const afterwards = await gatehouse.decisions.whoCan(owner, ws.id, {
      permission: "server.manage",
      resource: root,
    });
    expect(afterwards.items.map((item) => item.subject)).not.toContain(`user:${rita.id}`);
    // Activating again later works: the ended grant makes way, its fallback kept.
    clock.now += MINUTE;
    const again = await gatehouse.elevations.activate(asUser(rita.id), ws.id, eligibility.id, {
      durationMs: HOUR,
      reason: "again",
    });
    expect(again.grant.fallback).toEqual({ role: "read_only", extras: [] });
  });

  it("restores the standing role when the elevation ends early, and refuses one that adds nothing", async () => {
    const { gatehouse } = await open();
    const { ws, root, rita, owner, may, ritaGrants } = await company(gatehouse);
    const { eligibility } = await gatehouse.elevations.set(owner, ws.id, {
      subject: `user:${rita.id}`,
      role: "technical",
      scope: root,
      maxDurationMs: HOUR,
    });
    await gatehouse.elevations.activate(asUser(rita.id), ws.id, eligibility.id, {
      durationMs: HOUR,
      reason: "x",
    });
    await gatehouse.elevations.deactivate(asUser(rita.id), ws.id, eligibility.id);
    expect(await may("server.manage")).toBe(false);
    expect(await may("company.view")).toBe(true);
    expect(await ritaGrants()).toEqual([
      expect.objectContaining({ role: "read_only", scope: root, extras: [], expiresAt: undefined }),
    ]);
    const { eligibility: same } = await gatehouse.elevations.set(owner, ws.id, {
      subject: `user:${rita.id}`,
      role: "auditor",
      scope: root,
      maxDurationMs: HOUR,
    });
    expect(
      await codeOf(
        gatehouse.elevations.activate(asUser(rita.id), ws.id, same.id, {
          durationMs: HOUR,
          reason: "nothing more",
        }),
      ),
    ).toBe("ROLE_NOT_ABOVE_STANDING");
  });

  it("approves an access request at the member's own scope, noted with the request and approver", async () => {
    const { gatehouse, clock } = await open();
    const { ws, root, rita, olivia, owner, may } = await company(gatehouse);
    const { request } = await gatehouse.accessRequests.create(asUser(rita.id), ws.id, {
      role: "technical",
      scope: root,
      reason: "ticket 12",
      durationMinutes: 30,
    });
    const start = clock.now;
    await gatehouse.accessRequests.approve(owner, ws.id, request.id);
    const decision = await gatehouse.decisions.check(asUser(rita.id), ws.id, {
      permission: "server.manage",
      resource: root,
    });
    expect(decision).toMatchObject({
      allowed: true,
      via: { role: "technical", fallback: { role: "read_only" } },
    });
    const note = decision.allowed ? (decision.via.note ?? "") : "";
    expect(note).toContain(`(request ${request.id})`);
    expect(note).toContain(`approved by user:${olivia.id}`);
    expect(note).toContain("ticket 12");
    // Revoked early: the standing role comes back.
    await gatehouse.accessRequests.revoke(owner, ws.id, request.id);
    expect(await may("server.manage")).toBe(false);
    expect(await may("company.view")).toBe(true);
    clock.now = start + HOUR;
    expect(await may("company.view")).toBe(true);
  });

  it("sweeps an ended grant to its fallback with one activity entry, and a second sweep finds nothing", async () => {
    const { gatehouse, clock } = await open();
    const { ws, root, rita, owner, ritaGrants } = await company(gatehouse);
    const { eligibility } = await gatehouse.elevations.set(owner, ws.id, {
      subject: `user:${rita.id}`,
      role: "technical",
      scope: root,
      maxDurationMs: HOUR,
    });
    const start = clock.now;
    await gatehouse.elevations.activate(asUser(rita.id), ws.id, eligibility.id, {
      durationMs: HOUR,
      reason: "sweep me",
    });
    expect(await gatehouse.expiries.sweep()).toEqual({
      grantsEnded: 0,
      supportEnded: 0,
      failed: 0,
    });
    clock.now = start + HOUR;
    expect((await gatehouse.expiries.sweep()).grantsEnded).toBe(1);
    expect((await gatehouse.expiries.sweep()).grantsEnded).toBe(0);
    expect(await ritaGrants()).toEqual([
      expect.objectContaining({ role: "read_only", scope: root, extras: [], expiresAt: undefined }),
    ]);
    const log = await gatehouse.activityLog.list(owner, ws.id, { action: "grant.expire" });
    expect(log.entries).toHaveLength(1);
    expect(log.entries[0]).toMatchObject({
      actor: { type: "system", id: "expiry-sweeper" },
      target: `user:${rita.id}`,
      details: {
        role: "technical",
        scope: root,
        until: start + HOUR,
        fallback: { role: "read_only", extras: [] },
      },
    });
    expect(String((log.entries[0]!.details as { note?: string }).note)).toContain("sweep me");
  });

  it("ends support access: the support-only member goes, and can be invited afterwards", async () => {
    const { gatehouse, clock } = await open();
    const workspace = await company(gatehouse);
    const { ws, owner } = workspace;
    const sam = await supportFor30Minutes(gatehouse, workspace, "support-1", "sam@host.example");
    clock.now += 30 * MINUTE;
    expect(await gatehouse.expiries.sweep()).toEqual({
      grantsEnded: 1,
      supportEnded: 1,
      failed: 0,
    });
    const log = await gatehouse.activityLog.list(owner, ws.id, { action: "support_access.end" });
    expect(log.entries.map((entry) => entry.target)).toEqual([`user:${sam.id}`]);
    const invited = await gatehouse.invitations.create(owner, ws.id, {
      email: "sam@host.example",
      role: "read_only",
    });
    expect(invited.invitation).toMatchObject({ email: "sam@host.example" });
  });

  it("counts a support person as gone from their end on: an invitation before the next sweep", async () => {
    const { gatehouse, clock } = await open();
    const workspace = await company(gatehouse);
    const { ws, root, owner, olivia } = workspace;
    const sam = await supportFor30Minutes(gatehouse, workspace, "support-2", "sam2@host.example");
    const invite = () =>
      gatehouse.invitations.create(owner, ws.id, { email: "sam2@host.example", role: "read_only" });
    // Still in force: a member, so no invitation.
    clock.now += 30 * MINUTE - 1;
    await expect(invite()).rejects.toMatchObject({ code: "ALREADY_MEMBER" });
    // At the end, with no sweep in between: the invitation removes the ended membership first.
    clock.now += 1;
    const { invitation, token } = await invite();
    expect(invitation).toMatchObject({ email: "sam2@host.example", status: "pending" });
    const ended = await gatehouse.activityLog.list(owner, ws.id, { action: "support_access.end" });
    expect(ended.entries).toHaveLength(1);
    expect(ended.entries[0]).toMatchObject({
      actor: { type: "system", id: "expiry-sweeper" },
      target: `user:${sam.id}`,
      details: { until: clock.now },
    });
    const created = await gatehouse.activityLog.list(owner, ws.id, { action: "invitation.create" });
    expect(created.entries[0]?.actor).toMatchObject({ type: "user", id: olivia.id });
    // Nothing is left for the sweep: the ended grant went with the member row.
    expect(await gatehouse.expiries.sweep()).toEqual({
      grantsEnded: 0,
      supportEnded: 0,
      failed: 0,
    });
    // Sam accepts and is a member again, with the invitation's role only.
    await gatehouse.invitations.accept({ token, userId: sam.id });
    const members = await gatehouse.members.list(owner, ws.id);
    expect(members.find((m) => m.userId === sam.id)).toMatchObject({
      grants: [expect.objectContaining({ role: "read_only", scope: root })],
    });
  });

  it("lets the host app add a support person back once their access ended, before the sweep", async () => {
    const { gatehouse, clock } = await open();
    const workspace = await company(gatehouse);
    const { ws, root, owner } = workspace;
    const sam = await supportFor30Minutes(gatehouse, workspace, "support-3", "sam3@host.example");
    const add = () =>
      gatehouse.members.add(systemActor(), ws.id, {
        userId: sam.id,
        grants: [{ role: "read_only", scope: root }],
      });
    await expect(add()).rejects.toMatchObject({ code: "ALREADY_MEMBER" });
    clock.now += 30 * MINUTE;
    await add();
    const member = (await gatehouse.members.list(owner, ws.id)).find((m) => m.userId === sam.id);
    expect(member?.supportUntil).toBeUndefined();
    expect(member?.grants).toEqual([
      expect.objectContaining({ role: "read_only", scope: root, expiresAt: undefined }),
    ]);
    const ended = await gatehouse.activityLog.list(owner, ws.id, { action: "support_access.end" });
    expect(ended.entries.map((entry) => entry.actor)).toEqual([
      expect.objectContaining({ type: "system", id: "expiry-sweeper" }),
    ]);
  });

  it("loads a fallback from the store on another instance, before and after its end", async () => {
    const clock = { now: Date.UTC(2026, 11, 7, 13, 0, 0) };
    const peers = await openPeerServices(backend, 2, clock);
    closing.push(() => peers.close());
    const [a, b] = peers.instances as [Gatehouse, Gatehouse];
    const { ws, root, rita, owner } = await company(a);
    const { eligibility } = await a.elevations.set(owner, ws.id, {
      subject: `user:${rita.id}`,
      role: "technical",
      scope: root,
      maxDurationMs: HOUR,
    });
    await a.elevations.activate(asUser(rita.id), ws.id, eligibility.id, {
      durationMs: HOUR,
      reason: "from the rows",
    });
    const mayOn = async (instance: Gatehouse, permission: string) =>
      (await instance.decisions.check(asUser(rita.id), ws.id, { permission, resource: root }))
        .allowed;
    expect(await mayOn(b, "server.manage")).toBe(true);
    expect(await mayOn(b, "company.view")).toBe(false);
    clock.now += HOUR;
    expect(await mayOn(b, "server.manage")).toBe(false);
    expect(await mayOn(b, "company.view")).toBe(true);
    // The sweep on one instance reaches the other's engine as ordinary changes.
    expect((await a.expiries.sweep()).grantsEnded).toBe(1);
    expect(await mayOn(b, "company.view")).toBe(true);
    expect(await mayOn(a, "company.view")).toBe(true);
  });

  it("keeps fallbacks through an export/import round trip", async () => {
    const source = await open();
    const { ws, root, rita, owner } = await company(source.gatehouse);
    const { eligibility } = await source.gatehouse.elevations.set(owner, ws.id, {
      subject: `user:${rita.id}`,
      role: "technical",
      scope: root,
      maxDurationMs: HOUR,
    });
    await source.gatehouse.elevations.activate(asUser(rita.id), ws.id, eligibility.id, {
      durationMs: HOUR,
      reason: "carried",
    });
    const exported = await source.gatehouse.portability.export(systemActor("cli"), ws.id);
    const elevated = exported.grants.find((grant) => grant.subject === `user:${rita.id}`);
    expect(elevated).toMatchObject({
      role: "technical",
      fallback: { role: "read_only", extras: [] },
    });
    const target = await open();
    target.clock.now = source.clock.now;
    const imported = await target.gatehouse.portability.import(
      systemActor("cli"),
      JSON.parse(JSON.stringify(exported)),
    );
    const copy = imported.workspace!;
    const reexported = await target.gatehouse.portability.export(systemActor("cli"), copy.id);
    expect(reexported.grants.find((grant) => grant.role === "technical")).toMatchObject({
      fallback: { role: "read_only", extras: [] },
      expiresAt: elevated!.expiresAt,
    });
  });
});

describe.runIf(postgresBackend !== undefined)("expiry sweeps racing on PostgreSQL", () => {
  it("writes exactly one entry per ended grant when two instances sweep at once", async () => {
    const clock = { now: Date.UTC(2026, 11, 7, 12, 0, 0) };
    const peers = await openPeerServices(postgresBackend!, 2, clock);
    try {
      const [one, two] = peers.instances as [Gatehouse, Gatehouse];
      const { ws, root, rita, owner } = await company(one);
      const { eligibility } = await one.elevations.set(owner, ws.id, {
        subject: `user:${rita.id}`,
        role: "technical",
        scope: root,
        maxDurationMs: HOUR,
      });
      const others: string[] = [];
      for (const name of ["tom", "uma", "vic"]) {
        const person = await signUpPerson(one, name);
        await one.members.add(systemActor(), ws.id, {
          userId: person.id,
          grants: [{ role: "billing", scope: root, expiresAt: clock.now + MINUTE }],
        });
        others.push(person.id);
      }
      await one.elevations.activate(asUser(rita.id), ws.id, eligibility.id, {
        durationMs: HOUR,
        reason: "race",
      });
      clock.now += HOUR;
      const results = await Promise.all([
        one.expiries.sweep(),
        two.expiries.sweep(),
        one.expiries.sweep(),
      ]);
      expect(results.reduce((sum, result) => sum + result.grantsEnded, 0)).toBe(4);
      const log = await one.activityLog.list(owner, ws.id, { action: "grant.expire" });
      expect(log.entries.map((entry) => entry.target).sort()).toEqual(
        [`user:${rita.id}`, ...others.map((id) => `user:${id}`)].sort(),
      );
      const check = await two.decisions.check(asUser(rita.id), ws.id, {
        permission: "company.view",
        resource: root,
      });
      expect(check.allowed).toBe(true);
    } finally {
      await peers.close();
    }
  });
});
