/**
 * The Fastify floor: a bare Fastify route with the server's own schemas for one decision (params,
 * body and answer, Ajv options as the server's) that answers a constant allowed decision — no
 * authentication, no logging, no engine. Run as its own process by the HTTP benchmark:
 * `PORT=… node --conditions=@gatehouse/source --import tsx bench/lib/fastify-server.ts`.
 */
import Fastify from "fastify";
import {
  DecisionSchema,
  FreshQuestion,
  Params,
} from "../../packages/server/src/http/decision-schemas.ts";

const port = Number(process.env["PORT"]);
if (!Number.isInteger(port) || port <= 0) throw new Error("PORT is required");

const ANSWER = {
  allowed: true,
  via: {
    subject: "user:u0000001",
    role: "admin",
    scope: "workspace:ws",
    extras: [],
    expiresAt: null,
  },
};

const app = Fastify({
  logger: false,
  bodyLimit: 256 * 1024,
  ajv: { customOptions: { removeAdditional: false, coerceTypes: false, allErrors: true } },
});
app.post(
  "/v1/workspaces/:ws/decision",
  { schema: { params: Params, body: FreshQuestion, response: { 200: DecisionSchema } } },
  async () => ANSWER,
);
app.server.keepAliveTimeout = 72_000;
await app.listen({ port, host: "127.0.0.1" });
process.once("SIGTERM", () => {
  void app.close().then(() => process.exit(0));
});
