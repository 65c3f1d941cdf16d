import { runCli } from "./program.ts";

// exitCode rather than exit(): a running `serve` keeps the process alive.
process.exitCode = await runCli(process.argv.slice(2));
