import type { Decision, Explanation, GrantOutcome } from "@gatehouse/engine";

const OUTCOME: Record<GrantOutcome, string> = {
  allows: "allows it",
  not_on_path: "not at the resource or above it",
  lacks_permission: "the role and extras lack the permission",
  expired: "expired",
  not_applicable: "held, but the permission does not act on this type",
};

const KEY_OUTCOME = {
  passes: "lets the request through",
  expired: "has expired",
  lacks_scope: "its permission patterns do not include the permission",
  outside_resources: "the resource is outside its resources",
} as const;

/** One line for a decision: `allowed (role "x" on scope)` or `denied (reason)`. */
export function decisionText(decision: Decision): string {
  if (decision.allowed) {
    const { via } = decision;
    const group = via.subject.startsWith("group:") ? ` through ${via.subject}` : "";
    return `allowed (role "${via.role}" on ${via.scope}${group})`;
  }
  return `denied (${decision.reason})`;
}

/** The engine's explanation for people: summary, every grant considered, the key, the fix. */
export function explanationLines(explanation: Explanation, indent = ""): string[] {
  const lines = [explanation.summary];
  if (explanation.considered.length === 0) {
    lines.push(`grants considered: none (${explanation.subject} holds no grant here)`);
  } else {
    lines.push("grants considered:");
    for (const { grant, throughGroup, outcome } of explanation.considered) {
      const extras = grant.extras.length === 0 ? "" : ` + ${grant.extras.join(", ")}`;
      const until =
        grant.expiresAt === undefined ? "" : ` until ${new Date(grant.expiresAt).toISOString()}`;
      const via = throughGroup === undefined ? "" : ` (through ${throughGroup})`;
      lines.push(
        `  role "${grant.role}"${extras} on ${grant.scope}${until}${via}: ${OUTCOME[outcome]}`,
      );
    }
  }
  if (explanation.key !== undefined)
    lines.push(`API key ${explanation.key.id}: ${KEY_OUTCOME[explanation.key.outcome]}`);
  if (explanation.ownerOnly) lines.push(`${explanation.permission} is owner-only`);
  else if (explanation.suggestion !== undefined)
    lines.push(
      `would be allowed by: role "${explanation.suggestion.role}" on ${explanation.suggestion.scope}`,
    );
  return lines.map((line) => indent + line);
}
