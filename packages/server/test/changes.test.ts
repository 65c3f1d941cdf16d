import type { AddressInfo } from "node:net";
import { systemActor } from "@gatehouse/service";
import { createParser, type EventSourceMessage } from "eventsource-parser";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  backends,
  call,
  expectProblem,
  openServer,
  type Session,
  signUp,
  type TestServer,
} from "./harness.ts";

/** An open SSE response: its events as they arrive, and whether the server ended it. */
interface EventStream {
  readonly status: number;
  readonly events: EventSourceMessage[];
  /** Resolves once `count` events have arrived (or rejects after 5 s). */
  next(count: number): Promise<EventSourceMessage[]>;
  readonly ended: Promise<void>;
  close(): void;
}

async function openStream(
  base: string,
  path: string,
  headers: Record<string, string>,
): Promise<EventStream> {
  const controller = new AbortController();
  const response = await fetch(`${base}${path}`, { headers, signal: controller.signal });
  const events: EventSourceMessage[] = [];
  const waiters: (() => void)[] = [];
  const parser = createParser({
    onEvent(event) {
      events.push(event);
      for (const wake of waiters.splice(0)) wake();
    },
  });
  const ended = (async () => {
    if (response.body === null || !response.ok) return;
    const decoder = new TextDecoder();
    try {
      for await (const chunk of response.body) parser.feed(decoder.decode(chunk, { stream: true }));
    } catch {
      // Aborted by close().
    }
  })();
  return {
    status: response.status,
    events,
    ended,
    async next(count) {
      const deadline = Date.now() + 5_000;
      while (events.length < count) {
        if (Date.now() > deadline) throw new Error(`only ${events.length} of ${count} events`);
        await new Promise<void>((resolve) => {
          waiters.push(resolve);
          setTimeout(resolve, 100);
        });
      }
      return events.slice(0, count);
    },
    close: () => controller.abort(),
  };
}

describe.each(backends)("the change stream over HTTP on $name", (backend) => {
  let server: TestServer;
  let base: string;
  let ada: Session;
  let adam: Session;
  let carol: Session;
  let ws: string;
  const streams: EventStream[] = [];

  /** Ada's MZPanel workspace with server s1 and site a; Adam is admin, Carol the customer of a. */
  beforeEach(async () => {
    // Short heartbeats, so a session ended elsewhere ends its stream quickly.
    server = await openServer(backend, { env: { STREAM_HEARTBEAT_MS: "200" } });
    await server.app.listen({ port: 0, host: "127.0.0.1" });
    base = `http://127.0.0.1:${(server.app.server.address() as AddressInfo).port}`;
    ada = await signUp(server.app, "ada");
    adam = await signUp(server.app, "adam");
    carol = await signUp(server.app, "carol");
    ws = (await call(server.app, ada, "GET", "/v1/me")).json().workspaces[0].id;
    const host = systemActor();
    await server.gatehouse.resources.upsert(host, ws, {
      resource: "server:s1",
      parent: `workspace:${ws}`,
    });
    await server.gatehouse.resources.upsert(host, ws, { resource: "site:a", parent: "server:s1" });
    await server.gatehouse.members.add(host, ws, {
      userId: adam.userId,
      grants: [{ role: "admin", scope: `workspace:${ws}` }],
    });
    await server.gatehouse.members.add(host, ws, {
      userId: carol.userId,
      grants: [{ role: "customer", scope: "site:a" }],
    });
  });
  afterEach(async () => {
    for (const stream of streams.splice(0)) stream.close();
    await server.close();
  });

  const stream = async (session: Session | undefined, path: string, extra = {}) => {
    const opened = await openStream(base, path, { ...(session?.headers ?? {}), ...extra });
    streams.push(opened);
    return opened;
  };
  const revisionOf = async () =>
    (await call(server.app, ada, "GET", `/v1/workspaces/${ws}/snapshot`)).json().revision as number;
  const addSite = (name: string) =>
    call(server.app, ada, "PUT", `/v1/workspaces/${ws}/resources/site/${name}`, {
      parent: "server:s1",
    });

  it("gives team managers a snapshot of the engine state at one revision", async () => {
    const response = await call(server.app, adam, "GET", `/v1/workspaces/${ws}/snapshot`);
    expect(response.statusCode).toBe(200);
    const snapshot = response.json();
    expect(snapshot).toMatchObject({ workspaceId: ws, preset: "mzpanel", groups: [], apiKeys: [] });
    expect(snapshot.resources).toEqual(
      expect.arrayContaining([
        { resource: "server:s1", parent: `workspace:${ws}` },
        { resource: "site:a", parent: "server:s1" },
      ]),
    );
    expect(snapshot.grants).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          subject: `user:${carol.userId}`,
          role: "customer",
          scope: "site:a",
        }),
      ]),
    );
    const { revision } = (await addSite("b")).json();
    expect(revision).toBe(snapshot.revision + 1);
  });

  it("refuses the snapshot and the stream to members without the team gate, and outsiders", async () => {
    const outsider = await signUp(server.app, "eve");
    expectProblem(
      await call(server.app, carol, "GET", `/v1/workspaces/${ws}/snapshot`),
      403,
      "PERMISSION_DENIED",
    );
    expectProblem(
      await call(server.app, outsider, "GET", `/v1/workspaces/${ws}/snapshot`),
      404,
      "WORKSPACE_NOT_FOUND",
    );
    expectProblem(
      await call(server.app, undefined, "GET", `/v1/workspaces/${ws}/snapshot`),
      401,
      "INVALID_CREDENTIALS",
    );
    expect((await stream(carol, `/v1/workspaces/${ws}/changes`)).status).toBe(403);
    expect((await stream(outsider, `/v1/workspaces/${ws}/changes`)).status).toBe(404);
    expect((await stream(undefined, `/v1/workspaces/${ws}/changes`)).status).toBe(401);
  });

  it("streams committed changes in order from a revision, and resumes by Last-Event-ID", async () => {
    const from = await revisionOf();
    const live = await stream(adam, `/v1/workspaces/${ws}/changes?from=${from}`);
    expect(live.status).toBe(200);
    await addSite("b");
    await addSite("c");
    await call(server.app, ada, "DELETE", `/v1/workspaces/${ws}/resources/site/b`);
    const events = (await live.next(4)).filter((event) => event.event === "change");
    expect(events.map((event) => [event.event, event.id])).toEqual([
      ["change", String(from + 1)],
      ["change", String(from + 2)],
      ["change", String(from + 3)],
    ]);
    expect(JSON.parse(events[0]!.data)).toMatchObject({
      revision: from + 1,
      ops: [{ op: "resource.upsert", resource: "site:b", parent: "server:s1" }],
    });
    expect(JSON.parse(events[2]!.data).ops).toEqual([
      { op: "resource.delete", resource: "site:b" },
    ]);

    // A client that saw the first event resumes after it, whatever `from` says.
    const resumed = await stream(adam, `/v1/workspaces/${ws}/changes?from=0`, {
      "last-event-id": String(from + 1),
    });
    // The committed backlog first, then `ready`.
    expect((await resumed.next(3)).map((event) => [event.event, event.id ?? null])).toEqual([
      ["change", String(from + 2)],
      ["change", String(from + 3)],
      ["ready", null],
    ]);
    expect(JSON.parse(resumed.events[2]!.data)).toEqual({ revision: from + 3 });
  });

  it("starts at the current revision without one, and says when it is current", async () => {
    const current = await revisionOf();
    const live = await stream(adam, `/v1/workspaces/${ws}/changes`);
    const [ready] = await live.next(1);
    expect(ready).toMatchObject({ event: "ready" });
    expect(JSON.parse(ready!.data)).toEqual({ revision: current });
    await addSite("d");
    const [, change] = await live.next(2);
    expect(change).toMatchObject({ event: "change", id: String(current + 1) });
  });

  it("ends the stream with an error event when the watcher loses the team gate", async () => {
    const live = await stream(adam, `/v1/workspaces/${ws}/changes?from=${await revisionOf()}`);
    expect((await live.next(1))[0]).toMatchObject({ event: "ready" });
    await addSite("e");
    expect((await live.next(2))[1]).toMatchObject({ event: "change" });
    const demoted = await call(
      server.app,
      ada,
      "PATCH",
      `/v1/workspaces/${ws}/members/${adam.userId}`,
      { grants: [{ role: "customer", scope: "site:a" }] },
    );
    expect(demoted.statusCode).toBe(200);
    await addSite("f");
    const events = await live.next(3);
    expect(events[2]).toMatchObject({ event: "error" });
    expect(JSON.parse(events[2]!.data)).toEqual({ code: "PERMISSION_DENIED" });
    await live.ended;
    // Neither the demotion nor anything after it reached the former admin.
    expect(live.events).toHaveLength(3);
  });

  it("ends a session's stream at the next heartbeat once the session is signed out", async () => {
    const live = await stream(adam, `/v1/workspaces/${ws}/changes`);
    expect((await live.next(1))[0]).toMatchObject({ event: "ready" });
    const out = await call(server.app, adam, "POST", "/v1/auth/logout");
    expect(out.statusCode).toBe(204);
    const [, ended] = await live.next(2);
    expect(ended).toMatchObject({ event: "error" });
    expect(JSON.parse(ended!.data)).toEqual({ code: "INVALID_CREDENTIALS" });
    await live.ended;
  });

  it("holds at most STREAM_LIMIT (10) open streams per caller: the next answers 429 with Retry-After until one closes", async () => {
    const path = `/v1/workspaces/${ws}/changes`;
    const opened: EventStream[] = [];
    for (let index = 0; index < 10; index++) {
      const live = await stream(ada, path);
      expect(live.status).toBe(200);
      opened.push(live);
    }
    const refused = await fetch(`${base}${path}`, { headers: ada.headers });
    expect(refused.status).toBe(429);
    expect(refused.headers.get("retry-after")).toBe("5");
    expect(((await refused.json()) as { code: string }).code).toBe("RATE_LIMITED");
    // Another caller is not limited by Ada's streams.
    expect((await stream(adam, path)).status).toBe(200);
    opened[0]!.close();
    await opened[0]!.ended;
    // The server learns of the closed socket shortly after the client closes it.
    let again: EventStream | undefined;
    for (let attempt = 0; attempt < 100 && again?.status !== 200; attempt++) {
      again = await stream(ada, path);
      if (again.status !== 200) await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(again?.status).toBe(200);
  });

  it("refuses a bad or future start revision with 400", async () => {
    const current = await revisionOf();
    expect((await stream(adam, `/v1/workspaces/${ws}/changes?from=${current + 5}`)).status).toBe(
      400,
    );
    expect((await stream(adam, `/v1/workspaces/${ws}/changes?from=-1`)).status).toBe(400);
    expect(
      (await stream(adam, `/v1/workspaces/${ws}/changes`, { "last-event-id": "abc" })).status,
    ).toBe(400);
  });
});
