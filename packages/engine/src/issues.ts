import { type ErrorCode, GatehouseError, type Issue } from "./errors.ts";

/** One step of a path into some input: an object key or an array index. */
export type PathSegment = string | number;

/**
 * The path text of `segments`; keys that are not plain names are quoted.
 * @example
 * issuePath(["grants", 0, "subject"]) // "grants[0].subject"
 * issuePath(["resources", "site:a"]) // 'resources["site:a"]'
 */
export function issuePath(segments: readonly PathSegment[]): string {
  return segments
    .map((segment, index) =>
      typeof segment === "number"
        ? `[${segment}]`
        : /^[A-Za-z_][\w]*$/.test(segment)
          ? `${index === 0 ? "" : "."}${segment}`
          : `[${JSON.stringify(segment)}]`,
    )
    .join("");
}

/**
 * The first `limit` issues as `path: message; …`, and how many more; an issue of the whole input
 * (empty path) shows as `rootLabel`, or as its message alone.
 * @example
 * summarizeIssues([{ path: "PORT", message: "must be a port number" }]) // "PORT: must be a port number"
 */
export function summarizeIssues(
  issues: readonly Issue[],
  options: { readonly limit?: number; readonly rootLabel?: string } = {},
): string {
  const limit = options.limit ?? 5;
  const shown = issues
    .slice(0, limit)
    .map((issue) => {
      const path = issue.path === "" ? options.rootLabel : issue.path;
      return path === undefined ? issue.message : `${path}: ${issue.message}`;
    })
    .join("; ");
  return issues.length > limit ? `${shown} (and ${issues.length - limit} more)` : shown;
}

/**
 * Collects every problem found in some input, each with its path, so that all of them are reported
 * at once — the one collector of the model, the server configuration, workspace imports and policy
 * test files. `I` may carry more than the path and message (a policy file adds the line).
 * @example
 * const issues = new Issues();
 * if (typeof input.name !== "string") issues.add("name", "must be a string");
 * issues.throwIfAny(ErrorCode.INVALID_INPUT, "invalid settings");
 */
export class Issues<I extends Issue = Issue> {
  readonly #list: I[] = [];

  /** The issues found so far, in the order found. */
  get list(): readonly I[] {
    return this.#list;
  }

  get isEmpty(): boolean {
    return this.#list.length === 0;
  }

  /** Records a problem at `path` (`""` for the input as a whole). */
  add(this: Issues<Issue>, path: string, message: string): void {
    this.#list.push({ path, message });
  }

  /** Records a problem carrying more than a path and a message. */
  push(issue: I): void {
    this.#list.push(issue);
  }

  /** Throws a GatehouseError with `code`, `title: <summary>` as its message and every issue. */
  throwIfAny(code: ErrorCode, title: string, options: { readonly rootLabel?: string } = {}): void {
    if (this.isEmpty) return;
    throw new GatehouseError(code, `${title}: ${summarizeIssues(this.#list, options)}`, {
      issues: this.#list,
    });
  }
}
