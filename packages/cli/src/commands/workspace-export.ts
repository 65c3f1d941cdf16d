import { writeFileSync } from "node:fs";
import type { Command } from "commander";
import { type ConnectionOptions, withConnection, withGatehouse } from "../support/connection.ts";
import { ExitCode } from "../support/exit-codes.ts";
import { note, say } from "../support/output.ts";
import type { Runner } from "../support/runner.ts";

interface ExportOptions extends ConnectionOptions {
  readonly output?: string;
}

/** `gatehouse workspace export`: the workspace as JSON. */
export function registerWorkspaceExport(workspace: Command, run: Runner): void {
  withConnection(
    workspace
      .command("export")
      .summary("Export a workspace as JSON")
      .description(
        "Write a workspace as JSON: preset and model, the workspace's own roles, settings and plan, resources, members (id, email, name), groups, grants with extras, expiry and note, and eligibilities. Never passwords, TOTP secrets, API keys, sessions, invitations, access or support requests, or sealed credentials",
      )
      .argument("<workspace>", "workspace id"),
  )
    .option("-o, --output <file>", "write to this file instead of standard output")
    .addHelpText(
      "after",
      `
Example:
  gatehouse workspace export ws_… -o acme.json`,
    )
    .action(
      run(async (workspaceId: string, options: ExportOptions) => {
        const data = await withGatehouse(options, (gatehouse, operator) =>
          gatehouse.portability.export(operator, workspaceId),
        );
        const text = `${JSON.stringify(data, null, 2)}\n`;
        if (options.output === undefined) say(text.trimEnd());
        else writeFileSync(options.output, text, { mode: 0o600 });
        note(
          `Exported workspace ${workspaceId} at revision ${data.workspace.revision}: ${data.members.length} members, ${data.groups.length} groups, ${data.resources.length} resources, ${data.grants.length} grants, ${data.roles.length} workspace roles, ${data.eligibilities.length} eligibilities${options.output === undefined ? "" : ` to ${options.output}`}`,
        );
        return ExitCode.OK;
      }),
    );
}
