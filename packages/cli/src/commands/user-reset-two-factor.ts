import type { Command } from "commander";
import { type ConnectionOptions, withConnection, withGatehouse } from "../support/connection.ts";
import { ExitCode } from "../support/exit-codes.ts";
import { say } from "../support/output.ts";
import type { Runner } from "../support/runner.ts";
import { resolveUserId } from "../support/subjects.ts";

/** `gatehouse user reset-2fa`: the operator's way back in for a user who lost their authenticator. */
export function registerUserResetTwoFactor(user: Command, run: Runner): void {
  withConnection(
    user
      .command("reset-2fa")
      .summary("Turn off a user's two-factor sign-in (lost authenticator)")
      .description(
        "Remove a user's TOTP, pending enrolment and recovery codes and end all their sessions, as the instance operator; recorded in the instance's activity log. They sign in with their password and enrol again (at once where a workspace requires two-factor sign-in). Check who is asking before you do this",
      )
      .argument("<user>", "a user's id or email"),
  )
    .addHelpText(
      "after",
      `
Example:
  gatehouse user reset-2fa mara@example.com`,
    )
    .action(
      run(async (userText: string, options: ConnectionOptions) => {
        const { userId, sessionsEnded } = await withGatehouse(
          options,
          async (gatehouse, operator) => {
            const userId = await resolveUserId(gatehouse, userText);
            const { sessionsEnded } = await gatehouse.twoFactor.reset(operator, userId);
            return { userId, sessionsEnded };
          },
        );
        say(
          `Two-factor sign-in of ${userId} is reset; ${sessionsEnded} session(s) ended. They sign in with their password and enrol again.`,
        );
        return ExitCode.OK;
      }),
    );
}
