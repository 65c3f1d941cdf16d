import type { AccessDiff, GranteeRef, ResourceRef } from "@gatehouse/engine";
import { subjectOf } from "../actor.ts";
import type { WorkspaceReader } from "../service-core.ts";
import { gate } from "../team/gates.ts";
import { named, namesOf } from "./who-can.ts";

/** One user or group gaining or losing permissions on one resource, as a dry run answers it. */
export interface AccessDiffEntry {
  readonly subject: GranteeRef;
  /** For users, when the caller may see the team: their email and name. */
  readonly user: { readonly email: string; readonly name: string } | undefined;
  /** For groups, when the caller may see the team: the group's name. */
  readonly group: { readonly name: string } | undefined;
  readonly resource: ResourceRef;
  /** Permissions held after the change and not before, in model order. */
  readonly gained: readonly string[];
  /** Permissions held before the change and not after, in model order. */
  readonly lost: readonly string[];
}

/**
 * The engine's access diff as the caller may see it: users and groups (an API key acts for its
 * owner, whose line already tells), on resources within the caller's reach or created by the
 * change itself; names and emails when the caller may see the whole team, as `whoCan` shows them.
 */
export async function describeAccessDiff(
  reader: WorkspaceReader,
  diff: AccessDiff,
): Promise<AccessDiffEntry[]> {
  const engine = reader.engine;
  const caller = subjectOf(reader.request.actor);
  const visible = diff.changes.filter(
    (change) =>
      !change.subject.startsWith("apikey:") &&
      (caller === undefined ||
        !engine.hasResource(change.resource) ||
        engine.reaches(caller, change.resource)),
  ) as readonly (AccessDiff["changes"][number] & { subject: GranteeRef })[];
  const { users, groups } = reader.holds(gate(reader.model, "teamView"), reader.root)
    ? await namesOf(reader, visible)
    : { users: new Map(), groups: new Map() };
  return visible.map((change) => ({
    subject: change.subject,
    ...named(change.subject, users, groups),
    resource: change.resource,
    gained: change.gained,
    lost: change.lost,
  }));
}
