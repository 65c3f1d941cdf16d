import { randomBytes, scrypt, timingSafeEqual } from "node:crypto";
import { createRequire } from "node:module";
import { availableParallelism } from "node:os";
import { GatehouseError } from "@gatehouse/engine";
import type { ZxcvbnFactory } from "@zxcvbn-ts/core";
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
/** The lowest zxcvbn score a new password may have: 3 ("safely unguessable", ≥ 10^8 guesses). */
export const MIN_PASSWORD_SCORE = 3;

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

let strength: ZxcvbnFactory | undefined;

/** zxcvbn with the common-password and keyboard dictionaries, loaded on first use only. */
function strengthChecker(): ZxcvbnFactory {
  if (strength === undefined) {
    const require = createRequire(import.meta.url);
    const { ZxcvbnFactory: Factory } =
      require("@zxcvbn-ts/core") as typeof import("@zxcvbn-ts/core");
    const common =
      require("@zxcvbn-ts/language-common") as typeof import("@zxcvbn-ts/language-common");
    strength = new Factory({
      dictionary: { ...common.dictionary },
      graphs: common.adjacencyGraphs,
      maxLength: 128,
    });
  }
  return strength;
}

/**
 * Loads the strength checker's dictionaries now (a fraction of a second of CPU) rather than at the
 * first new password: a server calls it a few seconds after it listens (after the first requests,
 * before a sign-up flood would pay for it while sign-ins wait).
 */
export function preparePasswordChecks(): void {
  strengthChecker();
}

/**
 * Rejects passwords too short to resist guessing, and common or easily guessed ones (zxcvbn with
 * its common-password lists, counting the account's own email and name as guessable words).
 */
export function assertStrongPassword(
  password: unknown,
  userInputs: readonly string[] = [],
): asserts password is string {
  if (typeof password !== "string" || [...password].length < MIN_PASSWORD_LENGTH) {
    throw new GatehouseError(
      ErrorCode.WEAK_PASSWORD,
      `passwords have at least ${MIN_PASSWORD_LENGTH} characters`,
    );
  }
  if (strengthChecker().check(password, [...userInputs]).score < MIN_PASSWORD_SCORE) {
    throw new GatehouseError(
      ErrorCode.WEAK_PASSWORD,
      "this password is too common or too easy to guess; a few unrelated words work well",
    );
  }
}

/** The stored form: `scrypt$N$r$p$salt$key` (base64url parts). */
function encode(cost: ScryptCost, salt: Buffer, key: Buffer): string {
  return [
    "scrypt",
    cost.N,
    cost.r,
    cost.p,
    salt.toString("base64url"),
    key.toString("base64url"),
  ].join("$");
}

/**
 * Hashes a password as `scrypt$N$r$p$salt$key` (base64url parts), so the cost can rise later
 * without breaking stored hashes. Unbounded: workflows hash through {@link PasswordHasher}.
 */
export async function hashPassword(
  password: string,
  cost: ScryptCost = OWASP_SCRYPT,
): Promise<string> {
  const salt = randomBytes(16);
  return encode(cost, salt, await derive(password, salt, cost));
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

/**
 * Which queue a hash waits in: sign-ins (and TOTP enrolment) go before new passwords, so a flood
 * of sign-ups cannot keep members from signing in.
 */
export type HashPriority = "sign-in" | "new-password";

/** Limits of the {@link PasswordHasher}, given to `createGatehouse` as `passwordHashing`. */
export interface PasswordHashingOptions {
  /**
   * Hashes computed at once; the number of cores by default (each takes 128 MiB at OWASP cost).
   * New passwords (sign-ups) use at most all but one of them: one is always left to sign-ins.
   */
  readonly concurrency?: number;
  /** Hashes waiting, per priority; beyond it the request is refused with SIGN_IN_BUSY. 32 by default. */
  readonly queueLimit?: number;
}

/**
 * Runs scrypt with at most `concurrency` hashes at once and a bounded queue per priority, so
 * password hashing cannot take every core or unbounded memory. A full queue refuses at once
 * (SIGN_IN_BUSY, answered 503 with Retry-After) instead of growing.
 */
export class PasswordHasher {
  readonly cost: ScryptCost;
  readonly #concurrency: number;
  readonly #queueLimit: number;
  readonly #waiting: Record<HashPriority, (() => void)[]> = { "sign-in": [], "new-password": [] };
  #running = 0;
  #runningNew = 0;
  /** scrypt runs so far (hashes and checks), for tests and measurements. */
  runs = 0;
  /**
   * A hash of no password, with the current cost: checking against it costs what checking a real
   * hash costs, and never matches. Unknown accounts and accounts without a password use it.
   */
  readonly #dummy: string;

  constructor(cost: ScryptCost, options: PasswordHashingOptions = {}) {
    this.cost = cost;
    this.#concurrency = positive(options.concurrency ?? availableParallelism(), "concurrency");
    this.#queueLimit = positive(options.queueLimit ?? 32, "queueLimit");
    this.#dummy = encode(cost, randomBytes(16), randomBytes(KEY_LENGTH));
  }

  /** Hashes running now. */
  get active(): number {
    return this.#running;
  }

  /** Hashes waiting for a slot, of both priorities. */
  get waiting(): number {
    return this.#waiting["sign-in"].length + this.#waiting["new-password"].length;
  }

  /**
   * Hashes a new password (the lower priority). `before` (the strength check, the sign-up limits)
   * runs in the hash's slot, just before it, and may refuse: a flood of new passwords is then
   * checked one slot at a time, instead of every check at once on the event loop while sign-ins
   * wait.
   */
  hash(password: string, before?: () => void | Promise<void>): Promise<string> {
    return this.#run("new-password", async () => {
      await before?.();
      this.runs++;
      return hashPassword(password, this.cost);
    });
  }

  /**
   * Checks `password` against `stored`, or against the dummy hash when there is none — the same
   * work either way, and then always false.
   */
  verify(password: unknown, stored: string | null | undefined): Promise<boolean> {
    const candidate = typeof password === "string" ? password : "";
    return this.#run("sign-in", async () => {
      this.runs++;
      const valid = await verifyPassword(candidate, stored ?? this.#dummy);
      return valid && typeof stored === "string" && typeof password === "string";
    });
  }

  /** Whether a hash of `priority` may start now: new passwords leave one slot to sign-ins. */
  #canStart(priority: HashPriority): boolean {
    if (this.#running >= this.#concurrency) return false;
    return priority === "sign-in" || this.#runningNew < Math.max(1, this.#concurrency - 1);
  }

  #take(priority: HashPriority): void {
    this.#running++;
    if (priority === "new-password") this.#runningNew++;
  }

  #release(priority: HashPriority): void {
    this.#running--;
    if (priority === "new-password") this.#runningNew--;
  }

  async #run<T>(priority: HashPriority, work: () => Promise<T>): Promise<T> {
    if (this.#canStart(priority)) this.#take(priority);
    else {
      const queue = this.#waiting[priority];
      if (queue.length >= this.#queueLimit) {
        throw new GatehouseError(
          ErrorCode.SIGN_IN_BUSY,
          "too many sign-ins at once; try again in a moment",
          { details: { retryAfterMs: 1000 } },
        );
      }
      // Woken with its slot already taken (see #startWaiting).
      await new Promise<void>((resolve) => queue.push(resolve));
    }
    try {
      return await work();
    } finally {
      this.#release(priority);
      this.#startWaiting();
    }
  }

  /** Hands free slots to waiting hashes: sign-ins first. */
  #startWaiting(): void {
    for (const priority of ["sign-in", "new-password"] as const) {
      const queue = this.#waiting[priority];
      while (queue.length > 0 && this.#canStart(priority)) {
        this.#take(priority);
        queue.shift()!();
      }
    }
  }
}

function positive(value: number, what: string): number {
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new GatehouseError(ErrorCode.INVALID_INPUT, `passwordHashing.${what} is at least 1`);
  }
  return value;
}
