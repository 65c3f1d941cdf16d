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
  await startServer(config);
}

await main();
