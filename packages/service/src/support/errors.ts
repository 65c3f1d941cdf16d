import { GatehouseError } from "@gatehouse/engine";
import { ErrorCode } from "./error-codes.ts";

/** What a caller gets for anything outside their reach: the same answer as for what does not exist. */
export function notFound(what = "workspace"): GatehouseError {
  return new GatehouseError(ErrorCode.WORKSPACE_NOT_FOUND, `no such ${what}`);
}
