import { describe, expect, it } from "vitest";
import { asUser, systemActor } from "../src/actor.ts";
import { backends, codeOf, openService, signUpPerson } from "./backends.ts";

/**
 * The Permissions card, generated per preset like the authorization matrix: a workspace with two
 * disjoint chains of resources (`type:r1…`, `type:r2…`), one member per role and scope type on
 * chain 1, one member beside them on chain 2 and a team (group) holding a grant on chain 1. For
 * every caller and every resource, the card answers exactly: 404 out of reach (as a missing id),
 * 403 within reach without the delegation permission or team gate, else exactly the subjects whose
 * grants lie at, above (carrying something for this part of the tree) or below the resource.
 */
const PRESETS = ["mzpanel", "hosting-customer", "company", "msp", "managed"] as const;

describe.each(backends)("the Permissions card on $name", (backend) => {
  for (const preset of PRESETS) {
    it(`${preset}: every role at every scope sees its part and nothing beside it`, async () => {
      const { gatehouse } = await openService(backend);
      try {
        const host = systemActor();
        const model = gatehouse.models[preset]!;
        const definition = model.definition;
        const plans = Object.entries(definition.plans ?? {}) as [string, { maxMembers?: number }][];
        const plan = plans.sort(
          (a, b) => (b[1].maxMembers ?? Infinity) - (a[1].maxMembers ?? Infinity),
        )[0]?.[0];
        const types = Object.entries(
          definition.types as Record<string, { parents?: string[] }>,
        ).filter(([type]) => type !== "workspace");
        const owner = await signUpPerson(gatehouse, `${preset}-owner`);
        const ws = (
          await gatehouse.workspaces.create(asUser(owner.id), {
            name: `${preset} card`,
            preset,
            ...(plan === undefined ? {} : { plan }),
          })
        ).id;
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
        const above = (node: string) => {
          const line = [node];
          for (let up = parents.get(node); up !== undefined; up = parents.get(up)) line.push(up);
          return line;
        };

        // Every grant in the workspace, as the test made it: subject, role, scope.
        const grants: { subject: string; role: string; scope: string }[] = [
          { subject: `user:${owner.id}`, role: model.ownerRole, scope: root },
        ];
        const roles = Object.entries(
          definition.roles as Record<
            string,
            { owner?: boolean; scopes: string[]; permissions?: string[] }
          >,
        ).filter(([, role]) => !role.owner);
        const callers: { userId: string; role: string; scope: string }[] = [
          { userId: owner.id, role: model.ownerRole, scope: root },
        ];
        for (const [role, spec] of roles) {
          for (const scopeType of spec.scopes) {
            const user = await signUpPerson(gatehouse, `${preset}-${role}-${scopeType}`);
            const scope = scopeType === "workspace" ? root : `${scopeType}:r1`;
            await gatehouse.members.add(host, ws, { userId: user.id, grants: [{ role, scope }] });
            grants.push({ subject: `user:${user.id}`, role, scope });
            callers.push({ userId: user.id, role, scope });
          }
        }
        // Beside chain 1: a member whose only grant is on chain 2, at the deepest type a role
        // may be given on; a team on chain 1 with them in it, through which they appear there.
        const members = new Map<string, string[]>();
        const grantable = [...types]
          .reverse()
          .map(([type]) => [type, roles.find(([, spec]) => spec.scopes.includes(type))?.[0]])
          .find(([, role]) => role !== undefined) as [string, string] | undefined;
        const beside = await signUpPerson(gatehouse, `${preset}-beside`);
        const { group } = await gatehouse.members.createGroup(host, ws, { name: "Web team" });
        if (grantable !== undefined) {
          const [type, role] = grantable;
          await gatehouse.members.add(host, ws, {
            userId: beside.id,
            grants: [{ role, scope: `${type}:r2` }],
          });
          grants.push({ subject: `user:${beside.id}`, role, scope: `${type}:r2` });
          await gatehouse.members.grant(host, ws, {
            subject: `group:${group.id}`,
            role,
            scope: `${type}:r1`,
          });
          await gatehouse.members.addToGroup(host, ws, group.id, beside.id);
          grants.push({ subject: `group:${group.id}`, role, scope: `${type}:r1` });
          members.set(`group:${group.id}`, [`user:${beside.id}`]);
        }
        const deepest = types.at(-1)?.[0] ?? "thing";
        const typesBelow = (type: string): Set<string> => {
          const found = new Set([type]);
          for (let grew = true; grew; ) {
            grew = false;
            for (const [child, spec] of types)
              if (!found.has(child) && spec.parents!.some((parent) => found.has(parent))) {
                found.add(child);
                grew = true;
              }
          }
          return found;
        };
        const permissionTypes = definition.permissions as Record<string, { on: string | string[] }>;
        const carriesFor = (role: string, resource: string) => {
          if (role === model.ownerRole) return true;
          const under = typesBelow(
            resource.startsWith("workspace:") ? "workspace" : resource.split(":")[0]!,
          );
          const permissions = roles.find(([name]) => name === role)![1].permissions ?? [];
          return permissions.some((permission) =>
            [permissionTypes[permission]!.on].flat().some((type) => under.has(type)),
          );
        };
        const expectedAt = (resource: string): string[] => {
          const subjects = new Set<string>();
          for (const grant of grants) {
            const isAbove = above(resource).includes(grant.scope);
            const isBelow = grant.scope !== resource && above(grant.scope).includes(resource);
            if (
              (isAbove && (grant.scope === resource || carriesFor(grant.role, resource))) ||
              isBelow
            ) {
              subjects.add(grant.subject);
              for (const member of members.get(grant.subject) ?? []) subjects.add(member);
            }
          }
          return [...subjects].sort();
        };
        const delegation = definition.delegation as string;
        const teamView =
          (definition.gates as { teamView?: string } | undefined)?.teamView ?? delegation;
        const holdsGate = (caller: (typeof callers)[number], resource: string) => {
          if (caller.role === model.ownerRole) return true;
          const held = roles.find(([name]) => name === caller.role)![1].permissions ?? [];
          return (
            (held.includes(delegation) || held.includes(teamView)) &&
            above(resource).includes(caller.scope)
          );
        };

        const resources = [root, ...parents.keys()];
        let cards = 0;
        for (const caller of callers) {
          const as = asUser(caller.userId);
          expect(
            await codeOf(
              gatehouse.decisions.permissionsAt(as, ws, { resource: `${deepest}:missing` }),
            ),
          ).toBe("RESOURCE_NOT_FOUND");
          for (const resource of resources) {
            // Within reach: the root, and what lies at or below the caller's grant.
            const reaches = resource === root || above(resource).includes(caller.scope);
            const answer = gatehouse.decisions.permissionsAt(as, ws, { resource, limit: 1000 });
            if (!reaches) {
              expect(await codeOf(answer), `${caller.role}@${caller.scope} on ${resource}`).toBe(
                "RESOURCE_NOT_FOUND",
              );
              continue;
            }
            if (!holdsGate(caller, resource)) {
              expect(await codeOf(answer), `${caller.role}@${caller.scope} on ${resource}`).toBe(
                "PERMISSION_DENIED",
              );
              continue;
            }
            const page = await answer;
            cards++;
            expect(
              page.items.map((item) => item.subject),
              `${caller.role}@${caller.scope} on ${resource}`,
            ).toEqual(expectedAt(resource));
            for (const item of page.items) {
              if (item.subject.startsWith("user:"))
                expect(item.user?.email).toMatch(/@example\.com$/);
              else expect(item.group).toEqual({ name: "Web team" });
              for (const path of item.via) {
                const scope = path.grant.scope;
                const place =
                  scope === resource ? "here" : above(resource).includes(scope) ? "above" : "below";
                expect(path.place).toBe(place);
                if (item.subject === `user:${beside.id}` && scope === `${grantable?.[0]}:r1`)
                  expect(path.throughGroup).toBe(`group:${group.id}`);
              }
            }
          }
        }
        // The owner sees every card; a sub-tree admin (where the preset has one) sees theirs.
        expect(cards).toBeGreaterThanOrEqual(resources.length);
        // Pages: one subject at a time walks the root's card in order.
        const seen: string[] = [];
        let after: string | undefined;
        do {
          const page = await gatehouse.decisions.permissionsAt(asUser(owner.id), ws, {
            resource: root,
            limit: 1,
            after,
          });
          seen.push(...page.items.map((item) => item.subject));
          after = page.next;
        } while (after !== undefined);
        expect(seen).toEqual(expectedAt(root));
        // A search (`q`, the Permissions card's Grant picker) keeps the users whose email or name
        // and the teams whose name contains it, ignoring case, and pages the same way.
        const card = await gatehouse.decisions.permissionsAt(asUser(owner.id), ws, {
          resource: root,
        });
        for (const q of ["OWNER", "web TEAM", "-", "nobody-has-this"]) {
          const wanted = card.items
            .filter((item) =>
              [item.user?.email, item.user?.name, item.group?.name]
                .join(" ")
                .toLowerCase()
                .includes(q.toLowerCase()),
            )
            .map((item) => item.subject);
          const found: string[] = [];
          let cursor: string | undefined;
          do {
            const page = await gatehouse.decisions.permissionsAt(asUser(owner.id), ws, {
              resource: root,
              limit: 2,
              after: cursor,
              q,
            });
            found.push(...page.items.map((item) => item.subject));
            cursor = page.next;
          } while (cursor !== undefined);
          expect(found, q).toEqual(wanted);
        }
      } finally {
        await gatehouse.close();
      }
    }, 60_000);
  }
});
