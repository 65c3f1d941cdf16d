import { runCli } from "./program.ts";

// A reader that stops early (`gatehouse model show … | head`) closes the pipe: stop quietly with
// the status of a process ended by SIGPIPE (128 + 13), as git and coreutils do, rather than with
// an unhandled EPIPE and its stack.
process.stdout.on("error", (error: NodeJS.ErrnoException) => {
  if (error.code !== "EPIPE") throw error;
  process.exit(141);
});

// exitCode rather than exit(): a running `serve` keeps the process alive.
process.exitCode = await runCli(process.argv.slice(2));
