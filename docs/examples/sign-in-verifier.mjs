// A site's admin app receiving Gatehouse sign-in links: plain Node.js ESM with jose.
//
//   GATEHOUSE_ISSUER=https://gatehouse.example SITE=site:shop PUBLIC_URL=https://shop.example \
//     node docs/examples/sign-in-verifier.mjs
//
// The browser arrives with a form POST carrying `assertion`, a JWT that Gatehouse signed for
// this app alone. The app verifies it against Gatehouse's published keys, refuses it when it is
// expired, meant for another app or another site, or seen before, and starts its own session.
import { randomBytes } from "node:crypto";
import { createServer } from "node:http";
import { pathToFileURL } from "node:url";
import { createRemoteJWKSet, errors, jwtVerify } from "jose";

/** The `typ` of a sign-in assertion: a Gatehouse tool-call assertion is never taken for one. */
export const SIGN_IN_TYPE = "gatehouse-sign-in+jwt";
/** Gatehouse signs assertions valid 60 seconds; an older `iat` is refused whatever `exp` says. */
const MAX_AGE = "60s";
const MAX_BODY_BYTES = 16 * 1024;

/** Why an assertion was refused: a stable `reason` and a message. */
export class SignInRefused extends Error {
  /**
   * @param {string} reason
   * @param {string} message
   */
  constructor(reason, message) {
    super(message);
    this.name = "SignInRefused";
    this.reason = reason;
  }
}

/** @param {unknown} error */
function refusalOf(error) {
  if (error instanceof SignInRefused) return error;
  if (error instanceof errors.JWTExpired) return new SignInRefused("expired", error.message);
  if (error instanceof errors.JWTClaimValidationFailed) {
    const reason = error.claim === "aud" ? "wrong_audience" : `bad_${error.claim}`;
    return new SignInRefused(reason, error.message);
  }
  if (error instanceof errors.JWKSNoMatchingKey)
    return new SignInRefused("unknown_key", error.message);
  if (error instanceof errors.JWSSignatureVerificationFailed)
    return new SignInRefused("bad_signature", error.message);
  if (error instanceof errors.JOSEError) return new SignInRefused("invalid", error.message);
  // Anything else (Gatehouse unreachable, say) refuses too: fail closed.
  return new SignInRefused("unavailable", "the assertion could not be checked now");
}

/**
 * A verifier of sign-in assertions for one site's admin app.
 *
 * - `issuer`: Gatehouse's public URL; its keys are at `${issuer}/.well-known/jwks.json`
 *   (or `jwksUrl`), fetched and cached by jose, refetched for a key id it does not know yet.
 * - `audience`: this app's own sign-in URL, exactly as registered in Gatehouse for the site.
 * - `site`: the resource this app is the admin of (`site:shop`); an assertion for another site
 *   sharing this sign-in URL is refused.
 *
 * Single use: each assertion's `jti` is kept until the assertion expires, and a second use is
 * refused. Several instances of an admin app must share that memory (a table, Redis, …).
 *
 * @param {{ issuer: string, audience: string, site: string, jwksUrl?: string,
 *   jwks?: import("jose").JWTVerifyGetKey, now?: () => number,
 *   jwksOptions?: import("jose").RemoteJWKSetOptions }} options
 */
export function createSignInVerifier(options) {
  const { issuer, audience, site } = options;
  if (!issuer || !audience || !site) throw new TypeError("issuer, audience and site are required");
  const keys =
    options.jwks ??
    createRemoteJWKSet(
      new URL(options.jwksUrl ?? `${issuer.replace(/\/+$/, "")}/.well-known/jwks.json`),
      options.jwksOptions,
    );
  const now = options.now ?? Date.now;
  /** @type {Map<string, number>} jti → expiry (seconds) */
  const seen = new Map();

  /** @param {string} assertion */
  return async function verify(assertion) {
    const currentDate = new Date(now());
    let payload;
    try {
      ({ payload } = await jwtVerify(assertion, keys, {
        issuer,
        audience,
        algorithms: ["ES256"],
        typ: SIGN_IN_TYPE,
        currentDate,
        maxTokenAge: MAX_AGE,
        requiredClaims: ["sub", "jti", "iat", "exp", "site"],
      }));
    } catch (error) {
      throw refusalOf(error);
    }
    if (payload.site !== site)
      throw new SignInRefused("another_site", `this link is for ${payload.site}, not ${site}`);
    const nowSeconds = Math.floor(currentDate.getTime() / 1000);
    for (const [jti, expires] of seen) if (expires < nowSeconds) seen.delete(jti);
    const jti = String(payload.jti);
    if (seen.has(jti)) throw new SignInRefused("replayed", "this sign-in link was already used");
    seen.set(jti, Number(payload.exp));
    return {
      userId: String(payload.sub),
      email: String(payload["email"]),
      name: String(payload["name"] ?? ""),
      role: payload["role"] === null ? null : String(payload["role"]),
      site: String(payload.site),
      workspace: String(payload["workspace"]),
      permissions: Array.isArray(payload["permissions"]) ? payload["permissions"].map(String) : [],
    };
  };
}

/** @param {import("node:http").IncomingMessage} request */
async function readForm(request) {
  const chunks = [];
  let size = 0;
  for await (const chunk of request) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw new SignInRefused("invalid", "the request is too large");
    chunks.push(chunk);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString("utf8"));
}

/**
 * A tiny admin app for one site: `POST {path}` takes the form field `assertion`, verifies it and
 * answers 303 to `/admin/` with a session cookie; `GET /admin/` shows who is signed in. A refused
 * assertion answers 401 with its reason.
 *
 * @param {{ issuer: string, site: string, jwksUrl?: string, now?: () => number,
 *   jwksOptions?: import("jose").RemoteJWKSetOptions, host?: string, port?: number,
 *   path?: string, publicUrl?: string }} options
 * @returns {Promise<{ url: string, close: () => Promise<void> }>}
 */
export async function startAdminApp(options) {
  const host = options.host ?? "127.0.0.1";
  const path = options.path ?? "/gatehouse/sign-in";
  /** @type {Map<string, Awaited<ReturnType<ReturnType<typeof createSignInVerifier>>>>} */
  const sessions = new Map();
  /** @type {ReturnType<typeof createSignInVerifier> | undefined} */
  let verify;
  const server = createServer(async (request, response) => {
    const url = new URL(request.url ?? "/", "http://admin.invalid");
    if (request.method === "POST" && url.pathname === path && verify !== undefined) {
      try {
        const assertion = (await readForm(request)).get("assertion") ?? "";
        const member = await verify(assertion);
        const session = randomBytes(32).toString("base64url");
        sessions.set(session, member);
        response.writeHead(303, {
          location: "/admin/",
          "set-cookie": `admin_session=${session}; HttpOnly; SameSite=Lax; Path=/`,
        });
        response.end();
      } catch (error) {
        const refusal = refusalOf(error);
        response.writeHead(401, { "content-type": "application/json" });
        response.end(JSON.stringify({ refused: refusal.reason, message: refusal.message }));
      }
      return;
    }
    if (request.method === "GET" && url.pathname === "/admin/") {
      const cookie = /(?:^|;\s*)admin_session=([^;]+)/.exec(request.headers.cookie ?? "");
      const member = cookie === null ? undefined : sessions.get(cookie[1] ?? "");
      response.writeHead(member === undefined ? 401 : 200, { "content-type": "application/json" });
      response.end(
        JSON.stringify(member === undefined ? { signedIn: false } : { signedIn: true, ...member }),
      );
      return;
    }
    response.writeHead(404, { "content-type": "application/json" });
    response.end(JSON.stringify({ error: "not found" }));
  });
  await new Promise((resolve) => server.listen(options.port ?? 0, host, () => resolve(undefined)));
  const address = server.address();
  const port = typeof address === "object" && address !== null ? address.port : options.port;
  const base = (options.publicUrl ?? `http://${host}:${port}`).replace(/\/+$/, "");
  const audience = `${base}${path}`;
  verify = createSignInVerifier({
    issuer: options.issuer,
    audience,
    site: options.site,
    ...(options.jwksUrl === undefined ? {} : { jwksUrl: options.jwksUrl }),
    ...(options.now === undefined ? {} : { now: options.now }),
    ...(options.jwksOptions === undefined ? {} : { jwksOptions: options.jwksOptions }),
  });
  return {
    url: audience,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

// Run directly: an admin app for one site, configured from the environment.
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { GATEHOUSE_ISSUER, GATEHOUSE_JWKS_URL, SITE, PORT, PUBLIC_URL } = process.env;
  if (!GATEHOUSE_ISSUER || !SITE) {
    console.error("set GATEHOUSE_ISSUER (Gatehouse's public URL) and SITE (e.g. site:shop)");
    process.exit(2);
  }
  const app = await startAdminApp({
    issuer: GATEHOUSE_ISSUER,
    site: SITE,
    port: Number(PORT ?? 0),
    ...(GATEHOUSE_JWKS_URL ? { jwksUrl: GATEHOUSE_JWKS_URL } : {}),
    ...(PUBLIC_URL ? { publicUrl: PUBLIC_URL } : {}),
  });
  console.log(JSON.stringify({ signInUrl: app.url }));
}
