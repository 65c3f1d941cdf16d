/**
 * The HTTP floor: a bare node:http server that reads the request body and answers a constant
 * decision. Run as its own process by the HTTP benchmark: `PORT=… node --conditions=@gatehouse/source --import tsx bench/lib/floor-server.ts`.
 */
import { createServer } from "node:http";

const BODY = Buffer.from('{"allowed":true}');
const port = Number(process.env["PORT"]);
if (!Number.isInteger(port) || port <= 0) throw new Error("PORT is required");

const server = createServer((request, response) => {
  request.on("data", () => undefined);
  request.on("end", () => {
    response.writeHead(200, { "content-type": "application/json", "content-length": BODY.length });
    response.end(BODY);
  });
});
server.keepAliveTimeout = 72_000;
server.listen(port, "127.0.0.1");
process.once("SIGTERM", () => server.close(() => process.exit(0)));
