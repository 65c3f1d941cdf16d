// `npm run build`, after `tsc -b`: the server that `npm start` (and the container image) runs, as
// one ES module, packages/server/bundle/main.js (shipped in @gatehouse/server beside dist/). Loading one file instead of some 1,500
// modules (Fastify, Kysely, TypeBox, the workspace packages) takes a fraction of the CPU at every
// start (issue 17). What stays outside, loaded from node_modules as before:
// - the database drivers (native better-sqlite3, optional pg) and every package the sources load
//   lazily through createRequire or import() — the MCP SDK at the first /mcp request, zxcvbn's
//   dictionaries once the server runs — so they stay lazy;
// - @fastify/swagger-ui, which serves files from its own folder.
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const SERVER = join(ROOT, "packages", "server");
const EXTERNAL = [
  "better-sqlite3",
  "pg",
  "pg-native",
  "@modelcontextprotocol/sdk",
  "@zxcvbn-ts/*",
  "@fastify/swagger-ui",
];

// lazy-compilers.ts loads Fastify's default schema compilers from Fastify's own dependencies at
// run time (createRequire): in the bundle they are the modules Fastify's bundled copy uses, not a
// second copy read from node_modules.
const fromFastify = createRequire(createRequire(join(SERVER, "package.json")).resolve("fastify"));
const fastifyCompilers = {
  name: "fastify-compilers",
  setup(esbuild) {
    esbuild.onLoad({ filter: /[\\/]lazy-compilers\.ts$/ }, async ({ path }) => {
      const { readFile } = await import("node:fs/promises");
      let source = await readFile(path, "utf8");
      for (const name of ["@fastify/ajv-compiler", "@fastify/fast-json-stringify-compiler"]) {
        const call = `fromFastify("${name}")`;
        if (!source.includes(call)) throw new Error(`${path} no longer calls ${call}`);
        source = source.replace(call, `require(${JSON.stringify(fromFastify.resolve(name))})`);
      }
      return { contents: source, loader: "ts" };
    });
  },
};

const result = await build({
  entryPoints: [join(SERVER, "src", "main.ts")],
  outfile: join(SERVER, "bundle", "main.js"),
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node20.19",
  conditions: ["@gatehouse/source"],
  external: EXTERNAL,
  plugins: [fastifyCompilers],
  // No comments, and so no non-ASCII text: Node decodes a pure-ASCII file on a fast path. Names
  // stay, for stack traces; the source map (not read unless --enable-source-maps, which costs
  // ~0.1 s of CPU at start) gives the lines.
  minifyWhitespace: true,
  sourcemap: "linked",
  sourcesContent: false,
  legalComments: "linked",
  metafile: true,
  logLevel: "warning",
  // CommonJS modules in the bundle call require() for Node's built-ins and the external packages.
  banner: {
    js: 'import { createRequire as __gatehouseRequire } from "node:module"; const require = __gatehouseRequire(import.meta.url);',
  },
});
const inputs = Object.keys(result.metafile.inputs).length;
const bytes = Object.values(result.metafile.outputs).reduce((sum, output) => sum + output.bytes, 0);
console.log(`bundled the server: ${inputs} modules, ${(bytes / 2 ** 20).toFixed(1)} MiB`);
