import { fileURLToPath } from "node:url";
import { createGatehouse, openStorage } from "@gatehouse/service";
import { buildApp } from "./app.ts";
import { ConfigError, loadConfig, secretKeyOf, storageTarget } from "./config.ts";
import { seedDemo } from "./demo.ts";

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
  const storage = await openStorage(storageTarget(config));
  const gatehouse = createGatehouse({ storage, secretKey: secretKeyOf(config) });
  const demo = config.demo ? await seedDemo(gatehouse) : undefined;
  // The console's build (npm start builds it first; see packages/console).
  const consoleDir = fileURLToPath(new URL("../../console/dist", import.meta.url));
  const app = await buildApp({ gatehouse, config, consoleDir });
  const shutdown = async () => {
    await app.close();
    await gatehouse.close();
    process.exit(0);
  };
  process.once("SIGINT", shutdown);
  process.once("SIGTERM", shutdown);
  await app.listen({ port: config.port, host: config.host });
  const where = config.databaseUrl === undefined ? storageTarget(config) : "PostgreSQL";
  console.log(`Gatehouse is listening on ${config.publicUrl} (database: ${where})`);
  console.log(`  Console: ${config.publicUrl}/`);
  console.log(`  API docs: ${config.publicUrl}/docs   OpenAPI: ${config.publicUrl}/openapi.json`);
  if (demo !== undefined) {
    console.log(`\nDemo workspace ${demo.workspaceId} created. Sign in as:`);
    for (const account of demo.accounts)
      console.log(`  ${account.role.padEnd(26)} ${account.email}  password: ${account.password}`);
    console.log("(These passwords are shown once; they are stored hashed.)");
  }
}

await main();
