import type { Command } from "commander";
import { type ConnectionOptions, configOf, withConnection } from "../support/connection.ts";
import { ExitCode } from "../support/exit-codes.ts";
import type { Runner } from "../support/runner.ts";

interface ServeOptions extends ConnectionOptions {
  readonly port?: string;
  readonly host?: string;
  readonly demo: boolean;
}

/** `gatehouse serve`: what `npm start` runs, with flags over the environment. */
export function registerServe(program: Command, run: Runner): void {
  withConnection(
    program
      .command("serve")
      .summary("Start the HTTP server (what npm start runs)")
      .description(
        "Start the HTTP server (what `npm start` runs): migrates the database, creates the demo workspace on an empty one unless --no-demo, and serves until SIGINT/SIGTERM",
      ),
  )
    .option("-p, --port <port>", "port to listen on (PORT, default 8080; 0 for any free port)")
    .option("--host <address>", "address to listen on (HOST, default 0.0.0.0)")
    .option("--no-demo", "do not create the demo workspace (DEMO=false)")
    .addHelpText(
      "after",
      `
Examples:
  gatehouse serve                                  # SQLite under ./data, port 8080
  gatehouse serve --port 9000 --no-demo --data-dir /var/lib/gatehouse
  DATABASE_URL=postgres://… SECRET_KEY=… gatehouse serve`,
    )
    .action(
      run(async (options: ServeOptions) => {
        const config = configOf(options, {
          ...(options.port === undefined ? {} : { PORT: options.port }),
          ...(options.host === undefined ? {} : { HOST: options.host }),
          ...(options.demo ? {} : { DEMO: "false" }),
        });
        // Loaded on use: the other commands need no HTTP server.
        const { startServer } = await import("@gatehouse/server");
        await startServer(config);
        return ExitCode.OK;
      }),
    );
}
