/**
 * The shape of a model as an author writes it, in TypeScript (with typed names) or
 * as JSON. `defineModel` and `parseModel` validate it and compile it into a `Model`.
 *
 * Type parameters: `T` resource type names, `P` permission names, `R` role names.
 */

export interface ResourceTypeDefinition<T extends string = string> {
  /** Types a resource of this type may hang under. The one type without parents is the workspace root. */
  readonly parents?: readonly T[];
  readonly label?: string;
}

export interface PermissionDefinition<T extends string = string> {
  /** The resource type(s) this permission acts on; held at an ancestor, it holds on every descendant. */
  readonly on: T | readonly T[];
  readonly description?: string;
}

export interface RoleDefinition<T extends string = string, P extends string = string> {
  readonly label?: string;
  readonly description?: string;
  /** The seed sentence this role implements, quoted. */
  readonly source?: string;
  /** Resource types this role can be granted at. */
  readonly scopes: readonly T[];
  /** The role's permissions. Omitted for the owner role, which holds every permission. */
  readonly permissions?: readonly P[];
  /** Marks the single owner role: every permission, including the owner-only ones; never delegable. */
  readonly owner?: boolean;
  /**
   * What the console offers around the workspace to a member who holds only roles like this one:
   * `"full"` (default) the workspace switcher and the account pages; `"workspace-only"` neither, as
   * for a hosting company's end customer. Never `"workspace-only"` for the owner role.
   */
  readonly navigation?: MemberNavigation;
}

/** The console's navigation around a workspace: everything, or this workspace's own pages only. */
export type MemberNavigation = "full" | "workspace-only";

export interface PlanDefinition {
  readonly label?: string;
  /** Maximum members (members plus pending invitations); `null` for no limit. */
  readonly maxMembers: number | null;
}

/**
 * The Gatehouse workflow (API) a navigation section opens: `team` (the team view: members,
 * invitations, groups), `people` (inviting and granting where the member manages people),
 * `activity` (the activity log, whole or a resource's scoped activity), `settings` (the workspace's
 * settings) or `integrations` (owner-only integration credentials).
 */
export const SECTION_WORKFLOWS = [
  "team",
  "people",
  "activity",
  "settings",
  "integrations",
] as const;
export type SectionWorkflow = (typeof SECTION_WORKFLOWS)[number];

/**
 * Navigation sections of a panel: shown to a member only when they hold one of `anyOf` — and, for a
 * section that opens one of Gatehouse's own workflows, only when that workflow's API serves them.
 */
export interface SectionDefinition<P extends string = string> {
  readonly label: string;
  readonly anyOf: readonly P[];
  /** The Gatehouse workflow the section opens; none for the host app's own pages (sites, billing, …). */
  readonly workflow?: SectionWorkflow;
}

/**
 * Which permission opens each built-in workflow of the service layer. Behaviour stays data: the
 * service never branches on a role's or permission's name.
 */
export interface ModelGates<T extends string = string, P extends string = string> {
  /** List members, invitations and join requests (the team view). Default: the delegation permission. */
  readonly teamView?: P;
  /** Read, export and verify the activity log. Default: the delegation permission. */
  readonly auditView?: P;
  /** Rename the workspace and change its settings. Default: the owner only. */
  readonly settings?: P;
  /**
   * Change the workspace's plan (and so its member limit). Default: nobody in the workspace — only
   * the host application or the instance operator, as where upgrades go through support.
   */
  readonly plan?: P;
  /** Per resource type, the permission at the parent that lets a member create one. Default: host app only. */
  readonly createResource?: { readonly [K in T]?: P };
  /** Per resource type, the permission on the resource that lets a member delete it. Default: host app only. */
  readonly deleteResource?: { readonly [K in T]?: P };
  /**
   * Per resource type, the permission on the resource that gets a member a one-time sign-in link to
   * its own admin app (the sign-in handoff, e.g. wp-admin of a site). It must act on that type. Default: no link.
   */
  readonly signIn?: { readonly [K in T]?: P };
  /**
   * Per resource type, the permission on a resource that lets a member read its scoped activity:
   * the activity log's entries about that resource and every resource below it. It must act on that
   * type. Whoever holds `auditView` at or above a resource may read its activity too. Default: none
   * (only the workspace-wide log).
   */
  readonly activity?: { readonly [K in T]?: P };
}

export interface ModelPolicy {
  /** One active workspace per email address (as the company panel has it). */
  readonly oneWorkspacePerEmail: boolean;
  /** The owner may hand ownership to a member; otherwise only an instance operator can. */
  readonly selfServiceTransfer: boolean;
  /** Registered users may ask to join with the workspace's join key. */
  readonly joinRequests: boolean;
  /** Every user gets a personal workspace on sign-up. */
  readonly personalWorkspace: boolean;
  /**
   * A personal workspace (the one a sign-up gets) may take other members: invitations, join
   * requests and members added by the host app. False where "every user has a single personal
   * team, which cannot be shared with other users"; workspaces created later are always shareable.
   */
  readonly personalShareable: boolean;
  /**
   * A workspace's owner (or whoever holds the settings gate) may define extra roles of its own
   * from the model's permissions — never owner-only ones — scoped like built-in roles
   * (docs/workspace-roles.md). Off where "a role is a fixed preset of capabilities".
   */
  readonly workspaceRoles: boolean;
}

export interface ModelDefinition<
  T extends string = string,
  P extends string = string,
  R extends string = string,
> {
  readonly name: string;
  readonly label?: string;
  /** The documentation page the model reproduces. */
  readonly source?: string;
  readonly types: { readonly [K in T]: ResourceTypeDefinition<NoInfer<T>> };
  readonly permissions: { readonly [K in P]: PermissionDefinition<NoInfer<T>> };
  readonly roles: { readonly [K in R]: RoleDefinition<NoInfer<T>, NoInfer<P>> };
  /** Permissions only the owner holds: no other role and no extra permission may contain them. */
  readonly ownerOnly?: readonly NoInfer<P>[];
  /** The permission that lets a member grant, change and revoke access at a scope, never beyond what they hold. */
  readonly delegation: NoInfer<P>;
  readonly plans?: { readonly [plan: string]: PlanDefinition };
  readonly defaultPlan?: string;
  readonly sections?: { readonly [section: string]: SectionDefinition<NoInfer<P>> };
  readonly gates?: ModelGates<NoInfer<T>, NoInfer<P>>;
  /** The role the previous owner holds at the root after an ownership transfer; without one, they leave. */
  readonly formerOwnerRole?: NoInfer<R>;
  readonly policy?: Partial<ModelPolicy>;
}

export const DEFAULT_POLICY: ModelPolicy = Object.freeze({
  oneWorkspacePerEmail: false,
  selfServiceTransfer: true,
  joinRequests: false,
  personalWorkspace: false,
  personalShareable: true,
  workspaceRoles: false,
});
