// The panel's own database: a JSON file (users with scrypt password hashes, servers, customers,
// subscriptions, domains). Gatehouse never sees it; it only learns the users and the tree.
import { randomBytes, scrypt, timingSafeEqual } from "node:crypto";
import { existsSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { promisify } from "node:util";

const scryptAsync = promisify(scrypt);
const KEY_LENGTH = 32;

/** Hashes a password as `scrypt$<salt>$<hash>` (base64url). */
async function hashPassword(password) {
  const salt = randomBytes(16);
  const hash = /** @type {Buffer} */ (await scryptAsync(password, salt, KEY_LENGTH));
  return `scrypt$${salt.toString("base64url")}$${hash.toString("base64url")}`;
}

/** Compares in constant time; a missing hash still costs one scrypt (same work for unknown emails). */
async function verifyPassword(password, stored) {
  const [, salt, expected] = (stored ?? `scrypt$${"A".repeat(22)}$${"A".repeat(43)}`).split("$");
  const actual = /** @type {Buffer} */ (
    await scryptAsync(password, Buffer.from(salt ?? "", "base64url"), KEY_LENGTH)
  );
  const wanted = Buffer.from(expected ?? "", "base64url");
  return stored !== undefined && wanted.length === actual.length && timingSafeEqual(wanted, actual);
}

/**
 * @typedef {{ id: string, email: string, name: string, passwordHash: string }} User
 * @typedef {{ id: string, location: string }} Server
 * @typedef {{ id: string, name: string, contact: string }} Customer
 * @typedef {{ id: string, customer: string, plan: string, server: string }} Subscription
 * @typedef {{ name: string, subscription: string, records: string[] }} Domain
 * @typedef {{
 *   reseller: { name: string, owner: string },
 *   users: User[], servers: Server[], customers: Customer[], subscriptions: Subscription[],
 *   domains: Domain[], workspaceId?: string
 * }} PanelData
 */

/** Opens the panel's database file, creating it from the seed (passwords hashed) on first use. */
export async function openStore(file, seedFile) {
  if (!existsSync(file)) {
    const seed = JSON.parse(readFileSync(seedFile, "utf8"));
    const users = [];
    for (const { password, ...user } of seed.users)
      users.push({ ...user, passwordHash: await hashPassword(password) });
    writeJson(file, { ...seed, users });
  }
  /** @type {PanelData} */
  const data = JSON.parse(readFileSync(file, "utf8"));
  return {
    data,
    /** Writes the data back (atomically: a temporary file renamed over the old one). */
    save: () => writeJson(file, data),
    /** The user with this email and password, or undefined — the same work either way. */
    async authenticate(email, password) {
      const user = data.users.find((candidate) => candidate.email === email);
      const matches = await verifyPassword(password, user?.passwordHash);
      return matches ? user : undefined;
    },
  };
}

function writeJson(file, value) {
  writeFileSync(`${file}.tmp`, `${JSON.stringify(value, null, 2)}\n`, { mode: 0o600 });
  renameSync(`${file}.tmp`, file);
}
