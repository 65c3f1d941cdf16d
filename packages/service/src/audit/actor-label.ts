import type { RequestContext } from "../actor.ts";

/** How an actor is named in stored rows (`created_by`, `updated_by`): `user:…`, `apikey:…` or `system:…`. */
export function actorLabel(request: RequestContext): string {
  const actor = request.actor;
  return actor.type === "system"
    ? `system:${actor.name}`
    : (actor.type === "api_key" || actor.type === "assistant") && actor.keyId !== undefined
      ? `apikey:${actor.keyId}`
      : `user:${actor.userId}`;
}
