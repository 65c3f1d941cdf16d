import type { Engine } from "../engine/engine.ts";
import type { ResourceRef, SubjectRef } from "../engine/types.ts";
import { ErrorCode, GatehouseError } from "../errors.ts";
import { applyOps, type ChangeOp } from "./change-op.ts";

/** What one subject gains and loses on one resource. */
export interface AccessChange<T extends string = string, P extends string = string> {
  /** A user, a group (its own grants) or an API key (what it may do for its owner). */
  readonly subject: SubjectRef;
  readonly resource: ResourceRef<T>;
  /** Permissions `check` allows after the change and denied before, in model order. */
  readonly gained: readonly P[];
  /** Permissions `check` allowed before the change and denies after, in model order. */
  readonly lost: readonly P[];
}

export interface AccessDiff<T extends string = string, P extends string = string> {
  /** Every subject and resource whose permissions differ, sorted by subject, then resource. */
  readonly changes: readonly AccessChange<T, P>[];
  /** How many subject–resource pairs were compared: the work done, bounded by `limit`. */
  readonly compared: number;
}

export interface AccessDiffOptions {
  /**
   * Refuse (`ACCESS_DIFF_TOO_LARGE`) when more subject–resource pairs than this could change
   * (default 200,000): a preview of e.g. moving a server with every site under it is bounded.
   */
  readonly limit?: number;
}

const DEFAULT_LIMIT = 200_000;

/** Who might gain or lose what where: every subject of `subjects` on every resource of `resources`. */
interface Region {
  readonly subjects: Set<SubjectRef>;
  readonly resources: Set<string>;
}

/**
 * Who gains and who loses which permissions where if `ops` were applied: the ops run on a fork of
 * the engine (the engine itself is not changed), and every subject–resource pair the ops could
 * affect is compared with `permissionsOn` before and after. Throws as `applyOps` would when an op
 * does not apply, and `ACCESS_DIFF_TOO_LARGE` past `options.limit` pairs.
 * @example
 * const { changes } = accessDiff(engine, [{ op: "resource.upsert", resource: "site:shop", parent: "server:s2" }]);
 * // [{ subject: "user:olga", resource: "site:shop", gained: [], lost: ["site.deploy"] }, …]
 */
export function accessDiff<T extends string, P extends string, R extends string>(
  engine: Engine<T, P, R>,
  ops: readonly ChangeOp[],
  options: AccessDiffOptions = {},
): AccessDiff<T, P> {
  const limit = options.limit ?? DEFAULT_LIMIT;
  const after = engine.fork();
  const pairs = new Map<SubjectRef, Set<string>>();
  let count = 0;
  const collect = (region: Region) => {
    for (const subject of region.subjects) {
      let resources = pairs.get(subject);
      if (resources === undefined) {
        resources = new Set();
        pairs.set(subject, resources);
      }
      for (const resource of region.resources) {
        if (resources.has(resource)) continue;
        resources.add(resource);
        if (++count > limit) {
          throw new GatehouseError(
            ErrorCode.ACCESS_DIFF_TOO_LARGE,
            `this change could affect more than ${limit} subject–resource pairs; preview a smaller change`,
            { details: { limit } },
          );
        }
      }
    }
  };
  for (const change of ops) {
    // The region before the op (what may be lost) and after it (what may be gained).
    collect(regionOf(after, change));
    applyOps(after, [change]);
    collect(regionOf(after, change));
  }
  const changes: AccessChange<T, P>[] = [];
  for (const subject of [...pairs.keys()].sort(compare)) {
    for (const resource of [...pairs.get(subject)!].sort(compare) as ResourceRef<T>[]) {
      const was = engine.permissionsOn(subject, resource);
      const now = after.permissionsOn(subject, resource);
      const gained = now.filter((permission) => !was.includes(permission));
      const lost = was.filter((permission) => !now.includes(permission));
      if (gained.length > 0 || lost.length > 0) changes.push({ subject, resource, gained, lost });
    }
  }
  return { changes, compared: count };
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * The subjects and resources whose permissions `change` may affect, read in `engine` as it stands
 * (called before and after the op): a permission on a resource depends only on the grants on its
 * path to the root, the holder's groups, and for a key its owner and resources.
 */
function regionOf(engine: Engine, change: ChangeOp): Region {
  const subjects = new Set<SubjectRef>();
  const resources = new Set<string>();
  const addSubtree = (resource: ResourceRef) => {
    for (const name of engine.subtreeOf(resource)) resources.add(name);
  };
  /** A user or group, a group's members, and every user's keys. */
  const addHolder = (subject: SubjectRef) => {
    subjects.add(subject);
    const users = subject.startsWith("group:")
      ? engine.membersOf(subject as `group:${string}`)
      : subject.startsWith("user:")
        ? [subject as `user:${string}`]
        : [];
    for (const user of users) {
      subjects.add(user);
      for (const id of engine.apiKeysOf(user)) subjects.add(`apikey:${id}`);
    }
  };
  /** Where a user's permissions come from: its grants' and its groups' grants' scopes. */
  const addReachOf = (subject: SubjectRef) => {
    const holders = subject.startsWith("user:")
      ? [subject, ...engine.groupsOf(subject as `user:${string}`)]
      : [subject];
    for (const holder of holders)
      for (const grant of engine.grantsOf(holder as `user:${string}`)) addSubtree(grant.scope);
  };
  switch (change.op) {
    case "resource.upsert":
    case "resource.delete": {
      addSubtree(change.resource);
      for (const item of engine.subjectsAt(change.resource).items) addHolder(item.subject);
      break;
    }
    case "grant.add":
      addHolder(change.grant.subject);
      addSubtree(change.grant.scope);
      break;
    case "grant.remove":
      addHolder(change.subject);
      addSubtree(change.scope);
      break;
    case "subject.remove":
      addHolder(change.subject);
      addReachOf(change.subject);
      break;
    case "group.add_member":
    case "group.remove_member":
      addHolder(change.user);
      addReachOf(change.group);
      break;
    case "key.add":
    case "key.remove": {
      const id = change.op === "key.add" ? change.key.id : change.id;
      const key = engine.apiKey(id);
      subjects.add(`apikey:${id}`);
      if (key !== undefined) addReachOf(key.owner);
      break;
    }
    case "workspace.close":
      break;
  }
  return { subjects, resources };
}
