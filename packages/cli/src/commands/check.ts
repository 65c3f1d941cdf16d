import type { Command } from "commander";
import { type ConnectionOptions, withConnection, withGatehouse } from "../support/connection.ts";
import { ExitCode } from "../support/exit-codes.ts";
import { decisionText } from "../support/explanation.ts";
import { say, sayJson } from "../support/output.ts";
import type { Runner } from "../support/runner.ts";
import { resolveSubject } from "../support/subjects.ts";

export const DECISION_HELP = `
The subject is user:<id>, group:<id>, apikey:<id>, a user's email, or a bare user id. The question
is asked as the instance operator, so every resource of the workspace is visible.
Exit status: 0 allowed, 3 denied, 1 error (unknown workspace, permission or user), 2 bad usage.`;

interface DecisionOptions extends ConnectionOptions {
  readonly json?: boolean;
}

/** `gatehouse check`: one decision, for scripts (exit status) and people. */
export function registerCheck(program: Command, run: Runner): void {
  withConnection(
    program
      .command("check")
      .summary("Check one decision (exit 0 allowed, 3 denied)")
      .description("May <subject> use <permission> on <resource> in <workspace>?")
      .argument("<workspace>", "workspace id")
      .argument("<subject>", "user:<id>, group:<id>, apikey:<id> or an email")
      .argument("<permission>", "e.g. site.deploy")
      .argument("<resource>", "type:id, e.g. site:shop.example"),
  )
    .option("--json", "print the decision as JSON")
    .addHelpText(
      "after",
      `${DECISION_HELP}

Examples:
  gatehouse check ws_… cara@demo.gatehouse.test site.deploy site:shop.example
  gatehouse check ws_… user:usr_… server.restart server:fra-1 --json`,
    )
    .action(
      run(
        async (
          workspace: string,
          subjectText: string,
          permission: string,
          resource: string,
          options: DecisionOptions,
        ) => {
          const { subject, decision } = await withGatehouse(
            options,
            async (gatehouse, operator) => {
              const subject = await resolveSubject(gatehouse, subjectText);
              const decision = await gatehouse.decisions.check(operator, workspace, {
                subject,
                permission,
                resource,
              });
              return { subject, decision };
            },
          );
          if (options.json) sayJson({ subject, permission, resource, ...decision });
          else say(`${subject} ${permission} on ${resource}: ${decisionText(decision)}`);
          return decision.allowed ? ExitCode.OK : ExitCode.DENIED;
        },
      ),
    );
}
