import {
  type AccessPath,
  GatehouseError,
  type GranteeRef,
  type ResourceRef,
} from "@gatehouse/engine";
import { subjectOf } from "../actor.ts";
import type { WorkspaceReader } from "../service-core.ts";
import { ErrorCode } from "../support/error-codes.ts";
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
  const resource = query.resource as ResourceRef;
  const engine = reader.engine;
  const caller = subjectOf(reader.request.actor);
  if (!engine.hasResource(resource) || (caller !== undefined && !engine.reaches(caller, resource)))
    throw new GatehouseError(ErrorCode.RESOURCE_NOT_FOUND, `no such resource ${resource}`);
  const teamGate = gate(reader.model, "teamView");
  if (!reader.holds(teamGate, resource)) {
    await reader.core.recordDenial(reader.request, reader.workspace.id, {
      action: "team.view",
      target: resource,
    });
    throw new GatehouseError(
      ErrorCode.PERMISSION_DENIED,
      `you may not see who has access to ${resource}`,
    );
  }
  const page = engine.subjectsWith(query.permission, resource, {
    ...(query.limit === undefined ? {} : { limit: query.limit }),
    after: query.after,
  });
  // Names and emails only for those who may see the whole team, as members.list shows them.
  const seesTeam = reader.holds(teamGate, reader.root);
  const users = new Map<string, { email: string; name: string }>();
  const groups = new Map<string, { name: string }>();
  if (seesTeam) {
    const userIds = page.items.flatMap((item) =>
      item.subject.startsWith("user:") ? [item.subject.slice(5)] : [],
    );
    const groupIds = page.items.flatMap((item) =>
      item.subject.startsWith("group:") ? [item.subject.slice(6)] : [],
    );
    if (userIds.length > 0) {
      const rows = await reader.db
        .selectFrom("users")
        .select(["id", "email", "name"])
        .where("id", "in", userIds)
        .execute();
      for (const row of rows) users.set(row.id, { email: row.email, name: row.name });
    }
    if (groupIds.length > 0) {
      const rows = await reader.db
        .selectFrom("groups")
        .select(["group_id", "name"])
        .where("workspace_id", "=", reader.workspace.id)
        .where("group_id", "in", groupIds)
        .execute();
      for (const row of rows) groups.set(row.group_id, { name: row.name });
    }
  }
  return {
    permission: query.permission,
    resource,
    items: page.items.map((item) => ({
      subject: item.subject,
      user: item.subject.startsWith("user:") ? users.get(item.subject.slice(5)) : undefined,
      group: item.subject.startsWith("group:") ? groups.get(item.subject.slice(6)) : undefined,
      via: item.via,
      expiresAt: item.expiresAt,
    })),
    next: page.next,
  };
}
