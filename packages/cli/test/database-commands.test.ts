import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { asUser, type Gatehouse, systemActor } from "@gatehouse/service";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { migrations } from "../../service/src/database/migrations/index.ts";
import { totpCode } from "../../service/src/sign-in/two-factor.ts";
import { type CliDatabase, cliBackends, gatehouse } from "./harness.ts";

const PASSWORD = "correct horse battery staple";

// Each test spawns the CLI a few times (up to seconds each on a busy machine).
vi.setConfig({ testTimeout: 60_000 });

/** An mzpanel workspace: owner olivia, operator otto on fra-1, customer cara on shop.example. */
async function demoWorkspace(service: Gatehouse) {
  const person = async (name: string) =>
    (await service.users.signUp({ email: `${name}@example.com`, password: PASSWORD, name })).user;
  const olivia = await person("olivia");
  const ws = await service.workspaces.create(asUser(olivia.id), {
    name: "Hosting",
    preset: "mzpanel",
  });
  for (const [resource, parent] of [
    ["server:fra-1", `workspace:${ws.id}`],
    ["server:ams-1", `workspace:${ws.id}`],
    ["site:shop.example", "server:fra-1"],
    ["site:docs.example", "server:ams-1"],
  ] as const)
    await service.resources.upsert(systemActor(), ws.id, { resource, parent });
  const otto = await person("otto");
  await service.members.add(systemActor(), ws.id, {
    userId: otto.id,
    grants: [{ role: "operator", scope: "server:fra-1" }],
  });
  const cara = await person("cara");
  await service.members.add(systemActor(), ws.id, {
    userId: cara.id,
    grants: [{ role: "customer", scope: "site:shop.example" }],
  });
  return { ws, olivia, otto, cara };
}

/** Sets up a database through the service in this process, then closes it for the CLI. */
async function withService<T>(database: CliDatabase, work: (service: Gatehouse) => Promise<T>) {
  const service = await database.open();
  try {
    return await work(service);
  } finally {
    await service.close();
  }
}

describe.each(cliBackends)("database commands on $name", (backend) => {
  const databases: CliDatabase[] = [];
  const fresh = () => {
    const database = backend.create();
    databases.push(database);
    return database;
  };
  let folder: string;
  beforeAll(() => {
    folder = mkdtempSync(join(tmpdir(), "gatehouse-cli-files-"));
  });
  afterAll(() => rmSync(folder, { recursive: true, force: true }));
  afterEach(async () => {
    for (const database of databases.splice(0)) await database.drop();
  });

  it("migrate creates the schema, lists what it applied, and then has nothing to apply", async () => {
    const database = fresh();
    const first = await gatehouse(["migrate"], { env: database.env });
    expect(first.code).toBe(0);
    const names = Object.keys(migrations);
    expect(first.stdout).toContain(
      `applied ${names.length} migration(s)\n${names.map((name) => `  ${name}\n`).join("")}`,
    );
    const again = await gatehouse(["migrate", "--json"], { env: database.env });
    expect(again.code).toBe(0);
    expect(JSON.parse(again.stdout)).toMatchObject({ applied: [] });
  });

  it("create-owner reads the password from stdin, never prints it, and the owner can sign in", async () => {
    const database = fresh();
    const secret = "a long and secret passphrase";
    const created = await gatehouse(
      [
        "create-owner",
        "--email",
        "Olivia@Example.com",
        "--name",
        "Olivia",
        "--preset",
        "company",
        "--plan",
        "premium",
        "--workspace",
        "Acme",
        "--password-stdin",
        "--json",
      ],
      { env: database.env, input: `${secret}\n` },
    );
    expect(created.stderr).toBe("");
    expect(created.code).toBe(0);
    expect(created.stdout).not.toContain(secret);
    const { user, workspace } = JSON.parse(created.stdout);
    expect(user.email).toBe("olivia@example.com");
    expect(workspace).toMatchObject({ name: "Acme", preset: "company", plan: "premium" });
    await withService(database, async (service) => {
      const signedIn = await service.users.authenticate({
        email: "olivia@example.com",
        password: secret,
      });
      expect(signedIn.id).toBe(user.id);
      // Only the chosen workspace: no personal one besides.
      const workspaces = await service.workspaces.listForUser(user.id);
      expect(workspaces.map((entry) => entry.id)).toEqual([workspace.id]);
      const log = await service.activityLog.list(systemActor(), workspace.id, {});
      expect(log.entries[0]).toMatchObject({ action: "workspace.create" });
      expect(JSON.stringify(log)).not.toContain(secret);
    });

    const [weak, unknownPreset, taken, noTerminal] = await Promise.all([
      gatehouse(["create-owner", "--email", "w@example.com", "--password-stdin"], {
        env: database.env,
        input: "short\n",
      }),
      gatehouse(
        ["create-owner", "--email", "p@example.com", "--preset", "nope", "--password-stdin"],
        { env: database.env, input: `${secret}\n` },
      ),
      gatehouse(["create-owner", "--email", "olivia@example.com", "--password-stdin"], {
        env: database.env,
        input: `${secret}\n`,
      }),
      gatehouse(["create-owner", "--email", "t@example.com"], { env: database.env }),
    ]);
    expect([weak.code, unknownPreset.code, taken.code, noTerminal.code]).toEqual([1, 1, 1, 1]);
    expect(weak.stderr).toContain("[WEAK_PASSWORD]");
    expect(weak.stderr).not.toContain("short");
    expect(unknownPreset.stderr).toContain("[UNKNOWN_PRESET]");
    expect(taken.stderr).toContain("[EMAIL_TAKEN]");
    expect(noTerminal.stderr).toContain("--password-stdin");
  });

  it("check and explain answer for any subject as the operator: exit 0 allowed, 3 denied, 1 error", async () => {
    const database = fresh();
    const { ws, otto, cara } = await withService(database, demoWorkspace);
    const env = database.env;
    const [allowed, denied, json, explained, explainedJson, missing, unknownUser] =
      await Promise.all([
        gatehouse(["check", ws.id, "cara@example.com", "site.deploy", "site:shop.example"], {
          env,
        }),
        gatehouse(["check", ws.id, `user:${cara.id}`, "server.view", "server:fra-1"], { env }),
        gatehouse(["check", ws.id, otto.id, "site.deploy", "site:shop.example", "--json"], {
          env,
        }),
        gatehouse(["explain", ws.id, "otto@example.com", "site.deploy", "site:docs.example"], {
          env,
        }),
        gatehouse(
          ["explain", ws.id, "cara@example.com", "site.view", "site:shop.example", "--json"],
          { env },
        ),
        gatehouse(["check", "ws_missing", `user:${cara.id}`, "site.view", "site:shop.example"], {
          env,
        }),
        gatehouse(["check", ws.id, "nobody@example.com", "site.view", "site:shop.example"], {
          env,
        }),
      ]);
    expect(allowed).toMatchObject({ code: 0 });
    expect(allowed.stdout).toBe(
      `user:${cara.id} site.deploy on site:shop.example: allowed (role "customer" on site:shop.example)\n`,
    );
    expect(denied.code).toBe(3);
    expect(denied.stdout).toContain("denied (no_grant)");
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout)).toMatchObject({
      subject: `user:${otto.id}`,
      allowed: true,
      via: { role: "operator", scope: "server:fra-1" },
    });
    expect(explained.code).toBe(3);
    expect(explained.stdout).toContain(`denied: no live grant of user:${otto.id}`);
    expect(explained.stdout).toContain(
      'role "operator" on server:fra-1: not at the resource or above it',
    );
    expect(explained.stdout).toContain('would be allowed by: role "customer" on site:docs.example');
    expect(explainedJson.code).toBe(0);
    expect(JSON.parse(explainedJson.stdout)).toMatchObject({
      decision: { allowed: true },
      considered: [{ outcome: "allows", grant: { role: "customer" } }],
    });
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain("[WORKSPACE_NOT_FOUND]");
    expect(unknownUser.code).toBe(1);
    expect(unknownUser.stderr).toContain("[USER_NOT_FOUND]");
  });

  it("workspace transfer-ownership is the operator's path where self-service transfer is off (company)", async () => {
    const database = fresh();
    const { ws, bill, mara } = await withService(database, async (service) => {
      const person = async (name: string) =>
        (await service.users.signUp({ email: `${name}@example.com`, password: PASSWORD, name }))
          .user;
      const bill = await person("bill");
      const mara = await person("mara");
      const ws = await service.workspaces.create(asUser(bill.id), {
        name: "Company",
        preset: "company",
        plan: "standard",
      });
      await service.members.add(systemActor(), ws.id, {
        userId: mara.id,
        grants: [{ role: "manager", scope: `workspace:${ws.id}` }],
      });
      await expect(
        service.workspaces.transferOwnership(asUser(bill.id), ws.id, mara.id),
      ).rejects.toMatchObject({ code: "TRANSFER_NOT_SELF_SERVICE" });
      return { ws, bill, mara };
    });
    const moved = await gatehouse(["workspace", "transfer-ownership", ws.id, "mara@example.com"], {
      env: database.env,
    });
    expect(moved.stderr).toBe("");
    expect(moved.code).toBe(0);
    expect(moved.stdout).toContain(`${mara.id} now owns workspace ${ws.id}`);
    await withService(database, async (service) => {
      const members = await service.members.list(systemActor(), ws.id);
      expect(members.find((member) => member.isOwner)?.userId).toBe(mara.id);
      expect(members.find((member) => member.userId === bill.id)).toBeDefined();
      const log = await service.activityLog.list(systemActor(), ws.id, {});
      expect(log.entries[0]).toMatchObject({
        action: "workspace.transfer_ownership",
        actor: { type: "system", id: "cli" },
      });
    });
    const stranger = await gatehouse(
      ["workspace", "transfer-ownership", ws.id, "nobody@example.com"],
      { env: database.env },
    );
    expect(stranger.code).toBe(1);
    expect(stranger.stderr).toContain("[USER_NOT_FOUND]");
  });

  it("user reset-2fa turns off a user's two-factor sign-in and ends their sessions, in the activity log (#14 finding 12)", async () => {
    const database = fresh();
    const mara = await withService(database, async (service) => {
      const { user } = await service.users.signUp({
        email: "mara@example.com",
        password: PASSWORD,
        name: "mara",
      });
      const { secret } = await service.twoFactor.enroll(user.id);
      await service.twoFactor.confirm(user.id, totpCode(secret, Date.now()));
      await service.twoFactor.newRecoveryCodes(asUser(user.id));
      // Without a code, the password alone no longer signs in.
      await expect(
        service.sessions.login({ email: "mara@example.com", password: PASSWORD }),
      ).rejects.toMatchObject({ code: "TOTP_REQUIRED" });
      return user;
    });
    const reset = await gatehouse(["user", "reset-2fa", "mara@example.com"], { env: database.env });
    expect(reset.stderr).toBe("");
    expect(reset.code).toBe(0);
    expect(reset.stdout).toContain(`Two-factor sign-in of ${mara.id} is reset`);
    await withService(database, async (service) => {
      expect(await service.twoFactor.status(mara.id)).toMatchObject({
        enabled: false,
        recoveryCodesLeft: 0,
      });
      const session = await service.sessions.login({
        email: "mara@example.com",
        password: PASSWORD,
      });
      expect(session.user.id).toBe(mara.id);
      const logged = await service.storage.db
        .selectFrom("instance_log")
        .select(["actor", "details"])
        .where("action", "=", "two_factor.reset")
        .execute();
      expect(logged).toEqual([{ actor: "system:cli", details: expect.stringContaining(mara.id) }]);
    });
    const stranger = await gatehouse(["user", "reset-2fa", "nobody@example.com"], {
      env: database.env,
    });
    expect(stranger.code).toBe(1);
    expect(stranger.stderr).toContain("[USER_NOT_FOUND]");
  });

  it("workspace invite invites with a role, or into a team only, and prints the accept link (#18)", async () => {
    const database = fresh();
    const { ws, group } = await withService(database, async (service) => {
      const { ws, olivia } = await demoWorkspace(service);
      const { group } = await service.members.createGroup(asUser(olivia.id), ws.id, {
        name: "Web team",
      });
      return { ws, group };
    });
    const env = { ...database.env, PUBLIC_URL: "https://panel.example" };
    const teamOnly = await gatehouse(
      ["workspace", "invite", ws.id, "wes@example.com", "--group", group.id],
      { env },
    );
    expect(teamOnly.code, teamOnly.stderr).toBe(0);
    expect(teamOnly.stdout).toContain("Invited wes@example.com (team Web team)");
    expect(teamOnly.stdout).toMatch(
      /https:\/\/panel\.example\/invitations\/accept#[A-Za-z0-9_-]{43}/,
    );
    const both = await gatehouse(
      [
        "workspace",
        "invite",
        ws.id,
        "vic@example.com",
        "--role",
        "customer",
        "--scope",
        "site:shop.example",
        "--group",
        group.id,
        "--json",
      ],
      { env },
    );
    expect(both.code, both.stderr).toBe(0);
    expect(JSON.parse(both.stdout)).toMatchObject({
      invitation: {
        role: "customer",
        scopes: ["site:shop.example"],
        groups: [{ id: group.id, name: "Web team" }],
      },
    });
    const unknown = await gatehouse(
      ["workspace", "invite", ws.id, "x@example.com", "--group", "grp_nowhere"],
      { env },
    );
    expect(unknown.code).toBe(1);
  });

  it("workspace export and import move a workspace to another database with the same decisions", async () => {
    const source = fresh();
    const { ws } = await withService(source, demoWorkspace);
    const file = join(folder, `${backend.name}-export.json`);
    const exported = await gatehouse(["workspace", "export", ws.id, "-o", file], {
      env: source.env,
    });
    expect(exported.code).toBe(0);
    expect(exported.stderr).toContain("3 members, 0 groups, 4 resources, 3 grants");
    const data = JSON.parse(readFileSync(file, "utf8"));
    const { model: _model, ...withoutModel } = data;
    expect(JSON.stringify(withoutModel)).not.toMatch(/password|scrypt|totp|token|secret/i);
    expect(Object.keys(data.members[0]).sort()).toEqual([
      "email",
      "joinedAt",
      "name",
      "supportUntil",
      "userId",
    ]);

    const target = fresh();
    const dryRun = await gatehouse(["workspace", "import", file, "--dry-run"], {
      env: target.env,
    });
    expect(dryRun.code).toBe(0);
    expect(dryRun.stdout).toContain("nothing written (--dry-run)");
    const imported = await gatehouse(["workspace", "import", file, "--json"], {
      env: target.env,
    });
    expect(imported.code).toBe(0);
    expect(imported.stderr).toContain("grants: 2/2");
    const result = JSON.parse(imported.stdout);
    expect(result.counts).toMatchObject({ members: 3, usersCreated: 3, resources: 4 });
    const copy = result.workspace.id as string;

    // The same questions get the same answers in the copy.
    const questions = [
      ["otto@example.com", "site.deploy", "site:shop.example", 0],
      ["cara@example.com", "server.view", "server:fra-1", 3],
    ] as const;
    const answers = await Promise.all(
      questions.map(([subject, permission, resource]) =>
        gatehouse(["check", copy, subject, permission, resource], { env: target.env }),
      ),
    );
    expect(answers.map((answer) => answer.code)).toEqual(questions.map((question) => question[3]));

    // Re-exported through stdout, it is the same workspace up to ids.
    const again = await gatehouse(["workspace", "export", copy], { env: target.env });
    const second = JSON.parse(again.stdout);
    const shape = (value: typeof data) => ({
      resources: value.resources.map((entry: { resource: string }) => entry.resource).sort(),
      members: value.members.map((member: { email: string }) => member.email).sort(),
      grants: value.grants
        .map((grant: { role: string; scope: string }) =>
          [grant.role, grant.scope.startsWith("workspace:") ? "ROOT" : grant.scope].join(" "),
        )
        .sort(),
    });
    expect(shape(second)).toEqual(shape(data));
  });

  it("workspace import lists every problem with its path and writes nothing", async () => {
    const database = fresh();
    const { ws } = await withService(database, demoWorkspace);
    const exported = await gatehouse(["workspace", "export", ws.id], { env: database.env });
    const data = JSON.parse(exported.stdout);
    data.workspace.preset = "mzpanel";
    data.resources.push({ resource: "site:lost.example", parent: "server:gone" });
    data.grants.push({ subject: "user:ghost", role: "customer", scope: "site:shop.example" });
    const file = join(folder, `${backend.name}-bad.json`);
    writeFileSync(file, JSON.stringify(data));
    const before = await withService(database, (service) =>
      service.storage.db.selectFrom("workspaces").select("id").execute(),
    );
    const refused = await gatehouse(["workspace", "import", file], { env: database.env });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain("[INVALID_INPUT]");
    expect(refused.stderr).toContain(
      "  resources[4].parent: server:gone is neither the root workspace:",
    );
    expect(refused.stderr).toContain('  grants[3].subject: "user:ghost" is not a member or group');
    const after = await withService(database, (service) =>
      service.storage.db.selectFrom("workspaces").select("id").execute(),
    );
    expect(after).toEqual(before);

    writeFileSync(file, "{ not json");
    const garbled = await gatehouse(["workspace", "import", file], { env: database.env });
    expect(garbled.code).toBe(1);
    expect(garbled.stderr).toContain("is not JSON");
  });

  it("imports 20,000 resources and grants, reporting progress on stderr every 1000 rows", async () => {
    const database = fresh();
    const file = join(folder, `${backend.name}-large.json`);
    writeFileSync(file, JSON.stringify(largeExport(200, 100)));
    const imported = await gatehouse(["workspace", "import", file], { env: database.env });
    expect(imported.stderr).not.toContain("error");
    expect(imported.code).toBe(0);
    expect(imported.stdout).toContain("20200 resources, 20001 grants");
    const progress = imported.stderr.split("\n").filter((line) => line.startsWith("  grants: "));
    expect(progress).toHaveLength(20);
    expect(progress[0]).toBe("  grants: 1000/20000");
    expect(progress.at(-1)).toBe("  grants: 20000/20000");
    expect(imported.stderr).toContain("  resources: 20200/20200");
  });
});

/** A synthetic mzpanel export: `servers` servers with `sites` sites each, one customer per server. */
function largeExport(servers: number, sites: number) {
  const root = "workspace:ws_large";
  const members = [{ userId: "owner", email: "owner@example.com", name: "Owner", joinedAt: 1 }];
  const resources: { resource: string; parent: string }[] = [];
  const grants: Record<string, unknown>[] = [
    { subject: "user:owner", role: "owner", scope: root, extras: [], expiresAt: null },
  ];
  for (let server = 0; server < servers; server++) {
    resources.push({ resource: `server:s${server}`, parent: root });
    members.push({ userId: `c${server}`, email: `c${server}@example.com`, name: "C", joinedAt: 2 });
    for (let site = 0; site < sites; site++) {
      resources.push({ resource: `site:s${server}-${site}`, parent: `server:s${server}` });
      grants.push({
        subject: `user:c${server}`,
        role: "customer",
        scope: `site:s${server}-${site}`,
      });
    }
  }
  return {
    format: "gatehouse.workspace",
    version: 1,
    workspace: { id: "ws_large", name: "Large", preset: "mzpanel", plan: null },
    members,
    groups: [],
    resources,
    grants,
  };
}
