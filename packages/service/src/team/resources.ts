import { GatehouseError, type Model, type Page, type ResourceRef } from "@gatehouse/engine";
import { type RequestContext, subjectOf } from "../actor.ts";
import { subjectFor } from "../decisions/decisions.ts";
import type {
  ReadOptions,
  ServiceCore,
  WorkspaceWriter,
  WriteOptions,
  WriteResult,
} from "../service-core.ts";
import { ErrorCode } from "../support/error-codes.ts";
import { requireResourceName, typeOf } from "../support/validation.ts";
import {
  MAX_SYNC_RESOURCES,
  removeStrandedMembers,
  type SyncInput,
  type SyncResult,
  syncResources,
} from "./resource-sync.ts";

/**
 * A resource outside the caller's reach (not at or below one of their grants) answers as if it did
 * not exist: RESOURCE_NOT_FOUND, written to the activity log as denied when it exists.
 */
async function requireVisible(
  tx: WorkspaceWriter,
  resource: ResourceRef,
  record: { action: string; target: string },
): Promise<void> {
  await tx.requireMember(record);
  const missing = `no resource ${resource} in this workspace`;
  if (!tx.engine.hasResource(resource))
    throw new GatehouseError(ErrorCode.RESOURCE_NOT_FOUND, missing);
  const subject = subjectOf(tx.request.actor);
  if (subject !== undefined && !tx.engine.reaches(subject, resource))
    tx.deny(record, missing, ErrorCode.RESOURCE_NOT_FOUND);
}

/** Members may create or delete resources only where the model's gates say so; the host app always may. */
async function requireResourceGate(
  tx: WorkspaceWriter,
  kind: "createResource" | "deleteResource",
  resource: ResourceRef,
  at: ResourceRef,
  record: { action: string; target: string },
): Promise<void> {
  if (tx.isSystem) return;
  const permission = tx.model.definition.gates?.[kind]?.[typeOf(resource)];
  if (permission === undefined) {
    await tx.requireMember(record);
    tx.deny(record, `${typeOf(resource)} resources are registered by the host application`);
  }
  await tx.require(permission, at, record);
}

/** The typed resource tree the host app registers: servers, sites, customers, … */
export class Resources {
  readonly #core: ServiceCore;

  constructor(core: ServiceCore) {
    this.#core = core;
  }

  /**
   * Adds a resource under `parent`, or moves it there. The host app (system actor) always may;
   * a member needs the model's create gate at the parent (and the delete gate to move it away).
   * @example
   * await gatehouse.resources.upsert(systemActor(), ws, { resource: "site:shop", parent: "server:s1" });
   */
  async upsert(
    request: RequestContext,
    workspaceId: string,
    input: { resource: string; parent: string },
    options: WriteOptions = {},
  ): Promise<WriteResult> {
    const resource = requireResourceName(input?.resource, "resource");
    const parent = requireResourceName(input?.parent, "parent");
    const { revision, diff } = await this.#core.write(
      request,
      workspaceId,
      async (tx) => {
        const previous = tx.engine.parentOf(resource);
        const record = {
          action: previous === undefined ? "resource.create" : "resource.move",
          target: resource,
          details: { parent, previous: previous ?? null },
        };
        await requireVisible(tx, parent, record);
        if (previous !== undefined) await requireVisible(tx, resource, record);
        await requireResourceGate(tx, "createResource", resource, parent, record);
        // Registering a resource where it already is changes nothing (and is still authorized first);
        // moving it away from its parent needs the delete gate too.
        if (previous === parent) return;
        if (previous !== undefined)
          await requireResourceGate(tx, "deleteResource", resource, resource, record);
        tx.engine.validateResource(resource, parent);
        const ws = tx.workspace.id;
        if (previous === undefined) {
          await tx.trx
            .insertInto("resources")
            .values({ workspace_id: ws, resource, parent, created_at: tx.now })
            .execute();
        } else {
          await tx.trx
            .updateTable("resources")
            .set({ parent })
            .where("workspace_id", "=", ws)
            .where("resource", "=", resource)
            .execute();
        }
        tx.apply({ op: "resource.upsert", resource, parent });
        tx.audit(record);
      },
      options,
    );
    return diff === undefined ? { revision } : { revision, diff };
  }

  /**
   * Deletes a resource record with its subtree and the grants on them; members left without any
   * grant or group leave the workspace. Only the records: the host app's real servers and sites
   * are its own business.
   */
  async delete(
    request: RequestContext,
    workspaceId: string,
    resource: string,
    options: WriteOptions = {},
  ): Promise<WriteResult & { deleted: string[] }> {
    const name = requireResourceName(resource, "resource");
    const { value, revision, diff } = await this.#core.write(
      request,
      workspaceId,
      async (tx) => {
        const record = { action: "resource.delete", target: name };
        await requireVisible(tx, name, record);
        if (name === tx.root)
          throw new GatehouseError(
            ErrorCode.INVALID_INPUT,
            "the workspace root is removed by closing the workspace",
          );
        await requireResourceGate(tx, "deleteResource", name, name, record);
        const subtree = tx.engine.subtreeOf(name);
        const owner = tx.engine.ownerGrant;
        if (owner !== undefined && subtree.includes(owner.scope))
          throw new GatehouseError(ErrorCode.LAST_OWNER, "the owner's scope cannot be deleted");
        const ws = tx.workspace.id;
        for (let start = 0; start < subtree.length; start += 500) {
          const chunk = subtree.slice(start, start + 500);
          await tx.trx
            .deleteFrom("grants")
            .where("workspace_id", "=", ws)
            .where("scope", "in", chunk)
            .execute();
          await tx.trx
            .deleteFrom("resources")
            .where("workspace_id", "=", ws)
            .where("resource", "in", chunk)
            .execute();
        }
        tx.apply({ op: "resource.delete", resource: name });
        const leaving = await removeStrandedMembers(tx, new Set<string>(subtree));
        tx.audit({ ...record, details: { deleted: subtree.length, membersRemoved: leaving } });
        return subtree;
      },
      options,
    );
    return diff === undefined ? { revision, deleted: value } : { revision, deleted: value, diff };
  }

  /**
   * The host app's bulk path: registers, moves and deletes up to 250,000 resources in one
   * transaction and one revision — parents in any order, all or nothing, idempotent — and with
   * `reconcile` makes the given set the truth for a type under a parent. `dryRun` answers the
   * difference (and the grants deleting would drop) without changing anything.
   * @example
   * await gatehouse.resources.sync(systemActor(), ws, { resources: [{ resource: "site:a", parent: "server:s1" }], reconcile: { type: "site" }, dryRun: true });
   */
  async sync(
    request: RequestContext,
    workspaceId: string,
    input: SyncInput,
  ): Promise<SyncResult & { revision: number }> {
    const count = input.resources.length + (input.delete?.length ?? 0);
    if (count > MAX_SYNC_RESOURCES) {
      throw new GatehouseError(
        ErrorCode.INVALID_INPUT,
        `one sync holds at most ${MAX_SYNC_RESOURCES} resources and deletions, not ${count}; send the tree in several syncs`,
      );
    }
    const { value, revision } = await this.#core.write(request, workspaceId, async (tx) => {
      const record = { action: "resource.sync", target: tx.root };
      await tx.requireMember(record);
      if (!tx.isSystem) tx.deny(record, "resources are synced by the host application");
      return syncResources(tx, input);
    });
    return { ...value, revision };
  }

  /**
   * The resources of `type` on which the caller holds `permission` (the fleet list shows only
   * what the member may see), sorted by name and paged; with `q`, only those whose id contains it
   * (ignoring case), found on the engine's sorted names without loading anything; with `parent`,
   * only that resource's children (a parent out of the caller's reach is RESOURCE_NOT_FOUND, as if
   * it did not exist). Without `permission`, the type's view permission (see `viewPermissionOf`).
   * Each listed resource comes with how many children of each type below it the caller may see
   * (`children`), counted by the same view permissions.
   * @example
   * const { items, next } = await gatehouse.resources.list(asUser(otto), ws, { type: "site", permission: "site.view", q: "shop", limit: 20 });
   * const { items, children } = await gatehouse.resources.list(asUser(otto), ws, { type: "site", parent: "server:fra-1" });
   */
  async list(
    request: RequestContext,
    workspaceId: string,
    query: {
      type: string;
      permission?: string;
      limit?: number;
      after?: string;
      q?: string;
      subject?: string;
      parent?: string;
    },
    options: ReadOptions = {},
  ): Promise<ResourcePage> {
    const reader = await this.#core.read(request, workspaceId, options);
    const permission = query.permission ?? viewPermissionOf(reader.model, query.type);
    const parent =
      query.parent === undefined ? undefined : requireResourceName(query.parent, "parent");
    const page = {
      ...(query.limit === undefined ? {} : { limit: query.limit }),
      after: query.after as ResourceRef | undefined,
      match: query.q,
      parent,
    };
    // The host app sees every resource of the type, unless it asks for a subject's view.
    const subject =
      query.subject === undefined && subjectOf(request.actor) === undefined
        ? undefined
        : await subjectFor(reader, query.subject);
    const engine = reader.engine;
    if (
      parent !== undefined &&
      (!engine.hasResource(parent) || (subject !== undefined && !engine.reaches(subject, parent)))
    )
      throw new GatehouseError(
        ErrorCode.RESOURCE_NOT_FOUND,
        `no resource ${parent} in this workspace`,
      );
    const found =
      subject === undefined
        ? engine.resourcesOfType(query.type, page)
        : engine.listVisible(subject, query.type, permission, page);
    const children: Record<string, Record<string, number>> = {};
    for (const item of found.items) children[item] = {};
    for (const child of childTypesOf(reader.model, query.type)) {
      const counts =
        subject === undefined
          ? engine.countChildren(found.items, child.type)
          : engine.countVisibleChildren(subject, found.items, child);
      found.items.forEach((item, index) => {
        children[item]![child.type] = counts[index]!;
      });
    }
    return { ...found, children };
  }
}

/** A page of resources, each with how many children of each type below it the caller may see. */
export interface ResourcePage extends Page {
  /** Per listed resource, per child type (every type the model allows under it): the count. */
  readonly children: Readonly<Record<string, Readonly<Record<string, number>>>>;
}

/** The types the model allows right under `type`, each with the permission that makes one visible. */
function childTypesOf(model: Model, type: string): { type: string; permission: string }[] {
  const found: { type: string; permission: string }[] = [];
  for (const [name, definition] of Object.entries(model.definition.types)) {
    if (!(definition.parents ?? []).includes(type)) continue;
    const permission = viewPermissionIfAny(model, name);
    if (permission !== undefined) found.push({ type: name, permission });
  }
  return found;
}

/**
 * The permission a fleet list of `type` uses when the caller names none: `<type>.view` where the
 * model has it acting on the type; otherwise, of the permissions acting on the type, the one the
 * most roles carry (the least privilege), the first in the model's order on a tie. A type no
 * permission acts on is UNKNOWN_RESOURCE_TYPE or INVALID_INPUT: name a permission.
 */
export function viewPermissionOf(model: Model, type: string): string {
  if (!Object.hasOwn(model.definition.types, type))
    throw new GatehouseError(ErrorCode.UNKNOWN_RESOURCE_TYPE, `unknown resource type "${type}"`);
  const permission = viewPermissionIfAny(model, type);
  if (permission === undefined)
    throw new GatehouseError(
      ErrorCode.INVALID_INPUT,
      `no permission acts on ${type}; name the permission to list by`,
    );
  return permission;
}

/** `viewPermissionOf` for a known type; `undefined` where no permission acts on it. */
function viewPermissionIfAny(model: Model, type: string): string | undefined {
  const definition = model.definition;
  const actsOn = (name: string) => [definition.permissions[name]!.on].flat().includes(type);
  const named = `${type}.view`;
  if (Object.hasOwn(definition.permissions, named) && actsOn(named)) return named;
  const candidates = model.permissions.filter(actsOn);
  if (candidates.length === 0) return undefined;
  const roles = Object.values(definition.roles);
  const carriers = (name: string) =>
    roles.filter((role) => role.owner !== true && (role.permissions ?? []).includes(name)).length;
  let best = candidates[0]!;
  for (const candidate of candidates) if (carriers(candidate) > carriers(best)) best = candidate;
  return best;
}
