import type { CallHooks, Gatehouse, InvitationInfo, RequestContext } from "@gatehouse/service";
import type { ServerConfig } from "../config.ts";
import type { Mail, Mailer } from "./mailer.ts";

/** The link an invitation mail carries; the token stays in the fragment, out of server logs. */
export function invitationLink(config: ServerConfig, token: string): string {
  return `${config.publicUrl}/invitations/accept#${token}`;
}

/**
 * The invitation mail: who invites, to which workspace, as which role and on what (#16), so that the
 * invitee can recognise it — and tell a mail they did not expect.
 */
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
  const model = gatehouse.models[workspace.preset]?.definition;
  const role =
    invitation.role === null ? null : (model?.roles[invitation.role]?.label ?? invitation.role);
  const teams = invitation.groups.map((group) => `team ${group.name}`);
  const inviter = await inviterOf(gatehouse, caller);
  const types: Readonly<Record<string, { readonly label?: string }>> = model?.types ?? {};
  const scopes = invitation.scopes.map((scope) => {
    const at = scope.indexOf(":");
    const [type, id] = [scope.slice(0, at), scope.slice(at + 1)];
    const label = types[type]?.label ?? type;
    // The root is the workspace itself; anything else is named by its type and id.
    return id === workspaceId ? `the whole ${label.toLowerCase()}` : `${label} ${id}`;
  });
  return {
    to: invitation.email,
    subject: `You are invited to ${workspace.name} on Gatehouse`,
    text: [
      `${inviter === undefined ? "You are invited" : `${inviter} invited you`} to join ${workspace.name}${role === null ? "" : ` as ${role}`}${role !== null && teams.length > 0 ? "," : ""}${teams.length === 0 ? "" : ` in ${teams.join(", ")}`}.`,
      ...(role === null ? [] : [`${role} on: ${scopes.join(", ")}.`]),
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

/** The person behind the call, "Olivia Owner (olivia@example.com)"; none for the host or operator. */
async function inviterOf(
  gatehouse: Gatehouse,
  caller: RequestContext,
): Promise<string | undefined> {
  const { actor } = caller;
  if (actor.type === "system") return undefined;
  const user = await gatehouse.users.get(actor.userId);
  return user.name === "" ? user.email : `${user.name} (${user.email})`;
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
