import { Command, CommanderError } from "commander";
import { registerCheck } from "./commands/check.ts";
import { registerCreateOwner } from "./commands/create-owner.ts";
import { registerExplain } from "./commands/explain.ts";
import { registerHostCredential } from "./commands/host-credential.ts";
import { registerMigrate } from "./commands/migrate.ts";
import { registerModelChange } from "./commands/model-change.ts";
import { registerModelShow } from "./commands/model-show.ts";
import { registerServe } from "./commands/serve.ts";
import { registerTest } from "./commands/test.ts";
import { registerUserResetTwoFactor } from "./commands/user-reset-two-factor.ts";
import { registerWorkspaceExport } from "./commands/workspace-export.ts";
import { registerWorkspaceImport } from "./commands/workspace-import.ts";
import { registerWorkspaceInvite } from "./commands/workspace-invite.ts";
import { registerWorkspaceTransferOwnership } from "./commands/workspace-transfer-ownership.ts";
import { ExitCode } from "./support/exit-codes.ts";
import { reportError } from "./support/output.ts";
import type { Runner } from "./support/runner.ts";

const CONNECTION_HELP = `
Database commands read the server's configuration (DATABASE_URL, DATABASE_SCHEMA, DATA_DIR,
GATEHOUSE_CONFIG, …; see the README); the flags --database, --schema, --data-dir and --config
override it. Exit status: 0 done (check/explain: allowed), 1 failed, 2 bad command line,
3 denied (check/explain). Documentation: docs/cli.md.`;

/** The `gatehouse` command with every subcommand. */
function buildProgram(status: { code: ExitCode }): Command {
  const program = new Command("gatehouse")
    .description("Gatehouse: team and access control for hosting and MSP control panels")
    .version("0.1.0")
    .showHelpAfterError("(run with --help for usage)")
    .exitOverride()
    .addHelpText("after", CONNECTION_HELP);
  const run: Runner =
    (action) =>
    async (...args) => {
      status.code = await action(...args);
    };
  registerServe(program, run);
  registerMigrate(program, run);
  registerCreateOwner(program, run);
  registerCheck(program, run);
  registerExplain(program, run);
  registerHostCredential(program, run);
  const model = program
    .command("model")
    .summary("Inspect models (model show <preset>)")
    .description("Inspect models: the presets shipped with Gatehouse, or a JSON model file");
  registerModelShow(model, run);
  registerModelChange(model, run);
  const workspace = program
    .command("workspace")
    .summary("Transfer ownership, export, import")
    .description("Operator tasks on one workspace: ownership, export and import");
  registerWorkspaceTransferOwnership(workspace, run);
  registerWorkspaceExport(workspace, run);
  registerWorkspaceImport(workspace, run);
  registerWorkspaceInvite(workspace, run);
  const user = program
    .command("user")
    .summary("Reset a user's two-factor sign-in")
    .description("Operator tasks on one user account");
  registerUserResetTwoFactor(user, run);
  registerTest(program, run);
  return program;
}

/** Runs the CLI on `argv` (without node and the script) and returns the exit status. */
export async function runCli(argv: readonly string[]): Promise<ExitCode> {
  const status: { code: ExitCode } = { code: ExitCode.OK };
  const program = buildProgram(status);
  try {
    await program.parseAsync([...argv], { from: "user" });
    return status.code;
  } catch (error) {
    if (error instanceof CommanderError) {
      // --help and --version end with exit code 0; every other parse error is a usage error.
      return error.exitCode === 0 ? ExitCode.OK : ExitCode.USAGE;
    }
    reportError(error);
    return ExitCode.FAILURE;
  }
}
