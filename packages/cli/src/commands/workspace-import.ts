import { readFileSync } from "node:fs";
import { GatehouseError } from "@gatehouse/engine";
import type { ImportProgress } from "@gatehouse/service";
import { ErrorCode } from "@gatehouse/service";
import type { Command } from "commander";
import { type ConnectionOptions, withConnection, withGatehouse } from "../support/connection.ts";
import { ExitCode } from "../support/exit-codes.ts";
import { note, say, sayJson } from "../support/output.ts";
import type { Runner } from "../support/runner.ts";

interface ImportOptions extends ConnectionOptions {
  readonly name?: string;
  readonly dryRun?: boolean;
  readonly json?: boolean;
}

function readExport(file: string): unknown {
  let text: string;
  try {
    text = readFileSync(file === "-" ? 0 : file, "utf8");
  } catch (error) {
    throw new GatehouseError(
      ErrorCode.NOT_FOUND,
      `cannot read ${file}: ${(error as Error).message}`,
    );
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new GatehouseError(
      ErrorCode.INVALID_INPUT,
      `${file} is not JSON: ${(error as Error).message}`,
    );
  }
}

/** `gatehouse workspace import`: a new workspace from an export, all or nothing. */
export function registerWorkspaceImport(workspace: Command, run: Runner): void {
  withConnection(
    workspace
      .command("import")
      .summary("Import an export as a new workspace (all or nothing)")
      .description(
        "Create a new workspace from an export. Everything is validated first (every problem is listed with its path), then written in one transaction: all or nothing. Members are matched to users by email, or created without a password (they sign in by magic link or reset it)",
      )
      .argument("<file>", 'the export (JSON); "-" for standard input'),
  )
    .option("--name <name>", "name of the new workspace (default: the exported name)")
    .option("--dry-run", "validate against the database and write nothing")
    .option("--json", "print the result as JSON")
    .addHelpText(
      "after",
      `
Progress goes to standard error every 1000 rows; the result to standard output.

Examples:
  gatehouse workspace import acme.json
  gatehouse workspace export ws_… --data-dir ./old | gatehouse workspace import - --database postgres://…`,
    )
    .action(
      run(async (file: string, options: ImportOptions) => {
        const data = readExport(file);
        const onProgress = ({ phase, done, total }: ImportProgress) =>
          note(`  ${phase}: ${done}/${total}`);
        const result = await withGatehouse(
          options,
          (gatehouse, operator) =>
            gatehouse.portability.import(operator, data, {
              name: options.name,
              dryRun: options.dryRun,
              onProgress,
            }),
          { create: true },
        );
        const { counts } = result;
        if (options.json) sayJson(result);
        else if (result.workspace === undefined)
          say(
            `${file} is valid: ${counts.members} members (${counts.usersMatched} existing users, ${counts.usersCreated} to create), ${counts.groups} groups, ${counts.resources} resources, ${counts.grants} grants, ${counts.roles} workspace roles, ${counts.eligibilities} eligibilities; nothing written (--dry-run)`,
          );
        else
          say(
            `Imported workspace "${result.workspace.name}" as ${result.workspace.id} (revision ${result.revision}): ${counts.members} members (${counts.usersMatched} existing users, ${counts.usersCreated} created without a password), ${counts.groups} groups, ${counts.resources} resources, ${counts.grants} grants, ${counts.roles} workspace roles, ${counts.eligibilities} eligibilities`,
          );
        return ExitCode.OK;
      }),
    );
}
