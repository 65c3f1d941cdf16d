import type { Command } from "commander";
import { type ConnectionOptions, withConnection, withGatehouse } from "../support/connection.ts";
import { ExitCode } from "../support/exit-codes.ts";
import { note, say, sayJson, table } from "../support/output.ts";
import type { Runner } from "../support/runner.ts";

interface CreateOptions extends ConnectionOptions {
  readonly name: string;
  readonly workspace: string[];
  readonly json?: boolean;
}

interface ListOptions extends ConnectionOptions {
  readonly json?: boolean;
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

/** `gatehouse host-credential create|list|revoke`: the host application's bearer secrets. */
export function registerHostCredential(program: Command, run: Runner): void {
  const command = program
    .command("host-credential")
    .summary("Create, list and revoke host application credentials")
    .description(
      "Credentials for the host application (your panel): a request with `Authorization: Bearer ghh_…` acts as the trusted host app — registers resources, creates workspaces, provisions users by the panel's own ids, acts on behalf of a user. The secret is shown once and stored hashed",
    );

  withConnection(
    command
      .command("create")
      .summary("Create a credential; its secret is printed once")
      .description(
        "Create a host credential. The secret is printed once, on standard output; store it in the panel's secrets. With --workspace (repeatable), the credential reaches only those workspaces (others answer 404) and cannot create workspaces",
      ),
  )
    .requiredOption("--name <name>", "a name the activity log shows for the host app's actions")
    .option("--workspace <id>", "limit the credential to this workspace (repeatable)", collect, [])
    .option("--json", "print the credential and its secret as JSON")
    .addHelpText(
      "after",
      `
Examples:
  gatehouse host-credential create --name billing-panel
  gatehouse host-credential create --name reseller-panel --workspace ws_… --workspace ws_…`,
    )
    .action(
      run(async (options: CreateOptions) => {
        const { credential, secret } = await withGatehouse(options, (gatehouse, operator) =>
          gatehouse.hostCredentials.create(operator, {
            name: options.name,
            workspaces: options.workspace,
          }),
        );
        if (options.json) {
          sayJson({ credential, secret });
        } else {
          note(
            `Created host credential "${credential.name}" (${credential.id}), reaching ${
              credential.workspaces === null ? "every workspace" : credential.workspaces.join(", ")
            }. The secret is shown this once:`,
          );
          say(secret);
        }
        return ExitCode.OK;
      }),
    );

  withConnection(
    command
      .command("list")
      .summary("List host credentials (never their secrets)")
      .description("List every host credential, revoked ones included; secrets are never shown"),
  )
    .option("--json", "print the credentials as JSON")
    .action(
      run(async (options: ListOptions) => {
        const credentials = await withGatehouse(options, (gatehouse, operator) =>
          gatehouse.hostCredentials.list(operator),
        );
        if (options.json) {
          sayJson({ credentials });
        } else if (credentials.length === 0) {
          say("No host credentials.");
        } else {
          for (const line of table([
            ["NAME", "ID", "PREFIX", "STATUS", "WORKSPACES", "CREATED"],
            ...credentials.map((credential) => [
              credential.name,
              credential.id,
              credential.prefix,
              credential.status,
              credential.workspaces === null ? "all" : credential.workspaces.join(","),
              new Date(credential.createdAt).toISOString(),
            ]),
          ]))
            say(line);
        }
        return ExitCode.OK;
      }),
    );

  withConnection(
    command
      .command("revoke")
      .summary("Revoke a credential at once")
      .description(
        "Revoke a host credential, by id or by the name of an active one; its next request gets 401",
      )
      .argument("<credential>", "the credential's name or id (hcr_…)"),
  )
    .addHelpText(
      "after",
      `
Example:
  gatehouse host-credential revoke billing-panel`,
    )
    .action(
      run(async (nameOrId: string, options: ConnectionOptions) => {
        const credential = await withGatehouse(options, (gatehouse, operator) =>
          gatehouse.hostCredentials.revoke(operator, nameOrId),
        );
        say(`Revoked host credential "${credential.name}" (${credential.id})`);
        return ExitCode.OK;
      }),
    );
}
