import type { Command } from "commander";
import {
  type ConnectionOptions,
  configOf,
  describeTarget,
  openConfiguredStorage,
  withConnection,
} from "../support/connection.ts";
import { ExitCode } from "../support/exit-codes.ts";
import { say, sayJson } from "../support/output.ts";
import type { Runner } from "../support/runner.ts";

interface MigrateOptions extends ConnectionOptions {
  readonly json?: boolean;
}

/** `gatehouse migrate`: brings the database to the latest schema and says what ran. */
export function registerMigrate(program: Command, run: Runner): void {
  withConnection(
    program
      .command("migrate")
      .summary("Bring the database to the latest schema")
      .description(
        "Bring the database to the latest schema (creating it when missing) and list the migrations applied; safe to run again",
      ),
  )
    .option("--json", "print the applied migrations as JSON")
    .action(
      run(async (options: MigrateOptions) => {
        const config = configOf(options);
        const storage = await openConfiguredStorage(config, { create: true, migrate: false });
        try {
          const { migrateToLatest } = await import("@gatehouse/service");
          const { results = [] } = await migrateToLatest(storage.db, config.databaseSchema);
          const applied = results.map((result) => result.migrationName);
          if (options.json) sayJson({ database: describeTarget(config), applied });
          else if (applied.length === 0)
            say(`${describeTarget(config)}: up to date, no migration to apply`);
          else {
            say(`${describeTarget(config)}: applied ${applied.length} migration(s)`);
            for (const name of applied) say(`  ${name}`);
          }
          return ExitCode.OK;
        } finally {
          await storage.close();
        }
      }),
    );
}
