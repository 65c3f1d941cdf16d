import { isGatehouseError } from "@gatehouse/engine";
import { ConfigError, loadConfig } from "./config.ts";
import { startServer } from "./start-server.ts";

/** `npm start`: the server with the embedded SQLite database (or PostgreSQL) and a demo workspace. */
async function main(): Promise<void> {
  let config: ReturnType<typeof loadConfig>;
  try {
    config = loadConfig(process.env);
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(error.message);
      process.exit(1);
    }
    throw error;
  }
  try {
    await startServer(config);
  } catch (error) {
    // Invalid model files and model changes that no longer fit the data: every problem, no stack.
    if (isGatehouseError(error)) {
      console.error(`${error.message} [${error.code}]`);
      for (const issue of error.issues) console.error(`  - ${issue.path}: ${issue.message}`);
      process.exit(1);
    }
    throw error;
  }
}

await main();
