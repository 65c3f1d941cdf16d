import type { ExitCode } from "./exit-codes.ts";

/** Wraps a command's action so that its result becomes the process's exit status. */
export type Runner = <A extends unknown[]>(
  action: (...args: A) => Promise<ExitCode>,
) => (...args: A) => Promise<void>;
