import type { AccessChange, Engine, GranteeRef, ResourceRef } from "@gatehouse/engine";
import type { Kysely } from "kysely";
import type { Database } from "../database/schema.ts";
import type { AccessDiffEntry } from "./access-diff.ts";
import { named, namesIn } from "./who-can.ts";

/** How many lines of each workspace's diff a model-change report lists by default. */
export const MODEL_DIFF_LINES = 50;

/**
 * One workspace's access diff of a model change: counts of everything, then its first lines in the
 * shape of a dry run's diff (docs/access-diff.md), names and emails included (an operator's report).
 */
export interface ModelAccessDiff {
  readonly workspaceId: string;
  /** Subject–resource lines in all. */
  readonly changes: number;
  /** Users and groups gaining some permission somewhere. */
  readonly gaining: number;
  /** Users and groups losing some permission somewhere. */
  readonly losing: number;
  /** The first lines, sorted by subject, then resource; `changes` tells how many there are. */
  readonly lines: readonly AccessDiffEntry[];
}

/**
 * Who gains and who loses which permissions where when one workspace's engine under the served
 * model (`before`) becomes its engine under the new one (`after`), both holding the same stored
 * rows (`after` without those the new model refuses). Decisions are compared by permission name,
 * since the two models' bit layouts differ: for every user and group with a grant (users also
 * through their groups), on every resource under the grant's scope. API keys get no line of their
 * own, as in every dry run: a key acts for its owner, whose line tells.
 * @example
 * modelAccessChanges(servedEngine, nextEngine); // [{ subject: "user:dan", resource: "domain:d1", gained: [], lost: ["domain.dns"] }]
 */
export function modelAccessChanges(before: Engine, after: Engine): AccessChange[] {
  const scopes = new Map<GranteeRef, ResourceRef[]>();
  const holdAt = (subject: GranteeRef, scope: ResourceRef) => {
    const list = scopes.get(subject);
    if (list === undefined) scopes.set(subject, [scope]);
    else list.push(scope);
  };
  for (const engine of [before, after]) {
    for (const grant of engine.grants()) {
      const subject = grant.subject as GranteeRef;
      holdAt(subject, grant.scope);
      if (subject.startsWith("group:"))
        for (const user of engine.membersOf(subject as `group:${string}`))
          holdAt(user, grant.scope);
    }
  }
  const changes: AccessChange[] = [];
  for (const subject of [...scopes.keys()].sort()) {
    const resources = new Set<ResourceRef>();
    for (const scope of scopes.get(subject)!)
      for (const engine of [before, after])
        if (engine.hasResource(scope))
          for (const resource of engine.subtreeOf(scope)) resources.add(resource);
    for (const resource of [...resources].sort()) {
      const was = before.permissionsOn(subject, resource);
      const is = after.permissionsOn(subject, resource);
      const gained = is.filter((permission) => !was.includes(permission));
      const lost = was.filter((permission) => !is.includes(permission));
      if (gained.length > 0 || lost.length > 0) changes.push({ subject, resource, gained, lost });
    }
  }
  return changes;
}

/** A workspace's changes as a report: counts, and the first `lines` with names and emails. */
export async function describeModelAccessDiff(
  db: Kysely<Database>,
  workspaceId: string,
  changes: readonly AccessChange[],
  lines: number = MODEL_DIFF_LINES,
): Promise<ModelAccessDiff> {
  const first = changes.slice(0, lines) as readonly (AccessChange & { subject: GranteeRef })[];
  const { users, groups } = await namesIn(db, workspaceId, first);
  const subjectsWith = (side: "gained" | "lost") =>
    new Set(changes.filter((change) => change[side].length > 0).map((change) => change.subject))
      .size;
  return {
    workspaceId,
    changes: changes.length,
    gaining: subjectsWith("gained"),
    losing: subjectsWith("lost"),
    lines: first.map((change) => ({
      subject: change.subject,
      ...named(change.subject, users, groups),
      resource: change.resource,
      gained: change.gained,
      lost: change.lost,
    })),
  };
}
