import { isGatehouseError } from "@gatehouse/engine";

/** A line on standard output. */
export function say(line = ""): void {
  process.stdout.write(`${line}\n`);
}

/** A line on standard error: progress, notes and errors, so stdout stays parseable. */
export function note(line = ""): void {
  process.stderr.write(`${line}\n`);
}

/** Pretty JSON on standard output, for `--json`. */
export function sayJson(value: unknown): void {
  say(JSON.stringify(value, null, 2));
}

/** Prints an error with its code and, for invalid input, every issue with its path. */
export function reportError(error: unknown): void {
  if (isGatehouseError(error)) {
    note(`error: ${error.message} [${error.code}]`);
    for (const issue of error.issues) note(`  ${issue.path || "(file)"}: ${issue.message}`);
    return;
  }
  note(`error: ${error instanceof Error ? error.message : String(error)}`);
}

/** Pads cells to the widest of each column. */
export function table(rows: readonly (readonly string[])[], gap = "  "): string[] {
  const widths: number[] = [];
  for (const row of rows)
    row.forEach((cell, index) => {
      widths[index] = Math.max(widths[index] ?? 0, [...cell].length);
    });
  return rows.map((row) =>
    row
      .map((cell, index) =>
        index === row.length - 1 ? cell : cell + " ".repeat(widths[index]! - [...cell].length),
      )
      .join(gap)
      .trimEnd(),
  );
}
