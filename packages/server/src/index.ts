export type { AppOptions } from "./app.ts";
export { buildApp } from "./app.ts";
export type { ServerConfig } from "./config.ts";
export { ConfigError, loadConfig, storageTarget } from "./config.ts";
export type { Problem } from "./http/problem.ts";
export { errorHandler, problem, STATUS_OF } from "./http/problem.ts";
export type { RunningServer } from "./start-server.ts";
export { startServer } from "./start-server.ts";
