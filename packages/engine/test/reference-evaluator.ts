/**
 * A naive reference evaluator for the differential tests (STYLE rule 15): the semantics of
 * Gatehouse decisions written for clarity, not speed. It reads the model definition as written and
 * walks plain lists; it shares no code with the engine (no compiled model, no bitsets).
 */
import type { ModelDefinition } from "../src/model/model-definition.ts";

export interface ReferenceEdge {
  readonly resource: string;
  readonly parent: string;
}

export interface ReferenceGrant {
  readonly subject: string;
  readonly role: string;
  readonly scope: string;
  readonly extras: readonly string[];
  readonly expiresAt: number | undefined;
  /** An elevation's (or any store's) note: it never changes a decision, explanations name it. */
  readonly note?: string | undefined;
  /** What the grant gives from `expiresAt` on, instead of nothing. */
  readonly fallback?:
    | { readonly role: string; readonly extras?: readonly string[] | undefined }
    | undefined;
}

/**
 * The grant in force at `now`: itself before its expiry; after it, its fallback as a grant of the
 * same subject and scope that never expires (without note), or nothing.
 */
export function grantInForce(grant: ReferenceGrant, now: number): ReferenceGrant | undefined {
  if (grant.expiresAt === undefined || now < grant.expiresAt) return grant;
  if (grant.fallback === undefined) return undefined;
  return {
    subject: grant.subject,
    role: grant.fallback.role,
    scope: grant.scope,
    extras: grant.fallback.extras ?? [],
    expiresAt: undefined,
  };
}

export interface ReferenceMembership {
  readonly group: string;
  readonly user: string;
}

export interface ReferenceApiKey {
  readonly id: string;
  readonly owner: string;
  /** Permission names, `area.*` patterns (any depth) or `*`; owner-only permissions never count. */
  readonly scopes: readonly string[];
  /** The key works only at these resources and below; empty for the whole workspace. */
  readonly resources: readonly string[];
  readonly expiresAt: number | undefined;
}

export interface ReferenceState {
  readonly model: ModelDefinition;
  readonly root: string;
  readonly resources: readonly ReferenceEdge[];
  readonly grants: readonly ReferenceGrant[];
  readonly groups: readonly ReferenceMembership[];
  readonly apiKeys: readonly ReferenceApiKey[];
  readonly now: number;
}

/** The type of a resource named `type:id`. */
export function typeOf(resource: string): string {
  return resource.slice(0, resource.indexOf(":"));
}

/** The types a permission acts on, whether written as one name or a list. */
export function typesOfPermission(model: ModelDefinition, permission: string): readonly string[] {
  const definition = model.permissions[permission];
  if (definition === undefined) throw new Error(`reference: unknown permission ${permission}`);
  return typeof definition.on === "string" ? [definition.on] : definition.on;
}

/** `type` itself and every type that can appear anywhere below it in the type graph. */
export function typesAtOrBelow(model: ModelDefinition, type: string): readonly string[] {
  const found = [type];
  for (let index = 0; index < found.length; index++) {
    const current = found[index]!;
    for (const [candidate, definition] of Object.entries(model.types)) {
      if ((definition.parents ?? []).includes(current) && !found.includes(candidate)) {
        found.push(candidate);
      }
    }
  }
  return found;
}

/** True when the permission acts on `type` or on a type below it. */
export function actsAtOrBelow(model: ModelDefinition, permission: string, type: string): boolean {
  const below = typesAtOrBelow(model, type);
  return typesOfPermission(model, permission).some((on) => below.includes(on));
}

/** True when one API key permission pattern (a name, `area.*` or `*`) matches the permission. */
export function scopeMatches(scope: string, permission: string): boolean {
  if (scope === "*") return true;
  if (scope.endsWith(".*")) return permission.startsWith(scope.slice(0, -1));
  return scope === permission;
}

export function isOwnerRole(model: ModelDefinition, role: string): boolean {
  return model.roles[role]?.owner === true;
}

/** Every permission of a role: all of them for the owner role. */
export function permissionsOfRole(model: ModelDefinition, role: string): readonly string[] {
  const definition = model.roles[role];
  if (definition === undefined) throw new Error(`reference: unknown role ${role}`);
  if (definition.owner === true) return Object.keys(model.permissions);
  return definition.permissions ?? [];
}

/** Plain string order, as `<` compares. */
export function compareNames(a: string, b: string): number {
  if (a < b) return -1;
  if (a > b) return 1;
  return 0;
}

export class ReferenceEvaluator {
  readonly state: ReferenceState;
  readonly #parentOf = new Map<string, string>();

  constructor(state: ReferenceState) {
    this.state = state;
    for (const edge of state.resources) this.#parentOf.set(edge.resource, edge.parent);
  }

  /** Every resource, the root included. */
  resources(): string[] {
    return [this.state.root, ...this.state.resources.map((edge) => edge.resource)];
  }

  /** The parent of a resource; `undefined` for the root or an unknown resource. */
  parentOf(resource: string): string | undefined {
    return this.#parentOf.get(resource);
  }

  exists(resource: string): boolean {
    return resource === this.state.root || this.#parentOf.has(resource);
  }

  /** The resource, then its parent, up to the root. */
  pathToRoot(resource: string): string[] {
    const path: string[] = [];
    let current: string | undefined = resource;
    while (current !== undefined && this.exists(current) && !path.includes(current)) {
      path.push(current);
      current = this.#parentOf.get(current);
    }
    return path;
  }

  isLive(expiresAt: number | undefined): boolean {
    return expiresAt === undefined || this.state.now < expiresAt;
  }

  /** The permissions a grant carries: its role's and its extras. */
  permissionsOfGrant(grant: ReferenceGrant): string[] {
    return [...permissionsOfRole(this.state.model, grant.role), ...grant.extras];
  }

  /** A user holds its own grants and its groups' grants; a group holds its own. */
  holds(holder: string, grant: ReferenceGrant): boolean {
    if (grant.subject === holder) return true;
    return (
      holder.startsWith("user:") &&
      this.state.groups.some(
        (membership) => membership.group === grant.subject && membership.user === holder,
      )
    );
  }

  /** Grants of `holder` in force at `resource` or one of its ancestors. */
  liveGrantsAbove(holder: string, resource: string): ReferenceGrant[] {
    const path = this.pathToRoot(resource);
    return this.state.grants
      .filter((grant) => this.holds(holder, grant) && path.includes(grant.scope))
      .flatMap((grant) => grantInForce(grant, this.state.now) ?? []);
  }

  apiKey(subject: string): ReferenceApiKey | undefined {
    if (!subject.startsWith("apikey:")) return undefined;
    const id = subject.slice("apikey:".length);
    return this.state.apiKeys.find((key) => key.id === id);
  }

  /** A key carries the permissions its permission patterns match, never an owner-only one. */
  keyCarries(key: ReferenceApiKey, permission: string): boolean {
    if ((this.state.model.ownerOnly ?? []).includes(permission)) return false;
    return key.scopes.some((scope) => scopeMatches(scope, permission));
  }

  /** Whether the key itself lets `permission` on `resource` through (its owner aside). */
  keyPasses(key: ReferenceApiKey, permission: string, resource: string): boolean {
    if (!this.isLive(key.expiresAt)) return false;
    if (!this.keyCarries(key, permission)) return false;
    if (key.resources.length === 0) return true;
    const path = this.pathToRoot(resource);
    return key.resources.some((constraint) => path.includes(constraint));
  }

  /**
   * The grants that allow `subject` to use `permission` on `resource`: for an API key, its owner's
   * (when the key passes). Empty when denied.
   */
  grantsAllowing(subject: string, permission: string, resource: string): ReferenceGrant[] {
    if (!this.exists(resource)) return [];
    if (!typesOfPermission(this.state.model, permission).includes(typeOf(resource))) return [];
    let holder = subject;
    if (subject.startsWith("apikey:")) {
      const key = this.apiKey(subject);
      if (key === undefined || !this.keyPasses(key, permission, resource)) return [];
      holder = key.owner;
    }
    return this.liveGrantsAbove(holder, resource).filter((grant) =>
      this.permissionsOfGrant(grant).includes(permission),
    );
  }

  check(subject: string, permission: string, resource: string): boolean {
    return this.grantsAllowing(subject, permission, resource).length > 0;
  }

  permissionsOn(subject: string, resource: string): string[] {
    return Object.keys(this.state.model.permissions).filter((permission) =>
      this.check(subject, permission, resource),
    );
  }

  listVisible(subject: string, type: string, permission: string): string[] {
    return this.resources()
      .filter((resource) => typeOf(resource) === type && this.check(subject, permission, resource))
      .sort(compareNames);
  }

  /** `listVisible` of `type`, keeping the children of `parent` only. */
  listChildren(subject: string, parent: string, type: string, permission: string): string[] {
    return this.listVisible(subject, type, permission).filter(
      (resource) => this.#parentOf.get(resource) === parent,
    );
  }

  /** Every user and group named anywhere (grants, memberships) that `check` allows, by name. */
  subjectsWith(permission: string, resource: string): string[] {
    const named = new Set<string>();
    for (const grant of this.state.grants) named.add(grant.subject);
    for (const membership of this.state.groups) {
      named.add(membership.group);
      named.add(membership.user);
    }
    return [...named]
      .filter((subject) => this.check(subject, permission, resource))
      .sort(compareNames);
  }

  /** May `granter` give `role` plus `extras` at `scope`, never beyond what they hold? */
  canGrant(granter: string, role: string, scope: string, extras: readonly string[]): boolean {
    const model = this.state.model;
    if (!this.exists(scope)) return false;
    if (isOwnerRole(model, role)) return false;
    const scopeType = typeOf(scope);
    if (!(model.roles[role]?.scopes ?? []).includes(scopeType)) return false;
    const ownerOnly = model.ownerOnly ?? [];
    if (extras.some((extra) => ownerOnly.includes(extra))) return false;
    if (!extras.every((extra) => actsAtOrBelow(model, extra, scopeType))) return false;

    let holder = granter;
    let keyAllows = (_permission: string) => true;
    if (granter.startsWith("apikey:")) {
      const key = this.apiKey(granter);
      if (key === undefined || !this.keyPasses(key, model.delegation, scope)) return false;
      holder = key.owner;
      keyAllows = (permission) => this.keyCarries(key, permission);
    }
    const live = this.liveGrantsAbove(holder, scope);
    const managesPeople = live.some((grant) =>
      this.permissionsOfGrant(grant).includes(model.delegation),
    );
    if (!managesPeople) return false;
    const held = new Set(
      live.flatMap((grant) => this.permissionsOfGrant(grant)).filter((p) => keyAllows(p)),
    );
    const wanted = [...permissionsOfRole(model, role), ...extras];
    return wanted.every((permission) => held.has(permission));
  }
}
