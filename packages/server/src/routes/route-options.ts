import type { Gatehouse } from "@gatehouse/service";
import type { ServerConfig } from "../config.ts";

/** What every route plugin gets. */
export interface RouteOptions {
  readonly gatehouse: Gatehouse;
  readonly config: ServerConfig;
}
