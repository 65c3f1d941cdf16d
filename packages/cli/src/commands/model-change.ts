import { GatehouseError, type Model } from "@gatehouse/engine";
import type { ModelAccessDiff, ModelChangeReport } from "@gatehouse/service";
import { ErrorCode } from "@gatehouse/service";
import type { Command } from "commander";
import { type ConnectionOptions, withConnection, withGatehouse } from "../support/connection.ts";
import { ExitCode } from "../support/exit-codes.ts";
import { note, say, sayJson, table } from "../support/output.ts";
import type { Runner } from "../support/runner.ts";

interface ModelChangeOptions extends ConnectionOptions {
  readonly json?: boolean;
  readonly lines?: string;
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
  for (const diff of report.accessDiff) lines.push("", ...accessDiffLines(diff));
  return lines;
}

/** One workspace's access diff: counts, then its first lines, as the console shows a dry run. */
function accessDiffLines(diff: ModelAccessDiff): string[] {
  const people = (count: number) =>
    `${count} user${count === 1 ? "" : "s"} or group${count === 1 ? "" : "s"}`;
  const lines = [
    `access in ${diff.workspaceId}: ${people(diff.gaining)} gain, ${people(diff.losing)} lose (${diff.changes} line${diff.changes === 1 ? "" : "s"}):`,
    ...table(
      diff.lines.map((line) => [
        `  ${line.user?.email ?? line.group?.name ?? line.subject}`,
        line.resource,
        [
          line.gained.length > 0 ? `gains ${line.gained.join(", ")}` : "",
          line.lost.length > 0 ? `loses ${line.lost.join(", ")}` : "",
        ]
          .filter((part) => part !== "")
          .join("; "),
      ]),
    ),
  ];
  if (diff.changes > diff.lines.length)
    lines.push(
      `  … and ${diff.changes - diff.lines.length} more (--lines to list more, --json for them all)`,
    );
  return lines;
}

/** `gatehouse model check` and `gatehouse model apply`: a model change against the stored data. */
export function registerModelChange(model: Command, run: Runner): void {
  withConnection(
    model
      .command("check")
      .summary("Check a changed model file against the stored data, changing nothing")
      .description(
        "Compare a model file with the model of the same name this database was last served with: every stored resource, grant and API key the new model would refuse, the access each grant would lose, and per workspace who gains and who loses which permissions where (counts, then the first --lines lines). Exit 0 when the change applies as it is, 1 when it conflicts.",
      )
      .argument("<file>", "the new model (JSON, or a built .js/.mjs module)")
      .option("--lines <count>", "lines of each workspace's access diff to list", "50")
      .option("--json", "print the report as JSON"),
  ).action(
    run(async (file: string, options: ModelChangeOptions) => {
      const next = await modelOfFile(file);
      const diffLines = Number(options.lines ?? "50");
      if (!Number.isSafeInteger(diffLines) || diffLines < 0)
        throw new GatehouseError(ErrorCode.INVALID_INPUT, "--lines is a whole number");
      return withGatehouse(options, async (gatehouse) => {
        const reports = await gatehouse.modelChanges.check({ [next.name]: next }, { diffLines });
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
