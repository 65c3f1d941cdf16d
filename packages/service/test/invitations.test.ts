import { isGatehouseError } from "@gatehouse/engine";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { asUser, type RequestContext, systemActor } from "../src/actor.ts";
import type { Gatehouse } from "../src/gatehouse.ts";
import { hashSecret } from "../src/support/crypto.ts";
import { DAY_MS } from "../src/support/time.ts";
import {
  backends,
  codeOf,
  openPeerServices,
  openService,
  PASSWORD,
  postgresBackend,
  signUpPerson,
} from "./backends.ts";

describe.each(backends)("invitations on $name", (backend) => {
  let gatehouse: Gatehouse;
  let clock: { now: number };

  beforeEach(async () => {
    ({ gatehouse, clock } = await openService(backend));
  });
  afterEach(async () => {
    await gatehouse.close();
  });

  const person = (name: string) => signUpPerson(gatehouse, name);

  /** A `company` workspace owned by Ada on the standard plan (5 members). */
  async function company(ownerName = "ada", plan = "standard") {
    const owner = await person(ownerName);
    const ws = await gatehouse.workspaces.create(asUser(owner.id), {
      name: `${ownerName} GmbH`,
      preset: "company",
      plan,
    });
    return { owner, ws, root: `workspace:${ws.id}`, as: asUser(owner.id) };
  }

  /** An mzpanel workspace owned by Olivia, with server s1 holding sites a and b. */
  async function panel() {
    const olivia = await person("olivia");
    const ws = await gatehouse.workspaces.create(asUser(olivia.id), {
      name: "Acme hosting",
      preset: "mzpanel",
    });
    const host = systemActor();
    await gatehouse.resources.upsert(host, ws.id, {
      resource: "server:s1",
      parent: `workspace:${ws.id}`,
    });
    await gatehouse.resources.upsert(host, ws.id, { resource: "site:a", parent: "server:s1" });
    await gatehouse.resources.upsert(host, ws.id, { resource: "site:b", parent: "server:s1" });
    return { olivia, ws, root: `workspace:${ws.id}` };
  }

  async function auditOf(workspaceId: string) {
    return gatehouse.storage.db
      .selectFrom("audit_log")
      .selectAll()
      .where("workspace_id", "=", workspaceId)
      .orderBy("seq")
      .execute();
  }

  function check(
    request: RequestContext,
    workspaceId: string,
    permission: string,
    resource: string,
  ) {
    return gatehouse.decisions.check(request, workspaceId, { permission, resource });
  }

  it("invites by email and role; the pending invitation holds nothing until accepted", async () => {
    const { ws, root, as } = await company();
    const bob = await person("bob");
    const { invitation, token, revision } = await gatehouse.invitations.create(as, ws.id, {
      email: " Bob@Example.com ",
      role: "billing",
    });
    expect(invitation).toMatchObject({
      email: "bob@example.com",
      role: "billing",
      scopes: [root],
      extras: [],
      status: "pending",
      createdAt: clock.now,
      expiresAt: clock.now + 7 * DAY_MS,
    });
    expect(revision).toBeGreaterThan(ws.revision);
    expect(Object.keys(invitation)).not.toContain("tokenHash");
    expect(JSON.stringify(invitation)).not.toContain(token);
    // 256 bits of randomness, stored only as its hash.
    expect(Buffer.from(token, "base64url")).toHaveLength(32);
    const stored = await gatehouse.storage.db
      .selectFrom("invitations")
      .selectAll()
      .executeTakeFirstOrThrow();
    expect(stored.token_hash).toBe(hashSecret(token));
    expect(JSON.stringify(stored)).not.toContain(token);

    expect(await codeOf(check(asUser(bob.id), ws.id, "billing.invoices.view", root))).toBe(
      "WORKSPACE_NOT_FOUND",
    );
    expect(
      await gatehouse.decisions.check(as, ws.id, {
        subject: `user:${bob.id}`,
        permission: "billing.invoices.view",
        resource: root,
      }),
    ).toMatchObject({ allowed: false });
    expect((await gatehouse.members.list(as, ws.id)).map((member) => member.name)).toEqual(["ada"]);

    const accepted = await gatehouse.invitations.accept({ token, userId: bob.id });
    expect(accepted).toMatchObject({ workspaceId: ws.id, createdAccount: false });
    expect(accepted.user.id).toBe(bob.id);
    expect(await check(asUser(bob.id), ws.id, "billing.invoices.view", root)).toMatchObject({
      allowed: true,
    });
    expect(await check(asUser(bob.id), ws.id, "server.manage", root)).toMatchObject({
      allowed: false,
    });
    const [listed] = await gatehouse.invitations.list(as, ws.id);
    expect(listed).toMatchObject({ status: "accepted", acceptedBy: bob.id });

    const log = await auditOf(ws.id);
    expect(log.map((entry) => [entry.action, entry.actor_id])).toEqual([
      ["workspace.create", expect.any(String)],
      ["invitation.create", expect.any(String)],
      ["invitation.accept", bob.id],
    ]);
    expect(JSON.stringify(log)).not.toContain(token);
  });

  it("creates the account for the invited email on accept, without a personal workspace", async () => {
    const { ws, root, as } = await company();
    const { token } = await gatehouse.invitations.create(as, ws.id, {
      email: "nina@example.com",
      role: "technical",
    });
    expect(
      await codeOf(gatehouse.invitations.accept({ token, newAccount: { password: "short" } })),
    ).toBe("WEAK_PASSWORD");
    const { user, createdAccount, workspaceId } = await gatehouse.invitations.accept({
      token,
      newAccount: { password: PASSWORD, name: "Nina" },
    });
    expect(createdAccount).toBe(true);
    expect(workspaceId).toBe(ws.id);
    expect(user).toMatchObject({ email: "nina@example.com", name: "Nina" });
    const signedIn = await gatehouse.users.authenticate({
      email: "nina@example.com",
      password: PASSWORD,
    });
    expect(signedIn.id).toBe(user.id);
    expect((await gatehouse.workspaces.listForUser(user.id)).map((w) => w.id)).toEqual([ws.id]);
    expect(await check(asUser(user.id), ws.id, "vps.restart", root)).toMatchObject({
      allowed: true,
    });
  });

  it("accepts and signs the new account in with one call; a signed-in person joins as themselves", async () => {
    const { ws, as } = await company();
    const invite = async (email: string) =>
      (await gatehouse.invitations.create(as, ws.id, { email, role: "technical" })).token;
    const nina = await invite("nina@example.com");
    expect(await codeOf(gatehouse.invitations.acceptAndSignIn({ token: nina }))).toBe(
      "INVALID_CREDENTIALS",
    );
    const created = await gatehouse.invitations.acceptAndSignIn({
      token: nina,
      password: PASSWORD,
    });
    expect(created).toMatchObject({ createdAccount: true, workspaceId: ws.id });
    expect(created.signInRefusal).toBeUndefined();
    const session = await gatehouse.sessions.authenticate(created.session!.token);
    expect(session.user.id).toBe(created.user.id);

    const bob = await person("bob");
    const token = await invite("bob@example.com");
    expect(
      await codeOf(
        gatehouse.invitations.acceptAndSignIn({
          token,
          caller: asUser(bob.id),
          password: PASSWORD,
        }),
      ),
    ).toBe("INVALID_INPUT");
    const joined = await gatehouse.invitations.acceptAndSignIn({ token, caller: asUser(bob.id) });
    expect(joined).toMatchObject({
      createdAccount: false,
      session: undefined,
      user: { id: bob.id },
    });
  });

  it("refuses a new account for a registered email (EMAIL_TAKEN) and leaves the invitation usable", async () => {
    const { ws, as } = await company();
    const bob = await person("bob");
    const { token } = await gatehouse.invitations.create(as, ws.id, {
      email: "bob@example.com",
      role: "billing",
    });
    expect(
      await codeOf(gatehouse.invitations.accept({ token, newAccount: { password: PASSWORD } })),
    ).toBe("EMAIL_TAKEN");
    const accepted = await gatehouse.invitations.accept({ token, userId: bob.id });
    expect(accepted.user.id).toBe(bob.id);
  });

  it("is valid for 7 days, then INVITATION_EXPIRED and its seat is free", async () => {
    const { ws, as } = await company();
    const bob = await person("bob");
    const carol = await person("carol");
    const forBob = await gatehouse.invitations.create(as, ws.id, {
      email: "bob@example.com",
      role: "billing",
    });
    const forCarol = await gatehouse.invitations.create(as, ws.id, {
      email: "carol@example.com",
      role: "billing",
    });
    clock.now += 7 * DAY_MS - 1;
    await gatehouse.invitations.accept({ token: forBob.token, userId: bob.id });
    clock.now += 1;
    expect(
      await codeOf(gatehouse.invitations.accept({ token: forCarol.token, userId: carol.id })),
    ).toBe("INVITATION_EXPIRED");
    expect(
      (await gatehouse.invitations.list(as, ws.id, { status: "expired" })).map((i) => i.email),
    ).toEqual(["carol@example.com"]);
    // Owner, Bob and three new invitations fill the standard plan's five seats.
    for (const name of ["d1", "d2", "d3"]) {
      await gatehouse.invitations.create(as, ws.id, {
        email: `${name}@example.com`,
        role: "billing",
      });
    }
    expect(
      await codeOf(
        gatehouse.invitations.create(as, ws.id, { email: "d4@example.com", role: "billing" }),
      ),
    ).toBe("MEMBER_LIMIT_REACHED");
  });

  it("is single use: a second accept answers INVITATION_ALREADY_USED", async () => {
    const { ws, as } = await company();
    const bob = await person("bob");
    const { token } = await gatehouse.invitations.create(as, ws.id, {
      email: "bob@example.com",
      role: "billing",
    });
    await gatehouse.invitations.accept({ token, userId: bob.id });
    expect(await codeOf(gatehouse.invitations.accept({ token, userId: bob.id }))).toBe(
      "INVITATION_ALREADY_USED",
    );
    expect(
      await codeOf(gatehouse.invitations.accept({ token, newAccount: { password: PASSWORD } })),
    ).toBe("INVITATION_ALREADY_USED");
    expect(
      await codeOf(
        gatehouse.invitations.revoke(
          as,
          ws.id,
          (await gatehouse.invitations.list(as, ws.id))[0]!.id,
        ),
      ),
    ).toBe("INVITATION_ALREADY_USED");
  });

  it("answers INVITATION_NOT_FOUND for an unknown token and INVALID_INPUT for a malformed one", async () => {
    const { ws, as } = await company();
    const bob = await person("bob");
    const { token } = await gatehouse.invitations.create(as, ws.id, {
      email: "bob@example.com",
      role: "billing",
    });
    expect(await codeOf(gatehouse.invitations.accept({ token: `${token}x`, userId: bob.id }))).toBe(
      "INVITATION_NOT_FOUND",
    );
    expect(
      await codeOf(
        gatehouse.invitations.accept({ token: 42, userId: bob.id } as unknown as {
          token: string;
          userId: string;
        }),
      ),
    ).toBe("INVALID_INPUT");
    expect(
      await codeOf(
        gatehouse.invitations.accept({
          token,
          userId: bob.id,
          newAccount: { password: PASSWORD },
        } as unknown as { token: string; userId: string }),
      ),
    ).toBe("INVALID_INPUT");
    expect(await codeOf(gatehouse.invitations.accept({ token, userId: "usr_nobody" }))).toBe(
      "USER_NOT_FOUND",
    );
  });

  it("revokes: the link stops working, and the revocation is logged", async () => {
    const { ws, as } = await company();
    const bob = await person("bob");
    const { invitation, token } = await gatehouse.invitations.create(as, ws.id, {
      email: "bob@example.com",
      role: "billing",
    });
    const revoked = await gatehouse.invitations.revoke(as, ws.id, invitation.id);
    expect(revoked.invitation.status).toBe("revoked");
    expect(await codeOf(gatehouse.invitations.accept({ token, userId: bob.id }))).toBe(
      "INVITATION_REVOKED",
    );
    expect(await codeOf(gatehouse.invitations.revoke(as, ws.id, "inv_nothing"))).toBe(
      "INVITATION_NOT_FOUND",
    );
    // Revoking again changes nothing.
    const again = await gatehouse.invitations.revoke(as, ws.id, invitation.id);
    expect(again.revision).toBe(revoked.revision);
    expect((await auditOf(ws.id)).map((entry) => entry.action)).toEqual([
      "workspace.create",
      "invitation.create",
      "invitation.revoke",
    ]);
    expect(await gatehouse.invitations.list(as, ws.id, { status: "pending" })).toEqual([]);
  });

  it("refuses another person's invitation (INVITATION_EMAIL_MISMATCH) and logs the attempt", async () => {
    const { ws, as } = await company();
    await person("bob");
    const mallory = await person("mallory");
    const { token } = await gatehouse.invitations.create(as, ws.id, {
      email: "bob@example.com",
      role: "manager",
    });
    expect(await codeOf(gatehouse.invitations.accept({ token, userId: mallory.id }))).toBe(
      "INVITATION_EMAIL_MISMATCH",
    );
    const denied = (await auditOf(ws.id)).at(-1)!;
    expect([denied.action, denied.result, denied.actor_id]).toEqual([
      "invitation.accept",
      "denied",
      mallory.id,
    ]);
    expect(await codeOf(check(asUser(mallory.id), ws.id, "team.view", `workspace:${ws.id}`))).toBe(
      "WORKSPACE_NOT_FOUND",
    );
  });

  it("counts pending invitations against the plan's member limit", async () => {
    const { ws, as } = await company();
    const invitations = [];
    for (const name of ["b1", "b2", "b3", "b4"]) {
      invitations.push(
        await gatehouse.invitations.create(as, ws.id, {
          email: `${name}@example.com`,
          role: "billing",
        }),
      );
    }
    expect(
      await codeOf(
        gatehouse.invitations.create(as, ws.id, { email: "b5@example.com", role: "billing" }),
      ),
    ).toBe("MEMBER_LIMIT_REACHED");
    const b5 = await person("b5");
    expect(
      await codeOf(
        gatehouse.members.add(systemActor(), ws.id, {
          userId: b5.id,
          grants: [{ role: "billing", scope: `workspace:${ws.id}` }],
        }),
      ),
    ).toBe("MEMBER_LIMIT_REACHED");
    await gatehouse.invitations.revoke(as, ws.id, invitations[0]!.invitation.id);
    await gatehouse.invitations.create(as, ws.id, { email: "b5@example.com", role: "billing" });
    // Accepting at the limit works: the invitation already holds its seat.
    const b2 = await person("b2");
    await gatehouse.invitations.accept({ token: invitations[1]!.token, userId: b2.id });
    expect(await gatehouse.members.list(as, ws.id)).toHaveLength(2);
  });

  it("refuses to invite a member (ALREADY_MEMBER) and replaces a pending invitation to the same email only when asked", async () => {
    const { owner, ws, root, as } = await company();
    expect(
      await codeOf(
        gatehouse.invitations.create(as, ws.id, { email: owner.email, role: "billing" }),
      ),
    ).toBe("ALREADY_MEMBER");
    for (const name of ["b1", "b2", "b3"]) {
      await gatehouse.invitations.create(as, ws.id, {
        email: `${name}@example.com`,
        role: "billing",
      });
    }
    const first = await gatehouse.invitations.create(as, ws.id, {
      email: "bob@example.com",
      role: "billing",
    });
    clock.now += 1000;
    // Re-inviting needs `replace: true` (#16): a second invite never silently changes the first.
    expect(
      await codeOf(
        gatehouse.invitations.create(as, ws.id, { email: "bob@example.com", role: "technical" }),
      ),
    ).toBe("INVITATION_PENDING");
    // At the limit, replacing works: the older invitation gives its seat back.
    const second = await gatehouse.invitations.create(as, ws.id, {
      email: "bob@example.com",
      role: "technical",
      replace: true,
    });
    const bob = await person("bob");
    expect(await codeOf(gatehouse.invitations.accept({ token: first.token, userId: bob.id }))).toBe(
      "INVITATION_REVOKED",
    );
    await gatehouse.invitations.accept({ token: second.token, userId: bob.id });
    expect(await check(asUser(bob.id), ws.id, "vps.restart", root)).toMatchObject({
      allowed: true,
    });
    const forBob = (await gatehouse.invitations.list(as, ws.id)).filter(
      (invitation) => invitation.email === "bob@example.com",
    );
    expect(forBob.map((invitation) => [invitation.role, invitation.status])).toEqual([
      ["technical", "accepted"],
      ["billing", "revoked"],
    ]);
  });

  it("refuses to accept into a second company with one workspace per email", async () => {
    const acme = await company("ada");
    const globex = await company("gina");
    const bob = await person("bob");
    const first = await gatehouse.invitations.create(acme.as, acme.ws.id, {
      email: "bob@example.com",
      role: "billing",
    });
    const second = await gatehouse.invitations.create(globex.as, globex.ws.id, {
      email: "bob@example.com",
      role: "billing",
    });
    await gatehouse.invitations.accept({ token: first.token, userId: bob.id });
    expect(
      await codeOf(gatehouse.invitations.accept({ token: second.token, userId: bob.id })),
    ).toBe("ONE_WORKSPACE_PER_EMAIL");
    await gatehouse.members.leave(asUser(bob.id), acme.ws.id);
    await gatehouse.invitations.accept({ token: second.token, userId: bob.id });
  });

  it("needs the right to give each grant: scopes, extras, owner role and non-members", async () => {
    const { olivia, ws, root } = await panel();
    const owner = asUser(olivia.id);
    const adam = await person("adam");
    const carol = await person("carol");
    const mallory = await person("mallory");
    await gatehouse.members.add(systemActor(), ws.id, {
      userId: adam.id,
      grants: [{ role: "admin", scope: root }],
    });
    // An admin sees the team but does not manage people in mzpanel.
    expect(
      await codeOf(
        gatehouse.invitations.create(asUser(adam.id), ws.id, {
          email: "carol@example.com",
          role: "customer",
          scopes: ["site:a"],
        }),
      ),
    ).toBe("PERMISSION_DENIED");
    expect(await gatehouse.invitations.list(asUser(adam.id), ws.id)).toEqual([]);
    expect(
      await codeOf(
        gatehouse.invitations.create(asUser(mallory.id), ws.id, {
          email: "carol@example.com",
          role: "customer",
          scopes: ["site:a"],
        }),
      ),
    ).toBe("WORKSPACE_NOT_FOUND");
    expect(
      await codeOf(
        gatehouse.invitations.create(owner, ws.id, { email: "carol@example.com", role: "owner" }),
      ),
    ).toBe("OWNER_ROLE_NOT_GRANTED");
    // A grant that cannot exist is bad input, for the owner and the host app alike.
    expect(
      await codeOf(
        gatehouse.invitations.create(owner, ws.id, {
          email: "carol@example.com",
          role: "customer",
        }),
      ),
    ).toBe("ROLE_NOT_GRANTABLE_AT_SCOPE");
    expect(
      await codeOf(
        gatehouse.invitations.create(systemActor(), ws.id, {
          email: "carol@example.com",
          role: "customer",
        }),
      ),
    ).toBe("ROLE_NOT_GRANTABLE_AT_SCOPE");
    expect(
      await codeOf(
        gatehouse.invitations.create(owner, ws.id, {
          email: "carol@example.com",
          role: "customer",
          scopes: ["site:a"],
          stray: true,
        } as never),
      ),
    ).toBe("INVALID_INPUT");
    const { token } = await gatehouse.invitations.create(owner, ws.id, {
      email: "carol@example.com",
      role: "customer",
      scopes: ["site:a"],
    });
    const denials = (await auditOf(ws.id)).filter((entry) => entry.result === "denied");
    expect(denials.map((entry) => [entry.action, entry.actor_id])).toEqual([
      ["invitation.create", adam.id],
      ["invitation.create", mallory.id],
    ]);
    await gatehouse.invitations.accept({ token, userId: carol.id });
    expect(await check(asUser(carol.id), ws.id, "site.deploy", "site:a")).toMatchObject({
      allowed: true,
    });
    expect(await check(asUser(carol.id), ws.id, "site.deploy", "site:b")).toMatchObject({
      allowed: false,
    });
    // Only those who may give the grant may take the invitation back.
    const next = await gatehouse.invitations.create(owner, ws.id, {
      email: "dora@example.com",
      role: "operator",
      scopes: ["server:s1"],
    });
    expect(
      await codeOf(gatehouse.invitations.revoke(asUser(adam.id), ws.id, next.invitation.id)),
    ).toBe("PERMISSION_DENIED");
  });

  it("checks extras against the model: grant-only extras pass, owner-only ones never", async () => {
    const { ws, root, as } = await company();
    expect(
      await codeOf(
        gatehouse.invitations.create(systemActor(), ws.id, {
          email: "bob@example.com",
          role: "billing",
          extras: ["company.close"],
        }),
      ),
    ).toBe("OWNER_ONLY_PERMISSION");
    const { token } = await gatehouse.invitations.create(as, ws.id, {
      email: "bob@example.com",
      role: "billing",
      extras: ["billing.cards_manage"],
    });
    const { user } = await gatehouse.invitations.accept({
      token,
      newAccount: { password: PASSWORD },
    });
    expect(await check(asUser(user.id), ws.id, "billing.cards_manage", root)).toMatchObject({
      allowed: true,
    });
  });

  it("lists newest first, by status, only for those who see the team", async () => {
    const { ws, as, root } = await company();
    const billy = await person("billy");
    await gatehouse.members.add(systemActor(), ws.id, {
      userId: billy.id,
      grants: [{ role: "billing", scope: root }],
    });
    const first = await gatehouse.invitations.create(as, ws.id, {
      email: "b1@example.com",
      role: "billing",
    });
    clock.now += 1000;
    await gatehouse.invitations.create(as, ws.id, { email: "b2@example.com", role: "technical" });
    await gatehouse.invitations.revoke(as, ws.id, first.invitation.id);
    expect((await gatehouse.invitations.list(as, ws.id)).map((i) => i.email)).toEqual([
      "b2@example.com",
      "b1@example.com",
    ]);
    expect(
      (await gatehouse.invitations.list(as, ws.id, { status: "revoked" })).map((i) => i.email),
    ).toEqual(["b1@example.com"]);
    expect(await codeOf(gatehouse.invitations.list(asUser(billy.id), ws.id))).toBe(
      "PERMISSION_DENIED",
    );
    expect(await codeOf(gatehouse.invitations.list(as, ws.id, { status: "nope" } as never))).toBe(
      "INVALID_INPUT",
    );
  });
});

describe.skipIf(postgresBackend === undefined)("invitation races on PostgreSQL", () => {
  const INSTANCES = 5;
  let instances: Gatehouse[] = [];
  let closePeers = async () => {};
  const clock = { now: Date.UTC(2026, 10, 23, 12, 0, 0) };

  beforeEach(async () => {
    ({ instances, close: closePeers } = await openPeerServices(postgresBackend!, INSTANCES, clock));
  });
  afterEach(async () => {
    await closePeers();
    instances = [];
  });

  async function setup() {
    const gatehouse = instances[0]!;
    const { user: ada } = await gatehouse.users.signUp({
      email: "ada@example.com",
      password: PASSWORD,
    });
    const ws = await gatehouse.workspaces.create(asUser(ada.id), {
      name: "Acme",
      preset: "company",
      plan: "standard",
    });
    return { gatehouse, ada, ws };
  }

  async function settle(attempts: Promise<unknown>[]) {
    const results = await Promise.allSettled(attempts);
    const codes: Record<string, number> = {};
    for (const result of results) {
      const code =
        result.status === "fulfilled"
          ? "ok"
          : isGatehouseError(result.reason)
            ? result.reason.code
            : String(result.reason);
      codes[code] = (codes[code] ?? 0) + 1;
    }
    return codes;
  }

  async function membersOf(gatehouse: Gatehouse, workspaceId: string) {
    return gatehouse.storage.db
      .selectFrom("members")
      .selectAll()
      .where("workspace_id", "=", workspaceId)
      .execute();
  }

  it("lets exactly one of 50 concurrent accepts by the invited user through", async () => {
    const { gatehouse, ada, ws } = await setup();
    const { user: bob } = await gatehouse.users.signUp({
      email: "bob@example.com",
      password: PASSWORD,
    });
    const { token } = await gatehouse.invitations.create(asUser(ada.id), ws.id, {
      email: "bob@example.com",
      role: "billing",
    });
    const codes = await settle(
      Array.from({ length: 50 }, (_, index) =>
        instances[index % INSTANCES]!.invitations.accept({ token, userId: bob.id }),
      ),
    );
    expect(codes).toEqual({ ok: 1, INVITATION_ALREADY_USED: 49 });
    const members = await membersOf(gatehouse, ws.id);
    expect(members.filter((member) => member.user_id === bob.id)).toHaveLength(1);
    const grants = await gatehouse.storage.db
      .selectFrom("grants")
      .selectAll()
      .where("subject", "=", `user:${bob.id}`)
      .where("workspace_id", "=", ws.id)
      .execute();
    expect(grants).toHaveLength(1);
  });

  it("lets exactly one of 50 concurrent new-account accepts create the account", async () => {
    const { gatehouse, ada, ws } = await setup();
    const { token } = await gatehouse.invitations.create(asUser(ada.id), ws.id, {
      email: "nina@example.com",
      role: "billing",
    });
    const codes = await settle(
      Array.from({ length: 50 }, (_, index) =>
        instances[index % INSTANCES]!.invitations.accept({
          token,
          newAccount: { password: PASSWORD, name: `nina ${index}` },
        }),
      ),
    );
    expect(codes).toEqual({ ok: 1, INVITATION_ALREADY_USED: 49 });
    const users = await gatehouse.storage.db
      .selectFrom("users")
      .selectAll()
      .where("email", "=", "nina@example.com")
      .execute();
    expect(users).toHaveLength(1);
    expect(await membersOf(gatehouse, ws.id)).toHaveLength(2);
  });

  it("never lets members and pending invitations exceed the plan limit under parallel invites", async () => {
    const { gatehouse, ada, ws } = await setup();
    const owner = asUser(ada.id);
    const sent = await Promise.allSettled(
      Array.from({ length: 30 }, (_, index) =>
        instances[index % INSTANCES]!.invitations.create(owner, ws.id, {
          email: `p${index}@example.com`,
          role: "billing",
        }),
      ),
    );
    const tokens = sent.flatMap((result) =>
      result.status === "fulfilled" ? [result.value.token] : [],
    );
    expect(tokens).toHaveLength(4);
    expect(
      sent.every(
        (result) =>
          result.status === "fulfilled" || isGatehouseError(result.reason, "MEMBER_LIMIT_REACHED"),
      ),
    ).toBe(true);
    expect(await gatehouse.invitations.list(owner, ws.id, { status: "pending" })).toHaveLength(4);

    // The invitees accept while more invitations and direct adds race them: never over five.
    const others = [];
    for (let index = 0; index < 5; index++) {
      const { user } = await gatehouse.users.signUp({
        email: `x${index}@example.com`,
        password: PASSWORD,
      });
      others.push(user);
    }
    const raced = await settle([
      ...tokens.map((token, index) =>
        instances[index % INSTANCES]!.invitations.accept({
          token,
          newAccount: { password: PASSWORD },
        }),
      ),
      ...Array.from({ length: 10 }, (_, index) =>
        instances[index % INSTANCES]!.invitations.create(owner, ws.id, {
          email: `late${index}@example.com`,
          role: "billing",
        }),
      ),
      ...others.map((user, index) =>
        instances[index % INSTANCES]!.members.add(systemActor(), ws.id, {
          userId: user.id,
          grants: [{ role: "billing", scope: `workspace:${ws.id}` }],
        }),
      ),
    ]);
    expect(raced).toEqual({ ok: 4, MEMBER_LIMIT_REACHED: 15 });
    expect(await membersOf(gatehouse, ws.id)).toHaveLength(5);
    expect(await gatehouse.invitations.list(owner, ws.id, { status: "pending" })).toEqual([]);
  });
});
