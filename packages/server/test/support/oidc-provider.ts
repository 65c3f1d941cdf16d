import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import Provider from "oidc-provider";

export const OIDC_CLIENT_ID = "gatehouse-console";
export const OIDC_CLIENT_SECRET = "a-test-client-secret-of-enough-length-0123456789";

export interface TestProvider {
  /** `http://127.0.0.1:<port>`: the issuer, serving its discovery document. */
  readonly issuer: string;
  /** While false, every request is answered 503, as by a provider that is down. */
  available: boolean;
  close(): Promise<void>;
}

/**
 * A real OpenID provider (the `oidc-provider` library) on a loopback port, with one confidential
 * client for Gatehouse whose callback is `redirectUrl()` (read at the first request, so the
 * server may learn its port later), and its development login and consent pages: whatever login
 * name is typed becomes the ID token's `sub`, and `acme-<login>` the `panel_user_id` claim.
 */
export async function startTestProvider(redirectUrl: () => string): Promise<TestProvider> {
  let handle: ((request: IncomingMessage, response: ServerResponse) => void) | undefined;
  const server = createServer((request, response) => {
    if (!test.available) {
      response.writeHead(503).end();
      return;
    }
    handle ??= providerAt(issuer, redirectUrl()).callback();
    handle(request, response);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const test: TestProvider = {
    issuer,
    available: true,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((error) => (error === undefined ? resolve() : reject(error)));
      }),
  };
  return test;
}

function providerAt(issuer: string, redirectUrl: string): Provider {
  return new Provider(issuer, {
    clients: [
      {
        client_id: OIDC_CLIENT_ID,
        client_secret: OIDC_CLIENT_SECRET,
        redirect_uris: [redirectUrl],
        token_endpoint_auth_method: "client_secret_post",
        grant_types: ["authorization_code"],
        response_types: ["code"],
      },
    ],
    findAccount: (_context: unknown, accountId: string) => ({
      accountId,
      claims: () => ({ sub: accountId, panel_user_id: `acme-${accountId}` }),
    }),
    // A panel's own id for the user, under the `panel` scope: in userinfo, not in the ID token.
    claims: { openid: ["sub"], panel: ["panel_user_id"] },
    ttl: { Interaction: 600, Session: 600, Grant: 600, AccessToken: 600, IdToken: 600 },
    cookies: { keys: ["a test cookie signing key, not a secret anywhere else"] },
    features: { devInteractions: { enabled: true } },
  });
}
