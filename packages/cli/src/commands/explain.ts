import type { Command } from "commander";
import { type ConnectionOptions, withConnection, withGatehouse } from "../support/connection.ts";
import { ExitCode } from "../support/exit-codes.ts";
import { explanationLines } from "../support/explanation.ts";
import { say, sayJson } from "../support/output.ts";
import type { Runner } from "../support/runner.ts";
import { resolveSubject } from "../support/subjects.ts";
import { DECISION_HELP } from "./check.ts";

interface ExplainOptions extends ConnectionOptions {
  readonly json?: boolean;
}

/** `gatehouse explain`: why a decision is what it is, grant by grant. */
export function registerExplain(program: Command, run: Runner): void {
  withConnection(
    program
      .command("explain")
      .summary("Explain one decision, grant by grant")
      .description(
        "Why may (or may not) <subject> use <permission> on <resource>: every grant considered and the least grant that would allow it",
      )
      .argument("<workspace>", "workspace id")
      .argument("<subject>", "user:<id>, group:<id>, apikey:<id> or an email")
      .argument("<permission>", "e.g. site.deploy")
      .argument("<resource>", "type:id, e.g. site:shop.example"),
  )
    .option("--json", "print the engine's explanation as JSON")
    .addHelpText(
      "after",
      `${DECISION_HELP}

Example:
  gatehouse explain ws_… otto@demo.gatehouse.test site.deploy site:docs.example`,
    )
    .action(
      run(
        async (
          workspace: string,
          subjectText: string,
          permission: string,
          resource: string,
          options: ExplainOptions,
        ) => {
          const explanation = await withGatehouse(options, async (gatehouse, operator) =>
            gatehouse.decisions.explain(operator, workspace, {
              subject: await resolveSubject(gatehouse, subjectText),
              permission,
              resource,
            }),
          );
          if (options.json) sayJson(explanation);
          else for (const line of explanationLines(explanation)) say(line);
          return explanation.decision.allowed ? ExitCode.OK : ExitCode.DENIED;
        },
      ),
    );
}
