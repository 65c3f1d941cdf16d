import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import type { InvitationInfo } from "@gatehouse/service";
import { Type } from "@sinclair/typebox";
import { originOf, requireCaller, setSessionCookies } from "../http/caller.ts";
import {
  NextCursor,
  PageQuery,
  pageQueryOf,
  revisionHeader,
  withRevision,
} from "../http/schemas.ts";
import { invitationLink, invitationMail } from "../mail/invitation-mail.ts";
import type { RouteOptions } from "./route-options.ts";

const strict = { additionalProperties: false } as const;
const Id = Type.String({ minLength: 1, maxLength: 100 });
const Name = Type.String({ minLength: 1, maxLength: 300 });
const Status = Type.Union([
  Type.Literal("pending"),
  Type.Literal("accepted"),
  Type.Literal("revoked"),
  Type.Literal("expired"),
]);

const InvitationSchema = Type.Object({
  id: Type.String(),
  email: Type.String(),
  role: Type.Union([Type.String(), Type.Null()], {
    description: "The role given directly; null for an invitation into teams only",
  }),
  scopes: Type.Array(Type.String()),
  extras: Type.Array(Type.String()),
  groups: Type.Array(Type.Object({ id: Type.String(), name: Type.String() }), {
    description: "The teams (groups) the invitee joins on accepting",
  }),
  invitedBy: Type.String(),
  createdAt: Type.Number(),
  expiresAt: Type.Number(),
  status: Status,
  acceptedAt: Type.Union([Type.Number(), Type.Null()]),
  acceptedBy: Type.Union([Type.String(), Type.Null()]),
  revokedAt: Type.Union([Type.Number(), Type.Null()]),
});

const UserSchema = Type.Object({
  id: Type.String(),
  email: Type.String(),
  name: Type.String(),
  createdAt: Type.Number(),
});

function toBody(invitation: InvitationInfo) {
  return {
    ...invitation,
    scopes: [...invitation.scopes],
    extras: [...invitation.extras],
    groups: invitation.groups.map((group) => ({ ...group })),
  };
}

/**
 * Invitations: managers invite by email with a role and scopes; the link is mailed and
 * never returned by the API. Accepting creates the account (and signs it in) or joins as the
 * signed-in person.
 */
export const invitationRoutes: FastifyPluginAsyncTypebox<RouteOptions> = async (
  app,
  { gatehouse, config },
) => {
  const tags = ["invitations"];
  const WorkspaceParams = Type.Object({ ws: Id }, strict);

  app.post(
    "/v1/workspaces/:ws/invitations",
    {
      schema: {
        tags,
        summary:
          "Invite someone by email with a role (and scopes) or into teams; the link is mailed",
        description:
          "With a role (at `scopes`, the workspace root by default), into teams (`groups`: the person joins them on accepting), or both; the caller must be able to give each grant and to manage each team (give every grant it holds; a team holding nothing needs people management at the root). 404 NOT_FOUND for a team that does not exist. Valid 7 days. Pending invitations count against the plan's member limit (409 MEMBER_LIMIT_REACHED) and hold no permissions. An email with a pending invitation is refused (409 INVITATION_PENDING) unless `replace: true` revokes that invitation for this one. The token is only ever in the mail (or, without SMTP, the server log and development outbox).",
        params: WorkspaceParams,
        body: Type.Object(
          {
            email: Type.String({ minLength: 3, maxLength: 254 }),
            role: Type.Optional(
              Type.String({
                minLength: 1,
                maxLength: 100,
                description: "May be left out when `groups` names a team",
              }),
            ),
            scopes: Type.Optional(Type.Array(Name, { minItems: 1, maxItems: 100 })),
            extras: Type.Optional(Type.Array(Name, { maxItems: 200 })),
            groups: Type.Optional(
              Type.Array(Id, {
                maxItems: 100,
                description: "Teams (group ids) the invitee joins on accepting",
              }),
            ),
            replace: Type.Optional(
              Type.Boolean({
                description:
                  "Revoke a pending invitation to the same email for this one; without it, 409 INVITATION_PENDING",
              }),
            ),
          },
          strict,
        ),
        response: {
          201: Type.Object(
            {
              invitation: InvitationSchema,
              mailed: Type.Boolean({
                description:
                  "False when the mail could not be sent (logged); inviting again with `replace: true` replaces the invitation",
              }),
              revision: Type.Integer(),
            },
            revisionHeader,
          ),
        },
      },
    },
    async (request, reply) => {
      const caller = requireCaller(request);
      const { invitation, token, revision } = await gatehouse.invitations.create(
        caller,
        request.params.ws,
        request.body,
      );
      // The invitation exists now: a failed lookup or mail is reported as `mailed: false`, not a 500.
      let mailed = true;
      try {
        await app.mailer.send(
          await invitationMail(gatehouse, {
            caller,
            workspaceId: request.params.ws,
            invitation,
            link: invitationLink(config, token),
          }),
        );
      } catch (error) {
        mailed = false;
        request.log.error({ err: error, invitation: invitation.id }, "invitation mail not sent");
      }
      return withRevision(reply, revision)
        .status(201)
        .send({ invitation: toBody(invitation), mailed, revision });
    },
  );

  app.get(
    "/v1/workspaces/:ws/invitations",
    {
      schema: {
        tags,
        summary:
          "The workspace's invitations, newest first (all for the team's viewers; a sub-tree admin's part)",
        description:
          "Those who may see the team see every invitation. A sub-tree admin (holding people management below the root, e.g. a Customer Admin) sees those whose every grant lies at or below a resource where they hold it and whose every team they manage; anyone else 403. `resource` keeps those giving access at or below it (a grant there or below, or a team's grant there or below); 404 for a resource out of the caller's reach, as for a missing one. `q` keeps those whose email contains it, ignoring case; `limit` (1–500) pages, and " +
          "`next` goes back as `after`. Without `limit`, every invitation and `next` null.",
        params: WorkspaceParams,
        querystring: Type.Object(
          {
            status: Type.Optional(Status),
            resource: Type.Optional(
              Type.String({
                minLength: 1,
                maxLength: 300,
                description: "Only those giving access at or below this resource",
              }),
            ),
            ...PageQuery,
          },
          strict,
        ),
        response: {
          200: Type.Object({ invitations: Type.Array(InvitationSchema), next: NextCursor }),
        },
      },
    },
    async (request) => {
      const { status, resource, ...page } = request.query;
      const { invitations, next } = await gatehouse.invitations.listPage(
        requireCaller(request),
        request.params.ws,
        {
          ...(status === undefined ? {} : { status }),
          ...(resource === undefined ? {} : { resource }),
          ...pageQueryOf(page),
        },
      );
      return { invitations: invitations.map(toBody), next };
    },
  );

  app.delete(
    "/v1/workspaces/:ws/invitations/:id",
    {
      schema: {
        tags,
        summary: "Revoke an invitation; its link stops working at once",
        description:
          "Needs what sending it needed. Revoking a revoked invitation changes nothing; an accepted one answers 409 INVITATION_ALREADY_USED.",
        params: Type.Object({ ws: Id, id: Id }, strict),
        response: {
          200: Type.Object(
            { invitation: InvitationSchema, revision: Type.Integer() },
            revisionHeader,
          ),
        },
      },
    },
    async (request, reply) => {
      const { invitation, revision } = await gatehouse.invitations.revoke(
        requireCaller(request),
        request.params.ws,
        request.params.id,
      );
      return withRevision(reply, revision).send({ invitation: toBody(invitation), revision });
    },
  );

  app.post(
    "/v1/invitations/accept",
    {
      schema: {
        tags,
        summary: "Accept an invitation with the token from its link",
        description:
          "Signed in: joins as the caller, whose email must be the invited one (403 INVITATION_EMAIL_MISMATCH). Anonymous with a password: creates the account for the invited email and signs it in (session cookie), unless a second factor is needed — then `session` is null and the client signs in as usual. Anonymous without a password: 401; an existing account signs in first (409 EMAIL_TAKEN otherwise). 404 unknown, 409 used or revoked, 410 expired.",
        security: [],
        body: Type.Object(
          {
            token: Type.String({ minLength: 1, maxLength: 200 }),
            password: Type.Optional(Type.String({ minLength: 1, maxLength: 1024 })),
            name: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
          },
          strict,
        ),
        response: {
          200: Type.Object(
            {
              user: UserSchema,
              workspaceId: Type.String(),
              createdAccount: Type.Boolean(),
              session: Type.Union(
                [Type.Object({ sessionId: Type.String(), expiresAt: Type.Number() }), Type.Null()],
                {
                  description: "The session started for a new account; null when none was started",
                },
              ),
              revision: Type.Integer(),
            },
            revisionHeader,
          ),
        },
      },
    },
    async (request, reply) => {
      const { session, signInRefusal, ...accepted } = await gatehouse.invitations.acceptAndSignIn({
        ...request.body,
        caller: request.caller,
        origin: originOf(request),
      });
      if (signInRefusal !== undefined)
        request.log.info({ code: signInRefusal }, "invited account created but not signed in");
      withRevision(reply, accepted.revision);
      if (session === undefined) return reply.send({ ...accepted, session: null });
      setSessionCookies(reply, config, session.token, session.expiresAt);
      return reply.send({
        ...accepted,
        session: { sessionId: session.sessionId, expiresAt: session.expiresAt },
      });
    },
  );
};
