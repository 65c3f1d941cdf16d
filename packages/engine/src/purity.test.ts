import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const root = dirname(fileURLToPath(import.meta.url));

function sourceFiles(folder: string): string[] {
  return readdirSync(folder, { withFileTypes: true }).flatMap((entry) => {
    const path = join(folder, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return entry.name.endsWith(".ts") && !entry.name.endsWith(".test.ts") ? [path] : [];
  });
}

const IMPORT =
  /(?:import|export)\s[^'"]*?from\s+["']([^"']+)["']|import\(\s*["']([^"']+)["']\s*\)/g;

describe("the engine package", () => {
  const files = sourceFiles(root);

  it("imports only its own files: no dependency, no Node module, nothing else of the project", () => {
    const outside: string[] = [];
    for (const file of files) {
      for (const match of readFileSync(file, "utf8").matchAll(IMPORT)) {
        const specifier = (match[1] ?? match[2])!;
        const target = resolve(dirname(file), specifier);
        if (!specifier.startsWith(".") || relative(root, target).startsWith("..")) {
          outside.push(`${relative(root, file)} → ${specifier}`);
        }
      }
    }
    expect(files.length).toBeGreaterThan(5);
    expect(outside).toEqual([]);
  });

  it("reads no clock, randomness or environment except the injectable default clock", () => {
    const uses: string[] = [];
    for (const file of files) {
      const text = readFileSync(file, "utf8")
        .replace(/\/\*[\s\S]*?\*\//g, "")
        .replace(/\/\/.*$/gm, "")
        .replace("this.clock = options.clock ?? Date.now;", "");
      for (const word of ["Date.now", "new Date", "Math.random", "process.", "console."]) {
        if (text.includes(word)) uses.push(`${relative(root, file)}: ${word}`);
      }
    }
    expect(uses).toEqual([]);
  });
});
