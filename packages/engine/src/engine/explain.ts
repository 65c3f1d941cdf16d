import { hasBit } from "../bitset.ts";
import type { CompiledRole } from "../model/define-model.ts";
import { decide, isInKeyResources } from "./check.ts";
import { typeOfRef } from "./names.ts";
import type { GrantRecord, Principal } from "./records.ts";
import { type EngineState, inForce, isExpired, NO_PARENT } from "./state.ts";
import type {
  ConsideredGrant,
  Decision,
  DenyReason,
  Explanation,
  GranteeRef,
  GrantOutcome,
  ResourceRef,
  SubjectRef,
} from "./types.ts";

/**
 * Why `check` answers as it does: every grant considered and its outcome, and the least role at
 * the narrowest scope that would allow the request.
 */
export function explain(
  state: EngineState,
  subject: SubjectRef,
  permission: string,
  resource: ResourceRef,
): Explanation {
  const decision = decide(state, subject, permission, resource, true);
  const model = state.model;
  const p = model.permissionIndex.get(permission)!;
  const node = state.nodeIndex.get(resource);
  const principal = state.principals.get(subject);
  const keyRecord = principal?.key;
  const holder = keyRecord?.owner ?? principal;
  const considered: ConsideredGrant[] = [];
  if (holder !== undefined) {
    const applicable =
      node !== undefined && (model.permissionTypeMask[p]! & (1 << state.type[node]!)) !== 0;
    const onPath = new Set<number>();
    for (let n = node ?? NO_PARENT; n !== NO_PARENT; n = state.parent[n]!) onPath.add(n);
    // A temporary grant past its end is considered as what it fell back to, if anything.
    const outcomeOf = (record: GrantRecord, live: GrantRecord | undefined): GrantOutcome => {
      if (!onPath.has(record.node)) return "not_on_path";
      if (!hasBit((live ?? record).bits, p)) return "lacks_permission";
      if (live === undefined) return "expired";
      return applicable ? "allows" : "not_applicable";
    };
    const add = (record: GrantRecord, group: Principal | undefined) => {
      const live = inForce(state, record);
      considered.push({
        grant: (live ?? record).grant,
        throughGroup: group?.name as GranteeRef | undefined,
        outcome: outcomeOf(record, live),
      });
    };
    for (const record of holder.grants.values()) add(record, undefined);
    for (const group of holder.groups)
      for (const record of group.grants.values()) add(record, group);
  }
  const key =
    keyRecord === undefined
      ? undefined
      : {
          id: keyRecord.key.id,
          outcome: isExpired(state, keyRecord.expiresAt)
            ? ("expired" as const)
            : !hasBit(keyRecord.bits, p)
              ? ("lacks_scope" as const)
              : node !== undefined && !isInKeyResources(state, keyRecord, node)
                ? ("outside_resources" as const)
                : ("passes" as const),
        };
  const ownerOnly = hasBit(model.ownerOnlyBits, p) || !anyRoleBut(state, model.ownerRole, p);
  const suggestion =
    !decision.allowed && decision.reason === "no_grant" ? suggest(state, p, node!) : undefined;
  return {
    subject,
    permission,
    resource,
    decision,
    considered,
    key,
    suggestion,
    ownerOnly,
    summary: summarize({ subject, permission, resource, decision, suggestion, ownerOnly }),
  };
}

/** The least role (fewest permissions, then by name) granting `p` at the narrowest scope. */
function suggest(
  state: EngineState,
  p: number,
  node: number,
): { role: string; scope: ResourceRef } {
  for (let n = node; n !== NO_PARENT; n = state.parent[n]!) {
    let best: CompiledRole | undefined;
    for (const role of state.model.roles.values()) {
      if (role.isOwner || (role.scopeMask & (1 << state.type[n]!)) === 0 || !hasBit(role.bits, p))
        continue;
      if (
        best === undefined ||
        role.size < best.size ||
        (role.size === best.size && role.name < best.name)
      )
        best = role;
    }
    if (best !== undefined) return { role: best.name, scope: state.keys[n] as ResourceRef };
  }
  return { role: state.model.ownerRole.name, scope: state.keys[0] as ResourceRef };
}

function anyRoleBut(state: EngineState, except: CompiledRole, p: number): boolean {
  for (const role of state.model.roles.values())
    if (role !== except && hasBit(role.bits, p)) return true;
  return false;
}

interface Summarized {
  readonly subject: SubjectRef;
  readonly permission: string;
  readonly resource: string;
  readonly decision: Decision;
  readonly suggestion: { role: string; scope: string } | undefined;
  readonly ownerOnly: boolean;
}

/** The explanation in one sentence. */
function summarize({
  subject,
  permission,
  resource,
  decision,
  suggestion,
  ownerOnly,
}: Summarized): string {
  if (decision.allowed) {
    const via = decision.via;
    const through = via.subject === subject ? "" : ` (through ${via.subject})`;
    const note = via.note === undefined ? "" : ` [${via.note}]`;
    const then =
      via.fallback === undefined ? "" : `, then role "${via.fallback.role}" when it expires`;
    return `allowed: ${subject} holds role "${via.role}" on ${via.scope}${through}${note}${then}, which includes ${permission} on ${resource}`;
  }
  const reasons: Record<DenyReason, string> = {
    not_found: `${resource} does not exist in this workspace`,
    not_applicable: `${permission} does not act on a ${typeOfRef(resource)}`,
    no_grant: `no live grant of ${subject} on ${resource} or above includes ${permission}`,
    key_expired: "the API key has expired",
    key_scope: `the API key's scopes do not include ${permission}`,
    key_resource: `${resource} is outside the API key's resources`,
    owner_not_grantable: "the owner role is transferred, never granted",
    role_not_grantable_at_scope: "the role cannot be granted at that scope",
    owner_only_permission: "owner-only permissions are never delegated",
    no_people_management: "the granter may not manage people there",
    exceeds_granter: "the grant would exceed what the granter holds",
  };
  const fix =
    suggestion === undefined || decision.reason !== "no_grant"
      ? ""
      : ownerOnly
        ? `; only the owner holds ${permission}`
        : `; the least grant that would allow it is role "${suggestion.role}" on ${suggestion.scope}`;
  return `denied: ${reasons[decision.reason]}${fix}`;
}
