import type { AccessRequestInfo, Gatehouse } from "@gatehouse/service";
import type { ServerConfig } from "../config.ts";
import type { Mail } from "./mailer.ts";

/** A duration in minutes in words: "90 minutes", "2 hours", "3 days". */
export function durationWords(minutes: number): string {
  const plural = (count: number, unit: string) => `${count} ${unit}${count === 1 ? "" : "s"}`;
  if (minutes % (24 * 60) === 0) return plural(minutes / (24 * 60), "day");
  if (minutes % 60 === 0) return plural(minutes / 60, "hour");
  return plural(minutes, "minute");
}

/**
 * The mail telling one who may decide an access request that it waits: who asks, for which role
 * on what, for how long and why, and where to approve or reject it.
 */
export function accessRequestMail(
  gatehouse: Gatehouse,
  config: ServerConfig,
  mail: {
    to: string;
    workspace: { id: string; name: string; preset: string };
    request: AccessRequestInfo;
  },
): Mail {
  const { to, workspace, request } = mail;
  const model = gatehouse.models[workspace.preset]?.definition;
  const role = model?.roles[request.role]?.label ?? request.role;
  const at = request.scope.indexOf(":");
  const [type, id] = [request.scope.slice(0, at), request.scope.slice(at + 1)];
  const types: Readonly<Record<string, { readonly label?: string }>> = model?.types ?? {};
  const label = types[type]?.label ?? type;
  const scope = id === workspace.id ? `the whole ${label.toLowerCase()}` : `${label} ${id}`;
  const who = request.name === "" ? request.email : `${request.name} (${request.email})`;
  return {
    to,
    subject: `${who} asks for access in ${workspace.name}`,
    text: [
      `${who} asks for ${role} on ${scope} in ${workspace.name} for ${durationWords(request.durationMinutes)}.`,
      "",
      `Reason: ${request.reason}`,
      "",
      `Approve (you may give less) or reject it, until ${new Date(request.expiresAt).toUTCString()}:`,
      "",
      `${config.publicUrl}/w/${encodeURIComponent(workspace.id)}/access-requests`,
      "",
    ].join("\n"),
  };
}
