import { ApiError } from "./api.ts";

/**
 * Errors in words a customer understands (#16): the API's stable codes and the field paths of
 * its validation problems, mapped to sentences. The API's own `detail` text is for developers and
 * is never shown, except for a code this console does not know yet.
 */

/** What a code means for people; `field` names the form field it is about, when there is one. */
const CODE_WORDS: Readonly<Record<string, { readonly text: string; readonly field?: string }>> = {
  NETWORK: { text: "The server could not be reached. Check your connection and try again." },
  HTTP_ERROR: { text: "Something went wrong on the server. Try again in a moment." },
  INTERNAL: { text: "Something went wrong on the server. Try again in a moment." },
  PAYLOAD_TOO_LARGE: { text: "That is more than the server accepts at once: send less." },
  UNSUPPORTED_MEDIA_TYPE: { text: "The server could not read this request. Reload the page." },
  INVALID_INPUT: { text: "Some of what you entered is not valid: check it and try again." },
  PERMISSION_DENIED: { text: "You do not have permission to do this." },
  NOT_FOUND: { text: "This no longer exists, or you do not have access to it." },
  WORKSPACE_NOT_FOUND: { text: "This workspace does not exist, or you do not have access to it." },
  WORKSPACE_CLOSED: { text: "This workspace has been closed." },
  USER_NOT_FOUND: { text: "There is no account with this email address.", field: "email" },
  MEMBER_NOT_FOUND: { text: "This person is no longer a member of the workspace." },
  RESOURCE_NOT_FOUND: { text: "This server or site no longer exists." },
  GRANT_NOT_FOUND: { text: "This access was already changed or removed. Reload the page." },
  API_KEY_NOT_FOUND: { text: "This API key no longer exists." },
  UNKNOWN_ROLE: { text: "This role does not exist in this workspace.", field: "role" },
  UNKNOWN_PERMISSION: { text: "This permission does not exist in this workspace." },
  UNKNOWN_RESOURCE_TYPE: { text: "This kind of resource does not exist in this workspace." },
  UNKNOWN_PLAN: { text: "This plan does not exist.", field: "plan" },
  UNKNOWN_PRESET: { text: "This kind of workspace does not exist.", field: "preset" },
  INVALID_PARENT: { text: "A resource cannot be placed there." },
  ROLE_NOT_GRANTABLE_AT_SCOPE: {
    text: "This role cannot be given there: choose a place the role is made for.",
    field: "scopes",
  },
  PERMISSION_NOT_APPLICABLE_AT_SCOPE: { text: "This permission does not apply there." },
  OWNER_ONLY_PERMISSION: { text: "Only the owner can hold this permission." },
  ROLE_CONFLICT: { text: "This person already has a role there." },
  OWNER_EXISTS: { text: "This workspace already has an owner." },
  ACCESS_DIFF_TOO_LARGE: {
    text: "This change reaches too many people and places to list them all here.",
  },
  NO_PREVIEW: { text: "Who else this change affects cannot be shown here." },
  EMAIL_TAKEN: { text: "An account with this email address exists already.", field: "email" },
  WEAK_PASSWORD: {
    text: "This password is too common or too easy to guess: a few unrelated words work well.",
    field: "password",
  },
  PASSWORD_REQUIRED: { text: "Enter your password.", field: "password" },
  INVALID_CREDENTIALS: { text: "The email address or the password is not right." },
  CONFIRMATION_MISMATCH: {
    text: "What you typed does not match the name exactly.",
    field: "confirmName",
  },
  LAST_OWNER: { text: "A workspace needs an owner: hand ownership over first." },
  TRANSFER_NOT_SELF_SERVICE: { text: "Ownership of this workspace is handed over by support." },
  ALREADY_MEMBER: { text: "This person is already a member of the workspace.", field: "email" },
  ONE_WORKSPACE_PER_EMAIL: {
    text: "This email address already belongs to another workspace of this kind.",
    field: "email",
  },
  MEMBER_LIMIT_REACHED: {
    text: "Every seat of the plan is taken: revoke a pending invitation or change the plan.",
  },
  INVITATION_NOT_FOUND: { text: "This invitation does not exist. Ask for a new one." },
  INVITATION_EXPIRED: { text: "This invitation has expired. Ask for a new one." },
  INVITATION_ALREADY_USED: { text: "This invitation has already been used." },
  INVITATION_REVOKED: { text: "This invitation was withdrawn. Ask for a new one." },
  INVITATION_EMAIL_MISMATCH: {
    text: "This invitation is for another email address: sign in with that one.",
  },
  INVITATION_PENDING: {
    text: "This email address has a pending invitation already.",
    field: "email",
  },
  JOIN_REQUESTS_DISABLED: { text: "This workspace does not take requests to join." },
  WORKSPACE_ROLES_DISABLED: { text: "Roles are fixed in this kind of workspace." },
  ROLE_NOT_FOUND: { text: "This workspace has no such role of its own." },
  ROLE_IN_USE: {
    text: "Someone still has this role, or a pending invitation gives it: remove those first.",
  },
  JOIN_REQUEST_NOT_FOUND: { text: "There is no workspace with this join key.", field: "joinKey" },
  JOIN_REQUEST_RATE_LIMITED: { text: "Too many requests to join: try again tomorrow." },
  JOIN_REQUEST_DECIDED: { text: "Someone has already answered this request." },
  ACCESS_REQUEST_NOT_FOUND: { text: "There is no such access request." },
  ACCESS_REQUEST_RATE_LIMITED: { text: "Too many access requests: try again later." },
  ACCESS_REQUEST_DECIDED: { text: "This request was already answered, withdrawn or has lapsed." },
  CONFLICT: { text: "Someone else changed this at the same time. Reload the page and try again." },
  RATE_LIMITED: { text: "Too many attempts: wait a few minutes, then try again." },
  SESSION_NOT_FOUND: { text: "This session has already ended." },
  MAGIC_LINK_INVALID: { text: "This link has expired or was already used. Ask for a new one." },
  EMAIL_CHANGE_LINK_INVALID: {
    text: "This link has expired, was already used or replaced by a newer one, or is for another account: sign in to the account that asked, or ask for a new link.",
  },
  EMAIL_MANAGED_BY_HOST: {
    text: "Your email is managed where you sign in to your hosting panel: change it there.",
  },
  SIGN_IN_AGAIN: {
    text: "To confirm it is you, sign out and sign in again, then change your email within 10 minutes.",
  },
  TOTP_REQUIRED: { text: "Enter the code from your authenticator app.", field: "code" },
  TOTP_INVALID: {
    text: "This code is not right or was already used: enter the current one.",
    field: "code",
  },
  TOTP_ENROLLMENT_REQUIRED: { text: "Set up two-factor sign-in first." },
  TOTP_NOT_ENABLED: {
    text: "Turn on two-factor sign-in for your own account first (on your account page).",
  },
  TOTP_ALREADY_ENABLED: { text: "Two-factor sign-in is already on." },
  SIGN_IN_BUSY: { text: "Sign-in is busy right now: try again in a few seconds." },
  DATABASE_BUSY: { text: "The server is busy: try again in a few seconds." },
  DATABASE_UNAVAILABLE: { text: "The server is busy: try again in a few seconds." },
  DATABASE_ERROR: { text: "Something went wrong on the server. Try again in a moment." },
  DATABASE_FULL: { text: "The server is out of disk space. Contact your provider." },
  API_KEY_SCOPE_NOT_HELD: {
    text: "An API key can only carry permissions you hold yourself.",
    field: "scopes",
  },
};

/**
 * Validation issues by the field they are about: the last name of the API's path (`body.email`
 * → `email`), or the whole path where one name means different things.
 */
const FIELD_WORDS: Readonly<Record<string, string>> = {
  email: "Enter an email address, like name@example.com.",
  password: "Enter your password.",
  name: "Enter a name.",
  role: "Choose a role.",
  scopes: "Choose where the role applies.",
  extras: "Choose the extra permissions again.",
  code: "Enter the 6-digit code from your authenticator app.",
  totpCode: "Enter the 6-digit code from your authenticator app.",
  joinKey: "A join key has 4 to 100 characters.",
  note: "The note is too long.",
  confirmName: "Type the workspace's name.",
  // The activity log's period: the service names the field whose value conflicts.
  from: "The start of the period is after its end: choose an earlier start.",
  "querystring.from": "Enter a valid start date.",
  "querystring.to": "Enter a valid end date.",
};

function fieldOfPath(path: string): string {
  const parts = path.split(".").filter((part) => !/^\d+$/.test(part));
  return parts.at(-1) ?? path;
}

function issueWords(issue: { readonly path: string }): string | undefined {
  return FIELD_WORDS[issue.path] ?? FIELD_WORDS[fieldOfPath(issue.path)];
}

/**
 * The sentence for a form field (its API name, e.g. `email`), when the error is about it.
 * @example
 * fieldMessage(error, "email"); // "Enter an email address, like name@example.com."
 */
export function fieldMessage(error: unknown, field: string): string | undefined {
  if (!(error instanceof ApiError)) return undefined;
  const issue = error.issues?.find(
    (candidate) => candidate.path !== "" && fieldOfPath(candidate.path) === field,
  );
  if (issue !== undefined) return issueWords(issue) ?? CODE_WORDS["INVALID_INPUT"]?.text;
  const words = CODE_WORDS[error.code];
  return words?.field === field ? words.text : undefined;
}

/**
 * The whole error in one sentence for people, from its code and field paths (never the schema
 * text); `context` overrides the words of some codes where the page knows better.
 * @example
 * wordsFor(error, { MEMBER_LIMIT_REACHED: "No seat is left for this invitation." });
 */
export function wordsFor(error: unknown, context: Readonly<Record<string, string>> = {}): string {
  if (!(error instanceof ApiError))
    return error instanceof Error ? error.message : "Something went wrong. Try again.";
  const own = context[error.code];
  if (own !== undefined) return own;
  const issues = (error.issues ?? [])
    .map((issue) => issueWords(issue))
    .filter((text): text is string => text !== undefined);
  if (issues.length > 0) return [...new Set(issues)].join(" ");
  const words = CODE_WORDS[error.code];
  if (words !== undefined) return words.text;
  // A code newer than this console: the API's detail is better than nothing.
  return error.detail;
}

/** Whether the error is fully explained by the named fields (then the form need not repeat it). */
export function isAboutFields(error: unknown, fields: readonly string[]): boolean {
  if (!(error instanceof ApiError)) return false;
  const issues = error.issues ?? [];
  if (issues.length > 0) return issues.every((issue) => fields.includes(fieldOfPath(issue.path)));
  const field = CODE_WORDS[error.code]?.field;
  return field !== undefined && fields.includes(field);
}
