import type { Engine } from "../engine/engine.ts";
import type { ApiKeyInput, GranteeRef, GrantInput, ResourceRef } from "../engine/types.ts";

/**
 * One engine change, as data: the ops of a committed revision are stored with it, replayed by every
 * instance, streamed to clients (`GET …/changes`) and replayed by the client SDK's local cache.
 */
export type ChangeOp =
  | { readonly op: "resource.upsert"; readonly resource: ResourceRef; readonly parent: ResourceRef }
  | { readonly op: "resource.delete"; readonly resource: ResourceRef }
  | { readonly op: "grant.add"; readonly grant: GrantInput }
  | { readonly op: "grant.remove"; readonly subject: GranteeRef; readonly scope: ResourceRef }
  | { readonly op: "subject.remove"; readonly subject: GranteeRef }
  | {
      readonly op: "group.add_member";
      readonly group: `group:${string}`;
      readonly user: `user:${string}`;
    }
  | {
      readonly op: "group.remove_member";
      readonly group: `group:${string}`;
      readonly user: `user:${string}`;
    }
  | { readonly op: "key.add"; readonly key: ApiKeyInput }
  | { readonly op: "key.remove"; readonly id: string }
  | { readonly op: "workspace.close" }
  /** The workspace's own roles changed (docs/workspace-roles.md): its model did, so reload. */
  | { readonly op: "roles.change" };

/**
 * Applies ops in order. Throws when one does not apply (a gap, a closed workspace, a change of the
 * workspace's roles): the caller then reloads the engine from its source.
 * @example
 * applyOps(engine, [{ op: "grant.remove", subject: "user:carol", scope: "site:shop" }]);
 */
export function applyOps(engine: Engine, ops: readonly ChangeOp[]): void {
  for (const change of ops) {
    switch (change.op) {
      case "resource.upsert":
        engine.upsertResource(change.resource, change.parent);
        break;
      case "resource.delete":
        if (engine.hasResource(change.resource)) engine.deleteResource(change.resource);
        break;
      case "grant.add":
        engine.addGrant(change.grant);
        break;
      case "grant.remove":
        engine.removeGrant(change.subject, change.scope);
        break;
      case "subject.remove":
        engine.removeSubject(change.subject);
        break;
      case "group.add_member":
        engine.addGroupMember(change.group, change.user);
        break;
      case "group.remove_member":
        engine.removeGroupMember(change.group, change.user);
        break;
      case "key.add":
        engine.addApiKey(change.key);
        break;
      case "key.remove":
        engine.removeApiKey(change.id);
        break;
      case "workspace.close":
        throw new Error("a closed workspace has no engine");
      case "roles.change":
        throw new Error("the workspace's roles changed: reload the engine with its model");
    }
  }
}
