import type { GatehouseError, ResourceRef } from "@gatehouse/engine";
import { presets } from "@gatehouse/engine/presets";
import { afterEach, describe, expect, it } from "vitest";
import { asUser, systemActor } from "../src/actor.ts";
import type { Gatehouse } from "../src/gatehouse.ts";
import { DAY_MS } from "../src/support/time.ts";
import type { ImportProgress, WorkspaceExport } from "../src/team/portability.ts";
import { backends, openService, signUpPerson } from "./backends.ts";
import { deployer, studio } from "./studio-model.ts";

const operator = systemActor("cli");

/** A hosting-customer workspace with a tree, direct grants, an expiring grant with extras and a group. */
async function sampleWorkspace(gatehouse: Gatehouse, clock: { now: number }) {
  const olivia = await signUpPerson(gatehouse, "olivia");
  const ws = await gatehouse.workspaces.create(asUser(olivia.id), {
    name: "Agency",
    preset: "hosting-customer",
  });
  const root = `workspace:${ws.id}`;
  for (const [resource, parent] of [
    ["customer:c1", root],
    ["customer:c2", root],
    ["hosting:h1", "customer:c1"],
    ["hosting:h2", "customer:c1"],
    ["hosting:h3", "customer:c2"],
  ] as const)
    await gatehouse.resources.upsert(systemActor(), ws.id, { resource, parent });
  const owner = asUser(olivia.id);
  const ada = await signUpPerson(gatehouse, "ada");
  await gatehouse.members.add(systemActor(), ws.id, {
    userId: ada.id,
    grants: [{ role: "customer_admin", scope: "customer:c1" }],
  });
  const mia = await signUpPerson(gatehouse, "mia");
  await gatehouse.members.add(systemActor(), ws.id, {
    userId: mia.id,
    grants: [
      {
        role: "hosting_mail",
        scope: "hosting:h1",
        extras: ["hosting.stats.view"],
        expiresAt: clock.now + DAY_MS,
      },
    ],
  });
  const wes = await signUpPerson(gatehouse, "wes");
  await gatehouse.members.add(systemActor(), ws.id, {
    userId: wes.id,
    grants: [{ role: "hosting_stats", scope: "hosting:h3" }],
  });
  const { group } = await gatehouse.members.createGroup(owner, ws.id, { name: "Web agency" });
  await gatehouse.members.addToGroup(owner, ws.id, group.id, wes.id);
  await gatehouse.members.grant(owner, ws.id, {
    subject: `group:${group.id}`,
    role: "hosting_web",
    scope: "hosting:h2",
  });
  await gatehouse.workspaces.updateSettings(owner, ws.id, { oneWorkspacePerEmail: false });
  // Ada may elevate herself on hosting h3, and has: a live elevation's grant carries its note.
  const { eligibility } = await gatehouse.elevations.set(owner, ws.id, {
    subject: `user:${ada.id}`,
    role: "hosting_admin",
    scope: "hosting:h3",
    maxDurationMs: 3_600_000,
  });
  await gatehouse.elevations.activate(asUser(ada.id), ws.id, eligibility.id, {
    durationMs: 3_600_000,
    reason: "renew the certificate",
  });
  return { ws, olivia, ada, mia, wes, group, eligibility };
}

/** An export with instance-specific ids replaced: user ids by emails, the root by "ROOT". */
function normalized(data: WorkspaceExport) {
  const emailOf = new Map(data.members.map((member) => [member.userId, member.email]));
  const root = `workspace:${data.workspace.id}`;
  const ref = (name: string) => (name === root ? "ROOT" : name);
  const subject = (name: string) =>
    name.startsWith("user:") ? `user:${emailOf.get(name.slice(5))}` : name;
  const { id: _id, createdAt: _created, revision: _revision, ...workspace } = data.workspace;
  return {
    workspace,
    model: data.model,
    members: data.members
      .map(({ userId: _user, ...member }) => member)
      .sort((a, b) => a.email.localeCompare(b.email)),
    groups: data.groups.map((group) => ({
      ...group,
      members: group.members.map((user) => emailOf.get(user)).sort(),
    })),
    resources: data.resources
      .map(({ resource, parent }) => ({ resource, parent: ref(parent) }))
      .sort((a, b) => a.resource.localeCompare(b.resource)),
    grants: data.grants
      .map((grant) => ({ ...grant, subject: subject(grant.subject), scope: ref(grant.scope) }))
      .sort((a, b) => `${a.subject} ${a.scope}`.localeCompare(`${b.subject} ${b.scope}`)),
    roles: data.roles,
    eligibilities: data.eligibilities
      .map((eligibility) => ({
        ...eligibility,
        subject: subject(eligibility.subject),
        scope: ref(eligibility.scope),
      }))
      .sort((a, b) => a.id.localeCompare(b.id)),
  };
}

/** Every decision of every member and group on every resource, keyed by email and "ROOT". */
async function allDecisions(gatehouse: Gatehouse, data: WorkspaceExport) {
  const permissions = Object.keys(data.model.permissions);
  const root = `workspace:${data.workspace.id}`;
  const resources = [root, ...data.resources.map((entry) => entry.resource)];
  const subjects = [
    ...data.members.map((member) => [`user:${member.userId}`, member.email] as const),
    ...data.groups.map((group) => [`group:${group.id}`, group.name] as const),
  ];
  const answers: string[] = [];
  for (const [subject, label] of subjects) {
    const queries = permissions.flatMap((permission) =>
      resources.map((resource) => ({ subject, permission, resource })),
    );
    const decisions = await gatehouse.decisions.checkMany(operator, data.workspace.id, queries);
    decisions.forEach((decision, index) => {
      const { permission, resource } = queries[index]!;
      answers.push(
        `${label} ${permission} ${resource === root ? "ROOT" : resource} ${decision.allowed}`,
      );
    });
  }
  return answers.sort();
}

async function issuesOf(promise: Promise<unknown>): Promise<readonly { path: string }[]> {
  try {
    await promise;
  } catch (error) {
    const failure = error as GatehouseError;
    expect(failure.code).toBe("INVALID_INPUT");
    return failure.issues;
  }
  throw new Error("the import was accepted");
}

async function countRows(gatehouse: Gatehouse) {
  const count = async (table: "users" | "workspaces" | "grants" | "resources" | "instance_log") =>
    Number(
      (
        await gatehouse.storage.db
          .selectFrom(table)
          .select((eb) => eb.fn.countAll<number>().as("count"))
          .executeTakeFirstOrThrow()
      ).count,
    );
  return {
    users: await count("users"),
    workspaces: await count("workspaces"),
    grants: await count("grants"),
    resources: await count("resources"),
    instanceLog: await count("instance_log"),
  };
}

describe.each(backends)("workspace export and import on $name", (backend) => {
  const open: Gatehouse[] = [];
  const service = async (options: Parameters<typeof openService>[1] = {}) => {
    const opened = await openService(backend, options);
    open.push(opened.gatehouse);
    return opened;
  };
  afterEach(async () => {
    for (const gatehouse of open.splice(0)) await gatehouse.close();
  });

  it("round-trips a workspace to another instance with the same engine state and decisions", async () => {
    const source = await service();
    const { ws, eligibility } = await sampleWorkspace(source.gatehouse, source.clock);
    await source.gatehouse.workspaces.updateSettings(operator, ws.id, {
      require2fa: true,
    });
    const exported = await source.gatehouse.portability.export(operator, ws.id);
    expect(exported.resources.map((entry) => entry.resource)).toEqual([
      "customer:c1",
      "customer:c2",
      "hosting:h1",
      "hosting:h2",
      "hosting:h3",
    ]);
    expect(exported.grants).toContainEqual(
      expect.objectContaining({
        role: "hosting_mail",
        extras: ["hosting.stats.view"],
        expiresAt: source.clock.now + DAY_MS,
        note: null,
      }),
    );
    // The elevation's grant keeps its note, and the eligibility comes along (#18).
    expect(exported.grants).toContainEqual(
      expect.objectContaining({
        role: "hosting_admin",
        scope: "hosting:h3",
        note: expect.stringContaining(`(eligibility ${eligibility.id}): renew the certificate`),
      }),
    );
    expect(exported.eligibilities).toEqual([
      expect.objectContaining({ id: eligibility.id, role: "hosting_admin", require2fa: false }),
    ]);

    // Through JSON text, as the CLI does.
    const target = await service();
    const progress: ImportProgress[] = [];
    const imported = await target.gatehouse.portability.import(
      operator,
      JSON.parse(JSON.stringify(exported)),
      { onProgress: (step) => progress.push(step) },
    );
    expect(imported.counts).toEqual({
      members: 4,
      usersCreated: 4,
      usersMatched: 0,
      resources: 5,
      groups: 1,
      roles: 0,
      grants: 6,
      eligibilities: 1,
    });
    expect(imported.revision).toBe(2);
    expect(progress.map((step) => step.phase)).toEqual(
      expect.arrayContaining([
        "users",
        "members",
        "resources",
        "groups",
        "grants",
        "eligibilities",
      ]),
    );
    const copy = imported.workspace!;
    expect(copy.id).not.toBe(ws.id);
    expect(copy.settings?.require2fa).toBe(true);

    const reexported = await target.gatehouse.portability.export(operator, copy.id);
    expect(normalized(reexported)).toEqual(normalized(exported));
    expect(await allDecisions(target.gatehouse, reexported)).toEqual(
      await allDecisions(source.gatehouse, exported),
    );

    // Created users have no password: they sign in by magic link or a reset.
    const passwords = await target.gatehouse.storage.db
      .selectFrom("users")
      .select("password_hash")
      .execute();
    expect(passwords.every((row) => row.password_hash === null)).toBe(true);

    // The activity log records the creation and the import, and its chain verifies.
    const log = await target.gatehouse.activityLog.list(operator, copy.id, {});
    expect(log.entries.map((entry) => entry.action).reverse()).toEqual([
      "workspace.create",
      "workspace.import",
    ]);
    expect((await target.gatehouse.activityLog.verify(operator, copy.id)).valid).toBe(true);
    const instanceLog = await target.gatehouse.storage.db
      .selectFrom("instance_log")
      .select("action")
      .orderBy("seq")
      .execute();
    expect(instanceLog.map((row) => row.action)).toEqual([
      "workspace.imported",
      "workspace.exported",
    ]);
  });

  it("never exports password hashes, TOTP secrets, API keys, sessions or credentials", async () => {
    const { gatehouse, clock } = await service();
    const { ws, olivia } = await sampleWorkspace(gatehouse, clock);
    const key = await gatehouse.apiKeys.create(asUser(olivia.id), ws.id, {
      name: "deploy",
      scopes: ["*"],
    });
    const session = await gatehouse.sessions.login({
      email: "olivia@example.com",
      password: "correct horse battery staple",
    });
    const { model: _model, ...data } = await gatehouse.portability.export(operator, ws.id);
    const text = JSON.stringify(data);
    const hashes = await gatehouse.storage.db.selectFrom("users").select("password_hash").execute();
    for (const { password_hash } of hashes) expect(text).not.toContain(password_hash);
    expect(text).not.toContain(key.secret);
    expect(text).not.toContain(key.key.id);
    expect(text).not.toContain(session.token);
    expect(text).not.toMatch(/password|totp|secret|token/i);
  });

  it("matches members to existing users by email when importing a copy on the same instance", async () => {
    const { gatehouse, clock } = await service();
    const { ws, ada } = await sampleWorkspace(gatehouse, clock);
    const exported = await gatehouse.portability.export(operator, ws.id);
    const users = (await countRows(gatehouse)).users;
    const { workspace, counts } = await gatehouse.portability.import(operator, exported, {
      name: "Agency (copy)",
    });
    expect(counts).toMatchObject({ usersCreated: 0, usersMatched: 4 });
    expect((await countRows(gatehouse)).users).toBe(users);
    expect(workspace?.name).toBe("Agency (copy)");
    const decision = await gatehouse.decisions.check(asUser(ada.id), workspace!.id, {
      permission: "hosting.web.manage",
      resource: "hosting:h2",
    });
    expect(decision.allowed).toBe(true);
  });

  it("reports every problem of a bad export with its path and writes nothing", async () => {
    const { gatehouse, clock } = await service();
    const { ws } = await sampleWorkspace(gatehouse, clock);
    const good = await gatehouse.portability.export(operator, ws.id);
    const before = await countRows(gatehouse);
    const bad = structuredClone(good) as unknown as {
      workspace: { plan: unknown };
      members: { email: string }[];
      resources: { resource: string; parent: string }[];
      grants: Record<string, unknown>[];
      groups: { members: string[] }[];
    };
    bad.workspace.plan = "platinum";
    bad.members[1]!.email = "not an email";
    bad.resources.push({ resource: "hosting:h9", parent: "customer:nowhere" });
    bad.resources.push({ resource: "hosting:h1", parent: "customer:c2" });
    bad.resources.push({ resource: "customer:c9", parent: "hosting:h1" });
    bad.grants.push({ subject: "user:ghost", role: "hosting_web", scope: "hosting:h1" });
    bad.grants.push({ subject: bad.grants[1]!["subject"], role: "emperor", scope: "hosting:h1" });
    bad.grants.push({
      subject: bad.grants[1]!["subject"],
      role: "hosting_web",
      scope: "customer:c2",
    });
    bad.groups[0]!.members.push("usr_unknown");
    const issues = await issuesOf(gatehouse.portability.import(operator, bad));
    const paths = issues.map((issue) => issue.path);
    expect(paths).toEqual(
      expect.arrayContaining([
        "workspace.plan",
        "members[1].email",
        "resources[5].parent",
        "resources[6].resource",
        "resources[7]",
        "grants[6].subject",
        "grants[7]",
        "grants[8]",
        "groups[0].members[1]",
      ]),
    );
    expect(await countRows(gatehouse)).toEqual(before);

    expect(await issuesOf(gatehouse.portability.import(operator, { format: "zip" }))).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ path: "format" }),
        expect.objectContaining({ path: "version" }),
      ]),
    );
    const noOwner = structuredClone(good);
    (noOwner as unknown as { grants: unknown[] }).grants = good.grants.filter(
      (grant) => grant.role !== "owner",
    );
    expect((await issuesOf(gatehouse.portability.import(operator, noOwner)))[0]?.path).toBe(
      "grants",
    );
    const otherModel = structuredClone(good) as { model: { roles: Record<string, unknown> } };
    delete otherModel.model.roles["hosting_stats"];
    expect(await issuesOf(gatehouse.portability.import(operator, otherModel))).toEqual([
      expect.objectContaining({ path: "model" }),
    ]);
    expect(await countRows(gatehouse)).toEqual(before);
  });

  it("refuses members already active in another one-workspace-per-email workspace", async () => {
    const { gatehouse } = await service();
    const bill = await signUpPerson(gatehouse, "bill");
    const ws = await gatehouse.workspaces.create(asUser(bill.id), {
      name: "Company",
      preset: "company",
      plan: "standard",
    });
    const exported = await gatehouse.portability.export(operator, ws.id);
    expect(await issuesOf(gatehouse.portability.import(operator, exported))).toEqual([
      expect.objectContaining({ path: "members[0].email" }),
    ]);
    expect(
      await issuesOf(gatehouse.portability.import(operator, exported, { dryRun: true })),
    ).toHaveLength(1);
  });

  it("writes nothing when the import fails halfway (one transaction)", async () => {
    const { gatehouse, clock } = await service();
    const { ws } = await sampleWorkspace(gatehouse, clock);
    const exported = await gatehouse.portability.export(operator, ws.id);
    const target = await service();
    const before = await countRows(target.gatehouse);
    await expect(
      target.gatehouse.portability.import(operator, exported, {
        onProgress: (step) => {
          if (step.phase === "grants") throw new Error("disk full");
        },
      }),
    ).rejects.toThrow("disk full");
    expect(await countRows(target.gatehouse)).toEqual(before);
  });

  it("validates a dry run against the database without writing", async () => {
    const { gatehouse, clock } = await service();
    const { ws } = await sampleWorkspace(gatehouse, clock);
    const exported = await gatehouse.portability.export(operator, ws.id);
    const before = await countRows(gatehouse);
    const result = await gatehouse.portability.import(operator, exported, { dryRun: true });
    expect(result.workspace).toBeUndefined();
    expect(result.counts).toMatchObject({ usersMatched: 4, resources: 5, grants: 6 });
    expect(await countRows(gatehouse)).toEqual(before);
  });

  it("round-trips a workspace's own roles, defined before the grants that give them (#18)", async () => {
    const source = await service({ models: { ...presets, studio } });
    const olivia = await signUpPerson(source.gatehouse, "olivia");
    const owner = asUser(olivia.id);
    const ws = await source.gatehouse.workspaces.create(owner, {
      name: "Studio",
      preset: "studio",
    });
    await source.gatehouse.resources.upsert(systemActor(), ws.id, {
      resource: "site:shop",
      parent: `workspace:${ws.id}`,
    });
    await source.gatehouse.workspaceRoles.define(owner, ws.id, deployer);
    const dana = await signUpPerson(source.gatehouse, "dana");
    await source.gatehouse.members.add(systemActor(), ws.id, {
      userId: dana.id,
      grants: [{ role: "viewer", scope: `workspace:${ws.id}` }],
    });
    await source.gatehouse.members.grant(owner, ws.id, {
      subject: `user:${dana.id}`,
      role: "deployer",
      scope: "site:shop",
    });
    await source.gatehouse.elevations.set(owner, ws.id, {
      subject: `user:${dana.id}`,
      role: "admin",
      scope: `workspace:${ws.id}`,
      maxDurationMs: 3_600_000,
      require2fa: true,
    });
    const exported = await source.gatehouse.portability.export(operator, ws.id);
    expect(exported.version).toBe(2);
    expect(exported.roles).toEqual([deployer]);
    // The model is the preset's: the workspace's roles travel on their own.
    expect(Object.keys(exported.model.roles)).not.toContain("deployer");

    const target = await service({ models: { ...presets, studio } });
    const { workspace, counts } = await target.gatehouse.portability.import(
      operator,
      JSON.parse(JSON.stringify(exported)),
    );
    expect(counts).toMatchObject({ roles: 1, grants: 3, eligibilities: 1 });
    const copy = workspace!;
    expect((await target.gatehouse.workspaceRoles.list(operator, copy.id)).roles).toEqual([
      deployer,
    ]);
    const reexported = await target.gatehouse.portability.export(operator, copy.id);
    expect(normalized(reexported)).toEqual(normalized(exported));
    expect(await allDecisions(target.gatehouse, reexported)).toEqual(
      await allDecisions(source.gatehouse, exported),
    );
    const [danaThere] = reexported.members.filter((member) => member.email === "dana@example.com");
    const decision = await target.gatehouse.decisions.explain(operator, copy.id, {
      subject: `user:${danaThere!.userId}`,
      permission: "site.deploy",
      resource: "site:shop",
    });
    expect(decision.decision).toMatchObject({ allowed: true, via: { role: "deployer" } });

    // Checked as the workspace-roles service checks them; a preset that keeps roles fixed refuses them.
    const pathsOf = async (roles: Record<string, unknown>[]) =>
      (await issuesOf(target.gatehouse.portability.import(operator, { ...exported, roles }))).map(
        (issue) => issue.path,
      );
    expect(
      await pathsOf([
        deployer,
        { name: "payer", scopes: ["workspace"], permissions: ["billing.manage"] },
      ]),
    ).toContain("roles.payer.permissions[0]");
    expect(
      await pathsOf([deployer, { name: "viewer", scopes: ["site"], permissions: ["site.view"] }]),
    ).toContain("roles.viewer");
    const fixed = await service();
    const owner2 = await signUpPerson(fixed.gatehouse, "olivia");
    const mz = await fixed.gatehouse.workspaces.create(asUser(owner2.id), {
      name: "Fixed",
      preset: "mzpanel",
    });
    const mzExport = await fixed.gatehouse.portability.export(operator, mz.id);
    const refused = await issuesOf(
      fixed.gatehouse.portability.import(operator, {
        ...mzExport,
        roles: [{ name: "deployer", scopes: ["site"], permissions: ["site.view"] }],
      }),
    );
    expect(refused.map((issue) => issue.path)).toEqual(["roles"]);
  });

  it("keeps a support person's end, and leaves pending requests out (#18)", async () => {
    const { gatehouse, clock } = await service();
    const { ws, olivia, ada } = await sampleWorkspace(gatehouse, clock);
    const sam = await signUpPerson(gatehouse, "sam");
    const { request } = await gatehouse.accessRequests.createSupport(systemActor(), ws.id, {
      userId: sam.id,
      role: "hosting_stats",
      scope: "hosting:h1",
      reason: "Ticket 4711",
      durationMinutes: 120,
    });
    await gatehouse.accessRequests.approve(asUser(olivia.id), ws.id, request.id);
    await gatehouse.accessRequests.create(asUser(ada.id), ws.id, {
      role: "hosting_web",
      scope: "hosting:h1",
      reason: "the mail is down",
      durationMinutes: 60,
    });
    const exported = await gatehouse.portability.export(operator, ws.id);
    const until = clock.now + 120 * 60_000;
    expect(exported.members.find((member) => member.email === "sam@example.com")).toMatchObject({
      supportUntil: until,
    });
    expect(JSON.stringify(exported)).not.toContain("the mail is down");
    const target = await service();
    const { workspace } = await target.gatehouse.portability.import(operator, exported);
    const again = await target.gatehouse.portability.export(operator, workspace!.id);
    expect(again.members.find((member) => member.email === "sam@example.com")?.supportUntil).toBe(
      until,
    );
    expect(again.members.filter((member) => member.supportUntil !== null)).toHaveLength(1);
  });

  it("imports a version 1 export: no roles, notes or eligibilities", async () => {
    const { gatehouse, clock } = await service();
    const { ws } = await sampleWorkspace(gatehouse, clock);
    const current = await gatehouse.portability.export(operator, ws.id);
    const { roles: _roles, eligibilities: _eligibilities, ...rest } = current;
    const version1 = {
      ...rest,
      version: 1,
      grants: current.grants
        .filter((grant) => grant.note === null)
        .map(({ note: _note, ...grant }) => grant),
    };
    const { workspace, counts } = await gatehouse.portability.import(operator, version1, {
      name: "Agency (v1)",
    });
    expect(counts).toMatchObject({ roles: 0, grants: 5, eligibilities: 0 });
    const again = await gatehouse.portability.export(operator, workspace!.id);
    expect(again.grants.every((grant) => grant.note === null)).toBe(true);
    expect(again.eligibilities).toEqual([]);
    expect(
      await issuesOf(gatehouse.portability.import(operator, { ...version1, version: 3 })),
    ).toEqual([expect.objectContaining({ path: "version" })]);
  });

  it("is an operator path: members cannot export or import", async () => {
    const { gatehouse, clock } = await service();
    const { ws, olivia } = await sampleWorkspace(gatehouse, clock);
    await expect(gatehouse.portability.export(asUser(olivia.id), ws.id)).rejects.toMatchObject({
      code: "PERMISSION_DENIED",
    });
    await expect(gatehouse.portability.import(asUser(olivia.id), {})).rejects.toMatchObject({
      code: "PERMISSION_DENIED",
    });
  });

  it("imports 20,000 resources and 20,000 grants in one transaction, reporting progress", async () => {
    const { gatehouse } = await service();
    const data = largeExport({ servers: 200, sitesPerServer: 100, customers: 200 });
    const progress: ImportProgress[] = [];
    const { workspace, counts } = await gatehouse.portability.import(operator, data, {
      onProgress: (step) => progress.push(step),
    });
    expect(counts).toMatchObject({ resources: 20_200, grants: 20_001, members: 201 });
    const grantSteps = progress.filter((step) => step.phase === "grants");
    expect(grantSteps.length).toBe(20);
    expect(grantSteps.at(-1)).toEqual({ phase: "grants", done: 20_000, total: 20_000 });
    const customer = await gatehouse.users.findByEmail("customer7@example.com");
    const visible = await gatehouse.resources.list(asUser(customer!.id), workspace!.id, {
      type: "site",
      permission: "site.deploy",
    });
    expect(visible.items).toHaveLength(100);
    expect(visible.items[0]).toBe("site:s7-0");
    const again = await gatehouse.portability.export(operator, workspace!.id);
    expect(again.grants).toHaveLength(20_001);
    expect(again.resources).toHaveLength(20_200);
  });
});

/** A synthetic mzpanel export: servers with sites, one customer per server on each of its sites. */
function largeExport(size: { servers: number; sitesPerServer: number; customers: number }) {
  const id = "ws_large";
  const root = `workspace:${id}` as ResourceRef;
  const members = [{ userId: "u-owner", email: "owner@example.com", name: "Owner", joinedAt: 1 }];
  const resources: { resource: string; parent: string }[] = [];
  const grants: Record<string, unknown>[] = [
    { subject: "user:u-owner", role: "owner", scope: root, extras: [], expiresAt: null },
  ];
  for (let server = 0; server < size.servers; server++) {
    resources.push({ resource: `server:s${server}`, parent: root });
    const userId = `u-${server}`;
    members.push({
      userId,
      email: `customer${server}@example.com`,
      name: `C ${server}`,
      joinedAt: 2,
    });
    for (let site = 0; site < size.sitesPerServer; site++) {
      resources.push({ resource: `site:s${server}-${site}`, parent: `server:s${server}` });
      grants.push({
        subject: `user:${userId}`,
        role: "customer",
        scope: `site:s${server}-${site}`,
      });
    }
  }
  return {
    format: "gatehouse.workspace",
    version: 1,
    workspace: {
      id,
      name: "Large",
      preset: "mzpanel",
      plan: null,
      settings: { joinKey: null, require2fa: false, oneWorkspacePerEmail: null },
    },
    members,
    groups: [],
    resources,
    grants,
  };
}
