import {
  type ConsideredGrant,
  type Decision,
  type Explanation,
  GatehouseError,
  type ResourceRef,
  type SubjectRef,
} from "@gatehouse/engine";
import { type RequestContext, subjectOf } from "../actor.ts";
import type { ReadOptions, ServiceCore, WorkspaceReader } from "../service-core.ts";
import { ErrorCode } from "../support/error-codes.ts";
import { type AccessRequestProvenance, accessRequestsBehind } from "../team/access-requests.ts";
import { sectionsOf } from "./access.ts";
import {
  administers,
  type PermissionsPage,
  type PermissionsQuery,
  permissionsAt,
  type WhoCanPage,
  type WhoCanQuery,
  whoCan,
} from "./who-can.ts";

export interface DecisionQuery {
  readonly permission: string;
  readonly resource: string;
  /** Ask for another subject; needs the team gate. Defaults to the caller. */
  readonly subject?: string | undefined;
}

export interface Capabilities {
  readonly resource: string;
  readonly permissions: readonly string[];
  /** The model's navigation sections the caller may see; the others are absent. */
  readonly sections: readonly string[];
  /**
   * Whether the subject administers the resource — the model's delegation permission or team gate
   * held there or above, whatever types those act on: where the console shows the Permissions card.
   */
  readonly administers: boolean;
}

/** A grant an explanation considered, with the access request it came from, if any. */
export interface ExplainedGrant extends ConsideredGrant {
  readonly accessRequest?: AccessRequestProvenance | undefined;
}

/** The engine's explanation, each grant naming the access request and approval it came from. */
export interface ServiceExplanation extends Explanation {
  readonly considered: readonly ExplainedGrant[];
}

/** The most questions one `checkMany` call answers. */
const MAX_CHECKS_PER_BATCH = 1000;

/** Names, on each grant considered, the approved access request it came from. */
async function withAccessRequests(
  reader: WorkspaceReader,
  explanation: Explanation,
): Promise<ServiceExplanation> {
  const behind = await accessRequestsBehind(
    reader,
    explanation.considered.map((entry) => entry.grant),
  );
  if (behind.every((entry) => entry === undefined)) return explanation;
  const { decision } = explanation;
  const deciding = decision.allowed
    ? behind[
        explanation.considered.findIndex(
          (entry) =>
            entry.grant.subject === decision.via.subject &&
            entry.grant.scope === decision.via.scope,
        )
      ]
    : undefined;
  const until = decision.allowed ? decision.via.expiresAt : undefined;
  return {
    ...explanation,
    considered: explanation.considered.map((entry, index) =>
      behind[index] === undefined ? entry : { ...entry, accessRequest: behind[index] },
    ),
    summary:
      deciding === undefined
        ? explanation.summary
        : `${explanation.summary} (${deciding.support ? `support access asked by ${deciding.requestedBy}` : "requested"} in access request ${deciding.requestId}, approved by ${deciding.approvedBy}${until === undefined ? "" : ` until ${new Date(until).toISOString()}`})`,
  };
}

/** Decisions for a workspace, answered by its engine kept in step with the store. */
export class Decisions {
  readonly #core: ServiceCore;

  constructor(core: ServiceCore) {
    this.#core = core;
  }

  /**
   * May the caller (or `subject`) use `permission` on `resource`?
   * @example
   * const { allowed } = await gatehouse.decisions.check(asUser(carol), ws, { permission: "site.deploy", resource: "site:shop" });
   * // No staler than a write's answer, even if it went through another instance:
   * await gatehouse.decisions.check(host, ws, { permission: "site.deploy", resource: "site:shop", subject }, { atLeastRevision: revision });
   */
  async check(
    request: RequestContext,
    workspaceId: string,
    query: DecisionQuery,
    options: ReadOptions = {},
  ): Promise<Decision> {
    const reader = await this.#core.read(request, workspaceId, options);
    return decide(reader, await subjectFor(reader, query.subject), query);
  }

  /**
   * Many questions answered from one read of the workspace, so every answer reflects the same
   * revision; at most {@link MAX_CHECKS_PER_BATCH}. Answers are in the order of the questions.
   * @example
   * const [deploy, restart] = await gatehouse.decisions.checkMany(asUser(carol), ws, [
   *   { permission: "site.deploy", resource: "site:shop" },
   *   { permission: "server.restart", resource: "server:s1" },
   * ]);
   */
  async checkMany(
    request: RequestContext,
    workspaceId: string,
    queries: readonly DecisionQuery[],
    options: ReadOptions = {},
  ): Promise<Decision[]> {
    if (!Array.isArray(queries) || queries.length > MAX_CHECKS_PER_BATCH) {
      throw new GatehouseError(
        ErrorCode.INVALID_INPUT,
        `a batch is a list of at most ${MAX_CHECKS_PER_BATCH} checks`,
      );
    }
    const reader = await this.#core.read(request, workspaceId, options);
    // Each distinct subject is resolved (and its gate checked) once per batch.
    const subjects = new Map<string | undefined, SubjectRef>();
    const decisions: Decision[] = [];
    for (const query of queries) {
      let subject = subjects.get(query.subject);
      if (subject === undefined) {
        subject = await subjectFor(reader, query.subject);
        subjects.set(query.subject, subject);
      }
      decisions.push(decide(reader, subject, query));
    }
    return decisions;
  }

  /** Why `check` answers as it does, grant by grant. */
  async explain(
    request: RequestContext,
    workspaceId: string,
    query: DecisionQuery,
    options: ReadOptions = {},
  ): Promise<ServiceExplanation> {
    const reader = await this.#core.read(request, workspaceId, options);
    const subject = await subjectFor(reader, query.subject);
    const resource = query.resource as ResourceRef;
    const explanation = reader.engine.explain(subject, query.permission, resource);
    const { decision } = explanation;
    if (decision.allowed || decision.reason === "not_found" || !isHidden(reader, subject, resource))
      return withAccessRequests(reader, explanation);
    // Outside the caller's reach the explanation must not tell that the resource exists.
    return {
      ...explanation,
      decision: NOT_FOUND,
      considered: explanation.considered.map((entry) => ({
        ...entry,
        outcome: "not_on_path" as const,
      })),
      suggestion: undefined,
      summary: `denied: ${resource} does not exist in this workspace`,
    };
  }

  /**
   * Who holds `permission` on `resource` and through which grants, paged by subject name: for
   * callers holding the team gate at the resource or above (the host app always).
   * @example
   * const { items, next } = await gatehouse.decisions.whoCan(asUser(ada), ws, { permission: "site.deploy", resource: "site:shop", limit: 50 });
   */
  async whoCan(
    request: RequestContext,
    workspaceId: string,
    query: WhoCanQuery,
    options: ReadOptions = {},
  ): Promise<WhoCanPage> {
    return whoCan(await this.#core.read(request, workspaceId, options), query);
  }

  /**
   * A resource's Permissions card: every user and group with access at, above or below `resource`
   * and the grants giving it, paged by subject name — for callers holding the model's delegation
   * permission or team gate at the resource or above (a sub-tree admin at their customer, hosting,
   * server …; the host app always). Out of reach: RESOURCE_NOT_FOUND, as if missing.
   * @example
   * const { items, next } = await gatehouse.decisions.permissionsAt(asUser(ada), ws, { resource: "customer:acme", limit: 50 });
   */
  async permissionsAt(
    request: RequestContext,
    workspaceId: string,
    query: PermissionsQuery,
    options: ReadOptions = {},
  ): Promise<PermissionsPage> {
    return permissionsAt(await this.#core.read(request, workspaceId, options), query);
  }

  /**
   * Everything the caller may do on `resource`, with the navigation sections to show and whether
   * they administer it (the Permissions card).
   * @example
   * const { permissions, administers } = await gatehouse.decisions.capabilities(asUser(hana), ws, { resource: "hosting:h1" });
   */
  async capabilities(
    request: RequestContext,
    workspaceId: string,
    query: { resource: string; subject?: string },
    options: ReadOptions = {},
  ): Promise<Capabilities> {
    const reader = await this.#core.read(request, workspaceId, options);
    const subject = await subjectFor(reader, query.subject);
    const resource = query.resource as ResourceRef;
    const permissions = reader.engine.permissionsOn(subject, resource);
    // The owner's own concerns stay with the owner signed in directly, as in `access.mine`.
    const isOwner =
      reader.engine.ownerGrant?.subject === subject &&
      (reader.request.actor.type === "user" || reader.request.actor.type === "preview");
    const sections = sectionsOf(reader, subject, { at: resource, isOwner });
    return { resource, permissions, sections, administers: administers(reader, resource, subject) };
  }
}

const NOT_FOUND: Decision = Object.freeze({ allowed: false, reason: "not_found" });

/**
 * A caller asking about themselves learns nothing about resources outside their reach: those
 * answer `not_found`, exactly like resources that do not exist — whatever the denial, a key's own
 * (expired, outside its patterns or resources) included. A key's reach is its owner's: its own
 * limits are no secret to its holder. Team managers asking about others see the whole tree anyway.
 */
function isHidden(reader: WorkspaceReader, subject: SubjectRef, resource: ResourceRef): boolean {
  if (subject !== subjectOf(reader.request.actor)) return false;
  const key = subject.startsWith("apikey:")
    ? reader.engine.apiKey(subject.slice("apikey:".length))
    : undefined;
  return !reader.engine.reaches(key?.owner ?? subject, resource);
}

function decide(reader: WorkspaceReader, subject: SubjectRef, query: DecisionQuery): Decision {
  const resource = query.resource as ResourceRef;
  const decision = reader.engine.check(subject, query.permission, resource);
  if (decision.allowed || decision.reason === "not_found") return decision;
  return isHidden(reader, subject, resource) ? NOT_FOUND : decision;
}

/** `user:<id>`, `group:<id>` or `apikey:<id>` (an id of at least one character). */
function isSubjectRef(value: string): boolean {
  const colon = value.indexOf(":");
  if (colon < 4 || colon === value.length - 1) return false;
  const kind = value.slice(0, colon);
  return kind === "user" || kind === "group" || kind === "apikey";
}

/**
 * The subject a read is about: the caller, or — for those who may see the team — another
 * `user:`, `group:` or `apikey:` subject.
 */
export async function subjectFor(
  reader: WorkspaceReader,
  requested: string | undefined,
): Promise<SubjectRef> {
  const caller = subjectOf(reader.request.actor);
  if (requested === undefined || requested === caller) {
    if (caller === undefined)
      throw new GatehouseError(ErrorCode.INVALID_INPUT, "the host app asks for a subject");
    return caller;
  }
  if (!isSubjectRef(requested))
    throw new GatehouseError(
      ErrorCode.INVALID_INPUT,
      'subject is "user:<id>", "group:<id>" or "apikey:<id>"',
    );
  await reader.requireGate("teamView", "you may ask only about your own permissions");
  return requested as SubjectRef;
}
