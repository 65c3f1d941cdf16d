import { systemActor } from "@gatehouse/service";
import fc from "fast-check";
import type { InjectOptions, LightMyRequestResponse } from "fastify";
import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { propertyRuns } from "../../engine/test/property-runs.ts";
import { backends, call, openServer, type Session, signUp, type TestServer } from "./harness.ts";

/**
 * Bad input on every endpoint, generated from the OpenAPI schemas the app serves: no 5xx, every
 * error a problem document, no stack traces or SQL in any body, and nothing persisted.
 *
 * Every body sent is invalid by construction (a "mutator" turns each operation's JSON Schema into
 * values that must fail it), so schema validation refuses it before any handler runs. Odd path
 * parameters never equal an id that exists, so the handlers behind them can only answer 4xx.
 *
 * Not sent: `POST /v1/auth/logout` and `POST /v1/auth/totp/enroll` take no input to break, and
 * succeed whatever is sent (they would end the session or store a TOTP secret), and
 * `GET /openapi.json` is the document itself.
 */

/** The parts of JSON Schema the OpenAPI document uses. */
interface Schema {
  readonly type?: string;
  readonly anyOf?: readonly Schema[];
  readonly enum?: readonly unknown[];
  readonly properties?: Readonly<Record<string, Schema>>;
  readonly required?: readonly string[];
  readonly additionalProperties?: boolean | Schema;
  readonly items?: Schema;
  readonly minLength?: number;
  readonly maxLength?: number;
  readonly minItems?: number;
  readonly maxItems?: number;
}

interface Parameter {
  readonly name: string;
  readonly in: "path" | "query" | "header" | "cookie";
  readonly required?: boolean;
  readonly schema: Schema;
}

interface Operation {
  readonly method: "GET" | "POST" | "PUT" | "PATCH" | "DELETE";
  readonly path: string;
  readonly parameters: readonly Parameter[];
  readonly body: Schema | undefined;
}

/** One malformed request: a URL and, for operations with a body, a raw payload and its type. */
interface BadRequest {
  readonly url: string;
  readonly payload?: string;
  readonly contentType?: string;
}

const SKIPPED = new Set(["POST /v1/auth/logout", "POST /v1/auth/totp/enroll"]);
const NUM_RUNS = propertyRuns(50);
const HUGE = 100_000;

// ---- The mutator: JSON Schema → values that must fail it ----

type Kind = "string" | "number" | "boolean" | "null" | "array" | "object";

/** The JSON kinds a schema admits; undefined when it admits anything. */
function kindsOf(schema: Schema): Set<Kind> | undefined {
  if (schema.anyOf !== undefined) {
    const kinds = new Set<Kind>();
    for (const branch of schema.anyOf) {
      const branchKinds = kindsOf(branch);
      if (branchKinds === undefined) return undefined;
      for (const kind of branchKinds) kinds.add(kind);
    }
    return kinds;
  }
  if (schema.type === undefined) return undefined;
  return new Set([schema.type === "integer" ? "number" : (schema.type as Kind)]);
}

/** Anything at all, small: the filler for properties that are not the one being broken. */
const filler: fc.Arbitrary<unknown> = fc.oneof(
  fc.string({ maxLength: 20 }),
  fc.integer(),
  fc.boolean(),
  fc.constant(null),
);

const deeplyNested: fc.Arbitrary<unknown> = fc.integer({ min: 50, max: 3000 }).map((depth) => {
  let value: unknown = {};
  for (let level = 0; level < depth; level++) value = { a: value };
  return value;
});

const valueOfKind: Readonly<Record<Kind, fc.Arbitrary<unknown>>> = {
  string: fc.oneof(fc.string({ maxLength: 30 }), fc.constantFrom("", "null", "0", "true", "{}")),
  number: fc.oneof(
    fc.integer(),
    fc.double({ noNaN: true, noDefaultInfinity: true }),
    fc.constantFrom(0, -1, 2 ** 53, 1e308),
  ),
  boolean: fc.boolean(),
  null: fc.constant(null),
  array: fc.oneof(fc.array(filler, { maxLength: 4 }), fc.constant([[[[]]]])),
  object: fc.oneof(
    fc.dictionary(fc.string({ maxLength: 8 }), filler, { maxKeys: 4 }),
    deeplyNested,
  ),
};

/** A string of `min`..`max` characters (code points), some of them multi-byte. */
function longString(min: number, max = HUGE): fc.Arbitrary<string> {
  return fc
    .tuple(fc.integer({ min, max: Math.max(min, max) }), fc.constantFrom("x", "é", "😀", "'", "\\"))
    .map(([length, char]) => Array.from({ length }, () => char).join(""));
}

/** Keys no object schema in the document declares, some of them tempting. */
function unknownKey(known: readonly string[]): fc.Arbitrary<string> {
  return fc
    .oneof(
      fc.constantFrom("isOwner", "owner", "id", "revision", "admin", "constructor", "__proto__"),
      fc.string({ minLength: 1, maxLength: 12 }),
    )
    .filter((key) => !known.includes(key));
}

/** An object with some of `schema`'s properties filled with anything, except `without`. */
function someProperties(schema: Schema, without: string): fc.Arbitrary<Record<string, unknown>> {
  const keys = Object.keys(schema.properties ?? {}).filter((key) => key !== without);
  return fc.record(Object.fromEntries(keys.map((key) => [key, filler])), { requiredKeys: [] });
}

/** Values that `schema` must refuse; an empty list when there is no sure way to break it. */
function invalid(schema: Schema): fc.Arbitrary<unknown>[] {
  const options: fc.Arbitrary<unknown>[] = [];
  const kinds = kindsOf(schema);
  if (kinds !== undefined) {
    const wrongKinds = (Object.keys(valueOfKind) as Kind[]).filter((kind) => !kinds.has(kind));
    options.push(...wrongKinds.map((kind) => valueOfKind[kind]));
  }
  if (schema.anyOf !== undefined) {
    const branches = schema.anyOf;
    // A string in no branch's enum.
    if (branches.every((branch) => branch.enum !== undefined)) {
      const allowed = branches.flatMap((branch) => branch.enum ?? []);
      options.push(fc.string({ maxLength: 12 }).filter((value) => !allowed.includes(value)));
    }
    // An object with a key no (closed) branch knows.
    if (
      branches.every((branch) => branch.type === "object" && branch.additionalProperties === false)
    ) {
      const known = branches.flatMap((branch) => Object.keys(branch.properties ?? {}));
      options.push(
        fc
          .tuple(someProperties(branches[0]!, ""), unknownKey(known), filler)
          .map(([object, key, value]) => ({ ...object, [key]: value })),
      );
    }
    return options;
  }
  if (schema.type === "string") {
    if (schema.maxLength !== undefined) options.push(longString(schema.maxLength + 1));
    if (schema.minLength !== undefined && schema.minLength > 0)
      options.push(fc.string({ maxLength: schema.minLength - 1 }));
    if (schema.enum !== undefined) {
      const allowed = schema.enum;
      options.push(fc.string({ maxLength: 12 }).filter((value) => !allowed.includes(value)));
    }
  }
  if (schema.type === "array") {
    if (schema.minItems !== undefined && schema.minItems > 0) options.push(fc.constant([]));
    if (schema.maxItems !== undefined)
      options.push(fc.constant(Array.from({ length: schema.maxItems + 1 }, () => "x")));
    const badItems = schema.items === undefined ? [] : invalid(schema.items);
    if (badItems.length > 0)
      options.push(
        fc
          .tuple(fc.oneof(...badItems), fc.array(filler, { maxLength: 3 }))
          .map(([bad, rest]) => [...rest, bad]),
      );
  }
  if (schema.type === "object") {
    const properties = schema.properties ?? {};
    // A required property missing.
    for (const key of schema.required ?? []) options.push(someProperties(schema, key));
    // An unknown property.
    if (schema.additionalProperties === false)
      options.push(
        fc
          .tuple(someProperties(schema, ""), unknownKey(Object.keys(properties)), filler)
          .map(([object, key, value]) => ({ ...object, [key]: value })),
      );
    // One property broken (wrong type, too long, nested bad item, …), the rest anything.
    for (const [key, propertySchema] of Object.entries(properties)) {
      const bad = invalid(propertySchema);
      if (bad.length > 0)
        options.push(
          fc
            .tuple(someProperties(schema, key), fc.oneof(...bad))
            .map(([object, value]) => ({ ...object, [key]: value })),
        );
    }
  }
  return options;
}

/** Payloads for a body schema: invalid JSON values, non-JSON sent as JSON, and wrong types. */
function badBodies(schema: Schema): fc.Arbitrary<{ payload: string; contentType: string }> {
  const values = invalid(schema);
  const asJson = fc
    .oneof(...values)
    .map((value) => ({ payload: JSON.stringify(value), contentType: "application/json" }));
  const notJson = fc
    .oneof(
      fc.constantFrom("", "{", "{'a': 1}", "[1,]", "undefined", "NaN", '{"a":1}}', "\u0000"),
      fc.string({ maxLength: 50 }).map((text) => `{${text}`),
    )
    .filter((text) => {
      try {
        JSON.parse(text);
        return false;
      } catch {
        return true;
      }
    })
    .map((payload) => ({ payload, contentType: "application/json" }));
  const wrongType = fc.record({
    payload: fc.oneof(
      fc.constantFrom("name=x&preset=mzpanel", "<xml/>", "--boundary--"),
      fc.string({ maxLength: 30 }),
    ),
    contentType: fc.constantFrom(
      "text/plain",
      "application/x-www-form-urlencoded",
      "multipart/form-data; boundary=boundary",
      "application/xml",
      "application/octet-stream",
      "application/jsonx",
    ),
  });
  return fc.oneof(
    { arbitrary: asJson, weight: 6 },
    { arbitrary: notJson, weight: 1 },
    {
      arbitrary: wrongType,
      weight: 1,
    },
  );
}

// ---- Odd path parameters and query strings ----

/** Odd values for a path segment, already encoded for the URL. */
function oddSegment(existing: ReadonlySet<string>): fc.Arbitrary<string> {
  const odd = fc
    .oneof(
      fc.constantFrom(
        "",
        " ",
        "x".repeat(101),
        "x".repeat(301),
        "x".repeat(1000),
        "ü",
        "😀",
        "\u0000",
        "../",
        "../../etc/passwd",
        "%00",
        "' OR 1=1 --",
        '" OR ""="',
        "1; DROP TABLE users",
        "-1",
        "0",
        "1e309",
        "null",
        "undefined",
        "[object Object]",
        "site:a",
        "workspace:ws",
        "user:*",
        "00000000-0000-0000-0000-000000000000",
        "a/b",
        "?x=1",
        "#",
      ),
      fc.string({ maxLength: 40 }),
      fc.string({ unit: "binary", maxLength: 40 }),
      fc.string({ minLength: 100, maxLength: 1000 }),
    )
    .filter((value) => !existing.has(value))
    .map(encodeURIComponent);
  // Some sent as they are: a literal dot-dot segment, a stray or bad percent-escape.
  const raw = fc.constantFrom("..", ".", "%", "%zz", "%00", "%2e%2e%2f", "a%2Fb", "%C0%AE", "%FF");
  return fc.oneof({ arbitrary: odd, weight: 5 }, { arbitrary: raw, weight: 1 });
}

/** A query string: declared parameters with odd values or missing, unknown keys, repeated keys. */
function badQuery(parameters: readonly Parameter[]): fc.Arbitrary<string> {
  const value = fc.oneof(
    fc.constantFrom("", "abc", "-1", "0", "1.5", "1001", "99999999999999999999", "true", "null"),
    fc.string({ maxLength: 30 }),
    longString(301, 2000),
  );
  const declared = parameters.filter((parameter) => parameter.in === "query");
  const pair = fc.tuple(
    fc.oneof(
      ...(declared.length > 0 ? [fc.constantFrom(...declared.map((p) => p.name))] : []),
      fc.constantFrom("unknown", "__proto__", "constructor", "limit[]", "a[b]"),
      fc.string({ minLength: 1, maxLength: 10 }),
    ),
    value,
  );
  return fc
    .array(pair, { minLength: 1, maxLength: 6 })
    .map((pairs) =>
      pairs
        .map(([key, text]) => `${encodeURIComponent(key)}=${encodeURIComponent(text)}`)
        .join("&"),
    );
}

// ---- What every answer must look like ----

const LEAKS: readonly RegExp[] = [
  /\n\s+at\s/,
  /SQLITE/i,
  /syntax error/i,
  /relation "/i,
  /select /i,
  /insert into/i,
  /kysely/i,
  /\/packages\//,
];

/** What a test reads of an answer. */
type Answer = Pick<LightMyRequestResponse, "statusCode" | "headers" | "body">;

/** What is wrong with an answer; empty when nothing is. */
function problemsWith(response: Answer): string[] {
  const found: string[] = [];
  if (response.statusCode >= 500) found.push(`status ${response.statusCode}`);
  if (response.statusCode >= 400) {
    const type = String(response.headers["content-type"] ?? "");
    if (!/^application\/problem\+json/.test(type)) found.push(`content-type ${type}`);
    let code: unknown;
    try {
      code = (JSON.parse(response.body) as { code?: unknown }).code;
    } catch {
      code = undefined;
    }
    if (typeof code !== "string") found.push("no string code");
  }
  for (const leak of LEAKS) if (leak.test(response.body)) found.push(`body matches ${leak}`);
  return found;
}

describe("bad input on every endpoint", () => {
  const backend = backends[0]!;
  let server: TestServer;
  let owner: Session;
  let ws: string;
  let operations: Operation[];
  let existing: Set<string>;

  /** Row counts of every table (but the sign-in throttle and migrations), revision and audit_seq. */
  async function snapshot(): Promise<Record<string, unknown>> {
    const db = server.gatehouse.storage.db;
    const tables = await db.introspection.getTables();
    const counts: Record<string, unknown> = {};
    for (const { name } of tables) {
      if (name.startsWith("gatehouse_migrations") || name === "login_attempts") continue;
      const { rows } = await sql<{
        n: number | string;
      }>`select count(*) as n from ${sql.table(name)}`.execute(db);
      counts[name] = Number(rows[0]!.n);
    }
    const workspace = await db
      .selectFrom("workspaces")
      .select(["revision", "audit_seq"])
      .where("id", "=", ws)
      .executeTakeFirstOrThrow();
    return { counts, revision: workspace.revision, auditSeq: workspace.audit_seq };
  }

  beforeAll(async () => {
    server = await openServer(backend);
    owner = await signUp(server.app, "olivia");
    ws = (
      await call(server.app, owner, "POST", "/v1/workspaces", {
        name: "Acme hosting",
        preset: "mzpanel",
      })
    ).json().id;
    const host = systemActor();
    await server.gatehouse.resources.upsert(host, ws, {
      resource: "server:s1",
      parent: `workspace:${ws}`,
    });
    await server.gatehouse.resources.upsert(host, ws, { resource: "site:a", parent: "server:s1" });
    existing = new Set([ws, owner.userId, "s1", "a", "server", "site", "workspace"]);

    const document = (await call(server.app, owner, "GET", "/openapi.json")).json() as {
      paths: Record<
        string,
        Record<
          string,
          {
            parameters?: Parameter[];
            requestBody?: { content: Record<string, { schema: Schema }> };
          }
        >
      >;
    };
    operations = Object.entries(document.paths).flatMap(([path, methods]) =>
      Object.entries(methods).map(([method, operation]) => ({
        method: method.toUpperCase() as Operation["method"],
        path,
        parameters: operation.parameters ?? [],
        body: operation.requestBody?.content["application/json"]?.schema,
      })),
    );
  });
  afterAll(async () => {
    await server?.close();
  });

  it(`answers 4xx problems without leaks and persists nothing (${backend.name})`, async () => {
    const before = await snapshot();
    const statuses: Record<number, number> = {};
    const violations = new Map<string, { count: number; request: string; body: string }>();
    let total = 0;

    /** Fills `{name}` path placeholders: the workspace, or ids that do not exist. */
    function url(operation: Operation, odd: Record<string, string> = {}, query = ""): string {
      const path = operation.path.replace(/\{(\w+)\}/g, (_, name: string) => {
        if (name in odd) return odd[name]!;
        if (name === "ws") return ws;
        if (name === "type") return "site";
        return "no-such-id";
      });
      return query === "" ? path : `${path}?${query}`;
    }

    async function send(operation: Operation, request: BadRequest): Promise<void> {
      const headers: Record<string, string> = { ...owner.headers };
      if (request.contentType !== undefined) headers["content-type"] = request.contentType;
      const response = await answerOf({
        method: operation.method,
        url: request.url,
        headers,
        ...(request.payload === undefined ? {} : { payload: request.payload }),
      });
      total++;
      statuses[response.statusCode] = (statuses[response.statusCode] ?? 0) + 1;
      const problems = problemsWith(response);
      if (problems.length === 0) return;
      // One example per kind of violation: the status, what is wrong, and the body's code.
      const code = /"code":"(\w+)"/.exec(response.body)?.[1] ?? "-";
      const kind = `${response.statusCode} ${code}: ${problems.join("; ")}`;
      const seen = violations.get(kind);
      if (seen !== undefined) seen.count++;
      else
        violations.set(kind, {
          count: 1,
          request: `${operation.method} ${request.url.slice(0, 200)} [${request.contentType ?? "-"}] ${(request.payload ?? "").slice(0, 200)}`,
          body: response.body.slice(0, 300),
        });
    }

    /**
     * One request's answer. A generated query can happen to be valid (`/changes?from=0`), and an
     * event stream that opens never ends: `inject` would wait for its end for ever. So answers are
     * read as streams, and an event stream is closed (as a client going away) once it opened.
     */
    async function answerOf(options: InjectOptions): Promise<Answer> {
      const response = await server.app.inject({ ...options, payloadAsStream: true });
      const { statusCode, headers } = response;
      if (String(headers["content-type"] ?? "").startsWith("text/event-stream")) {
        response.raw.res.destroy();
        return { statusCode, headers, body: "" };
      }
      const chunks: Buffer[] = [];
      for await (const chunk of response.stream()) chunks.push(chunk as Buffer);
      return { statusCode, headers, body: Buffer.concat(chunks).toString() };
    }

    /** A body that must fail whatever the path: an array where an object is expected. */
    const brokenBody = { payload: "[]", contentType: "application/json" };

    const covered = operations.filter(
      (operation) => !SKIPPED.has(`${operation.method} ${operation.path}`),
    );
    expect(covered.length).toBeGreaterThan(40);
    for (const operation of covered) {
      // (a) Bodies that violate the schema, on the real workspace so only the body is wrong.
      if (operation.body !== undefined) {
        const bodySchema = operation.body;
        await fc.assert(
          fc.asyncProperty(badBodies(bodySchema), async (body) => {
            await send(operation, { url: url(operation), ...body });
          }),
          { numRuns: NUM_RUNS },
        );
      }
      // (b) Odd path parameters, one at a time; the others are the workspace or unknown ids.
      const pathNames = operation.parameters.filter((p) => p.in === "path").map((p) => p.name);
      if (pathNames.length > 0) {
        await fc.assert(
          fc.asyncProperty(
            fc.constantFrom(...pathNames),
            oddSegment(existing),
            async (name, value) => {
              const request: BadRequest = { url: url(operation, { [name]: value }) };
              await send(
                operation,
                operation.body === undefined ? request : { ...request, ...brokenBody },
              );
            },
          ),
          { numRuns: Math.ceil(NUM_RUNS / 2) * pathNames.length },
        );
      }
      // (c) Query strings with wrong types and unknown keys, on reads only.
      if (operation.method === "GET") {
        await fc.assert(
          fc.asyncProperty(badQuery(operation.parameters), async (query) => {
            await send(operation, { url: url(operation, {}, query) });
          }),
          { numRuns: NUM_RUNS },
        );
      }
    }

    // A generated query can be valid by chance (`from=0`); this one always is: the event stream
    // it opens is answered and closed like any other, never waited on.
    const changes = covered.find((operation) => operation.path.endsWith("/changes"));
    expect(changes).toBeDefined();
    const streamsBefore = statuses[200] ?? 0;
    await send(changes!, { url: url(changes!, {}, "from=0") });
    expect(statuses[200]).toBe(streamsBefore + 1);

    const summary = Object.entries(statuses)
      .map(([status, count]) => `${status}: ${count}`)
      .join(", ");
    console.log(`bad input: ${total} requests over ${covered.length} operations; ${summary}`);
    expect.soft(Object.fromEntries(violations)).toEqual({});
    expect(await snapshot()).toEqual(before);
  }, 180_000);
});
