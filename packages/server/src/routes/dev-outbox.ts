import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { Type } from "@sinclair/typebox";
import { problem, sendProblem } from "../http/problem.ts";
import type { RouteOptions } from "./route-options.ts";

/** Loopback addresses, as Fastify reports the socket's peer (no proxy is trusted). */
function isLoopback(ip: string): boolean {
  return ip === "::1" || ip.startsWith("127.") || ip.startsWith("::ffff:127.");
}

/**
 * Whether this configuration has a development outbox: no SMTP server (mail is kept in memory and
 * logged) and the demo/development mode on. Production sets SMTP_URL or DEMO=false.
 */
function hasDevOutbox(config: RouteOptions["config"]): boolean {
  return config.smtpUrl === undefined && config.demo;
}

/**
 * The development outbox: the mail the server would have sent — invitations and sign-in links —
 * so they can be followed locally. It exists only in development (see `hasDevOutbox`) and answers
 * only requests from this machine (loopback); everyone else gets the 404 of a route that does not
 * exist, because these mails carry sign-in and invitation tokens.
 */
export const devOutboxRoutes: FastifyPluginAsyncTypebox<RouteOptions> = async (app, { config }) => {
  const outbox = app.mailer.outbox;
  if (!hasDevOutbox(config) || outbox === undefined) return;
  app.get(
    "/v1/dev/outbox",
    {
      schema: {
        tags: ["development"],
        summary: "The development outbox: mail kept instead of sent (no SMTP_URL, DEMO=true)",
        description:
          "Only in development and only from loopback addresses; newest first, at most 200. Carries invitation and sign-in links.",
        response: {
          200: Type.Object({
            mails: Type.Array(
              Type.Object({
                to: Type.String(),
                subject: Type.String(),
                text: Type.String(),
                at: Type.Number(),
              }),
            ),
          }),
        },
      },
    },
    async (request, reply) => {
      if (!isLoopback(request.ip)) {
        return sendProblem(
          reply,
          problem(404, "NOT_FOUND", `no route GET ${request.url.split("?")[0]}`),
        );
      }
      return { mails: [...outbox].reverse() };
    },
  );
};
