/** A resource is named `type:id`, e.g. `server:s1` or `site:shop.example`. */
export type ResourceRef<T extends string = string> = `${T}:${string}`;

/** Who asks: a user, a group of users (a team), or an API key. */
export type SubjectRef = `user:${string}` | `group:${string}` | `apikey:${string}`;

/** A subject that can hold grants. */
export type GranteeRef = `user:${string}` | `group:${string}`;

/**
 * A user or group holds one role at one scope resource, plus extra permissions given with the grant
 * alone (never owner-only), and an optional expiry.
 */
export interface Grant<
  T extends string = string,
  P extends string = string,
  R extends string = string,
> {
  readonly subject: GranteeRef;
  readonly role: R;
  readonly scope: ResourceRef<T>;
  /** Extra permissions on top of the role; never owner-only. */
  readonly extras: readonly P[];
  /** Epoch milliseconds after which the grant holds nothing; `undefined` for never. */
  readonly expiresAt: number | undefined;
  /**
   * An opaque note the store attaches (e.g. that the grant is a just-in-time elevation, and why);
   * the engine never decides by it, only names it in explanations. Absent when there is none.
   */
  readonly note?: string;
  /**
   * For an expiring grant: the role (and extras) it falls back to at `expiresAt` — a temporary
   * role over a standing one, one role per subject per resource at every instant. Absent when
   * the grant simply ends.
   */
  readonly fallback?: GrantFallback<P, R>;
}

/** What a temporary grant gives once it expires (`Grant.fallback`): never the owner role. */
export interface GrantFallback<P extends string = string, R extends string = string> {
  readonly role: R;
  readonly extras: readonly P[];
}

export interface GrantInput<
  T extends string = string,
  P extends string = string,
  R extends string = string,
> {
  readonly subject: GranteeRef;
  readonly role: R;
  readonly scope: ResourceRef<T>;
  readonly extras?: readonly P[];
  readonly expiresAt?: number | undefined;
  /** See `Grant.note`. */
  readonly note?: string | undefined;
  /** See `Grant.fallback`; only with `expiresAt`. */
  readonly fallback?: { readonly role: R; readonly extras?: readonly P[] | undefined } | undefined;
}

/**
 * A grant as a store holds it: subject, scope, role, then extras, expiry (epoch ms), note and
 * fallback (`Grant.fallback`) when there are any. What `loadGrantRows` takes.
 */
export type GrantRow = readonly [
  subject: string,
  scope: string,
  role: string,
  extras?: readonly string[] | null | undefined,
  expiresAt?: number | null | undefined,
  note?: string | null | undefined,
  fallback?:
    | { readonly role: string; readonly extras?: readonly string[] | undefined }
    | null
    | undefined,
];

/**
 * A machine credential owned by a member: it holds what its owner holds now, narrowed to its scopes
 * and its resources.
 */
export interface ApiKey<T extends string = string, P extends string = string> {
  readonly id: string;
  readonly owner: `user:${string}`;
  /** Permissions the key may use: names, `area.*` patterns or `*`, expanded at creation. */
  readonly scopes: readonly string[];
  /** The resolved permission names of `scopes`. */
  readonly permissions: readonly P[];
  /** The key works only at these resources and below; empty for the whole workspace. */
  readonly resources: readonly ResourceRef<T>[];
  readonly expiresAt: number | undefined;
}

export interface ApiKeyInput<T extends string = string> {
  readonly id: string;
  readonly owner: `user:${string}`;
  readonly scopes: readonly string[];
  readonly resources?: readonly ResourceRef<T>[];
  readonly expiresAt?: number | undefined;
}

export type DenyReason =
  /** The resource is not known (treat as 404). */
  | "not_found"
  /** The permission does not act on this resource's type. */
  | "not_applicable"
  /** No live grant of the subject on the resource or an ancestor includes the permission. */
  | "no_grant"
  | "key_expired"
  /** The API key's scopes do not include the permission. */
  | "key_scope"
  /** The resource lies outside the API key's resource constraint. */
  | "key_resource"
  /** canGrant: the owner role is only ever transferred, never granted. */
  | "owner_not_grantable"
  /** canGrant: the role cannot be granted at this scope's type. */
  | "role_not_grantable_at_scope"
  /** canGrant: an extra permission is owner-only. */
  | "owner_only_permission"
  /** canGrant: the granter may not manage people at this scope. */
  | "no_people_management"
  /** canGrant: the grant would give more than the granter holds there. */
  | "exceeds_granter";

/** A decision is a value: allowed with the grant that allows it, or denied with a reason. */
export type Decision<
  T extends string = string,
  P extends string = string,
  R extends string = string,
> =
  | { readonly allowed: true; readonly via: Grant<T, P, R> }
  | { readonly allowed: false; readonly reason: DenyReason; readonly missing?: readonly P[] };

export interface PageRequest<T extends string = string> {
  /** At most this many items; all when omitted. */
  readonly limit?: number;
  /** Continue after this resource (the `next` of the previous page). */
  readonly after?: ResourceRef<T> | undefined;
  /** Only resources whose id (the part after `type:`) contains this text, ignoring case. */
  readonly match?: string | undefined;
  /** Only the children of this resource (its direct children, not those further down). */
  readonly parent?: ResourceRef<T> | undefined;
}

export interface Page<T extends string = string> {
  /** Resources in ascending order of their names. */
  readonly items: readonly ResourceRef<T>[];
  /** Pass as `after` for the next page; `undefined` on the last page. */
  readonly next: ResourceRef<T> | undefined;
}

/** `not_applicable`: the grant holds the permission here, but the permission does not act on this resource's type. */
export type GrantOutcome =
  | "allows"
  | "not_on_path"
  | "lacks_permission"
  | "expired"
  | "not_applicable";

export interface ConsideredGrant<
  T extends string = string,
  P extends string = string,
  R extends string = string,
> {
  readonly grant: Grant<T, P, R>;
  /** Set when the subject holds the grant through membership of this group. */
  readonly throughGroup: GranteeRef | undefined;
  readonly outcome: GrantOutcome;
}

export interface Explanation<
  T extends string = string,
  P extends string = string,
  R extends string = string,
> {
  readonly subject: SubjectRef;
  readonly permission: P;
  readonly resource: ResourceRef<T>;
  readonly decision: Decision<T, P, R>;
  /** Every grant of the subject (or, for an API key, of its owner) and why it did or did not apply. */
  readonly considered: readonly ConsideredGrant<T, P, R>[];
  /** For an API key: whether the key itself lets the request through. */
  readonly key:
    | {
        readonly id: string;
        readonly outcome: "passes" | "expired" | "lacks_scope" | "outside_resources";
      }
    | undefined;
  /** The least role, at the narrowest scope, that would allow the request; `undefined` if allowed or none. */
  readonly suggestion: { readonly role: R; readonly scope: ResourceRef<T> } | undefined;
  /** Only the owner can ever hold this permission. */
  readonly ownerOnly: boolean;
  /** One sentence for people. */
  readonly summary: string;
}

export interface ResourceInput<T extends string = string> {
  readonly resource: ResourceRef<T>;
  readonly parent: ResourceRef<T>;
}

/** One way a subject holds a permission on a resource: a live grant that carries it. */
export interface AccessPath<
  T extends string = string,
  P extends string = string,
  R extends string = string,
> {
  readonly grant: Grant<T, P, R>;
  /** For a user reached through a group: that group, the grant's subject. */
  readonly throughGroup: `group:${string}` | undefined;
  /** The grant is at an ancestor of the resource, not at the resource itself. */
  readonly inherited: boolean;
}

/** A subject holding a permission on a resource, and every grant through which it holds it. */
export interface SubjectAccess<
  T extends string = string,
  P extends string = string,
  R extends string = string,
> {
  readonly subject: GranteeRef;
  /** Every live grant giving it: nearest scope first; at one scope, the subject's own first. */
  readonly via: readonly AccessPath<T, P, R>[];
  /** When the access ends unless renewed: the latest expiry of `via`; `undefined` for never. */
  readonly expiresAt: number | undefined;
}

export interface SubjectPageRequest {
  /** At most this many subjects; all when omitted. */
  readonly limit?: number;
  /** Continue after this subject (the `next` of the previous page). */
  readonly after?: string | undefined;
}

export interface SubjectPage<
  T extends string = string,
  P extends string = string,
  R extends string = string,
> {
  /** Subjects in ascending order of their names. */
  readonly items: readonly SubjectAccess<T, P, R>[];
  /** Pass as `after` for the next page; `undefined` on the last page. */
  readonly next: GranteeRef | undefined;
}
