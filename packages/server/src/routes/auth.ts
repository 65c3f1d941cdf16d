import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { GatehouseError } from "@gatehouse/engine";
import { ErrorCode } from "@gatehouse/service";
import { Type } from "@sinclair/typebox";
import type { FastifyRequest } from "fastify";
import {
  clearSessionCookies,
  originOf,
  requireCaller,
  requirePerson,
  setSessionCookies,
} from "../http/caller.ts";
import {
  GrantSchema,
  grantBody,
  UserSchema,
  WorkspaceSchema,
  workspaceBody,
} from "../http/schemas.ts";
import type { RouteOptions } from "./route-options.ts";

const Email = Type.String({ minLength: 3, maxLength: 254 });
const Password = Type.String({ minLength: 1, maxLength: 1024 });
const TotpCode = Type.String({ pattern: "^[0-9]{6}$" });
/** At sign-in: the authenticator's 6 digits, or one of the account's recovery codes (used up). */
const SecondFactorCode = Type.String({
  maxLength: 60,
  pattern: "^([0-9]{6}|[A-Za-z2-7 -]{26,60})$",
  description: "The 6-digit code from the authenticator app, or a recovery code (works once)",
});
const strict = { additionalProperties: false } as const;

const SessionStarted = Type.Object({
  user: UserSchema,
  sessionId: Type.String(),
  expiresAt: Type.Number(),
});

/**
 * Sign-up, password (+ TOTP) sign-in, magic links, TOTP enrolment, the caller's profile and
 * sessions. A sign-in sets an HttpOnly session cookie and a CSRF cookie to echo on writes.
 */
export const authRoutes: FastifyPluginAsyncTypebox<RouteOptions> = async (
  app,
  { gatehouse, config },
) => {
  const tags = ["sign-in"];

  app.post(
    "/v1/auth/signup",
    {
      schema: {
        tags,
        summary: "Ask for an account: a link to confirm the address is mailed",
        description:
          "Always 202 for a valid request, whether or not the address has an account: a new address is mailed a link that, consumed at /v1/auth/magic-link/consume with the password its follower chooses, creates the account (and, where the personal preset says so, a personal workspace) and signs in; a registered one is mailed a notice to sign in instead. The request carries no password (400 if it does): whoever asks is not yet known to own the address. Throttled per IP, per email and in all (429 with Retry-After).",
        body: Type.Object(
          {
            email: Email,
            name: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
          },
          strict,
        ),
        response: { 202: Type.Object({ status: Type.Literal("confirmation-sent") }) },
      },
    },
    async (request, reply) => {
      await gatehouse.signUps.request({ ...request.body, origin: originOf(request) });
      return reply.status(202).send({ status: "confirmation-sent" as const });
    },
  );

  app.post(
    "/v1/auth/login",
    {
      schema: {
        tags,
        summary: "Sign in with email and password, plus a TOTP code when enrolled or required",
        description:
          "Starts a new session (HttpOnly cookie). Throttled per account and per IP: 429 with Retry-After.",
        body: Type.Object(
          { email: Email, password: Password, totpCode: Type.Optional(SecondFactorCode) },
          strict,
        ),
        response: { 200: SessionStarted },
      },
    },
    async (request, reply) => {
      const session = await gatehouse.sessions.login({
        ...request.body,
        origin: originOf(request),
      });
      setSessionCookies(reply, config, session.token, session.expiresAt);
      return { user: session.user, sessionId: session.sessionId, expiresAt: session.expiresAt };
    },
  );

  app.post(
    "/v1/auth/logout",
    { schema: { tags, summary: "End the current session", response: { 204: Type.Null() } } },
    async (request, reply) => {
      requireCaller(request);
      if (request.sessionId !== undefined)
        await gatehouse.sessions.revoke(requirePerson(request), request.sessionId);
      clearSessionCookies(reply, config);
      return reply.status(204).send(null);
    },
  );

  app.post(
    "/v1/auth/magic-link",
    {
      schema: {
        tags,
        summary: "Mail a one-time sign-in link (valid 10 minutes)",
        description: "Always 202, whether or not the email has an account.",
        body: Type.Object({ email: Email }, strict),
        response: { 202: Type.Object({ status: Type.Literal("sent-if-registered") }) },
      },
    },
    async (request, reply) => {
      await gatehouse.magicLinks.send({ email: request.body.email, origin: originOf(request) });
      return reply.status(202).send({ status: "sent-if-registered" as const });
    },
  );

  app.post(
    "/v1/auth/magic-link/consume",
    {
      schema: {
        tags,
        summary: "Sign in with a magic link's token (single use), or confirm a sign-up with it",
        description:
          "A sign-up link creates the account with the password chosen now: without `password` it answers 400 PASSWORD_REQUIRED, with a weak one 400 WEAK_PASSWORD, both leaving the link unused; confirmations are throttled like sign-up requests (429 with Retry-After), and 503 SIGN_IN_BUSY with Retry-After when password hashing is at its limit. A `password` with a sign-in link is 400 INVALID_INPUT.",
        body: Type.Object(
          {
            token: Type.String({ minLength: 1, maxLength: 200 }),
            totpCode: Type.Optional(SecondFactorCode),
            password: Type.Optional(Password),
          },
          strict,
        ),
        response: { 200: SessionStarted },
      },
    },
    async (request, reply) => {
      const session = await gatehouse.magicLinks.consume(request.body.token, {
        origin: originOf(request),
        totpCode: request.body.totpCode,
        password: request.body.password,
      });
      setSessionCookies(reply, config, session.token, session.expiresAt);
      return { user: session.user, sessionId: session.sessionId, expiresAt: session.expiresAt };
    },
  );

  app.post(
    "/v1/auth/totp/enroll",
    {
      schema: {
        tags,
        summary:
          "Start TOTP enrolment (signed in): a secret and an otpauth:// URI for the authenticator app",
        response: { 200: Type.Object({ secret: Type.String(), otpauthUri: Type.String() }) },
      },
    },
    async (request) => {
      const enrollment = await gatehouse.twoFactor.enroll(requirePerson(request));
      return { secret: enrollment.secret, otpauthUri: enrollment.otpauthUri };
    },
  );

  app.post(
    "/v1/auth/totp/enroll-with-password",
    {
      schema: {
        tags,
        summary:
          "Start TOTP enrolment without a session, for a member whose workspace requires 2FA",
        description:
          "For TOTP_ENROLLMENT_REQUIRED at login; the next login with a code from the app confirms the enrolment.",
        body: Type.Object({ email: Email, password: Password }, strict),
        response: {
          200: Type.Object({
            secret: Type.String(),
            otpauthUri: Type.String(),
            requiredBy: Type.Array(Type.String(), {
              description: "The names of the caller's workspaces that require two-factor sign-in",
            }),
          }),
        },
      },
    },
    async (request) => {
      const enrollment = await gatehouse.sessions.enrollTwoFactor({
        ...request.body,
        origin: originOf(request),
      });
      return {
        secret: enrollment.secret,
        otpauthUri: enrollment.otpauthUri,
        requiredBy: [...enrollment.requiredBy],
      };
    },
  );

  app.post(
    "/v1/auth/totp/confirm",
    {
      schema: {
        tags,
        summary: "Confirm TOTP enrolment with a code from the app",
        body: Type.Object({ code: TotpCode }, strict),
        response: { 204: Type.Null() },
      },
    },
    async (request, reply) => {
      await gatehouse.twoFactor.confirm(requirePerson(request), request.body.code);
      return reply.status(204).send(null);
    },
  );

  app.post(
    "/v1/auth/totp/recovery-codes",
    {
      schema: {
        tags,
        summary: "Make new two-factor recovery codes (shown once; the old ones stop working)",
        description:
          "For a person signed in with a session who has TOTP on (409 TOTP_NOT_ENABLED otherwise). Ten codes of 128 random bits; each signs in once in place of an authenticator code (`totpCode`). Only their hashes are kept: store them now.",
        response: { 200: Type.Object({ codes: Type.Array(Type.String()) }) },
      },
    },
    async (request) => {
      const { codes } = await gatehouse.twoFactor.newRecoveryCodes(requireCaller(request));
      return { codes: [...codes] };
    },
  );

  app.get(
    "/v1/me",
    {
      schema: {
        tags,
        summary: "The caller and their workspaces, with the caller's grants in each",
        response: {
          200: Type.Object({
            user: UserSchema,
            twoFactor: Type.Object({
              enabled: Type.Boolean(),
              pending: Type.Boolean(),
              required: Type.Boolean(),
              requiredBy: Type.Array(Type.String(), {
                description: "The names of the workspaces that require two-factor sign-in",
              }),
              recoveryCodesLeft: Type.Integer(),
            }),
            workspaces: Type.Array(
              Type.Object({
                ...WorkspaceSchema.properties,
                grants: Type.Array(GrantSchema),
                groups: Type.Array(Type.String()),
              }),
            ),
          }),
        },
      },
    },
    async (request) => {
      const userId = requirePerson(request);
      const caller = requireCaller(request);
      // An API key sees only its own workspace.
      const all = await gatehouse.workspaces.listForUser(userId);
      const workspaces =
        request.keyWorkspaceId === undefined
          ? all
          : all.filter((ws) => ws.id === request.keyWorkspaceId);
      const twoFactor = await gatehouse.twoFactor.status(userId);
      return {
        user: await gatehouse.users.get(userId),
        twoFactor: { ...twoFactor, requiredBy: [...twoFactor.requiredBy] },
        workspaces: await Promise.all(
          workspaces.map(async (workspace) => {
            const own = await gatehouse.members.own(caller, workspace.id);
            return {
              ...workspaceBody(workspace),
              grants: own.grants.map(grantBody),
              groups: [...own.groups],
            };
          }),
        ),
      };
    },
  );

  /** The caller's session: the account's sign-in settings change only from a signed-in console. */
  const requireSession = (request: FastifyRequest): { userId: string; sessionId: string } => {
    const userId = requirePerson(request);
    if (request.sessionId === undefined)
      throw new GatehouseError(
        ErrorCode.PERMISSION_DENIED,
        "sign in to change your password or email, or end your sessions; an API key cannot",
      );
    return { userId, sessionId: request.sessionId };
  };

  app.patch(
    "/v1/me",
    {
      schema: {
        tags,
        summary: "Change the caller's name",
        body: Type.Object({ name: Type.String({ minLength: 1, maxLength: 200 }) }, strict),
        response: { 200: Type.Object({ user: UserSchema }) },
      },
    },
    async (request) => ({
      user: await gatehouse.users.rename(requirePerson(request), request.body.name),
    }),
  );

  app.put(
    "/v1/me/password",
    {
      schema: {
        tags,
        summary: "Change the caller's password; their other sessions end",
        description:
          "Needs the current password (INVALID_CREDENTIALS otherwise) and a session (not an API key). The new one is checked like a sign-up's (WEAK_PASSWORD). Every other session of the account ends; this one stays.",
        body: Type.Object({ currentPassword: Password, newPassword: Password }, strict),
        response: { 200: Type.Object({ sessionsEnded: Type.Integer() }) },
      },
    },
    async (request) => {
      const { userId, sessionId } = requireSession(request);
      await gatehouse.users.changePassword(userId, {
        current: request.body.currentPassword,
        next: request.body.newPassword,
      });
      return {
        sessionsEnded: await gatehouse.sessions.revokeAllFor(userId, { except: sessionId }),
      };
    },
  );

  app.post(
    "/v1/me/email",
    {
      schema: {
        tags,
        summary:
          "Ask to change the caller's email: a confirmation link is mailed to the new address",
        description:
          "Needs a session (not an API key) and the current password where the account has one (401 INVALID_CREDENTIALS); an account without one must have signed in within 10 minutes (403 SIGN_IN_AGAIN). Always 202 for a valid request, whether or not the new address has an account: a free address is mailed a link (one use, 1 hour; it replaces any earlier one) that, followed at /v1/me/email/confirm signed in as the same account, makes the change; a taken address is mailed a notice instead, and nothing changes. The caller's current address is 400 INVALID_INPUT. A user the host provisioned: 409 EMAIL_MANAGED_BY_HOST (the host, or its identity provider, owns the address). Throttled per account and per new address (429 with Retry-After).",
        body: Type.Object({ email: Email, currentPassword: Type.Optional(Password) }, strict),
        response: { 202: Type.Object({ status: Type.Literal("confirmation-sent") }) },
      },
    },
    async (request, reply) => {
      const { userId, sessionId } = requireSession(request);
      await gatehouse.emailChanges.request(userId, {
        email: request.body.email,
        currentPassword: request.body.currentPassword,
        sessionId,
        origin: originOf(request),
      });
      return reply.status(202).send({ status: "confirmation-sent" as const });
    },
  );

  app.post(
    "/v1/me/email/confirm",
    {
      schema: {
        tags,
        summary: "Confirm the new email with the mailed link's token: the account moves to it",
        description:
          "Signed in (with a session) as the account that asked. The user id, grants, memberships and sessions stay; unused sign-in links to the old address end; the old address is mailed a notice; the activity log records `user.email_change`. 410 EMAIL_CHANGE_LINK_INVALID for a used, expired, replaced or unknown link and for another account's; 409 EMAIL_TAKEN when another account took the address meanwhile (the link stays unused).",
        body: Type.Object({ token: Type.String({ minLength: 1, maxLength: 200 }) }, strict),
        response: { 200: Type.Object({ user: UserSchema }) },
      },
    },
    async (request) => {
      const { userId } = requireSession(request);
      return {
        user: await gatehouse.emailChanges.confirm(userId, request.body.token, {
          origin: originOf(request),
        }),
      };
    },
  );

  app.delete(
    "/v1/me/sessions",
    {
      schema: {
        tags,
        summary: "End every session of the caller but this one (sign out everywhere else)",
        response: { 200: Type.Object({ sessionsEnded: Type.Integer() }) },
      },
    },
    async (request) => {
      const { userId, sessionId } = requireSession(request);
      return {
        sessionsEnded: await gatehouse.sessions.revokeAllFor(userId, { except: sessionId }),
      };
    },
  );

  app.get(
    "/v1/me/sessions",
    {
      schema: {
        tags,
        summary: "The caller's sessions (never their tokens)",
        response: {
          200: Type.Object({
            sessions: Type.Array(
              Type.Object({
                id: Type.String(),
                createdAt: Type.Number(),
                lastSeenAt: Type.Number(),
                expiresAt: Type.Number(),
                ip: Type.Union([Type.String(), Type.Null()]),
                agent: Type.Union([Type.String(), Type.Null()]),
              }),
            ),
            current: Type.Union([Type.String(), Type.Null()]),
          }),
        },
      },
    },
    async (request) => ({
      sessions: await gatehouse.sessions.list(requirePerson(request)),
      current: request.sessionId ?? null,
    }),
  );

  app.delete(
    "/v1/me/sessions/:id",
    {
      schema: {
        tags,
        summary: "End one of the caller's sessions",
        params: Type.Object({ id: Type.String({ maxLength: 100 }) }, strict),
        response: { 204: Type.Null() },
      },
    },
    async (request, reply) => {
      await gatehouse.sessions.revoke(requirePerson(request), request.params.id);
      if (request.params.id === request.sessionId) clearSessionCookies(reply, config);
      return reply.status(204).send(null);
    },
  );
};
