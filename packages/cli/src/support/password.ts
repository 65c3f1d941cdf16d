import { GatehouseError } from "@gatehouse/engine";
import { ErrorCode } from "@gatehouse/service";

/** The first line of standard input (for `--password-stdin`); never echoed. */
export async function readFirstLine(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks).toString("utf8");
  const end = text.search(/\r?\n/);
  return end === -1 ? text : text.slice(0, end);
}

/** Asks on the terminal without echoing what is typed (raw mode: no character reaches the screen). */
export function promptHidden(question: string): Promise<string> {
  const stdin = process.stdin;
  return new Promise((resolve, reject) => {
    let value = "";
    const finish = () => {
      stdin.off("data", onData);
      stdin.setRawMode(false);
      stdin.pause();
      process.stderr.write("\n");
    };
    const onData = (chunk: string) => {
      for (const char of chunk) {
        if (char === "\r" || char === "\n") {
          finish();
          resolve(value);
          return;
        }
        if (char === "\u0003" || char === "\u0004") {
          finish();
          reject(new GatehouseError(ErrorCode.INVALID_INPUT, "cancelled"));
          return;
        }
        if (char === "\u007f" || char === "\b") value = [...value].slice(0, -1).join("");
        else value += char;
      }
    };
    process.stderr.write(question);
    stdin.setRawMode(true);
    stdin.setEncoding("utf8");
    stdin.on("data", onData);
    stdin.resume();
  });
}

/** The password from `--password`, `--password-stdin` or a hidden prompt typed twice. */
export async function obtainPassword(options: {
  readonly password?: string;
  readonly passwordStdin?: boolean;
}): Promise<string> {
  if (options.password !== undefined) return options.password;
  if (options.passwordStdin) return readFirstLine();
  if (!process.stdin.isTTY) {
    throw new GatehouseError(
      ErrorCode.INVALID_INPUT,
      "no terminal to ask for the password: pipe it with --password-stdin",
    );
  }
  const first = await promptHidden("Password: ");
  const second = await promptHidden("Repeat the password: ");
  if (first !== second)
    throw new GatehouseError(ErrorCode.INVALID_INPUT, "the two passwords differ");
  return first;
}
