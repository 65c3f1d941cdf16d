/** Number formats, Markdown tables and the source revision, shared by the benchmarks. */
import { execFileSync } from "node:child_process";

/** One line of a benchmark's target table. */
export interface Target {
  readonly what: string;
  readonly measured: string;
  readonly pass: boolean;
}

export function fmtInt(value: number): string {
  return Math.round(value).toLocaleString("en-US");
}
export function fmtOps(value: number): string {
  if (value >= 1e6) return `${(value / 1e6).toFixed(2)}M`;
  if (value >= 1e3) return `${(value / 1e3).toFixed(1)}k`;
  return value.toFixed(0);
}
export function fmtNs(ns: number): string {
  if (ns >= 1e6) return `${(ns / 1e6).toFixed(2)} ms`;
  if (ns >= 1e4) return `${(ns / 1e3).toFixed(1)} µs`;
  return `${ns.toFixed(0)} ns`;
}
export function fmtMs(ms: number | undefined): string {
  if (ms === undefined) return "n/a";
  return ms >= 100 ? `${ms.toFixed(0)} ms` : `${ms.toFixed(3)} ms`;
}

export function table(headers: readonly string[], body: readonly (readonly string[])[]): string[] {
  const widths = headers.map((header, c) =>
    Math.max(header.length, ...body.map((row) => (row[c] ?? "").length)),
  );
  const line = (cells: readonly string[]) =>
    `| ${cells.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join(" | ")} |`;
  return [
    line(headers),
    `|${widths.map((width, c) => (c === 0 ? `${"-".repeat(width + 1)}-` : `${"-".repeat(width + 1)}:`)).join("|")}|`,
    ...body.map(line),
  ];
}

/** The commit measured, and whether `folder` (e.g. `packages/engine`) had uncommitted changes. */
export function revision(root: string, folder: string): { commit: string; engineDirty: boolean } {
  try {
    const git = (...args: string[]) =>
      execFileSync("git", args, {
        cwd: root,
        encoding: "utf8",
        stdio: ["ignore", "pipe", "ignore"],
      });
    return {
      commit: git("rev-parse", "--short", "HEAD").trim(),
      engineDirty: git("status", "--porcelain", "--", folder).trim() !== "",
    };
  } catch {
    return { commit: "unknown", engineDirty: false };
  }
}
