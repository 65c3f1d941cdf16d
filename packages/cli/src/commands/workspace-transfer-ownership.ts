import type { Command } from "commander";
import { type ConnectionOptions, withConnection, withGatehouse } from "../support/connection.ts";
import { ExitCode } from "../support/exit-codes.ts";
import { say } from "../support/output.ts";
import type { Runner } from "../support/runner.ts";
import { resolveUserId } from "../support/subjects.ts";

/** `gatehouse workspace transfer-ownership`: the operator's path, also for support-only presets. */
export function registerWorkspaceTransferOwnership(workspace: Command, run: Runner): void {
  withConnection(
    workspace
      .command("transfer-ownership")
      .summary("Make a member the owner (operator path)")
      .description(
        "Make a member the owner, as the instance operator — the path for presets where transfer is support-only (company). The former owner takes the preset's former-owner role, or leaves",
      )
      .argument("<workspace>", "workspace id")
      .argument("<user>", "the new owner: a member's user id or email"),
  )
    .addHelpText(
      "after",
      `
Example:
  gatehouse workspace transfer-ownership ws_… mara@example.com`,
    )
    .action(
      run(async (workspaceId: string, userText: string, options: ConnectionOptions) => {
        const { userId, revision } = await withGatehouse(options, async (gatehouse, operator) => {
          const userId = await resolveUserId(gatehouse, userText);
          const { revision } = await gatehouse.workspaces.transferOwnership(
            operator,
            workspaceId,
            userId,
          );
          return { userId, revision };
        });
        say(`${userId} now owns workspace ${workspaceId} (revision ${revision})`);
        return ExitCode.OK;
      }),
    );
}
