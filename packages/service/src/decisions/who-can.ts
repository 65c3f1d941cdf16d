import {
  type AccessPath,
  GatehouseError,
  type GranteeRef,
  type ResourceRef,
  type SubjectRef,
} from "@gatehouse/engine";
import type { Kysely } from "kysely";
import { subjectOf } from "../actor.ts";
import type { Database } from "../database/schema.ts";
import type { WorkspaceReader } from "../service-core.ts";
import { ErrorCode } from "../support/error-codes.ts";
import { type AccessRequestProvenance, accessRequestsBehind } from "../team/access-requests.ts";
import { gate } from "../team/gates.ts";

export interface WhoCanQuery {
  readonly permission: string;
  readonly resource: string;
  /** At most this many subjects (default: all). */
  readonly limit?: number | undefined;
  /** Continue after this subject: the `next` of the previous page. */
  readonly after?: string | undefined;
}

/** One user or group holding the permission, with every grant giving it. */
export interface SubjectWithAccess {
  readonly subject: GranteeRef;
  /** For users, when the caller may see the team: their email and name. */
  readonly user: { readonly email: string; readonly name: string } | undefined;
  /** For groups, when the caller may see the team: the group's name. */
  readonly group: { readonly name: string } | undefined;
  readonly via: readonly AccessPath[];
  /** When the access ends unless renewed; `undefined` for never. */
  readonly expiresAt: number | undefined;
}

export interface WhoCanPage {
  readonly permission: string;
  readonly resource: string;
  readonly items: readonly SubjectWithAccess[];
  readonly next: GranteeRef | undefined;
}

/**
 * Who holds `permission` on `resource`, behind the team gate held at the resource or above (the
 * host app sees all). A resource the caller cannot reach answers RESOURCE_NOT_FOUND exactly like a
 * missing one; within reach, without the gate, PERMISSION_DENIED (written to the activity log).
 */
export async function whoCan(reader: WorkspaceReader, query: WhoCanQuery): Promise<WhoCanPage> {
  const teamGate = gate(reader.model, "teamView");
  const resource = await peopleOf(reader, query.resource, (at) => reader.holds(teamGate, at));
  const page = reader.engine.subjectsWith(query.permission, resource, {
    ...(query.limit === undefined ? {} : { limit: query.limit }),
    after: query.after,
  });
  // Names and emails only for those who may see the whole team, as members.list shows them.
  const { users, groups } = reader.holds(teamGate, reader.root)
    ? await namesOf(reader, page.items)
    : { users: new Map(), groups: new Map() };
  return {
    permission: query.permission,
    resource,
    items: page.items.map((item) => ({
      subject: item.subject,
      ...named(item.subject, users, groups),
      via: item.via,
      expiresAt: item.expiresAt,
    })),
    next: page.next,
  };
}

/**
 * The resource whose people the caller asks about: RESOURCE_NOT_FOUND when it is missing or out of
 * the caller's reach (the same answer), PERMISSION_DENIED — written to the activity log — when
 * they reach it but `mayView` says no.
 */
async function peopleOf(
  reader: WorkspaceReader,
  name: string,
  mayView: (resource: ResourceRef) => boolean,
): Promise<ResourceRef> {
  const resource = name as ResourceRef;
  const engine = reader.engine;
  const caller = subjectOf(reader.request.actor);
  if (!engine.hasResource(resource) || (caller !== undefined && !engine.reaches(caller, resource)))
    throw new GatehouseError(ErrorCode.RESOURCE_NOT_FOUND, `no such resource ${resource}`);
  if (!mayView(resource)) {
    await reader.core.recordDenial(reader.request, reader.workspace.id, {
      action: "team.view",
      target: resource,
    });
    throw new GatehouseError(
      ErrorCode.PERMISSION_DENIED,
      `you may not see who has access to ${resource}`,
    );
  }
  return resource;
}

/** A subject's email and name (a user) or name (a group), from `namesOf`'s maps. */
export function named(
  subject: GranteeRef,
  users: ReadonlyMap<string, { email: string; name: string }>,
  groups: ReadonlyMap<string, { name: string }>,
) {
  return {
    user: subject.startsWith("user:") ? users.get(subject.slice(5)) : undefined,
    group: subject.startsWith("group:") ? groups.get(subject.slice(6)) : undefined,
  };
}

/** The emails and names of a page's users and the names of its groups. */
export function namesOf(
  reader: WorkspaceReader,
  items: readonly { readonly subject: GranteeRef }[],
): Promise<{
  users: Map<string, { email: string; name: string }>;
  groups: Map<string, { name: string }>;
}> {
  return namesIn(reader.db, reader.workspace.id, items);
}

/** `namesOf` for a workspace read outside a request (an operator's report). */
export async function namesIn(
  db: Kysely<Database>,
  workspaceId: string,
  items: readonly { readonly subject: GranteeRef }[],
): Promise<{
  users: Map<string, { email: string; name: string }>;
  groups: Map<string, { name: string }>;
}> {
  const users = new Map<string, { email: string; name: string }>();
  const groups = new Map<string, { name: string }>();
  const userIds = items.flatMap((item) =>
    item.subject.startsWith("user:") ? [item.subject.slice(5)] : [],
  );
  const groupIds = items.flatMap((item) =>
    item.subject.startsWith("group:") ? [item.subject.slice(6)] : [],
  );
  if (userIds.length > 0) {
    const rows = await db
      .selectFrom("users")
      .select(["id", "email", "name"])
      .where("id", "in", userIds)
      .execute();
    for (const row of rows) users.set(row.id, { email: row.email, name: row.name });
  }
  if (groupIds.length > 0) {
    const rows = await db
      .selectFrom("groups")
      .select(["group_id", "name"])
      .where("workspace_id", "=", workspaceId)
      .where("group_id", "in", groupIds)
      .execute();
    for (const row of rows) groups.set(row.group_id, { name: row.name });
  }
  return { users, groups };
}

/** Where a grant on a Permissions card sits relative to the card's resource. */
export type GrantPlace = "here" | "above" | "below";

export interface PermissionsQuery {
  readonly resource: string;
  /** At most this many subjects (default: all). */
  readonly limit?: number | undefined;
  /** Continue after this subject: the `next` of the previous page. */
  readonly after?: string | undefined;
  /** Keep only users whose email or name, and teams whose name, contains this (ignoring case). */
  readonly q?: string | undefined;
}

/** Subjects the engine lists per step while a `q` search fills a page. */
const SEARCH_STEP = 500;

/** One user or group on a resource's Permissions card, with every grant giving it access. */
export interface PermissionsEntry {
  readonly subject: GranteeRef;
  readonly user: { readonly email: string; readonly name: string } | undefined;
  readonly group: { readonly name: string } | undefined;
  /**
   * Nearest scope first: here, then above (inherited), then below (within the resource's part);
   * each with the approved access request it came from, if any.
   */
  readonly via: readonly (AccessPath & {
    readonly place: GrantPlace;
    readonly accessRequest: AccessRequestProvenance | undefined;
  })[];
  /** When the access ends unless renewed; `undefined` for never. */
  readonly expiresAt: number | undefined;
}

export interface PermissionsPage {
  readonly resource: string;
  readonly items: readonly PermissionsEntry[];
  readonly next: GranteeRef | undefined;
}

/**
 * A resource's Permissions card: every user and group with access at the resource (directly,
 * inherited from above, through a team) or below it, with the grants giving it and when they end —
 * for a caller holding the model's delegation permission or team gate at the resource or above (a
 * sub-tree admin at their resource, the team managers everywhere, the host app). A resource the
 * caller cannot reach is RESOURCE_NOT_FOUND exactly like a missing one; within reach, without
 * either permission, PERMISSION_DENIED (written to the activity log).
 */
export async function permissionsAt(
  reader: WorkspaceReader,
  query: PermissionsQuery,
): Promise<PermissionsPage> {
  const resource = await peopleOf(reader, query.resource, (at) => administers(reader, at));
  /** A page of the card's subjects as entries: named, each grant with the request behind it. */
  const entriesOf = async (
    items: ReturnType<WorkspaceReader["engine"]["subjectsAt"]>["items"],
  ): Promise<PermissionsEntry[]> => {
    const names = await namesOf(reader, items);
    const behind = await accessRequestsBehind(
      reader,
      items.flatMap((item) => item.via.map((path) => path.grant)),
    );
    let index = 0;
    return items.map((item) => ({
      subject: item.subject,
      ...named(item.subject, names.users, names.groups),
      via: item.via.map((path) => ({
        ...path,
        place:
          path.grant.scope === resource ? "here" : path.inherited ? "above" : ("below" as const),
        accessRequest: behind[index++],
      })),
      expiresAt: item.expiresAt,
    }));
  };
  const wanted = query.q?.trim().toLowerCase() ?? "";
  if (wanted === "") {
    const page = reader.engine.subjectsAt(resource, {
      ...(query.limit === undefined ? {} : { limit: query.limit }),
      after: query.after,
    });
    return { resource, items: await entriesOf(page.items), next: page.next };
  }
  // A search walks the card in subject order, a step at a time, keeping the subjects whose names
  // match, until the page is full: `next` is the last subject kept, as without `q`.
  const limit = query.limit ?? Number.POSITIVE_INFINITY;
  const items: PermissionsEntry[] = [];
  let after = query.after;
  for (;;) {
    const step = reader.engine.subjectsAt(resource, { limit: SEARCH_STEP, after });
    const entries = await entriesOf(step.items);
    for (const [index, item] of step.items.entries()) {
      const entry = entries[index]!;
      const text = [entry.user?.email, entry.user?.name, entry.group?.name].join(" ").toLowerCase();
      if (!text.includes(wanted)) continue;
      items.push(entry);
      if (items.length < limit) continue;
      const more = index < step.items.length - 1 || step.next !== undefined;
      return { resource, items, next: more ? item.subject : undefined };
    }
    if (step.next === undefined) return { resource, items, next: undefined };
    after = step.next;
  }
}

/**
 * Whether the caller (or `subject`) administers `resource`: holds the model's delegation permission
 * or its team gate there or above (the host app always does).
 */
export function administers(
  reader: WorkspaceReader,
  resource: ResourceRef,
  subject?: SubjectRef,
): boolean {
  const holds = (permission: string) =>
    subject === undefined
      ? reader.holds(permission, resource)
      : reader.engine.holds(subject, permission, resource).allowed;
  return holds(reader.model.definition.delegation) || holds(gate(reader.model, "teamView"));
}
