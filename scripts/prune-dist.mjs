// After `tsc -b`: remove what a package's dist/ still holds from a source file that no longer
// exists (tsc's incremental build never deletes), so a tarball never ships a removed module.
import { existsSync, readdirSync, rmSync } from "node:fs";
import { join, relative } from "node:path";

const OUTPUT = /\.(d\.ts\.map|d\.ts|js\.map|js)$/;

function* files(dir) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) yield* files(path);
    else yield path;
  }
}

const removed = [];
for (const name of readdirSync("packages")) {
  const dist = join("packages", name, "dist");
  if (!existsSync(dist)) continue;
  for (const file of files(dist)) {
    if (!OUTPUT.test(file)) continue;
    const stem = join("packages", name, "src", relative(dist, file).replace(OUTPUT, ""));
    if (!existsSync(`${stem}.ts`) && !existsSync(`${stem}.tsx`)) {
      rmSync(file);
      removed.push(file);
    }
  }
}
if (removed.length > 0)
  console.log(`removed ${removed.length} stale build outputs: ${removed.join(", ")}`);
