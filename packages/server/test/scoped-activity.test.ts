import { asUser, systemActor } from "@gatehouse/service";
import { describe, expect, it } from "vitest";
import { backends, call, openServer, PASSWORD, type Session, signIn } from "./harness.ts";

/**
 * Scoped activity and honest sections, generated per preset from the model (never per-preset
 * tables): for every role at every scope type, on SQLite and PostgreSQL,
 * - `GET …/audit?resource=` for every resource of the workspace (and a missing one) answers the
 *   entries about that resource and below — exactly those — to whoever may read its activity, 403
 *   to a member who reaches it without that right, and 404 (as missing) outside their reach;
 * - every section `GET …/access` advertises is one whose API serves the member, and every section
 *   it leaves out is one whose API refuses them.
 */
const PRESETS = ["mzpanel", "hosting-customer", "company", "msp", "managed"] as const;

interface Entry {
  readonly seq: number;
  readonly target: string | null;
}

interface Caller {
  readonly label: string;
  readonly userId: string;
  readonly session: Session;
  readonly isOwner: boolean;
  readonly role: string;
  readonly scope: string;
}

type Server = Awaited<ReturnType<typeof openServer>>;

/**
 * A workspace of `preset` with two disjoint chains of every resource type (`type:r1…`, `type:r2…`),
 * a sign-up as owner and one member per non-owner role and scope type on chain 1.
 */
async function setUp(server: Server, preset: string) {
  const { app, gatehouse } = server;
  const definition = gatehouse.models[preset]!.definition;
  const host = systemActor();
  const plan = Object.entries(definition.plans ?? {}).sort(
    (a, b) => (b[1].maxMembers ?? Infinity) - (a[1].maxMembers ?? Infinity),
  )[0]?.[0];
  const types = Object.entries(definition.types).filter(([, spec]) => spec.parents !== undefined);
  async function person(name: string): Promise<string> {
    const email = `${name}@example.com`;
    const { user } = await gatehouse.users.signUp({ email, password: PASSWORD, name });
    return user.id;
  }
  const ownerId = await person(`${preset}-owner`);
  const name = `${preset} ${Math.random().toString(36).slice(2, 8)}`;
  const { id: ws } = await gatehouse.workspaces.create(asUser(ownerId), {
    name,
    preset,
    ...(plan === undefined ? {} : { plan }),
  });
  const root = `workspace:${ws}`;
  const parents = new Map<string, string>();
  for (const chain of [1, 2]) {
    for (const [type, spec] of types) {
      const parentType = spec.parents![0]!;
      const parent = parentType === "workspace" ? root : `${parentType}:r${chain}`;
      await gatehouse.resources.upsert(host, ws, { resource: `${type}:r${chain}`, parent });
      parents.set(`${type}:r${chain}`, parent);
    }
  }
  const callers: Caller[] = [
    {
      label: "owner",
      userId: ownerId,
      session: await signIn(app, `${preset}-owner@example.com`),
      isOwner: true,
      role: "owner",
      scope: root,
    },
  ];
  for (const [role, spec] of Object.entries(definition.roles)) {
    if (spec.owner === true) continue;
    for (const scopeType of spec.scopes) {
      const login = `${preset}-${role}-${scopeType}`.replace(/_/g, "-");
      const userId = await person(login);
      const scope = scopeType === "workspace" ? root : `${scopeType}:r1`;
      await gatehouse.members.add(host, ws, { userId, grants: [{ role, scope }] });
      callers.push({
        label: `${role}@${scopeType}`,
        userId,
        session: await signIn(app, `${login}@example.com`),
        isOwner: false,
        role,
        scope,
      });
    }
  }
  // Entries about a resource that no grant reached: moved back and forth under its parent.
  for (const [resource, parent] of parents) {
    await gatehouse.resources.upsert(host, ws, { resource, parent });
  }
  /** The resource and its ancestors up to the root. */
  const ancestry = (resource: string): string[] => {
    const chain: string[] = [];
    for (let node: string | undefined = resource; node !== undefined; node = parents.get(node))
      chain.push(node);
    return chain;
  };
  const resources = [root, ...parents.keys()];
  const subtree = (resource: string) =>
    new Set(resources.filter((candidate) => ancestry(candidate).includes(resource)));
  return { ws, name, root, callers, resources, ancestry, subtree, definition };
}

describe.each(backends)("scoped activity and honest sections on $name", (backend) => {
  for (const preset of PRESETS) {
    it(`${preset}: every role at every scope reads exactly the activity it may, and nothing else`, async () => {
      const server = await openServer(backend);
      try {
        const { app, gatehouse } = server;
        const { ws, root, callers, resources, ancestry, subtree, definition } = await setUp(
          server,
          preset,
        );
        const owner = callers[0]!;
        const roles = definition.roles as Record<string, { permissions?: readonly string[] }>;
        const gates = definition.gates as
          | { auditView?: string; activity?: Record<string, string> }
          | undefined;
        const auditView = gates?.auditView ?? definition.delegation;
        /** The role holds `permission` at `resource` through its one grant (at or above it). */
        const holdsAt = (caller: Caller, permission: string, resource: string) =>
          caller.isOwner ||
          ((roles[caller.role]?.permissions ?? []).includes(permission) &&
            ancestry(resource).includes(caller.scope));
        /** At or below the caller's grant, or the root (nothing leaks upward: a site does not reveal its server). */
        const reaches = (caller: Caller, resource: string) =>
          resource === root || ancestry(resource).includes(caller.scope);
        const mayRead = (caller: Caller, resource: string) => {
          if (holdsAt(caller, auditView, resource)) return true;
          const permission = gates?.activity?.[resource.split(":")[0]!];
          return (
            permission !== undefined &&
            gatehouse.decisions
              .check(asUser(caller.userId), ws, { permission, resource })
              .then((decision) => decision.allowed)
          );
        };
        const wholeLog = async (): Promise<Entry[]> => {
          const response = await call(
            app,
            owner.session,
            "GET",
            `/v1/workspaces/${ws}/audit/export?format=jsonl`,
          );
          expect(response.statusCode).toBe(200);
          return response.body
            .split("\n")
            .filter((line) => line !== "")
            .map((line) => JSON.parse(line) as Entry);
        };
        let readers = 0;
        for (const caller of callers) {
          const whole = holdsAt(caller, auditView, root);
          for (const resource of [
            ...resources,
            `${resources[1]?.split(":")[0] ?? "thing"}:nothing`,
          ]) {
            const url = `/v1/workspaces/${ws}/audit?limit=500&resource=${encodeURIComponent(resource)}`;
            const label = `${caller.label} reading ${resource}`;
            const exists = resources.includes(resource);
            const allowed =
              exists && (whole || (reaches(caller, resource) && (await mayRead(caller, resource))));
            const expected = allowed
              ? (await wholeLog()).filter(
                  (entry) => entry.target !== null && subtree(resource).has(entry.target),
                )
              : [];
            const response = await call(app, caller.session, "GET", url);
            if (whole) {
              // The whole log's readers: a resource's sub-tree, or an exact target (none for a missing one).
              expect(response.statusCode, label).toBe(200);
            } else if (!exists || !reaches(caller, resource)) {
              expect(response.statusCode, label).toBe(404);
              expect(response.json().code, label).toBe("RESOURCE_NOT_FOUND");
              expect(response.json().detail ?? response.json().title, label).toContain(resource);
              continue;
            } else if (!allowed) {
              expect(response.statusCode, label).toBe(403);
              expect(response.json().code, label).toBe("PERMISSION_DENIED");
              continue;
            }
            expect(response.statusCode, label).toBe(200);
            const entries = response.json().entries as Entry[];
            expect(
              entries.map((entry) => entry.seq),
              label,
            ).toEqual(expected.map((entry) => entry.seq).reverse());
            if (exists) {
              expect(entries.length, label).toBeGreaterThan(0);
              if (!whole) readers++;
            }
          }
          // The export takes the same readers and the same scope; the chain stays the root gate's.
          const own = `/v1/workspaces/${ws}/audit/export?format=jsonl&resource=${encodeURIComponent(caller.scope)}`;
          const exported = await call(app, caller.session, "GET", own);
          const listed = await call(
            app,
            caller.session,
            "GET",
            `/v1/workspaces/${ws}/audit?limit=500&resource=${encodeURIComponent(caller.scope)}`,
          );
          expect(exported.statusCode, caller.label).toBe(listed.statusCode);
          if (listed.statusCode === 200) {
            const lines = exported.body.split("\n").filter((line) => line !== "");
            expect(lines.map((line) => (JSON.parse(line) as Entry).seq).reverse()).toEqual(
              (listed.json().entries as Entry[]).map((entry) => entry.seq),
            );
          }
          const verify = await call(
            app,
            caller.session,
            "GET",
            `/v1/workspaces/${ws}/audit/verify`,
          );
          expect(verify.statusCode, caller.label).toBe(whole ? 200 : 403);
        }
        // MZPanel's customers and operators read their part; the other presets have no such gate.
        if (preset === "mzpanel") expect(readers).toBeGreaterThan(0);
        const verified = await call(app, owner.session, "GET", `/v1/workspaces/${ws}/audit/verify`);
        expect(verified.json()).toMatchObject({ valid: true });
      } finally {
        await server.close();
      }
    }, 120_000);

    it(`${preset}: every advertised section is served, every other refused`, async () => {
      const server = await openServer(backend);
      try {
        const { app } = server;
        const { ws, name, root, callers, resources, ancestry, definition } = await setUp(
          server,
          preset,
        );
        const base = `/v1/workspaces/${ws}`;
        let invitee = 0;
        for (const caller of callers) {
          const inReach = resources.filter(
            (resource) => resource === root || ancestry(resource).includes(caller.scope),
          );
          /** Whether the API a section opens serves the caller. */
          const probes: Record<string, () => Promise<boolean>> = {
            team: async () => status(await call(app, caller.session, "GET", `${base}/members`)),
            people: async () => {
              // The owner invites to the model's first role; a member to their own role and scope.
              const [role, spec] = caller.isOwner
                ? Object.entries(definition.roles).find(
                    ([, candidate]) => candidate.owner !== true,
                  )!
                : [caller.role, undefined];
              const scopeType = spec?.scopes[0];
              const scope =
                scopeType === undefined
                  ? caller.scope
                  : scopeType === "workspace"
                    ? root
                    : `${scopeType}:r1`;
              return status(
                await call(app, caller.session, "POST", `${base}/invitations`, {
                  email: `invitee-${invitee++}@example.com`,
                  role,
                  ...(scope === root ? {} : { scopes: [scope] }),
                }),
              );
            },
            activity: async () => {
              for (const query of [
                "",
                ...inReach.map((resource) => `?resource=${encodeURIComponent(resource)}`),
              ]) {
                if (status(await call(app, caller.session, "GET", `${base}/audit${query}`)))
                  return true;
              }
              return false;
            },
            settings: async () => status(await call(app, caller.session, "PATCH", base, { name })),
            integrations: async () =>
              status(await call(app, caller.session, "GET", `${base}/credentials`)),
          };
          /** The host app's own pages: the caller sees at least one resource they are for. */
          const listed = async (anyOf: readonly string[]) => {
            for (const permission of anyOf) {
              const on = definition.permissions[permission]!.on;
              for (const type of typeof on === "string" ? [on] : on) {
                const response = await call(
                  app,
                  caller.session,
                  "GET",
                  `${base}/resources?type=${type}&permission=${permission}`,
                );
                expect(response.statusCode).toBe(200);
                if ((response.json().items as string[]).length > 0) return true;
              }
            }
            return false;
          };
          const access = await call(app, caller.session, "GET", `${base}/access`);
          expect(access.statusCode).toBe(200);
          const advertised = new Set(access.json().sections as string[]);
          const capabilities = await call(
            app,
            caller.session,
            "GET",
            `${base}/capabilities?resource=${encodeURIComponent(caller.scope)}`,
          );
          expect(new Set(capabilities.json().sections as string[]), caller.label).toEqual(
            advertised,
          );
          for (const [section, spec] of Object.entries(definition.sections ?? {})) {
            const served =
              spec.workflow === undefined
                ? await listed(spec.anyOf)
                : await probes[spec.workflow]!();
            expect(
              served,
              `${caller.label}: section ${section} is ${advertised.has(section) ? "advertised" : "not advertised"}`,
            ).toBe(advertised.has(section));
          }
        }
      } finally {
        await server.close();
      }
    }, 120_000);
  }
});

/** 2xx: served; 403: refused; anything else is a mistake in the probe. */
function status(response: { statusCode: number; body: string }): boolean {
  if (response.statusCode >= 200 && response.statusCode < 300) return true;
  expect(response.statusCode, response.body).toBe(403);
  return false;
}
