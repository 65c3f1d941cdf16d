import { createEngine } from "../src/engine/engine.ts";
import type { ResourceRef } from "../src/engine/types.ts";
import { ErrorCode, isGatehouseError } from "../src/errors.ts";
import type { Model } from "../src/model/define-model.ts";

// Test support for the preset matrix tests (packages/engine/src/presets/*.test.ts).

/** What a role should be, written from its seed: where it can be granted and what it holds. */
export interface RoleExpectation<T extends string, P extends string> {
  readonly scopes: readonly T[];
  /** The permissions the seed gives the role; `"everything"` for the owner. */
  readonly permissions: readonly P[] | "everything";
}

/**
 * A preset's expected role × scope × permission matrix, written independently of the model: the
 * test compares the engine's decisions against it, so a mistake in either shows up.
 */
export interface RoleMatrix<T extends string, P extends string, R extends string> {
  /** The fixture workspace id; its root resource is `<root type>:<workspace>`. */
  readonly workspace: string;
  /** The fixture tree below the root, as `[resource, parent]` pairs. */
  readonly tree: readonly (readonly [ResourceRef<T>, ResourceRef<T>])[];
  /** Every permission and the resource types it acts on. */
  readonly actsOn: { readonly [K in P]: readonly T[] };
  /** The permissions only the owner may ever hold: never delegable. */
  readonly ownerOnly: readonly P[];
  readonly roles: { readonly [K in R]: RoleExpectation<T, P> };
}

/** One named case of the matrix; `mismatches()` is empty when the engine agrees with the seed. */
export interface MatrixCase {
  readonly name: string;
  readonly mismatches: () => readonly string[];
}

const MEMBER = "user:member";

/** The code of the GatehouseError `action` throws; `undefined` when it returns or throws anything else. */
export function thrownCode(action: () => unknown): string | undefined {
  try {
    action();
  } catch (error) {
    if (isGatehouseError(error)) return error.code;
  }
  return undefined;
}

function typeOf<T extends string>(resource: ResourceRef<T>): T {
  return resource.slice(0, resource.indexOf(":")) as T;
}

function sameSet(actual: readonly string[], expected: readonly string[], what: string): string[] {
  const a = [...actual].sort();
  const b = [...expected].sort();
  return a.join() === b.join() ? [] : [`${what}: [${a.join(", ")}], expected [${b.join(", ")}]`];
}

/**
 * The cases of a preset's matrix: the matrix names exactly the model's permissions, roles and
 * owner-only set; owner-only permissions stay out of other roles and extras; and every role,
 * granted at every resource of each scope type it allows, holds each permission exactly at the
 * scope and below, on resources of a type the permission acts on, nowhere else.
 * @example
 * for (const { name, mismatches } of roleMatrix(mzpanel, MATRIX)) it(name, () => expect(mismatches()).toEqual([]));
 */
export function roleMatrix<T extends string, P extends string, R extends string>(
  model: Model<T, P, R>,
  matrix: RoleMatrix<T, P, R>,
): readonly MatrixCase[] {
  const root = `${model.rootType}:${matrix.workspace}` as ResourceRef<T>;
  const parentOf = new Map<ResourceRef<T>, ResourceRef<T>>(matrix.tree);
  const resources: readonly ResourceRef<T>[] = [root, ...parentOf.keys()];
  const permissions = Object.keys(matrix.actsOn) as P[];
  const roles = Object.keys(matrix.roles) as R[];
  const isAtOrBelow = (resource: ResourceRef<T>, scope: ResourceRef<T>): boolean => {
    for (let at: ResourceRef<T> | undefined = resource; at !== undefined; at = parentOf.get(at)) {
      if (at === scope) return true;
    }
    return false;
  };
  const freshEngine = () =>
    createEngine(model, {
      workspace: matrix.workspace,
      resources: matrix.tree.map(([resource, parent]) => ({ resource, parent })),
    });
  const cases: MatrixCase[] = [];

  cases.push({
    name: "names every permission, role and owner-only permission of the model, and nothing else",
    mismatches: () => [
      ...sameSet(permissions, model.permissions, "permissions"),
      ...sameSet(roles, model.roles, "roles"),
      ...sameSet(matrix.ownerOnly, model.definition.ownerOnly ?? [], "owner-only"),
      ...sameSet([...new Set(resources.map(typeOf))], model.types, "fixture resource types"),
      ...roles.flatMap((role) => {
        const listed = matrix.roles[role].permissions;
        const unknown =
          listed === "everything" ? [] : listed.filter((name) => !permissions.includes(name));
        return unknown.map((name) => `${role} lists unknown permission ${name}`);
      }),
    ],
  });

  cases.push({
    name: "keeps owner-only permissions out of every other role and out of extras",
    mismatches: () => {
      const engine = freshEngine();
      const wrong: string[] = [];
      for (const role of roles) {
        const expectation = matrix.roles[role];
        if (expectation.permissions === "everything") continue;
        for (const name of expectation.permissions.filter((listed) =>
          matrix.ownerOnly.includes(listed),
        )) {
          wrong.push(`${role} lists owner-only ${name}`);
        }
        const scope = resources.find((resource) => expectation.scopes.includes(typeOf(resource)))!;
        for (const permission of matrix.ownerOnly) {
          const code = thrownCode(() =>
            engine.addGrant({ subject: MEMBER, role, scope, extras: [permission] }),
          );
          if (code !== ErrorCode.OWNER_ONLY_PERMISSION)
            wrong.push(`${role} + extra ${permission}: ${code ?? "accepted"}`);
        }
      }
      return wrong;
    },
  });

  for (const role of roles) {
    const expectation = matrix.roles[role];
    const held = new Set<P>(
      expectation.permissions === "everything" ? permissions : expectation.permissions,
    );
    for (const scope of resources.filter((resource) =>
      expectation.scopes.includes(typeOf(resource)),
    )) {
      cases.push({
        name: `${role} granted on ${scope} holds its permissions there and below, and nothing elsewhere`,
        mismatches: () => {
          const engine = freshEngine();
          engine.addGrant({ subject: MEMBER, role, scope });
          const wrong: string[] = [];
          for (const resource of resources) {
            const expected = permissions.filter(
              (permission) =>
                held.has(permission) &&
                isAtOrBelow(resource, scope) &&
                matrix.actsOn[permission].includes(typeOf(resource)),
            );
            for (const permission of permissions) {
              const allowed = engine.check(MEMBER, permission, resource).allowed;
              if (allowed !== expected.includes(permission)) {
                wrong.push(
                  `${permission} on ${resource}: engine ${allowed ? "allows, seed denies" : "denies, seed allows"}`,
                );
              }
            }
            wrong.push(
              ...sameSet(
                engine.permissionsOn(MEMBER, resource),
                expected,
                `permissionsOn ${resource}`,
              ),
            );
          }
          return wrong;
        },
      });
    }
    for (const type of model.types.filter((candidate) => !expectation.scopes.includes(candidate))) {
      cases.push({
        name: `${role} cannot be granted on a ${type}`,
        mismatches: () => {
          const scope = resources.find((resource) => typeOf(resource) === type)!;
          const code = thrownCode(() => freshEngine().addGrant({ subject: MEMBER, role, scope }));
          return code === ErrorCode.ROLE_NOT_GRANTABLE_AT_SCOPE
            ? []
            : [`granted on ${scope}: ${code ?? "accepted"}`];
        },
      });
    }
  }
  return cases;
}
