/** The exit status of every command (docs/cli.md). */
export const ExitCode = {
  /** Done; for `check` and `explain`: allowed. */
  OK: 0,
  /** Something failed: bad input, a refused change, a failing policy test, an invalid file. */
  FAILURE: 1,
  /** The command line itself is wrong: unknown command or option, missing argument. */
  USAGE: 2,
  /** `check` and `explain`: the decision is deny. */
  DENIED: 3,
} as const;

export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];
