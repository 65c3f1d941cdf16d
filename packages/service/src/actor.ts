/** Who performs a service call. */
export type Actor =
  /** A signed-in person. */
  | { readonly type: "user"; readonly userId: string }
  /** An API key; it acts with its owner's current permissions ∩ its scopes (R20). */
  | { readonly type: "api_key"; readonly keyId: string; readonly userId: string }
  /** The AI assistant acting for a member (R21). */
  | { readonly type: "assistant"; readonly userId: string }
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
  /** The host application or the instance operator: trusted, never checked against grants. */
  | { readonly type: "system"; readonly name: string };

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
    case "assistant":
    case "preview":
      return `user:${actor.userId}`;
    case "api_key":
      return `apikey:${actor.keyId}`;
    case "system":
      return undefined;
  }
}

/** The person behind an actor, if any. */
export function personOf(actor: Actor): string | undefined {
  return actor.type === "system" ? undefined : actor.userId;
}

/** A system actor, for host-app and operator calls. */
export function systemActor(name = "host-app"): RequestContext {
  return { actor: { type: "system", name } };
}

/** A user actor. */
export function asUser(userId: string, origin?: Origin): RequestContext {
  return { actor: { type: "user", userId }, origin };
}
