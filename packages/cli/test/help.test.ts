import { describe, expect, it, vi } from "vitest";
import { gatehouse } from "./harness.ts";

// Nineteen CLI starts, two at a time: seconds each when the two cores are shared with other suites.
vi.setConfig({ testTimeout: 300_000 });

/** Every command with a phrase its help must contain (an option or argument it documents). */
const COMMANDS: readonly (readonly [string[], string])[] = [
  [[], "Exit status: 0 done"],
  [["serve"], "--no-demo"],
  [["migrate"], "--schema <name>"],
  [["create-owner"], "--password-stdin"],
  [["check"], "Exit status: 0 allowed, 3 denied"],
  [["explain"], "<permission>"],
  [["host-credential"], "revoke"],
  [["host-credential", "create"], "--workspace <id>"],
  [["host-credential", "list"], "--json"],
  [["host-credential", "revoke"], "<credential>"],
  [["model"], "show"],
  [["model", "show"], "--json"],
  [["workspace"], "transfer-ownership"],
  [["workspace", "transfer-ownership"], "<user>"],
  [["workspace", "export"], "--output <file>"],
  [["workspace", "import"], "--dry-run"],
  [["user"], "reset-2fa"],
  [["user", "reset-2fa"], "<user>"],
  [["test"], "<files...>"],
];

describe("gatehouse --help", () => {
  it("documents every command and exits 0", async () => {
    // Two at a time: the machine has two cores.
    const results: { args: string[]; code: number | null; stdout: string }[] = [];
    for (let index = 0; index < COMMANDS.length; index += 2) {
      const batch = COMMANDS.slice(index, index + 2);
      results.push(
        ...(await Promise.all(
          batch.map(async ([args]) => ({ args, ...(await gatehouse([...args, "--help"])) })),
        )),
      );
    }
    results.forEach((result, index) => {
      const [args, phrase] = COMMANDS[index]!;
      expect({ args, code: result.code }).toEqual({ args, code: 0 });
      expect(result.stdout).toContain(`Usage: gatehouse${args.length ? ` ${args.join(" ")}` : ""}`);
      expect(result.stdout).toContain(phrase);
    });
  });

  it("exits 2 on an unknown command, an unknown option or a missing argument", async () => {
    const [command, option, argument] = await Promise.all([
      gatehouse(["frobnicate"]),
      gatehouse(["model", "show", "mzpanel", "--colour"]),
      gatehouse(["check", "ws_1"]),
    ]);
    expect(command.code).toBe(2);
    expect(command.stderr).toContain("unknown command 'frobnicate'");
    expect(option.code).toBe(2);
    expect(option.stderr).toContain("unknown option '--colour'");
    expect(argument.code).toBe(2);
    expect(argument.stderr).toContain("missing required argument 'subject'");
    expect(argument.stderr).toContain("(run with --help for usage)");
  });
});
