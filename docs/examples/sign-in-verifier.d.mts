// Types of sign-in-verifier.mjs, for TypeScript admin apps and Gatehouse's own tests.
import type { JWTVerifyGetKey, RemoteJWKSetOptions } from "jose";

export declare const SIGN_IN_TYPE: "gatehouse-sign-in+jwt";

/** `expired`, `wrong_audience`, `another_site`, `replayed`, `unknown_key`, `bad_signature`, `bad_<claim>`, `invalid`, `unavailable`. */
export declare class SignInRefused extends Error {
  readonly reason: string;
  constructor(reason: string, message: string);
}

/** Who signed in, from a verified assertion. */
export interface SignedInMember {
  readonly userId: string;
  readonly email: string;
  readonly name: string;
  readonly role: string | null;
  readonly site: string;
  readonly workspace: string;
  readonly permissions: readonly string[];
}

export interface VerifierOptions {
  readonly issuer: string;
  readonly audience: string;
  readonly site: string;
  readonly jwksUrl?: string;
  readonly jwks?: JWTVerifyGetKey;
  readonly now?: () => number;
  readonly jwksOptions?: RemoteJWKSetOptions;
}

export declare function createSignInVerifier(
  options: VerifierOptions,
): (assertion: string) => Promise<SignedInMember>;

export interface AdminAppOptions {
  readonly issuer: string;
  readonly site: string;
  readonly jwksUrl?: string;
  readonly now?: () => number;
  readonly jwksOptions?: RemoteJWKSetOptions;
  readonly host?: string;
  readonly port?: number;
  readonly path?: string;
  readonly publicUrl?: string;
}

export declare function startAdminApp(
  options: AdminAppOptions,
): Promise<{ readonly url: string; close(): Promise<void> }>;
