import type { Decision, Explanation, ResourceRef } from "@gatehouse/engine";
import type { PolicyCheck, PolicyList, PolicySuite } from "./policy-file.ts";

export interface CheckOutcome {
  readonly kind: "check";
  readonly check: PolicyCheck;
  readonly passed: boolean;
  readonly decision: Decision;
  /** The engine's explanation of the decision, for failures. */
  readonly explanation: Explanation | undefined;
}

export interface ListOutcome {
  readonly kind: "list";
  readonly list: PolicyList;
  readonly passed: boolean;
  readonly actual: readonly ResourceRef[];
  readonly missing: readonly ResourceRef[];
  readonly unexpected: readonly ResourceRef[];
  /** Why each missing or unexpected resource is (not) listed. */
  readonly explanations: readonly Explanation[];
}

export interface SuiteOutcome {
  readonly outcomes: readonly (CheckOutcome | ListOutcome)[];
  readonly passed: number;
  readonly failed: number;
}

/**
 * Asks the suite's engine every check and list (pure: no database) and explains each failure.
 * @example
 * const { failed } = runPolicySuite(suite);
 */
export function runPolicySuite(suite: PolicySuite): SuiteOutcome {
  const { engine } = suite;
  const outcomes: (CheckOutcome | ListOutcome)[] = [];
  for (const check of suite.checks) {
    const decision = engine.check(check.subject, check.permission, check.resource);
    const passed =
      check.expect === "allow"
        ? decision.allowed
        : !decision.allowed && (check.reason === undefined || decision.reason === check.reason);
    outcomes.push({
      kind: "check",
      check,
      passed,
      decision,
      explanation: passed
        ? undefined
        : engine.explain(check.subject, check.permission, check.resource),
    });
  }
  for (const list of suite.lists) {
    const actual = engine.listVisible(list.subject, list.type, list.permission).items;
    const expected = new Set(list.expect);
    const got = new Set<string>(actual);
    const missing = [...expected].filter((resource) => !got.has(resource)).sort();
    const unexpected = actual.filter((resource) => !expected.has(resource));
    outcomes.push({
      kind: "list",
      list,
      passed: missing.length === 0 && unexpected.length === 0,
      actual,
      missing,
      unexpected,
      explanations: [...missing, ...unexpected].map((resource) =>
        engine.explain(list.subject, list.permission, resource),
      ),
    });
  }
  const failed = outcomes.filter((outcome) => !outcome.passed).length;
  return { outcomes, passed: outcomes.length - failed, failed };
}
