import * as client from "openid-client";
import type { OidcConfig } from "../config.ts";

/** What one sign-in at the provider must come back with: kept in a cookie between the two legs. */
export interface OidcFlow {
  readonly state: string;
  readonly nonce: string;
  readonly verifier: string;
}

/** How long discovery and each request to the provider may take. */
const PROVIDER_TIMEOUT_SECONDS = 10;

/**
 * Gatehouse as an OpenID Connect relying party (openid-client): the authorization code flow with
 * PKCE, state and nonce. The provider's discovery document is read on first use and kept; a
 * failed read is retried on the next sign-in, so the server starts while the provider is down.
 */
export class OidcClient {
  readonly #config: OidcConfig;
  #discovered: Promise<client.Configuration> | undefined;

  constructor(config: OidcConfig) {
    this.#config = config;
  }

  /** The provider's configuration, discovered once; a failure is forgotten, to retry next time. */
  #configuration(): Promise<client.Configuration> {
    const oidc = this.#config;
    this.#discovered ??= client
      .discovery(
        new URL(oidc.issuer),
        oidc.clientId,
        undefined,
        oidc.clientSecret === undefined
          ? client.None()
          : client.ClientSecretPost(oidc.clientSecret),
        {
          timeout: PROVIDER_TIMEOUT_SECONDS,
          // The ID token's signature is checked against the provider's keys too, not only TLS.
          execute: oidc.allowHttp
            ? [client.enableNonRepudiationChecks, client.allowInsecureRequests]
            : [client.enableNonRepudiationChecks],
        },
      )
      .catch((error: unknown) => {
        this.#discovered = undefined;
        throw error;
      });
    return this.#discovered;
  }

  /**
   * Where to send the browser to sign in at the provider, and the flow to keep until it returns.
   * @example
   * const { url, flow } = await oidcClient.begin();
   */
  async begin(): Promise<{ url: URL; flow: OidcFlow }> {
    const configuration = await this.#configuration();
    const flow: OidcFlow = {
      state: client.randomState(),
      nonce: client.randomNonce(),
      verifier: client.randomPKCECodeVerifier(),
    };
    const url = client.buildAuthorizationUrl(configuration, {
      redirect_uri: this.#config.redirectUrl,
      scope: this.#config.scopes,
      response_type: "code",
      code_challenge: await client.calculatePKCECodeChallenge(flow.verifier),
      code_challenge_method: "S256",
      state: flow.state,
      nonce: flow.nonce,
    });
    return { url, flow };
  }

  /**
   * Spends the code the provider sent back (its query string, as received at the callback),
   * verifies the ID token (signature, issuer, audience, expiry, nonce) and answers the host user
   * id it names (the `OIDC_SUBJECT_CLAIM`, from the ID token or else from userinfo). Throws on
   * anything amiss, including an error the provider sent back.
   * @example
   * const subject = await oidcClient.finish(request.url.split("?")[1] ?? "", flow);
   */
  async finish(query: string, flow: OidcFlow): Promise<string> {
    const configuration = await this.#configuration();
    const callback = new URL(this.#config.redirectUrl);
    callback.search = query;
    const tokens = await client.authorizationCodeGrant(configuration, callback, {
      pkceCodeVerifier: flow.verifier,
      expectedState: flow.state,
      expectedNonce: flow.nonce,
      idTokenExpected: true,
    });
    const claims = tokens.claims();
    if (claims === undefined) throw new Error("the provider sent no ID token");
    const claim = this.#config.subjectClaim;
    let value: unknown = claims[claim];
    if (value === undefined && claim !== "sub") {
      const info = await client.fetchUserInfo(configuration, tokens.access_token, claims.sub);
      value = info[claim];
    }
    if (typeof value === "number" && Number.isSafeInteger(value)) value = String(value);
    if (typeof value !== "string" || value === "")
      throw new Error(`the provider's answer has no ${claim} claim (OIDC_SUBJECT_CLAIM)`);
    return value;
  }
}
