import { fstatSync, writeSync } from "node:fs";

/** Whether standard output is a regular file: then a write(2) is all `process.stdout` does. */
function stdoutIsFile(): boolean {
  try {
    return fstatSync(1).isFile();
  } catch {
    return false;
  }
}

/**
 * Where the server's JSON log lines go by default: standard output, one write per turn of the
 * event loop instead of one per line. Under load a turn answers many requests, so their lines
 * leave in one system call (pino's default destination makes one `write(2)` per line, which cost
 * ~3 µs of a check's server CPU in the HTTP benchmark). Lines keep their order; at most one turn's
 * lines wait, and they are written before the process exits.
 * @example
 * Fastify({ logger: { level: "info", stream: stdoutLines } });
 */
class StdoutLines {
  #pending: string[] = [];
  #scheduled = false;
  readonly #flush = () => this.flush();
  /**
   * Standard output redirected to a file is written with `writeSync` straight away: the same
   * system call `process.stdout` (a SyncWriteStream) ends in, without its stream bookkeeping and
   * the copy of the text into a Buffer first. Pipes and terminals keep `process.stdout`.
   */
  readonly #toFile = stdoutIsFile();

  constructor() {
    process.once("exit", this.#flush);
  }

  write(line: string): void {
    this.#pending.push(line);
    if (!this.#scheduled) {
      this.#scheduled = true;
      setImmediate(this.#flush);
    }
  }

  /** Writes the waiting lines now (standard output to a file or pipe is synchronous on Linux). */
  flush(): void {
    this.#scheduled = false;
    if (this.#pending.length === 0) return;
    const text = this.#pending.length === 1 ? this.#pending[0]! : this.#pending.join("");
    this.#pending = [];
    if (this.#toFile) writeSync(1, text);
    else process.stdout.write(text);
  }
}

/** The one buffer of the process's standard output, shared by every app the process builds. */
export const stdoutLines = new StdoutLines();
