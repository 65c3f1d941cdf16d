/**
 * Bundles this checkout's CLI (packages/cli/src/main.ts and everything it imports, the packages'
 * TypeScript sources under the "@gatehouse/source" condition and their dependencies) into
 * JavaScript for the tests to spawn with plain Node.js: about a second less per start than Node.js
 * with tsx on the sources, which the tests pay hundreds of times per run. What the CLI imports on
 * use (the service, the server) goes into chunks of its own, so `--help` reads a fraction of it.
 *
 *   node packages/cli/test/bundle-cli.mjs <out-folder>   → <out-folder>/gatehouse.mjs
 *
 * The bundle behaves as the sources do where they are: each module's `import.meta.url`,
 * `__dirname` and `__filename` stay its own file's (the server finds the built console beside its
 * sources, Fastify's plugins their static files), and what stays outside the bundle (the database
 * drivers with their native parts) resolves from the repository's node_modules, linked into the
 * out-folder. Run by once-per-run.ts (`cliBundle()`), once per test run.
 */
import { mkdirSync, readFileSync, symlinkSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { build } from "esbuild";

const ROOT = resolve(import.meta.dirname, "../../..");
const out = process.argv[2];
if (out === undefined) throw new Error("usage: node bundle-cli.mjs <out-folder>");

/** Every module's own location, in place of the bundle's. */
const ownLocation = {
  name: "own-location",
  setup(bundle) {
    bundle.onLoad({ filter: /\.(ts|js|mjs|cjs)$/ }, ({ path }) => {
      const text = readFileSync(path, "utf8");
      if (!/import\.meta\.(url|dirname|filename)|__dirname|__filename/.test(text)) return undefined;
      let contents = text
        .replaceAll("import.meta.url", JSON.stringify(pathToFileURL(path).href))
        .replaceAll("import.meta.dirname", JSON.stringify(dirname(path)))
        .replaceAll("import.meta.filename", JSON.stringify(path));
      // A CommonJS module's own variables (esbuild wraps each in a function); or an ES module's,
      // unless it declares them itself.
      for (const [name, value] of [
        ["__dirname", dirname(path)],
        ["__filename", path],
      ]) {
        if (text.includes(name) && !new RegExp(`(const|let|var)\\s+${name}\\b`).test(text)) {
          contents = `var ${name} = ${JSON.stringify(value)};\n${contents}`;
        }
      }
      return { loader: path.endsWith(".ts") ? "ts" : "js", contents };
    });
  },
};

mkdirSync(out, { recursive: true });
symlinkSync(join(ROOT, "node_modules"), join(out, "node_modules"));
await build({
  entryPoints: [join(ROOT, "packages/cli/src/main.ts")],
  entryNames: "gatehouse",
  outdir: out,
  outExtension: { ".js": ".mjs" },
  splitting: true,
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node20",
  conditions: ["@gatehouse/source"],
  // The database drivers load native addons (and pg its optional pg-native) from their folders.
  external: ["better-sqlite3", "pg", "pg-native"],
  // CommonJS dependencies require Node.js's modules and the drivers at run time.
  banner: {
    js: `import { createRequire as __createRequire } from "node:module"; const require = __createRequire(import.meta.url);`,
  },
  plugins: [ownLocation],
  logLevel: "error",
});
console.log(join(out, "gatehouse.mjs"));
