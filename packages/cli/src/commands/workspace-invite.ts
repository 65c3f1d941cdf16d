import type { Command } from "commander";
import {
  type ConnectionOptions,
  configOf,
  withConnection,
  withGatehouse,
} from "../support/connection.ts";
import { ExitCode } from "../support/exit-codes.ts";
import { note, say, sayJson } from "../support/output.ts";
import type { Runner } from "../support/runner.ts";

interface InviteOptions extends ConnectionOptions {
  readonly role?: string;
  readonly scope?: string[];
  readonly group?: string[];
  readonly replace?: boolean;
  readonly json?: boolean;
}

const collect = (value: string, previous: string[] = []) => [...previous, value];

/** `gatehouse workspace invite`: an invitation as the operator, with a role and/or into teams. */
export function registerWorkspaceInvite(workspace: Command, run: Runner): void {
  withConnection(
    workspace
      .command("invite")
      .summary("Invite someone by email with a role and/or into teams (operator path)")
      .description(
        "Invite someone into a workspace as the instance operator: a role (at the whole workspace, or at each --scope) and/or the teams named by --group (without --role, into those teams only). Prints the one-time accept link to pass on; nothing is mailed from here",
      )
      .argument("<workspace>", "workspace id")
      .argument("<email>", "the invitee's email"),
  )
    .option("--role <role>", "the role to give")
    .option(
      "--scope <resource>",
      "where the role is given (repeatable); the workspace by default",
      collect,
    )
    .option("--group <id>", "a team (group id) to join on accepting (repeatable)", collect)
    .option("--replace", "revoke a pending invitation to the same email for this one")
    .option("--json", "print { invitation, link } as JSON")
    .addHelpText(
      "after",
      `
Examples:
  gatehouse workspace invite ws_… mia@example.com --role customer --scope site:shop
  gatehouse workspace invite ws_… wes@example.com --group grp_web`,
    )
    .action(
      run(async (workspaceId: string, email: string, options: InviteOptions) => {
        const { publicUrl } = configOf(options);
        const { invitation, token } = await withGatehouse(options, (gatehouse, operator) =>
          gatehouse.invitations.create(operator, workspaceId, {
            email,
            ...(options.role === undefined ? {} : { role: options.role }),
            ...(options.scope === undefined ? {} : { scopes: options.scope }),
            ...(options.group === undefined ? {} : { groups: options.group }),
            ...(options.replace === true ? { replace: true } : {}),
          }),
        );
        const link = `${publicUrl}/invitations/accept#${token}`;
        if (options.json) sayJson({ invitation, link });
        else {
          const offered = [
            ...(invitation.role === null
              ? []
              : [`${invitation.role} at ${invitation.scopes.join(", ")}`]),
            ...invitation.groups.map((group) => `team ${group.name}`),
          ].join(", ");
          say(
            `Invited ${invitation.email} (${offered}); valid until ${new Date(invitation.expiresAt).toISOString()}`,
          );
          say(link);
          note("the link is a one-time secret: pass it to the invitee only");
        }
        return ExitCode.OK;
      }),
    );
}
