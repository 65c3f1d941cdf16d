import { randomBytes, scrypt, timingSafeEqual } from "node:crypto";
import { GatehouseError } from "@gatehouse/engine";
import { ErrorCode } from "./error-codes.ts";

/** scrypt cost parameters. The default is OWASP's recommendation: N=2^17, r=8, p=1. */
export interface ScryptCost {
  readonly N: number;
  readonly r: number;
  readonly p: number;
}

export const OWASP_SCRYPT: ScryptCost = Object.freeze({ N: 2 ** 17, r: 8, p: 1 });
const KEY_LENGTH = 32;
export const MIN_PASSWORD_LENGTH = 10;

function derive(password: string, salt: Buffer, cost: ScryptCost): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scrypt(
      password,
      salt,
      KEY_LENGTH,
      { ...cost, maxmem: 256 * cost.N * cost.r + 1024 * 1024 },
      (error, key) => (error ? reject(error) : resolve(key)),
    );
  });
}

/** Rejects passwords too short to resist guessing. */
export function assertStrongPassword(password: unknown): asserts password is string {
  if (typeof password !== "string" || [...password].length < MIN_PASSWORD_LENGTH) {
    throw new GatehouseError(
      ErrorCode.WEAK_PASSWORD,
      `passwords have at least ${MIN_PASSWORD_LENGTH} characters`,
    );
  }
}

/**
 * Hashes a password as `scrypt$N$r$p$salt$key` (base64url parts), so the cost can rise later
 * without breaking stored hashes.
 */
export async function hashPassword(
  password: string,
  cost: ScryptCost = OWASP_SCRYPT,
): Promise<string> {
  const salt = randomBytes(16);
  const key = await derive(password, salt, cost);
  return [
    "scrypt",
    cost.N,
    cost.r,
    cost.p,
    salt.toString("base64url"),
    key.toString("base64url"),
  ].join("$");
}

/** Checks a password against a stored hash in constant time. */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const [scheme, N, r, p, salt, key] = stored.split("$");
  if (scheme !== "scrypt" || salt === undefined || key === undefined) return false;
  const expected = Buffer.from(key, "base64url");
  const actual = await derive(password, Buffer.from(salt, "base64url"), {
    N: Number(N),
    r: Number(r),
    p: Number(p),
  });
  return actual.length === expected.length && timingSafeEqual(actual, expected);
}
