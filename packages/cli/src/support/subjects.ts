import { GatehouseError, type SubjectRef } from "@gatehouse/engine";
import type { Gatehouse } from "@gatehouse/service";
import { ErrorCode } from "@gatehouse/service";

/**
 * A subject as typed on the command line: `user:<id>`, `group:<id>`, `apikey:<id>`, an email
 * (the user with that address) or a bare user id.
 */
export async function resolveSubject(gatehouse: Gatehouse, text: string): Promise<SubjectRef> {
  if (/^(user|group|apikey):./.test(text)) return text as SubjectRef;
  return `user:${await resolveUserId(gatehouse, text)}`;
}

/** A user given by id, `user:<id>` or email. */
export async function resolveUserId(gatehouse: Gatehouse, text: string): Promise<string> {
  if (text.startsWith("user:")) return text.slice("user:".length);
  if (!text.includes("@")) return text;
  const user = await gatehouse.users.findByEmail(text);
  if (user === undefined)
    throw new GatehouseError(ErrorCode.USER_NOT_FOUND, `no user with the email ${text}`);
  return user.id;
}
