import type { CallHooks, Gatehouse, InvitationInfo, RequestContext } from "@gatehouse/service";
import type { ServerConfig } from "../config.ts";
import type { Mail, Mailer } from "./mailer.ts";

/** The link an invitation mail carries; the token stays in the fragment, out of server logs. */
export function invitationLink(config: ServerConfig, token: string): string {
  return `${config.publicUrl}/invitations/accept#${token}`;
}

/** The invitation mail; the workspace's name and the role's label make it recognisable. */
export async function invitationMail(
  gatehouse: Gatehouse,
  mail: {
    caller: RequestContext;
    workspaceId: string;
    invitation: InvitationInfo;
    link: string;
  },
): Promise<Mail> {
  const { caller, workspaceId, invitation, link } = mail;
  const workspace = await gatehouse.workspaces.get(caller, workspaceId);
  const role =
    gatehouse.models[workspace.preset]?.definition.roles[invitation.role]?.label ?? invitation.role;
  return {
    to: invitation.email,
    subject: `You are invited to ${workspace.name} on Gatehouse`,
    text: [
      `You are invited to join ${workspace.name} as ${role}.`,
      "",
      `Accept the invitation (the link works once, until ${new Date(invitation.expiresAt).toUTCString()}):`,
      "",
      link,
      "",
      "If you did not expect this invitation, ignore this mail.",
      "",
    ].join("\n"),
  };
}

/**
 * How an invitation made by the assistant reaches the invitee: mailed like one made over the API.
 * A failed mail is logged and answered `false`, as `mailed: false` is for the invitations route.
 */
export function invitationDelivery(options: {
  gatehouse: Gatehouse;
  config: ServerConfig;
  mailer: Mailer;
  caller: RequestContext;
  log: (error: unknown, invitationId: string) => void;
}): NonNullable<CallHooks["deliverInvitation"]> {
  return async ({ workspaceId, invitation, token }) => {
    try {
      await options.mailer.send(
        await invitationMail(options.gatehouse, {
          caller: options.caller,
          workspaceId,
          invitation,
          link: invitationLink(options.config, token),
        }),
      );
      return true;
    } catch (error) {
      options.log(error, invitation.id);
      return false;
    }
  };
}
