import type { Model } from "@gatehouse/engine";
import type { ModelChangeReport } from "@gatehouse/service";
import type { Command } from "commander";
import { type ConnectionOptions, withConnection, withGatehouse } from "../support/connection.ts";
import { ExitCode } from "../support/exit-codes.ts";
import { note, say, sayJson, table } from "../support/output.ts";
import type { Runner } from "../support/runner.ts";

interface ModelChangeOptions extends ConnectionOptions {
  readonly json?: boolean;
  readonly dropConflicts?: boolean;
}

/** The model in `file`, validated with every problem listed (a JSON file or a built module). */
async function modelOfFile(file: string): Promise<Model> {
  const { loadModelFiles } = await import("@gatehouse/service");
  const models = await loadModelFiles([file], { besidePresets: false });
  return Object.values(models)[0]!;
}

/** The report as lines: status, each conflict, then the access lost member by member. */
function reportLines(report: ModelChangeReport): string[] {
  const lines = [
    `model ${report.model}: ${report.status} (${report.workspaces} open workspace${report.workspaces === 1 ? "" : "s"})`,
  ];
  if (report.conflicts.length > 0) {
    lines.push("", `conflicts (${report.conflicts.length}):`);
    lines.push(
      ...table(
        report.conflicts.map((conflict) => [
          `  ${conflict.workspaceId}`,
          conflict.item,
          `${conflict.message} [${conflict.code}]`,
        ]),
      ),
    );
  }
  if (report.lostAccess.length > 0) {
    lines.push(
      "",
      `access lost (${report.lostAccess.length} grant${report.lostAccess.length === 1 ? "" : "s"}):`,
    );
    lines.push(
      ...table(
        report.lostAccess.map((lost) => [
          `  ${lost.workspaceId}`,
          lost.subject,
          `${lost.role} at ${lost.scope}`,
          `loses ${lost.permissions.join(", ")}`,
        ]),
      ),
    );
  }
  return lines;
}

/** `gatehouse model check` and `gatehouse model apply`: a model change against the stored data. */
export function registerModelChange(model: Command, run: Runner): void {
  withConnection(
    model
      .command("check")
      .summary("Check a changed model file against the stored data, changing nothing")
      .description(
        "Compare a model file with the model of the same name this database was last served with: every stored resource, grant and API key the new model would refuse, and the access each member would lose. Exit 0 when the change applies as it is, 1 when it conflicts.",
      )
      .argument("<file>", "the new model (JSON, or a built .js/.mjs module)")
      .option("--json", "print the report as JSON"),
  ).action(
    run(async (file: string, options: ModelChangeOptions) => {
      const next = await modelOfFile(file);
      return withGatehouse(options, async (gatehouse) => {
        const reports = await gatehouse.modelChanges.check({ [next.name]: next });
        const report = reports.find((entry) => entry.model === next.name)!;
        if (options.json) sayJson(report);
        else for (const line of reportLines(report)) say(line);
        return report.conflicts.length === 0 ? ExitCode.OK : ExitCode.FAILURE;
      });
    }),
  );
  withConnection(
    model
      .command("apply")
      .summary("Apply a model change, dropping what no longer fits with --drop-conflicts")
      .description(
        "Record a new model for this database. A compatible change is recorded as it is; a conflicting one is refused unless --drop-conflicts, which deletes each conflicting resource (with its subtree) and revokes each conflicting grant and API key through the ordinary workflows — each in its workspace's activity log as system:cli — then records the model in the instance log. Then point MODELS at the file and restart.",
      )
      .argument("<file>", "the new model (JSON, or a built .js/.mjs module)")
      .option("--drop-conflicts", "remove the resources, grants and API keys the new model refuses")
      .option("--json", "print the report as JSON"),
  ).action(
    run(async (file: string, options: ModelChangeOptions) => {
      const next = await modelOfFile(file);
      return withGatehouse(
        options,
        async (gatehouse, operator) => {
          const { report, dropped } = await gatehouse.modelChanges.apply(operator, next, {
            dropConflicts: options.dropConflicts === true,
          });
          if (options.json) sayJson({ ...report, dropped });
          else {
            for (const line of reportLines(report)) say(line);
            say();
            say(
              `applied: the model ${next.name} is recorded${dropped > 0 ? `; ${dropped} conflicting row${dropped === 1 ? "" : "s"} dropped` : ""}`,
            );
          }
          note(`point MODELS at ${file} and restart the server`);
          return ExitCode.OK;
        },
        { servedModel: next.name },
      );
    }),
  );
}
