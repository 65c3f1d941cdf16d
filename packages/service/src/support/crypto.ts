import { hash, randomBytes, timingSafeEqual } from "node:crypto";

/** A URL-safe random secret of `bytes` bytes (32 by default: 256 bits). */
export function randomSecret(bytes = 32): string {
  return randomBytes(bytes).toString("base64url");
}

/** An opaque identifier: `prefix_` and 128 random bits. */
export function newId(prefix: string): string {
  return `${prefix}_${randomBytes(16).toString("base64url")}`;
}

/** Secrets are stored as their SHA-256: they are high-entropy, so no salt or stretching is needed. */
export function hashSecret(secret: string): string {
  return hash("sha256", secret, "hex");
}

/** Constant-time comparison of two hex digests. */
export function isSameDigest(a: string, b: string): boolean {
  const left = Buffer.from(a, "hex");
  const right = Buffer.from(b, "hex");
  return left.length === right.length && left.length > 0 && timingSafeEqual(left, right);
}
