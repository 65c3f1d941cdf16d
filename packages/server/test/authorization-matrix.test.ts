import { asUser, systemActor } from "@gatehouse/service";
import type { InjectOptions } from "fastify";
import { describe, expect, it } from "vitest";
import { backends, call, openServer, PASSWORD, type Session, signIn } from "./harness.ts";

/**
 * The authorization matrix: every workspace route × every role (and the owner, and anonymous) ×
 * every resource of workspace A (in and out of the caller's grants) and the same ids in a second
 * workspace B, for each of the five presets. Expectations come from the model's gates and the
 * engine's own decisions (`gatehouse.decisions.check`), never from per-preset tables.
 *
 * Runs on SQLite only (`backends[0]`): the matrix is about authorization logic above the store,
 * and one backend keeps the file well under a minute.
 */
const backend = backends[0]!;
const PRESETS = ["mzpanel", "hosting-customer", "company", "msp", "managed"] as const;

type Method = NonNullable<InjectOptions["method"]>;

interface Workspace {
  readonly ws: string;
  readonly name: string;
  readonly ownerId: string;
  /** `type:id` → parent, in creation order. */
  readonly parents: Map<string, string>;
}

interface Caller {
  readonly label: string;
  readonly userId: string;
  readonly session: Session;
  readonly isOwner: boolean;
  /** The member's one grant (the owner's is the root). */
  readonly role: string;
  readonly scope: string;
}

/** What a request as one caller about workspace A may answer. */
interface Expectation {
  /** A 2xx is allowed (the engine says the caller holds what the route needs). */
  readonly allow: boolean;
  /** The exact status, where the model fixes it. */
  readonly exact?: number;
  /** A further check of a 2xx body. */
  readonly verify?: (body: unknown) => string | undefined;
}

interface Probe {
  readonly method: Method;
  readonly url: string;
  readonly body?: unknown;
  /** The expectation about workspace A; about B every member of A gets 404. */
  readonly expect: Expectation;
}

/** A route's probes for one caller about one workspace (`target` is A or B). */
type Generator = (target: Workspace, caller: Caller) => Promise<Probe[]> | Probe[];

describe("authorization matrix", () => {
  for (const preset of PRESETS) {
    it(`${preset}: no unexpected 2xx, no cross-workspace records`, async () => {
      const server = await openServer(backend);
      try {
        await runMatrix(server, preset);
      } finally {
        await server.close();
      }
    }, 60_000);
  }
});

async function runMatrix(server: Awaited<ReturnType<typeof openServer>>, preset: string) {
  const { app, gatehouse } = server;
  const model = gatehouse.models[preset]!;
  const definition = model.definition;
  const host = systemActor();
  const plans = Object.entries(definition.plans ?? {}) as [string, { maxMembers?: number }][];
  const plan = plans.sort(
    (a, b) => (b[1].maxMembers ?? Infinity) - (a[1].maxMembers ?? Infinity),
  )[0]?.[0];
  const types = Object.entries(definition.types as Record<string, { parents?: string[] }>).filter(
    ([type]) => type !== "workspace",
  );

  async function person(name: string): Promise<string> {
    const { user } = await gatehouse.users.signUp({
      email: `${name}@example.com`,
      password: PASSWORD,
      name,
    });
    return user.id;
  }

  /** A workspace of the preset with two disjoint chains of resources: `type:r1…` and `type:r2…`. */
  async function workspace(label: string): Promise<Workspace> {
    const ownerId = await person(`${preset}-${label}-owner`);
    const name = `${label} ${preset} ${Math.random().toString(36).slice(2, 8)}`;
    const created = await gatehouse.workspaces.create(asUser(ownerId), {
      name,
      preset,
      ...(plan === undefined ? {} : { plan }),
    });
    const parents = new Map<string, string>();
    for (const chain of [1, 2]) {
      for (const [type, spec] of types) {
        const parentType = spec.parents![0]!;
        const parent =
          parentType === "workspace" ? `workspace:${created.id}` : `${parentType}:r${chain}`;
        await gatehouse.resources.upsert(host, created.id, {
          resource: `${type}:r${chain}`,
          parent,
        });
        parents.set(`${type}:r${chain}`, parent);
      }
    }
    return { ws: created.id, name, ownerId, parents };
  }

  const A = await workspace("alpha");
  const B = await workspace("bravo");
  const rootOf = (target: Workspace) => `workspace:${target.ws}`;

  // One member of A per non-owner role and scope type, on chain 1; B gets one member of its own.
  const roles = Object.entries(
    definition.roles as Record<string, { owner?: boolean; scopes: string[] }>,
  ).filter(([, role]) => !role.owner);
  const callers: Caller[] = [
    {
      label: "owner",
      userId: A.ownerId,
      session: await signIn(app, `${preset}-alpha-owner@example.com`),
      isOwner: true,
      role: "owner",
      scope: rootOf(A),
    },
  ];
  for (const [role, spec] of roles) {
    for (const scopeType of spec.scopes) {
      const label = `${role}@${scopeType}`;
      const name = `${preset}-${role}-${scopeType}`.replace(/_/g, "-");
      const userId = await person(name);
      const scope = scopeType === "workspace" ? rootOf(A) : `${scopeType}:r1`;
      await gatehouse.members.add(host, A.ws, { userId, grants: [{ role, scope }] });
      callers.push({
        label,
        userId,
        session: await signIn(app, `${name}@example.com`),
        isOwner: false,
        role,
        scope,
      });
    }
  }
  const [firstRole, firstSpec] = roles[0]!;
  const bMember = await person(`${preset}-bravo-member`);
  await gatehouse.members.add(host, B.ws, {
    userId: bMember,
    grants: [
      {
        role: firstRole,
        scope: firstSpec.scopes[0] === "workspace" ? rootOf(B) : `${firstSpec.scopes[0]}:r1`,
      },
    ],
  });
  const outsider = await person(`${preset}-zed`);
  const members = callers.filter((caller) => !caller.isOwner);
  const m0 = members[0]!;
  /** The same grant in B's terms (scope names other than the root are shared). */
  const scopeIn = (target: Workspace, scope: string) =>
    scope === rootOf(A) ? rootOf(target) : scope;
  const memberIn = (target: Workspace) => (target === A ? m0.userId : bMember);

  // The engine's answers, cached: may `caller` use `permission` on `resource` in A?
  const decided = new Map<string, boolean>();
  async function holds(caller: Caller, permission: string | undefined, resource: string) {
    if (permission === undefined) return false;
    const key = `${caller.userId} ${permission} ${resource}`;
    let answer = decided.get(key);
    if (answer === undefined) {
      answer = (
        await gatehouse.decisions.check(asUser(caller.userId), A.ws, { permission, resource })
      ).allowed;
      decided.set(key, answer);
    }
    return answer;
  }
  /**
   * Workflow gates (team, audit, settings, delegation, create/delete) are held through a grant at
   * `at` or above, whatever types the permission acts on (the engine's `holds`): the owner holds
   * everything; a member's one grant holds its role's permissions at and below its scope.
   */
  const roleDefinitions = definition.roles as Record<string, { permissions?: readonly string[] }>;
  function holdsGate(caller: Caller, permission: string | undefined, at: string): boolean {
    if (caller.isOwner) return true;
    if (permission === undefined) return false;
    if (!(roleDefinitions[caller.role]?.permissions ?? []).includes(permission)) return false;
    for (let node: string | undefined = at; node !== undefined; node = A.parents.get(node))
      if (node === caller.scope) return true;
    return false;
  }
  const gates = (definition.gates ?? {}) as {
    teamView?: string;
    auditView?: string;
    settings?: string;
    createResource?: Record<string, string>;
    deleteResource?: Record<string, string>;
    signIn?: Record<string, string>;
  };
  const delegation = definition.delegation as string;
  const teamView = gates.teamView ?? delegation;
  const auditView = gates.auditView ?? delegation;
  const permissions = Object.entries(definition.permissions as Record<string, { on: string }>);
  /** A permission on `type`, preferring a `.view` one. */
  const permissionOn = (type: string) =>
    (permissions.find(([name, spec]) => spec.on === type && name.endsWith(".view")) ??
      permissions.find(([, spec]) => spec.on === type))?.[0];
  const resources = [...A.parents.keys()];
  const typeOf = (resource: string) => resource.split(":")[0]!;
  const pathOf = (resource: string) => resource.replace(":", "/");
  const nowhere = `${types[0]?.[0] ?? "thing"}/nothing`;
  /** A resource `type:id` as an AuthZEN resource. */
  const authzenResource = (resource: string) => ({
    type: typeOf(resource),
    id: resource.slice(resource.indexOf(":") + 1),
  });
  const any: Expectation = { allow: true };
  const never: Expectation = { allow: false };
  const base = (target: Workspace) => `/v1/workspaces/${target.ws}`;
  let invitee = 0;

  /**
   * A check on every resource, and one about someone else (the team gate), through one of the three
   * decision routes: `check` (one or a batch), `decision` (one), `decisions` (a batch).
   */
  async function checkProbes(
    t: Workspace,
    c: Caller,
    route: "check" | "decision" | "decisions",
  ): Promise<Probe[]> {
    const ask = (question: Record<string, string>) =>
      route === "decisions" ? { checks: [question] } : question;
    const answer = (body: unknown) =>
      route === "decisions"
        ? (body as { results: { allowed: boolean }[] }).results[0]?.allowed
        : (body as { allowed: boolean }).allowed;
    const probes: Probe[] = [];
    for (const resource of [rootOf(A), ...resources]) {
      const permission = permissionOn(typeOf(resource));
      if (permission === undefined) continue;
      const allowed = await holds(c, permission, resource);
      probes.push({
        method: "POST",
        url: `${base(t)}/${route}`,
        body: ask({ permission, resource: scopeIn(t, resource) }),
        expect: {
          allow: true,
          exact: 200,
          verify: (body) =>
            answer(body) === allowed ? undefined : `allowed ${!allowed}, engine says ${allowed}`,
        },
      });
    }
    const asksOthers = holdsGate(c, teamView, rootOf(A));
    probes.push({
      method: "POST",
      url: `${base(t)}/${route}`,
      body: ask({
        permission: permissionOn("workspace")!,
        resource: rootOf(t),
        subject: `user:${c.isOwner ? memberIn(t) : t.ownerId}`,
      }),
      expect: { allow: asksOthers, exact: asksOthers ? 200 : 403 },
    });
    return probes;
  }

  /** The routes, keyed like the OpenAPI paths; anything new there fails the test until added. */
  const routes: Record<string, Generator> = {
    "GET /v1/workspaces/{ws}": (t) => [
      { method: "GET", url: base(t), expect: { allow: true, exact: 200 } },
    ],
    "PATCH /v1/workspaces/{ws}": async (t, c) => [
      {
        method: "PATCH",
        url: base(t),
        body: { name: t.name },
        expect: {
          allow: c.isOwner || holdsGate(c, gates.settings, rootOf(A)),
        },
      },
    ],
    "DELETE /v1/workspaces/{ws}": (t, c) => [
      {
        method: "DELETE",
        url: base(t),
        body: { confirmName: "not the name" },
        expect: { allow: false, exact: c.isOwner ? 400 : 403 },
      },
    ],
    "POST /v1/workspaces/{ws}/transfer-ownership": (t) => [
      {
        method: "POST",
        url: `${base(t)}/transfer-ownership`,
        body: { userId: "nobody" },
        expect: never,
      },
    ],
    "GET /v1/workspaces/{ws}/members": async (t, c) => {
      const allow = holdsGate(c, teamView, rootOf(A));
      return [
        { method: "GET", url: `${base(t)}/members`, expect: { allow, exact: allow ? 200 : 403 } },
      ];
    },
    "POST /v1/workspaces/{ws}/members": async (t) => [
      {
        method: "POST",
        url: `${base(t)}/members`,
        body: { userId: outsider, grants: [{ role: m0.role, scope: scopeIn(t, m0.scope) }] },
        // Consent: members invite, the person accepts; only the host application adds directly.
        expect: never,
      },
    ],
    "PATCH /v1/workspaces/{ws}/members/{userId}": async (t, c) => [
      {
        method: "PATCH",
        url: `${base(t)}/members/${memberIn(t)}`,
        body: { grants: [{ role: m0.role, scope: scopeIn(t, m0.scope) }] },
        expect: { allow: holdsGate(c, delegation, m0.scope) },
      },
    ],
    "DELETE /v1/workspaces/{ws}/members/{userId}": (t) => [
      { method: "DELETE", url: `${base(t)}/members/${t.ownerId}`, expect: never },
      { method: "DELETE", url: `${base(t)}/members/nobody`, expect: never },
    ],
    // Leaving is sent last, once per caller (see below).
    "POST /v1/workspaces/{ws}/leave": () => [],
    "POST /v1/workspaces/{ws}/grants": async (t, c) => [
      {
        method: "POST",
        url: `${base(t)}/grants`,
        body: { subject: `user:${memberIn(t)}`, role: m0.role, scope: scopeIn(t, m0.scope) },
        expect: { allow: holdsGate(c, delegation, m0.scope) },
      },
    ],
    "DELETE /v1/workspaces/{ws}/grants": (t) => [
      {
        method: "DELETE",
        url: `${base(t)}/grants`,
        body: { subject: `user:${t.ownerId}`, scope: rootOf(t) },
        expect: never,
      },
    ],
    // Just-in-time elevation (#18): eligibilities are set as the grant itself would be given.
    "GET /v1/workspaces/{ws}/eligibilities": (t) => [
      { method: "GET", url: `${base(t)}/eligibilities`, expect: { allow: true, exact: 200 } },
    ],
    "POST /v1/workspaces/{ws}/eligibilities": async (t, c) => [
      {
        method: "POST",
        url: `${base(t)}/eligibilities`,
        body: {
          subject: `user:${memberIn(t)}`,
          role: m0.role,
          scope: scopeIn(t, m0.scope),
          maxDurationMs: 3_600_000,
        },
        expect: { allow: holdsGate(c, delegation, m0.scope) },
      },
    ],
    "DELETE /v1/workspaces/{ws}/eligibilities/{id}": (t) => [
      { method: "DELETE", url: `${base(t)}/eligibilities/nothing`, expect: never },
    ],
    "POST /v1/workspaces/{ws}/eligibilities/{id}/activate": (t) => [
      {
        method: "POST",
        url: `${base(t)}/eligibilities/nothing/activate`,
        body: { durationMs: 3_600_000, reason: "matrix" },
        expect: never,
      },
    ],
    "POST /v1/workspaces/{ws}/eligibilities/{id}/deactivate": (t) => [
      { method: "POST", url: `${base(t)}/eligibilities/nothing/deactivate`, expect: never },
    ],
    "GET /v1/workspaces/{ws}/groups": async (t, c) => {
      const allow = holdsGate(c, teamView, rootOf(A));
      return [
        { method: "GET", url: `${base(t)}/groups`, expect: { allow, exact: allow ? 200 : 403 } },
      ];
    },
    "POST /v1/workspaces/{ws}/groups": async (t, c) => [
      {
        method: "POST",
        url: `${base(t)}/groups`,
        body: { name: `matrix ${c.label}` },
        expect: { allow: holdsGate(c, delegation, rootOf(A)) },
      },
    ],
    "DELETE /v1/workspaces/{ws}/groups/{groupId}": (t) => [
      { method: "DELETE", url: `${base(t)}/groups/nothing`, expect: never },
    ],
    "PUT /v1/workspaces/{ws}/groups/{groupId}/members/{userId}": (t) => [
      { method: "PUT", url: `${base(t)}/groups/nothing/members/${memberIn(t)}`, expect: never },
    ],
    "DELETE /v1/workspaces/{ws}/groups/{groupId}/members/{userId}": (t) => [
      { method: "DELETE", url: `${base(t)}/groups/nothing/members/${memberIn(t)}`, expect: never },
    ],
    // Re-registering each resource under its own parent: a no-op for whoever may create there.
    // Known failure: `Resources.upsert` returns before any membership or gate check when the
    // parent is unchanged, so anyone signed in gets 200 (and the workspace's revision), even about
    // workspace B or a resource outside their reach.
    "PUT /v1/workspaces/{ws}/resources/{type}/{id}": async (t, c) => {
      const probes: Probe[] = [];
      for (const resource of resources) {
        const parent = A.parents.get(resource)!;
        const gate = gates.createResource?.[typeOf(resource)];
        probes.push({
          method: "PUT",
          url: `${base(t)}/resources/${pathOf(resource)}`,
          body: { parent: scopeIn(t, parent) },
          expect: { allow: c.isOwner || holdsGate(c, gate, parent) },
        });
      }
      return probes;
    },
    // Syncing the tree is the host application's alone: refused to every member, even the owner.
    "POST /v1/workspaces/{ws}/resources/sync": (t) => [
      {
        method: "POST",
        url: `${base(t)}/resources/sync`,
        body: {
          resources: resources.map((resource) => ({
            resource: scopeIn(t, resource),
            parent: scopeIn(t, A.parents.get(resource)!),
          })),
          dryRun: true,
        },
        expect: never,
      },
    ],
    // Deleting is sent only where it must be refused, so the fixture survives.
    "DELETE /v1/workspaces/{ws}/resources/{type}/{id}": async (t, c) => {
      const probes: Probe[] = [
        { method: "DELETE", url: `${base(t)}/resources/${nowhere}`, expect: never },
      ];
      for (const resource of resources) {
        const gate = gates.deleteResource?.[typeOf(resource)];
        const refused =
          t === B || (!c.isOwner && gate !== undefined && !holdsGate(c, gate, resource));
        if (refused)
          probes.push({
            method: "DELETE",
            url: `${base(t)}/resources/${pathOf(resource)}`,
            expect: never,
          });
      }
      return probes;
    },
    // The fleet list shows exactly the resources the engine says the caller may see.
    "GET /v1/workspaces/{ws}/resources": async (t, c) => {
      const probes: Probe[] = [];
      for (const [type] of types) {
        const permission = permissionOn(type);
        if (permission === undefined) continue;
        const expected: string[] = [];
        for (const resource of resources)
          if (typeOf(resource) === type && (await holds(c, permission, resource)))
            expected.push(resource);
        probes.push({
          method: "GET",
          url: `${base(t)}/resources?type=${type}&permission=${encodeURIComponent(permission)}`,
          expect: {
            allow: true,
            exact: 200,
            verify: (body) => {
              const items = [...(body as { items: string[] }).items].sort();
              const want = expected.sort();
              return JSON.stringify(items) === JSON.stringify(want)
                ? undefined
                : `items ${JSON.stringify(items)}, engine says ${JSON.stringify(want)}`;
            },
          },
        });
      }
      return probes;
    },
    "POST /v1/workspaces/{ws}/check": (t, c) => checkProbes(t, c, "check"),
    "POST /v1/workspaces/{ws}/decision": (t, c) => checkProbes(t, c, "decision"),
    "POST /v1/workspaces/{ws}/decisions": (t, c) => checkProbes(t, c, "decisions"),
    "POST /v1/workspaces/{ws}/explain": (t) => [
      {
        method: "POST",
        url: `${base(t)}/explain`,
        body: { permission: permissionOn("workspace")!, resource: rootOf(t) },
        expect: any,
      },
    ],
    "GET /v1/workspaces/{ws}/capabilities": (t) =>
      [rootOf(A), ...resources].map((resource) => ({
        method: "GET" as const,
        url: `${base(t)}/capabilities?resource=${encodeURIComponent(scopeIn(t, resource))}`,
        expect: any,
      })),
    // Who can access a resource: the team gate at the resource or above.
    "GET /v1/workspaces/{ws}/resources/{type}/{id}/access": (t, c) =>
      resources.flatMap((resource) => {
        const permission = permissionOn(typeOf(resource));
        if (permission === undefined) return [];
        const allow = holdsGate(c, teamView, resource);
        const id = resource.slice(resource.indexOf(":") + 1);
        return [
          {
            method: "GET" as const,
            url: `${base(t)}/resources/${typeOf(resource)}/${encodeURIComponent(id)}/access?permission=${encodeURIComponent(permission)}`,
            expect: allow ? { allow, exact: 200 } : { allow },
          },
        ];
      }),
    // The Permissions card: the delegation permission or team gate at the resource or above; every
    // grant listed lies at, above or below the resource — never beside it.
    "GET /v1/workspaces/{ws}/resources/{type}/{id}/permissions": (t, c) =>
      resources.map((resource) => {
        const allow = holdsGate(c, delegation, resource) || holdsGate(c, teamView, resource);
        const id = resource.slice(resource.indexOf(":") + 1);
        const line = (node: string) => {
          const chain = [node];
          for (let up = A.parents.get(node); up !== undefined; up = A.parents.get(up))
            chain.push(up);
          return chain.map((scope) => (scope.startsWith("workspace:") ? "workspace:*" : scope));
        };
        const onLine = (scope: string) =>
          line(resource).includes(scope.startsWith("workspace:") ? "workspace:*" : scope) ||
          line(scope).includes(resource);
        return {
          method: "GET" as const,
          url: `${base(t)}/resources/${typeOf(resource)}/${encodeURIComponent(id)}/permissions`,
          expect: allow
            ? {
                allow,
                exact: 200,
                verify: (body: unknown) => {
                  const items = (body as { items: { via: { grant: { scope: string } }[] }[] })
                    .items;
                  const beside = items
                    .flatMap((item) => item.via.map((path) => path.grant.scope))
                    .filter((scope) => !onLine(scope));
                  return beside.length === 0 ? undefined : `grants beside: ${beside.join(", ")}`;
                },
              }
            : { allow },
        };
      }),
    // AuthZEN: decisions about the caller are the engine's; searching subjects needs the team gate.
    "POST /v1/workspaces/{ws}/access/v1/evaluation": async (t, c) => {
      const probes: Probe[] = [];
      for (const resource of resources) {
        const permission = permissionOn(typeOf(resource));
        if (permission === undefined) continue;
        const allowed = await holds(c, permission, resource);
        probes.push({
          method: "POST",
          url: `${base(t)}/access/v1/evaluation`,
          body: {
            subject: { type: "user", id: c.userId },
            action: { name: permission },
            resource: authzenResource(resource),
          },
          expect: {
            allow: true,
            exact: 200,
            verify: (body) =>
              (body as { decision: boolean }).decision === allowed
                ? undefined
                : `decision ${!allowed}, engine says ${allowed}`,
          },
        });
      }
      return probes;
    },
    "POST /v1/workspaces/{ws}/access/v1/evaluations": (t, c) => [
      {
        method: "POST",
        url: `${base(t)}/access/v1/evaluations`,
        body: {
          subject: { type: "user", id: c.userId },
          action: { name: permissionOn("workspace")! },
          evaluations: [{ resource: authzenResource(rootOf(t)) }],
        },
        expect: { allow: true, exact: 200 },
      },
    ],
    "POST /v1/workspaces/{ws}/access/v1/search/subject": (t, c) =>
      resources.flatMap((resource) => {
        const permission = permissionOn(typeOf(resource));
        if (permission === undefined) return [];
        const allow = holdsGate(c, teamView, resource);
        return [
          {
            method: "POST" as const,
            url: `${base(t)}/access/v1/search/subject`,
            body: {
              subject: { type: "user" },
              action: { name: permission },
              resource: authzenResource(resource),
            },
            expect: allow ? { allow, exact: 200 } : { allow },
          },
        ];
      }),
    "POST /v1/workspaces/{ws}/access/v1/search/resource": (t, c) =>
      types.flatMap(([type]) => {
        const permission = permissionOn(type);
        if (permission === undefined) return [];
        return [
          {
            method: "POST" as const,
            url: `${base(t)}/access/v1/search/resource`,
            body: {
              subject: { type: "user", id: c.userId },
              action: { name: permission },
              resource: { type },
            },
            expect: { allow: true, exact: 200 },
          },
        ];
      }),
    "POST /v1/workspaces/{ws}/access/v1/search/action": (t, c) =>
      resources.map((resource) => ({
        method: "POST" as const,
        url: `${base(t)}/access/v1/search/action`,
        body: { subject: { type: "user", id: c.userId }, resource: authzenResource(resource) },
        expect: any,
      })),
    "GET /v1/workspaces/{ws}/api-keys": (t) => [
      { method: "GET", url: `${base(t)}/api-keys`, expect: any },
    ],
    "POST /v1/workspaces/{ws}/api-keys": (t, c) => [
      {
        method: "POST",
        url: `${base(t)}/api-keys`,
        body: { name: `matrix ${c.label}`, scopes: [permissionOn("workspace")!] },
        expect: any,
      },
    ],
    "DELETE /v1/workspaces/{ws}/api-keys/{id}": (t) => [
      { method: "DELETE", url: `${base(t)}/api-keys/nothing`, expect: never },
    ],
    "GET /v1/workspaces/{ws}/snapshot": async (t, c) => {
      const allow = holdsGate(c, teamView, rootOf(A));
      return [
        { method: "GET", url: `${base(t)}/snapshot`, expect: { allow, exact: allow ? 200 : 403 } },
      ];
    },
    // A start past the current revision answers 400 once the gate passes, so no stream stays open.
    "GET /v1/workspaces/{ws}/changes": async (t, c) => {
      const allow = holdsGate(c, teamView, rootOf(A));
      return [
        {
          method: "GET",
          url: `${base(t)}/changes?from=999999999`,
          expect: { allow: false, exact: allow ? 400 : 403 },
        },
      ];
    },
    "GET /v1/workspaces/{ws}/audit": async (t, c) => {
      const allow = holdsGate(c, auditView, rootOf(A));
      return [
        { method: "GET", url: `${base(t)}/audit`, expect: { allow, exact: allow ? 200 : 403 } },
      ];
    },
    "GET /v1/workspaces/{ws}/audit/export": async (t, c) => [
      {
        method: "GET",
        url: `${base(t)}/audit/export?format=jsonl`,
        expect: { allow: holdsGate(c, auditView, rootOf(A)) },
      },
    ],
    "GET /v1/workspaces/{ws}/audit/verify": async (t, c) => [
      {
        method: "GET",
        url: `${base(t)}/audit/verify`,
        expect: { allow: holdsGate(c, auditView, rootOf(A)) },
      },
    ],
    // Integration credentials are the owner's alone, never delegable.
    "GET /v1/workspaces/{ws}/credentials": (t, c) => [
      { method: "GET", url: `${base(t)}/credentials`, expect: { allow: c.isOwner } },
    ],
    "PUT /v1/workspaces/{ws}/credentials/{name}": (t, c) => [
      {
        method: "PUT",
        url: `${base(t)}/credentials/matrix`,
        body: { value: "s3cret" },
        expect: { allow: c.isOwner },
      },
    ],
    "DELETE /v1/workspaces/{ws}/credentials/{name}": (t, c) => [
      { method: "DELETE", url: `${base(t)}/credentials/nothing`, expect: { allow: c.isOwner } },
    ],
    "GET /v1/workspaces/{ws}/invitations": async (t, c) => [
      {
        method: "GET",
        url: `${base(t)}/invitations`,
        // The whole list for the team's viewers; a sub-tree admin's part for people managers below.
        expect: {
          allow: holdsGate(c, teamView, rootOf(A)) || holdsGate(c, delegation, c.scope),
        },
      },
    ],
    "POST /v1/workspaces/{ws}/invitations": async (t, c) => [
      {
        method: "POST",
        url: `${base(t)}/invitations`,
        body: {
          email: `${preset}-invitee-${++invitee}@example.com`,
          role: m0.role,
          scopes: [scopeIn(t, m0.scope)],
        },
        expect: { allow: holdsGate(c, delegation, m0.scope) },
      },
    ],
    "DELETE /v1/workspaces/{ws}/invitations/{id}": (t) => [
      { method: "DELETE", url: `${base(t)}/invitations/nothing`, expect: never },
    ],
    "GET /v1/workspaces/{ws}/join-requests": async (t, c) => [
      {
        method: "GET",
        url: `${base(t)}/join-requests`,
        expect: { allow: holdsGate(c, teamView, rootOf(A)) },
      },
    ],
    "POST /v1/workspaces/{ws}/join-requests/{id}/approve": (t) => [
      {
        method: "POST",
        url: `${base(t)}/join-requests/nothing/approve`,
        body: { role: m0.role, scope: scopeIn(t, m0.scope) },
        expect: never,
      },
    ],
    "POST /v1/workspaces/{ws}/join-requests/{id}/reject": (t) => [
      { method: "POST", url: `${base(t)}/join-requests/nothing/reject`, expect: never },
    ],
    // Access requests: every member lists (their own and those they may decide) and asks; a
    // request nobody made is not found.
    "GET /v1/workspaces/{ws}/access-requests": (t) => [
      { method: "GET", url: `${base(t)}/access-requests`, expect: { allow: true, exact: 200 } },
    ],
    "POST /v1/workspaces/{ws}/access-requests": (t) => [
      {
        method: "POST",
        url: `${base(t)}/access-requests`,
        body: {
          role: m0.role,
          scope: scopeIn(t, m0.scope),
          reason: "matrix",
          durationMinutes: 5,
        },
        expect: any,
      },
    ],
    "POST /v1/workspaces/{ws}/access-requests/{id}/approve": (t) => [
      {
        method: "POST",
        url: `${base(t)}/access-requests/nothing/approve`,
        body: {},
        expect: never,
      },
    ],
    "POST /v1/workspaces/{ws}/access-requests/{id}/reject": (t) => [
      {
        method: "POST",
        url: `${base(t)}/access-requests/nothing/reject`,
        body: {},
        expect: never,
      },
    ],
    "POST /v1/workspaces/{ws}/access-requests/{id}/withdraw": (t) => [
      { method: "POST", url: `${base(t)}/access-requests/nothing/withdraw`, expect: never },
    ],
    "POST /v1/workspaces/{ws}/access-requests/{id}/revoke": (t) => [
      { method: "POST", url: `${base(t)}/access-requests/nothing/revoke`, expect: never },
    ],
    // Support access is the host application's alone: no member, key or assistant asks for it.
    "POST /v1/workspaces/{ws}/support-requests": (t) => [
      {
        method: "POST",
        url: `${base(t)}/support-requests`,
        body: {
          userId: "nobody",
          role: m0.role,
          scope: scopeIn(t, m0.scope),
          reason: "matrix",
          durationMinutes: 5,
        },
        expect: { allow: false, exact: 404 },
      },
    ],
    // The assistant gate: declarations for everyone, calls as their gates say.
    "GET /v1/workspaces/{ws}/assistant/tools": (t) => [
      {
        method: "GET",
        url: `${base(t)}/assistant/tools?format=anthropic`,
        expect: { allow: true, exact: 200 },
      },
    ],
    "POST /v1/workspaces/{ws}/assistant/calls": async (t, c) => {
      const allow = holdsGate(c, teamView, rootOf(A));
      return [
        {
          method: "POST",
          url: `${base(t)}/assistant/calls`,
          body: { tool: "gatehouse_list_members" },
          expect: { allow, exact: allow ? 200 : 403 },
        },
      ];
    },
    "GET /v1/workspaces/{ws}/assistant/registry": (t, c) => {
      const allow = c.isOwner || holdsGate(c, gates.settings, rootOf(A));
      return [
        {
          method: "GET",
          url: `${base(t)}/assistant/registry`,
          expect: { allow, exact: allow ? 200 : 403 },
        },
      ];
    },
    "PUT /v1/workspaces/{ws}/assistant/registry/{name}": (t, c) => {
      const allow = c.isOwner || holdsGate(c, gates.settings, rootOf(A));
      return [
        {
          method: "PUT",
          url: `${base(t)}/assistant/registry/matrix_tool`,
          body: {
            description: "A tool of the matrix",
            inputSchema: { type: "object" },
            permission: permissionOn("workspace")!,
          },
          expect: { allow, exact: allow ? 200 : 403 },
        },
      ];
    },
    "DELETE /v1/workspaces/{ws}/assistant/registry/{name}": (t) => [
      { method: "DELETE", url: `${base(t)}/assistant/registry/nothing`, expect: never },
    ],
    // Sign-in handoff: admin apps named by the settings gate, links by the model's gate.
    "PUT /v1/workspaces/{ws}/resources/{type}/{id}/sign-in-target": (t, c) =>
      resources.map((resource) => ({
        method: "PUT" as const,
        url: `${base(t)}/resources/${pathOf(resource)}/sign-in-target`,
        body: { url: `https://admin.example/${pathOf(resource)}/sign-in` },
        expect: {
          allow:
            (c.isOwner || holdsGate(c, gates.settings, rootOf(A))) &&
            gates.signIn?.[typeOf(resource)] !== undefined,
        },
      })),
    "DELETE /v1/workspaces/{ws}/resources/{type}/{id}/sign-in-target": (t, c) => {
      const probes: Probe[] = [
        { method: "DELETE", url: `${base(t)}/resources/${nowhere}/sign-in-target`, expect: never },
      ];
      if (t === B || !(c.isOwner || holdsGate(c, gates.settings, rootOf(A))))
        for (const resource of resources)
          probes.push({
            method: "DELETE",
            url: `${base(t)}/resources/${pathOf(resource)}/sign-in-target`,
            expect: never,
          });
      return probes;
    },
    "GET /v1/workspaces/{ws}/sign-in-targets": (t, c) => {
      const allow = c.isOwner || holdsGate(c, gates.settings, rootOf(A));
      return [
        {
          method: "GET",
          url: `${base(t)}/sign-in-targets`,
          expect: { allow, exact: allow ? 200 : 403 },
        },
      ];
    },
    "POST /v1/workspaces/{ws}/resources/{type}/{id}/sign-in": async (t, c) => {
      const probes: Probe[] = [];
      for (const resource of resources) {
        const permission = gates.signIn?.[typeOf(resource)];
        probes.push({
          method: "POST",
          url: `${base(t)}/resources/${pathOf(resource)}/sign-in`,
          expect: { allow: permission !== undefined && (await holds(c, permission, resource)) },
        });
      }
      return probes;
    },
    "GET /v1/workspaces/{ws}/model": (t) => [
      { method: "GET", url: `${base(t)}/model`, expect: { allow: true, exact: 200 } },
    ],
    // The console's reads: every member's own access and the role matrix; seats with the team.
    "GET /v1/workspaces/{ws}/access": (t, c) => [
      {
        method: "GET",
        url: `${base(t)}/access`,
        expect: {
          allow: true,
          exact: 200,
          verify: (body) =>
            (body as { userId?: string }).userId === c.userId ? undefined : "another's access",
        },
      },
    ],
    "GET /v1/workspaces/{ws}/roles": (t) => [
      { method: "GET", url: `${base(t)}/roles`, expect: { allow: true, exact: 200 } },
    ],
    // Workspace-defined roles: all five presets keep roles fixed (WORKSPACE_ROLES_DISABLED).
    "POST /v1/workspaces/{ws}/roles": (t) => [
      {
        method: "POST",
        url: `${base(t)}/roles`,
        body: { name: "extra", scopes: ["x"], permissions: [] },
        expect: { allow: false, exact: 403 },
      },
    ],
    "PATCH /v1/workspaces/{ws}/roles/{role}": (t) => [
      {
        method: "PATCH",
        url: `${base(t)}/roles/extra`,
        body: { label: "Extra" },
        expect: { allow: false, exact: 403 },
      },
    ],
    "DELETE /v1/workspaces/{ws}/roles/{role}": (t) => [
      { method: "DELETE", url: `${base(t)}/roles/extra`, expect: { allow: false, exact: 403 } },
    ],
    "GET /v1/workspaces/{ws}/seats": async (t, c) => {
      const allow = holdsGate(c, teamView, rootOf(A));
      return [
        { method: "GET", url: `${base(t)}/seats`, expect: { allow, exact: allow ? 200 : 403 } },
      ];
    },
    "POST /v1/workspaces/{ws}/invitations/{id}/link": (t) => [
      { method: "POST", url: `${base(t)}/invitations/nothing/link`, expect: never },
    ],
  };
  /** Routes about the caller, not one workspace: sent by everyone, only scanned for leaks. */
  const personal = ["GET /v1/workspaces", "GET /v1/me", "GET /v1/me/sessions", "GET /v1/presets"];
  /** Routes outside the matrix: sign-in flows, token-driven flows, workspace creation. */
  const outside = new Set([
    "POST /v1/auth/signup",
    "POST /v1/auth/login",
    "POST /v1/auth/logout",
    "POST /v1/auth/magic-link",
    "POST /v1/auth/magic-link/consume",
    // The sign-in methods a sign-in page offers: the same public answer for everyone.
    "GET /v1/auth/methods",
    "POST /v1/auth/totp/enroll",
    "POST /v1/auth/totp/enroll-with-password",
    "POST /v1/auth/totp/confirm",
    "POST /v1/auth/totp/recovery-codes",
    "DELETE /v1/me/sessions/{id}",
    // The caller's own account, which these change for everyone sending them (account.test.ts).
    "PATCH /v1/me",
    "PUT /v1/me/password",
    "DELETE /v1/me/sessions",
    // The caller's own email, by a link mailed to the new address (email-change.test.ts).
    "POST /v1/me/email",
    "POST /v1/me/email/confirm",
    "POST /v1/workspaces",
    "POST /v1/invitations/accept",
    "POST /v1/invitations/preview",
    "POST /v1/join-requests",
    // The MCP endpoint (its own suite), used sign-in links and the public keys.
    "POST /mcp",
    "GET /v1/sign-in/{token}",
    "GET /.well-known/jwks.json",
    // AuthZEN metadata: public discovery, the same for everyone.
    "GET /.well-known/authzen-configuration/v1/workspaces/{ws}",
    // The host application's own routes: a host credential only (host.test.ts refuses the rest).
    "PUT /v1/users/{id}",
    "GET /v1/users/{id}",
    "DELETE /v1/users/{id}",
    "POST /v1/users/{id}/sign-in-links",
  ]);

  const paths = (await app.inject("/openapi.json")).json().paths as Record<string, object>;
  const keys = Object.entries(paths).flatMap(([path, operations]) =>
    Object.keys(operations).map((method) => `${method.toUpperCase()} ${path}`),
  );
  const uncovered = keys.filter(
    (key) => !(key in routes) && !personal.includes(key) && !outside.has(key),
  );
  expect(uncovered, "routes missing from the matrix").toEqual([]);
  const workspaceRoutes = keys.filter((key) => key in routes);

  // B's own data, which no answer about A (or about the caller) may carry.
  const bravoData = [B.ws, B.ownerId, bMember, B.name];
  let requests = 0;
  const unexpected: string[] = [];
  const leaks: string[] = [];
  const mismatches: string[] = [];

  async function send(caller: Caller | undefined, probe: Probe, target: Workspace | undefined) {
    requests++;
    const response = await call(app, caller?.session, probe.method, probe.url, probe.body);
    const status = response.statusCode;
    const who = caller?.label ?? "anonymous";
    const line = `${who} ${probe.method} ${probe.url} ${probe.body ? JSON.stringify(probe.body) : ""} → ${status} ${response.body.slice(0, 300)}`;
    const scanned = target === B ? bravoData.slice(1) : bravoData;
    for (const secret of scanned)
      if (response.body.includes(secret)) leaks.push(`${line} (carries ${secret})`);
    if (target === undefined) return;
    if (caller === undefined) {
      if (status !== 401) mismatches.push(`expected 401: ${line}`);
      return;
    }
    if (target === B) {
      if (status >= 200 && status < 300) unexpected.push(`about B: ${line}`);
      else if (status !== 404) mismatches.push(`expected 404 about B: ${line}`);
      return;
    }
    const { allow, exact, verify } = probe.expect;
    if (status >= 200 && status < 300) {
      if (!allow) unexpected.push(line);
      const problem = verify?.(response.json());
      if (problem !== undefined) mismatches.push(`${problem}: ${line}`);
    }
    if (exact !== undefined && status !== exact) mismatches.push(`expected ${exact}: ${line}`);
    if (status >= 500) mismatches.push(`server error: ${line}`);
  }

  for (const caller of callers) {
    for (const target of [A, B]) {
      for (const key of workspaceRoutes) {
        for (const probe of await routes[key]!(target, caller)) {
          await send(caller, probe, target);
          if (caller === callers[0]) await send(undefined, probe, target);
        }
      }
    }
    for (const key of personal) {
      const [method, url] = key.split(" ") as [Method, string];
      await send(caller, { method, url, expect: any }, undefined);
    }
  }
  // Leaving changes the team, so it goes last: every member may, the sole owner may not.
  for (const caller of [...callers].reverse()) {
    await send(undefined, { method: "POST", url: `${base(A)}/leave`, expect: any }, A);
    await send(caller, { method: "POST", url: `${base(B)}/leave`, expect: never }, B);
    await send(
      caller,
      {
        method: "POST",
        url: `${base(A)}/leave`,
        expect: caller.isOwner ? never : { allow: true, exact: 200 },
      },
      A,
    );
  }

  console.info(
    `${preset}: ${requests} requests, ${unexpected.length} unexpected 2xx, ${leaks.length} cross-workspace leaks, ${mismatches.length} status mismatches (${callers.length} callers, ${workspaceRoutes.length} workspace routes)`,
  );
  expect(unexpected, "unexpected 2xx").toEqual([]);
  expect(leaks, "cross-workspace leaks").toEqual([]);
  expect(mismatches, "status mismatches").toEqual([]);
}
