// `npm start` and `npm test` on a fresh clone: install the locked dependencies first (`npm ci`),
// once. An existing install is left alone (`npm ci` would delete and redo it).
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";

if (!existsSync(new URL("../node_modules/.package-lock.json", import.meta.url))) {
  execFileSync("npm", ["ci", "--no-audit", "--no-fund"], { stdio: "inherit" });
}
