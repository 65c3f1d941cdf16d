// Each published package's `prepack`: refuse to pack what `npm run build` has not built, so no
// tarball ships without its JavaScript (or, for @gatehouse/server, without the console and the
// bundled server that `npm start` and the container run).
import { existsSync, readFileSync } from "node:fs";

const manifest = JSON.parse(readFileSync("package.json", "utf8"));
const needed = Object.values(manifest.exports ?? {}).map((entry) => entry.default);
if (manifest.bin !== undefined) needed.push("dist/main.js");
if (manifest.files?.includes("console")) needed.push("console/index.html");
if (manifest.files?.includes("bundle")) needed.push("bundle/main.js");
const missing = needed.filter((file) => !existsSync(file));
if (missing.length > 0) {
  console.error(`${manifest.name}: run \`npm run build\` first; missing ${missing.join(", ")}`);
  process.exit(1);
}
