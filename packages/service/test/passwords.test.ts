import { describe, expect, it } from "vitest";
import { assertStrongPassword, PasswordHasher } from "../src/support/passwords.ts";
import { codeOf, TEST_PASSWORD_COST } from "./backends.ts";

describe("password hashing", () => {
  it("runs at most `concurrency` hashes at once, keeps one slot for sign-ins, and queues the rest", async () => {
    const hasher = new PasswordHasher(TEST_PASSWORD_COST, { concurrency: 3, queueLimit: 10 });
    const stored = await hasher.hash("correct horse battery staple");
    const hashes = Array.from({ length: 6 }, (_, index) => hasher.hash(`password number ${index}`));
    expect({ active: hasher.active, waiting: hasher.waiting }).toEqual({ active: 2, waiting: 4 });
    // A sign-in starts at once in the slot new passwords leave free.
    const signIn = hasher.verify("correct horse battery staple", stored);
    expect({ active: hasher.active, waiting: hasher.waiting }).toEqual({ active: 3, waiting: 4 });
    expect(await signIn).toBe(true);
    await Promise.all(hashes);
    expect({ active: hasher.active, waiting: hasher.waiting, runs: hasher.runs }).toEqual({
      active: 0,
      waiting: 0,
      runs: 8,
    });
  });

  it("refuses at once with SIGN_IN_BUSY when the queue is full, instead of growing", async () => {
    const hasher = new PasswordHasher(TEST_PASSWORD_COST, { concurrency: 1, queueLimit: 2 });
    const admitted = [hasher.hash("first password"), hasher.hash("second one"), hasher.hash("3rd")];
    const refused = hasher.hash("fourth password");
    expect(await codeOf(refused)).toBe("SIGN_IN_BUSY");
    await Promise.all(admitted);
    // Sign-ins have a queue of their own: a full sign-up queue does not refuse them.
    const again = [hasher.hash("a"), hasher.hash("b"), hasher.hash("c")];
    expect(await codeOf(hasher.hash("d"))).toBe("SIGN_IN_BUSY");
    expect(await hasher.verify("some password", null)).toBe(false);
    await Promise.all(again);
  });

  it("lets waiting sign-ins go before waiting sign-ups", async () => {
    const hasher = new PasswordHasher(TEST_PASSWORD_COST, { concurrency: 1 });
    const stored = await hasher.hash("correct horse battery staple");
    const order: string[] = [];
    const done = (what: string) => () => void order.push(what);
    await Promise.all([
      hasher.hash("sign-up one").then(done("sign-up 1")),
      hasher.hash("sign-up two").then(done("sign-up 2")),
      hasher.hash("sign-up three").then(done("sign-up 3")),
      hasher.verify("correct horse battery staple", stored).then(done("sign-in")),
    ]);
    expect(order).toEqual(["sign-up 1", "sign-in", "sign-up 2", "sign-up 3"]);
  });

  it("checks unknown accounts against the dummy hash: one scrypt run, never a match", async () => {
    const hasher = new PasswordHasher(TEST_PASSWORD_COST);
    const stored = await hasher.hash("correct horse battery staple");
    const before = hasher.runs;
    expect(await hasher.verify("correct horse battery staple", stored)).toBe(true);
    expect(await hasher.verify("wrong password", stored)).toBe(false);
    expect(await hasher.verify("correct horse battery staple", undefined)).toBe(false);
    expect(await hasher.verify("", null)).toBe(false);
    expect(await hasher.verify(42, stored)).toBe(false);
    expect(hasher.runs - before).toBe(5);
  });

  it("refuses common and easily guessed passwords, and keeps the length rule", () => {
    const weak = (password: string, inputs: string[] = []) => {
      try {
        assertStrongPassword(password, inputs);
        return "accepted";
      } catch (error) {
        return (error as { code: string }).code;
      }
    };
    for (const common of ["password123", "qwertyuiop", "1234567890", "iloveyou12", "aaaaaaaaaaaa"])
      expect(weak(common)).toBe("WEAK_PASSWORD");
    expect(weak("short")).toBe("WEAK_PASSWORD");
    // The account's own address is guessable too.
    expect(weak("ada@example.com1", ["ada@example.com", "Ada"])).toBe("WEAK_PASSWORD");
    expect(weak("correct horse battery staple")).toBe("accepted");
    expect(weak("vX9#mQ2!pL7z")).toBe("accepted");
  });
});
