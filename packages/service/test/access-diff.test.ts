import { describe, expect, it } from "vitest";
import { asUser, type RequestContext, systemActor } from "../src/actor.ts";
import type { Gatehouse } from "../src/index.ts";
import type { WriteOptions, WriteResult } from "../src/service-core.ts";
import { backends, codeOf, openService, signUpPerson } from "./backends.ts";

/**
 * Issue 18: a structural write run with `dryRun` answers who gains and loses which permissions
 * where — exactly the effect the same write then has — writes nothing, and checks the caller as
 * the real change does.
 */
const RESOURCES = [
  ["server:s1", "workspace"],
  ["server:s2", "workspace"],
  ["site:shop", "server:s1"],
  ["site:blog", "server:s1"],
  ["site:wiki", "server:s2"],
] as const;

async function workspaceWithTeam(gatehouse: Gatehouse) {
  const host = systemActor();
  const owner = await signUpPerson(gatehouse, "ada");
  const ws = (
    await gatehouse.workspaces.create(asUser(owner.id), { name: "Acme", preset: "mzpanel" })
  ).id;
  for (const [resource, parent] of RESOURCES) {
    await gatehouse.resources.upsert(host, ws, {
      resource,
      parent: parent === "workspace" ? `workspace:${ws}` : parent,
    });
  }
  const olga = await signUpPerson(gatehouse, "olga");
  const carol = await signUpPerson(gatehouse, "carol");
  const dave = await signUpPerson(gatehouse, "dave");
  await gatehouse.members.add(host, ws, {
    userId: olga.id,
    grants: [{ role: "operator", scope: "server:s1" }],
  });
  await gatehouse.members.add(host, ws, {
    userId: carol.id,
    grants: [{ role: "customer", scope: "site:shop" }],
  });
  await gatehouse.members.add(host, ws, {
    userId: dave.id,
    grants: [{ role: "customer", scope: "site:wiki" }],
  });
  const group = (await gatehouse.members.createGroup(host, ws, { name: "Web team" })).group.id;
  await gatehouse.members.grant(host, ws, {
    subject: `group:${group}`,
    role: "operator",
    scope: "server:s2",
  });
  await gatehouse.members.addToGroup(host, ws, group, dave.id);
  const subjects = [owner, olga, carol, dave].map((user) => `user:${user.id}`);
  subjects.push(`group:${group}`);
  return { ws, owner, olga, carol, dave, group, subjects };
}

/** Every subject's permissions on every resource, as `capabilities` answers the host app. */
async function accessMap(
  gatehouse: Gatehouse,
  ws: string,
  subjects: readonly string[],
): Promise<Map<string, readonly string[]>> {
  const map = new Map<string, readonly string[]>();
  for (const subject of subjects) {
    for (const resource of [`workspace:${ws}`, ...RESOURCES.map(([name]) => name)]) {
      const { permissions } = await gatehouse.decisions.capabilities(systemActor(), ws, {
        resource,
        subject,
      });
      map.set(`${subject} ${resource}`, permissions);
    }
  }
  return map;
}

/** "subject resource +gained -lost" for every pair whose permissions differ. */
function effect(
  before: ReadonlyMap<string, readonly string[]>,
  after: ReadonlyMap<string, readonly string[]>,
): string[] {
  return [...before].flatMap(([pair, was]) => {
    const now = after.get(pair) ?? [];
    const gained = now.filter((permission) => !was.includes(permission));
    const lost = was.filter((permission) => !now.includes(permission));
    return gained.length > 0 || lost.length > 0
      ? [`${pair} +${gained.join(",")} -${lost.join(",")}`]
      : [];
  });
}

function lines(diff: WriteResult["diff"]): string[] {
  return (diff ?? []).map(
    (entry) =>
      `${entry.subject} ${entry.resource} +${entry.gained.join(",")} -${entry.lost.join(",")}`,
  );
}

describe.each(backends)("access diffs of structural writes on $name (issue 18)", (backend) => {
  it("answers exactly the effect the same write then has, and writes nothing", async () => {
    const { gatehouse } = await openService(backend);
    try {
      const team = await workspaceWithTeam(gatehouse);
      const { ws, owner, olga, carol, dave, group, subjects } = team;
      const asOwner = asUser(owner.id);
      const changes: [string, (options: WriteOptions) => Promise<WriteResult>][] = [
        [
          "move a site to another server",
          (options) =>
            gatehouse.resources.upsert(
              asOwner,
              ws,
              { resource: "site:shop", parent: "server:s2" },
              options,
            ),
        ],
        [
          "change a member's role and scope",
          (options) =>
            gatehouse.members.setGrants(
              asOwner,
              ws,
              olga.id,
              [{ role: "customer", scope: "site:blog" }],
              options,
            ),
        ],
        [
          "take a grant",
          (options) =>
            gatehouse.members.revoke(
              asOwner,
              ws,
              { subject: `user:${carol.id}`, scope: "site:shop" },
              options,
            ),
        ],
        [
          "give a grant",
          (options) =>
            gatehouse.members.grant(
              asOwner,
              ws,
              { subject: `user:${carol.id}`, role: "operator", scope: "server:s1" },
              options,
            ),
        ],
        [
          "take a member out of a team",
          (options) => gatehouse.members.removeFromGroup(asOwner, ws, group, dave.id, options),
        ],
        [
          "put a member into a team",
          (options) => gatehouse.members.addToGroup(asOwner, ws, group, olga.id, options),
        ],
        ["remove a member", (options) => gatehouse.members.remove(asOwner, ws, dave.id, options)],
        [
          "delete a server with its sites",
          (options) => gatehouse.resources.delete(asOwner, ws, "server:s1", options),
        ],
      ];
      for (const [what, change] of changes) {
        const before = await accessMap(gatehouse, ws, subjects);
        const preview = await change({ dryRun: true });
        const untouched = await accessMap(gatehouse, ws, subjects);
        expect(untouched, `${what}: the dry run changed nothing`).toEqual(before);
        const done = await change({});
        expect(done.diff, what).toBeUndefined();
        expect(done.revision, what).toBeGreaterThan(preview.revision);
        const after = await accessMap(gatehouse, ws, subjects);
        expect(lines(preview.diff).sort(), what).toEqual(effect(before, after).sort());
        expect(preview.diff?.length, what).toBeGreaterThan(0);
      }
    } finally {
      await gatehouse.close();
    }
  });

  it("names people for the team's managers, and writes no revision or activity", async () => {
    const { gatehouse } = await openService(backend);
    try {
      const { ws, owner, olga } = await workspaceWithTeam(gatehouse);
      const asOwner = asUser(owner.id);
      const log = await gatehouse.activityLog.list(asOwner, ws);
      const preview = await gatehouse.resources.upsert(
        asOwner,
        ws,
        { resource: "site:shop", parent: "server:s2" },
        { dryRun: true },
      );
      const olgaLoses = preview.diff?.find(
        (entry) => entry.subject === `user:${olga.id}` && entry.resource === "site:shop",
      );
      expect(olgaLoses?.user?.name).toBe("olga");
      expect(olgaLoses?.lost).toContain("site.deploy");
      expect(await gatehouse.activityLog.list(asOwner, ws)).toEqual(log);
      const { items } = await gatehouse.resources.list(asOwner, ws, { type: "site" });
      expect(items).toContain("site:shop");
    } finally {
      await gatehouse.close();
    }
  });

  it("checks the caller as the real change does: out of reach is not found, in reach may be denied", async () => {
    const { gatehouse } = await openService(backend);
    try {
      const { ws, olga, carol } = await workspaceWithTeam(gatehouse);
      const asCarol: RequestContext = asUser(carol.id);
      const dry = { dryRun: true } as const;
      // Carol (a customer of site:shop) cannot reach server:s2: the same answer as a missing one.
      expect(await codeOf(gatehouse.resources.delete(asCarol, ws, "server:s2", dry))).toBe(
        "RESOURCE_NOT_FOUND",
      );
      expect(await codeOf(gatehouse.resources.delete(asCarol, ws, "server:nowhere", dry))).toBe(
        "RESOURCE_NOT_FOUND",
      );
      // She may not manage people: the preview is refused as the change is.
      const revoke = { subject: `user:${olga.id}`, scope: "server:s1" };
      expect(await codeOf(gatehouse.members.revoke(asCarol, ws, revoke, dry))).toBe(
        await codeOf(gatehouse.members.revoke(asCarol, ws, revoke)),
      );
      expect(await codeOf(gatehouse.members.revoke(asCarol, ws, revoke, dry))).toBe(
        "PERMISSION_DENIED",
      );
    } finally {
      await gatehouse.close();
    }
  });
});
