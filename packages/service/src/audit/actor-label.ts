import type { RequestContext } from "../actor.ts";

/**
 * How an actor is named in stored rows (`created_by`, `updated_by`): `user:…`, `apikey:…`,
 * `host:…` (a host credential, by name) or `system:…`.
 */
export function actorLabel(request: RequestContext): string {
  const actor = request.actor;
  if (actor.type === "system" && actor.host !== undefined) return `host:${actor.host.name}`;
  return actor.type === "system"
    ? `system:${actor.name}`
    : (actor.type === "api_key" || actor.type === "assistant") && actor.keyId !== undefined
      ? `apikey:${actor.keyId}`
      : `user:${actor.userId}`;
}
