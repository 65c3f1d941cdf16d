import type { Command } from "commander";
import { type FileIssue, parsePolicyFile } from "../policy-tests/policy-file.ts";
import {
  type CheckOutcome,
  type ListOutcome,
  runPolicySuite,
} from "../policy-tests/run-policy-suite.ts";
import { ExitCode } from "../support/exit-codes.ts";
import { decisionText, explanationLines } from "../support/explanation.ts";
import { say } from "../support/output.ts";
import type { Runner } from "../support/runner.ts";

interface TestOptions {
  readonly verbose?: boolean;
}

function where(path: string, line: number | undefined): string {
  return line === undefined ? path : `${path} (line ${line})`;
}

function issueLine(issue: FileIssue): string {
  return `  ${where(issue.path || "(file)", issue.line)}: ${issue.message}`;
}

function checkLines(outcome: CheckOutcome, verbose: boolean): string[] {
  const { check } = outcome;
  const question = `${check.subject} ${check.permission} on ${check.resource}`;
  const expected = check.reason === undefined ? check.expect : `deny (${check.reason})`;
  if (outcome.passed) return verbose ? [`  ✓ ${check.path}: ${question}: ${check.expect}`] : [];
  return [
    `  ✗ ${where(check.path, check.line)}: ${question}: expected ${expected}, got ${decisionText(outcome.decision)}`,
    ...explanationLines(outcome.explanation!, "      "),
  ];
}

function listLines(outcome: ListOutcome, verbose: boolean): string[] {
  const { list } = outcome;
  const question = `${list.subject} ${list.permission} on every ${list.type}`;
  if (outcome.passed)
    return verbose ? [`  ✓ ${list.path}: ${question}: ${outcome.actual.length} listed`] : [];
  const lines = [`  ✗ ${where(list.path, list.line)}: ${question}: the list differs`];
  if (outcome.missing.length > 0) lines.push(`      missing: ${outcome.missing.join(", ")}`);
  if (outcome.unexpected.length > 0)
    lines.push(`      not expected: ${outcome.unexpected.join(", ")}`);
  for (const explanation of outcome.explanations) {
    lines.push(`      why ${explanation.resource}:`);
    lines.push(...explanationLines(explanation, "        "));
  }
  return lines;
}

/** `gatehouse test`: policy test files run on the pure engine, each failure explained. */
export function registerTest(program: Command, run: Runner): void {
  program
    .command("test")
    .summary("Run policy test files on the engine")
    .description(
      "Run policy test files (YAML or JSON): a preset or model, resources, groups and grants, and the decisions and lists expected. Runs on the engine alone (no database); every failure is shown with the engine's explanation",
    )
    .argument("<files...>", "policy test files")
    .option("-v, --verbose", "list the passing checks too")
    .addHelpText(
      "after",
      `
A file (format in docs/cli.md):
  preset: mzpanel
  workspace: acme
  resources:
    server:fra-1: workspace:acme
    site:shop.example: server:fra-1
  grants:
    - { subject: user:cara, role: customer, scope: site:shop.example }
  checks:
    - { subject: user:cara, permission: site.deploy, resource: site:shop.example, expect: allow }
    - { subject: user:cara, permission: server.view, resource: server:fra-1, expect: deny }
  lists:
    - { subject: user:cara, type: site, permission: site.view, expect: [site:shop.example] }

Exit status: 0 when every check passes, 1 when one fails or a file is invalid.

Example:
  gatehouse test docs/examples/*.policy.yaml`,
    )
    .action(
      run(async (files: string[], options: TestOptions) => {
        let passed = 0;
        let failed = 0;
        let invalid = 0;
        for (const file of files) {
          const parsed = parsePolicyFile(file);
          if (!parsed.success) {
            invalid++;
            say(`${file}: invalid policy test file`);
            for (const issue of parsed.issues) say(issueLine(issue));
            continue;
          }
          const result = runPolicySuite(parsed.suite);
          say(`${file}${parsed.suite.name === undefined ? "" : ` — ${parsed.suite.name}`}`);
          for (const outcome of result.outcomes) {
            const lines =
              outcome.kind === "check"
                ? checkLines(outcome, options.verbose === true)
                : listLines(outcome, options.verbose === true);
            for (const line of lines) say(line);
          }
          say(`  ${result.passed} passed, ${result.failed} failed`);
          passed += result.passed;
          failed += result.failed;
        }
        if (files.length > 1)
          say(
            `total: ${passed} passed, ${failed} failed${invalid === 0 ? "" : `, ${invalid} invalid file(s)`}`,
          );
        return failed === 0 && invalid === 0 ? ExitCode.OK : ExitCode.FAILURE;
      }),
    );
}
