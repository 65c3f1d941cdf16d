import type { Explanation, ModelDefinition } from "./api.ts";
import { roleLabel, scopeLabel, splitResource, typeLabel } from "./model.ts";

/** "deploy the site" — a permission as the model describes it, else its name. */
function permissionWords(model: ModelDefinition, permission: string): string {
  const description = model.permissions[permission]?.description;
  return description === undefined || description === ""
    ? permission
    : description.charAt(0).toLowerCase() + description.slice(1).replace(/\.$/, "");
}

/**
 * The engine's explanation in one sentence for people (#16): names, roles and places in the
 * model's words, instead of the summary's `user:usr_…` and `site:…` codes.
 * @example
 * explanationWords(model, answer, "Cara Customer"); // "Cara Customer may not “restart the server” on Server fra-1: …"
 */
export function explanationWords(model: ModelDefinition, answer: Explanation, who: string): string {
  const what = `“${permissionWords(model, answer.permission)}”`;
  const where = scopeLabel(model, answer.resource);
  const { decision } = answer;
  if (decision.allowed) {
    const via = decision.via;
    if (via === undefined) return `${who} may ${what} on ${where}.`;
    const group = via.subject === answer.subject ? "" : " (through a group)";
    // An elevation (#18) says so, and why: the note reads "elevated until … (eligibility …): reason".
    const reason = via.note?.startsWith("elevated")
      ? via.note.split("): ").slice(1).join("): ")
      : "";
    const elevated =
      via.note?.startsWith("elevated") && via.expiresAt !== null
        ? `, elevated until ${new Date(via.expiresAt).toLocaleString()}${reason === "" ? "" : ` (“${reason}”)`}`
        : "";
    return `${who} may ${what} on ${where}: they are ${roleLabel(model, via.role)} on ${scopeLabel(model, via.scope)}${group}${elevated}.`;
  }
  const reasons: Readonly<Record<string, string>> = {
    not_found: `${where} does not exist in this workspace`,
    not_applicable: `${what} does not apply to a ${typeLabel(model, splitResource(answer.resource).type).toLowerCase()}`,
    no_grant: `none of their roles on ${where} or above it includes it`,
    key_expired: "the API key has expired",
    key_scope: "the API key does not carry this permission",
    key_resource: `${where} is outside the API key's resources`,
  };
  const reason = reasons[decision.reason ?? ""] ?? "it is not allowed";
  return `${who} may not ${what} on ${where}: ${reason}.`;
}
