import type { Decision, DenyReason, GranteeRef, ResourceRef } from "@gatehouse/engine";

/** One question: may `subject` (the caller when omitted) use `permission` on `resource`? */
export interface Question {
  readonly permission: string;
  readonly resource: string;
  /** `user:<id>`, `group:<id>` or `apikey:<id>`; asking about others needs the team gate. */
  readonly subject?: string;
}

/** A decision as the API answers it (JSON: `null` where the engine says `undefined`). */
export interface Decided {
  readonly allowed: boolean;
  readonly via?: {
    readonly subject: string;
    readonly role: string;
    readonly scope: string;
    readonly extras: readonly string[];
    readonly expiresAt: number | null;
    readonly note?: string;
  };
  readonly reason?: string;
  readonly missing?: readonly string[];
}

/** The engine's `Decision` for an answer of the API, so local and remote answers look alike. */
export function toDecision(decided: Decided): Decision {
  if (decided.allowed && decided.via !== undefined) {
    const { via } = decided;
    return {
      allowed: true,
      via: {
        subject: via.subject as GranteeRef,
        role: via.role,
        scope: via.scope as ResourceRef,
        extras: via.extras,
        expiresAt: via.expiresAt ?? undefined,
        ...(via.note === undefined ? {} : { note: via.note }),
      },
    };
  }
  const reason = (decided.reason ?? "no_grant") as DenyReason;
  return decided.missing === undefined
    ? { allowed: false, reason }
    : { allowed: false, reason, missing: decided.missing };
}
