import type { Command } from "commander";
import { type ConnectionOptions, withConnection, withGatehouse } from "../support/connection.ts";
import { ExitCode } from "../support/exit-codes.ts";
import { say, sayJson } from "../support/output.ts";
import { obtainPassword } from "../support/password.ts";
import type { Runner } from "../support/runner.ts";

interface CreateOwnerOptions extends ConnectionOptions {
  readonly email: string;
  readonly name?: string;
  readonly workspace?: string;
  readonly preset: string;
  readonly plan?: string;
  readonly password?: string;
  readonly passwordStdin?: boolean;
  readonly json?: boolean;
}

/** `gatehouse create-owner`: the first user and the workspace they own. */
export function registerCreateOwner(program: Command, run: Runner): void {
  withConnection(
    program
      .command("create-owner")
      .summary("Create the first user and the workspace they own")
      .description(
        "Create a user with a password and a workspace they own, in one step (the first owner of a fresh instance). The password is asked on the terminal (hidden), or read from stdin with --password-stdin; it is never printed",
      ),
  )
    .requiredOption("--email <email>", "the owner's email address")
    .option("--name <name>", "the owner's name (default: the part of the email before @)")
    .option("--workspace <name>", "the workspace's name (default: \"<name>'s workspace\")")
    .option("--preset <preset>", "the workspace's model", "mzpanel")
    .option("--plan <plan>", "the plan, for presets with plans (default: the preset's default)")
    .option("--password-stdin", "read the password from the first line of standard input")
    .option("--password <password>", "the password itself (visible to other local users: avoid)")
    .option("--json", "print the user and workspace as JSON")
    .addHelpText(
      "after",
      `
Examples:
  gatehouse create-owner --email olivia@example.com --preset company --plan premium --workspace "Acme"
  printf '%s\\n' "$OWNER_PASSWORD" | gatehouse create-owner --email olivia@example.com --password-stdin`,
    )
    .action(
      run(async (options: CreateOwnerOptions) => {
        const password = await obtainPassword(options);
        const { user, workspace } = await withGatehouse(
          options,
          (gatehouse, operator) =>
            gatehouse.users.createOwner(operator, {
              email: options.email,
              password,
              name: options.name,
              workspace: {
                name:
                  options.workspace ?? `${options.name ?? options.email.split("@")[0]}'s workspace`,
                preset: options.preset,
                plan: options.plan,
              },
            }),
          { create: true },
        );
        if (options.json) {
          sayJson({ user, workspace });
        } else {
          say(`Created user ${user.email} (${user.id}), owner of workspace "${workspace.name}"`);
          say(
            `  workspace: ${workspace.id}   preset: ${workspace.preset}   plan: ${workspace.plan ?? "none"}`,
          );
        }
        return ExitCode.OK;
      }),
    );
}
