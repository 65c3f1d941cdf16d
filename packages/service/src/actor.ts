/** The host credential behind a call: its id, name, and the workspaces it is limited to. */
export interface HostCredentialRef {
  readonly credentialId: string;
  readonly name: string;
  /** The only workspaces it reaches; `undefined` for every workspace. */
  readonly workspaces?: readonly string[] | undefined;
}

/** Who performs a service call. */
export type Actor =
  /**
   * A signed-in person; with `host`, the host application acting on their behalf — decided exactly
   * as the person, and never beyond the host credential's workspaces.
   */
  | { readonly type: "user"; readonly userId: string; readonly host?: HostCredentialRef }
  /** An API key; it acts with its owner's current permissions ∩ its permission patterns. */
  | { readonly type: "api_key"; readonly keyId: string; readonly userId: string }
  /**
   * The AI assistant acting for a member; through one of the member's API keys when `keyId`
   * is set, and then never beyond that key.
   */
  | { readonly type: "assistant"; readonly userId: string; readonly keyId?: string }
  /**
   * The owner previewing one workspace as a member ("view as"): decided exactly as the member
   * `userId`, read-only, and only in `workspaceId`.
   */
  | {
      readonly type: "preview";
      readonly userId: string;
      readonly viewerId: string;
      readonly workspaceId: string;
    }
  /**
   * The host application or the instance operator: trusted, never checked against grants. With
   * `host`, a host credential, which may be limited to some workspaces.
   */
  | { readonly type: "system"; readonly name: string; readonly host?: HostCredentialRef };

/** Where a call came from, for the activity log. */
export interface Origin {
  readonly ip?: string | undefined;
  readonly agent?: string | undefined;
}

export interface RequestContext {
  readonly actor: Actor;
  readonly origin?: Origin | undefined;
}

/** The engine subject an actor decides as; `undefined` for the trusted system actor. */
export function subjectOf(actor: Actor): `user:${string}` | `apikey:${string}` | undefined {
  switch (actor.type) {
    case "user":
    case "preview":
      return `user:${actor.userId}`;
    case "assistant":
      return actor.keyId === undefined ? `user:${actor.userId}` : `apikey:${actor.keyId}`;
    case "api_key":
      return `apikey:${actor.keyId}`;
    case "system":
      return undefined;
  }
}

/**
 * Whether the actor may reach this workspace at all: a host credential limited to some workspaces
 * reaches only those (others answer as if they did not exist).
 */
export function reachesWorkspace(actor: Actor, workspaceId: string): boolean {
  const host = hostOf(actor);
  return host?.workspaces === undefined || host.workspaces.includes(workspaceId);
}

/** The host credential behind an actor (directly, or acting for a user), if any. */
export function hostOf(actor: Actor): HostCredentialRef | undefined {
  return actor.type === "system" || actor.type === "user" ? actor.host : undefined;
}

/** The person behind an actor, if any. */
export function personOf(actor: Actor): string | undefined {
  return actor.type === "system" ? undefined : actor.userId;
}

/** A system actor, for host-app and operator calls. */
export function systemActor(name = "host-app"): RequestContext {
  return { actor: { type: "system", name } };
}

/**
 * The assistant acting for the caller: a person stays themselves, an API key stays that key.
 * The system actor has no assistant: it names the member with `asAssistant`.
 */
export function assistantFor(request: RequestContext): RequestContext | undefined {
  const actor = request.actor;
  const origin = request.origin;
  switch (actor.type) {
    case "user":
      // The host acting for a person runs its own assistant loop (`asAssistant`), never this one.
      if (actor.host !== undefined) return undefined;
      return { actor: { type: "assistant", userId: actor.userId }, origin };
    case "api_key":
      return { actor: { type: "assistant", userId: actor.userId, keyId: actor.keyId }, origin };
    case "assistant":
      return request;
    // A "view as" preview is read-only: it never acts through the assistant.
    case "preview":
    case "system":
      return undefined;
  }
}

/**
 * The assistant acting for a member, for a host app that runs its own assistant loop.
 * @example
 * await gatehouse.assistant.call(asAssistant(member.id), ws, { tool: "restart_vps", arguments: { id: "v1" } });
 */
export function asAssistant(userId: string, origin?: Origin): RequestContext {
  return { actor: { type: "assistant", userId }, origin };
}

/** A user actor. */
export function asUser(userId: string, origin?: Origin): RequestContext {
  return { actor: { type: "user", userId }, origin };
}
