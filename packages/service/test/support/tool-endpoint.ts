import { createServer, type IncomingHttpHeaders, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

/** One request a tool endpoint received. */
export interface ReceivedCall {
  readonly method: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

/** How the endpoint answers: a status and JSON body, or never (to test timeouts). */
export type EndpointAnswer = { status: number; json: unknown } | "never";

/**
 * A real HTTP tool endpoint on loopback (port 0) that records every call and answers with
 * `answer` — the host app's side of a forwarded assistant call.
 */
export async function startToolEndpoint(
  answer: (call: ReceivedCall) => EndpointAnswer = () => ({ status: 200, json: { ok: true } }),
): Promise<{ url: string; calls: ReceivedCall[]; close(): Promise<void> }> {
  const calls: ReceivedCall[] = [];
  const hanging = new Set<ServerResponse>();
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", () => {
      const call = {
        method: request.method ?? "",
        headers: request.headers,
        body: Buffer.concat(chunks).toString("utf8"),
      };
      calls.push(call);
      const reply = answer(call);
      if (reply === "never") {
        hanging.add(response);
        return;
      }
      response.writeHead(reply.status, { "content-type": "application/json" });
      response.end(JSON.stringify(reply.json));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/tools/call`,
    calls,
    async close() {
      for (const response of hanging) response.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
