import { createHash } from "node:crypto";
import { GatehouseError } from "@gatehouse/engine";
import { MAX_ASSERTION_TTL_MS, type SigningKeys } from "../sign-in/signing-keys.ts";
import { ErrorCode } from "../support/error-codes.ts";

/** The `typ` of the assertion on a forwarded call; a sign-in verifier refuses it. */
export const TOOL_CALL_TYPE = "gatehouse-tool-call+jwt";
/** The request header carrying it. */
export const ASSERTION_HEADER = "gatehouse-assertion";
const MAX_RESPONSE_BYTES = 1024 * 1024;
const MAX_ERROR_TEXT = 1000;

/** An allowed call on its way to the tool's endpoint. */
export interface ForwardedCall {
  readonly endpoint: string;
  readonly callId: string;
  readonly workspaceId: string;
  readonly tool: string;
  readonly resource: string;
  readonly arguments: Readonly<Record<string, unknown>>;
  readonly userId: string;
  readonly keyId: string | undefined;
  /** The grant that allowed it. */
  readonly via: { readonly role: string; readonly scope: string };
}

/**
 * POSTs an allowed call to its endpoint as JSON, with a signed assertion of who is calling in the
 * `Gatehouse-Assertion` header (audience: the endpoint; `body_sha256` binds it to this body) —
 * never the member's own credentials. Redirects are refused; the whole exchange has `timeoutMs`.
 * Answers the endpoint's JSON (or text).
 */
export async function forwardToolCall(
  keys: SigningKeys,
  call: ForwardedCall,
  timeoutMs: number,
): Promise<unknown> {
  const body = JSON.stringify({
    callId: call.callId,
    workspace: call.workspaceId,
    tool: call.tool,
    resource: call.resource,
    arguments: call.arguments,
    member: { userId: call.userId },
  });
  const assertion = await keys.sign({
    type: TOOL_CALL_TYPE,
    audience: call.endpoint,
    subject: call.userId,
    jti: call.callId,
    ttlMs: MAX_ASSERTION_TTL_MS,
    claims: {
      workspace: call.workspaceId,
      tool: call.tool,
      resource: call.resource,
      role: call.via.role,
      scope: call.via.scope,
      actor: "assistant",
      ...(call.keyId === undefined ? {} : { api_key: call.keyId }),
      body_sha256: createHash("sha256").update(body).digest("base64url"),
    },
  });
  const signal = AbortSignal.timeout(timeoutMs);
  const timedOut = () =>
    new GatehouseError(
      ErrorCode.TOOL_ENDPOINT_TIMEOUT,
      `the tool ${call.tool} did not answer within ${timeoutMs} ms`,
    );
  let response: Response;
  try {
    response = await fetch(call.endpoint, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        accept: "application/json",
        [ASSERTION_HEADER]: assertion,
      },
      body,
      redirect: "error",
      signal,
    });
  } catch (error) {
    if (signal.aborted) throw timedOut();
    throw new GatehouseError(
      ErrorCode.TOOL_ENDPOINT_FAILED,
      `the tool ${call.tool} could not be reached`,
      { cause: error },
    );
  }
  let text: string;
  try {
    text = await readLimited(response, MAX_RESPONSE_BYTES);
  } catch (error) {
    if (signal.aborted) throw timedOut();
    throw error;
  }
  if (!response.ok) {
    throw new GatehouseError(
      ErrorCode.TOOL_ENDPOINT_FAILED,
      `the tool ${call.tool} failed (HTTP ${response.status})${text === "" ? "" : `: ${text.slice(0, MAX_ERROR_TEXT)}`}`,
    );
  }
  if (/^application\/(.+\+)?json/i.test(response.headers.get("content-type") ?? "")) {
    try {
      return JSON.parse(text) as unknown;
    } catch (error) {
      throw new GatehouseError(
        ErrorCode.TOOL_ENDPOINT_FAILED,
        `the tool ${call.tool} answered invalid JSON`,
        { cause: error },
      );
    }
  }
  return text;
}

/** The body as text, refusing more than `limit` bytes (a tool cannot flood the assistant). */
async function readLimited(response: Response, limit: number): Promise<string> {
  if (response.body === null) return "";
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel();
      throw new GatehouseError(
        ErrorCode.TOOL_ENDPOINT_FAILED,
        `the tool's answer is larger than ${limit / 1024} KiB`,
      );
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString("utf8");
}
