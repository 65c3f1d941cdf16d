import { systemActor } from "@gatehouse/service";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  backends,
  call,
  expectProblem,
  hostCaller,
  openServer,
  type Session,
  signUp,
  type TestServer,
} from "./harness.ts";

interface Listed {
  readonly next: string | null;
  readonly [list: string]: unknown;
}

describe.each(backends)("search and paging of team listings (#16) on $name", (backend) => {
  let server: TestServer;

  beforeEach(async () => {
    server = await openServer(backend);
  });
  afterEach(async () => {
    await server.close();
  });

  /** Olivia's mzpanel workspace: 12 members (Person 01 … Person 12 beside her), 7 groups, 6 invitations, 30 sites. */
  async function team(): Promise<{ ws: string; olivia: Session; host: Session }> {
    const olivia = await signUp(server.app, "olivia");
    const ws: string = (
      await call(server.app, olivia, "POST", "/v1/workspaces", {
        name: "Acme hosting",
        preset: "mzpanel",
      })
    ).json().id;
    const host = await hostCaller(server.gatehouse);
    const system = systemActor();
    for (let n = 1; n <= 12; n++) {
      const number = String(n).padStart(2, "0");
      const put = await call(server.app, host, "PUT", `/v1/users/p${number}`, {
        email: `person${number}@example.com`,
        name: `Person ${number}`,
      });
      expect(put.statusCode).toBeLessThan(300);
      await server.gatehouse.members.add(system, ws, {
        userId: `p${number}`,
        grants: [{ role: "admin", scope: `workspace:${ws}` }],
      });
    }
    for (const name of ["Support", "Billing", "Night shift", "Day shift", "50%_off", "QA", "Ops"])
      await server.gatehouse.members.createGroup(system, ws, { name });
    for (let n = 1; n <= 6; n++)
      await call(server.app, olivia, "POST", `/v1/workspaces/${ws}/invitations`, {
        email: `guest${n}@example.org`,
        role: "admin",
        scopes: [`workspace:${ws}`],
      });
    await server.gatehouse.resources.sync(system, ws, {
      resources: [
        { resource: "server:s1", parent: `workspace:${ws}` },
        ...Array.from({ length: 30 }, (_, index) => ({
          resource: `site:Site-${String(index + 1).padStart(3, "0")}`,
          parent: "server:s1",
        })),
      ],
    });
    return { ws, olivia, host };
  }

  /** Every page of a listing, following `next`. */
  async function walk(session: Session, path: string, key: string): Promise<unknown[][]> {
    const pages: unknown[][] = [];
    let after: string | null = null;
    do {
      const separator = path.includes("?") ? "&" : "?";
      const url: string =
        after === null ? path : `${path}${separator}after=${encodeURIComponent(after)}`;
      const response = await call(server.app, session, "GET", url);
      expect(response.statusCode).toBe(200);
      const body = response.json() as Listed;
      pages.push(body[key] as unknown[]);
      after = body.next;
    } while (after !== null && pages.length < 50);
    return pages;
  }

  it("pages the members in join order with a cursor; without limit everyone and next null", async () => {
    const { ws, olivia } = await team();
    const base = `/v1/workspaces/${ws}/members`;
    const all = (await call(server.app, olivia, "GET", base)).json();
    expect(all.members).toHaveLength(13);
    expect(all.next).toBeNull();
    const pages = await walk(olivia, `${base}?limit=5`, "members");
    expect(pages.map((page) => page.length)).toEqual([5, 5, 3]);
    expect(pages.flat().map((member) => (member as { email: string }).email)).toEqual(
      all.members.map((member: { email: string }) => member.email),
    );
  });

  it("finds members by email or name, ignoring case, and pages the matches", async () => {
    const { ws, olivia } = await team();
    const base = `/v1/workspaces/${ws}/members`;
    const byName = (await call(server.app, olivia, "GET", `${base}?q=PERSON 1`)).json();
    expect(byName.members.map((member: { name: string }) => member.name)).toEqual([
      "Person 10",
      "Person 11",
      "Person 12",
    ]);
    const byEmail = (await call(server.app, olivia, "GET", `${base}?q=son07@EXAMPLE`)).json();
    expect(byEmail.members.map((member: { email: string }) => member.email)).toEqual([
      "person07@example.com",
    ]);
    const pages = await walk(olivia, `${base}?q=person&limit=4`, "members");
    expect(pages.map((page) => page.length)).toEqual([4, 4, 4]);
    const none = (await call(server.app, olivia, "GET", `${base}?q=nobody`)).json();
    expect(none).toEqual({ members: [], next: null });
  });

  it("pages and searches groups by name; % and _ match themselves", async () => {
    const { ws, olivia } = await team();
    const base = `/v1/workspaces/${ws}/groups`;
    const pages = await walk(olivia, `${base}?limit=3`, "groups");
    expect(pages.flat().map((group) => (group as { name: string }).name)).toEqual([
      "50%_off",
      "Billing",
      "Day shift",
      "Night shift",
      "Ops",
      "QA",
      "Support",
    ]);
    const shifts = (await call(server.app, olivia, "GET", `${base}?q=SHIFT`)).json();
    expect(shifts.groups.map((group: { name: string }) => group.name)).toEqual([
      "Day shift",
      "Night shift",
    ]);
    const literal = (await call(server.app, olivia, "GET", `${base}?q=%25_`)).json();
    expect(literal.groups.map((group: { name: string }) => group.name)).toEqual(["50%_off"]);
    // Case is ignored beyond ASCII, on SQLite as on PostgreSQL.
    await server.gatehouse.members.createGroup(systemActor(), ws, { name: "Équipe Zürich" });
    for (const q of ["équipe zür", "ÉQUIPE ZÜR"]) {
      const found = (
        await call(server.app, olivia, "GET", `${base}?q=${encodeURIComponent(q)}`)
      ).json();
      expect(found.groups.map((group: { name: string }) => group.name)).toEqual(["Équipe Zürich"]);
    }
  });

  it("pages invitations newest first and finds them by email", async () => {
    const { ws, olivia } = await team();
    const base = `/v1/workspaces/${ws}/invitations?status=pending`;
    const all = (await call(server.app, olivia, "GET", base)).json();
    expect(all.invitations).toHaveLength(6);
    const pages = await walk(olivia, `${base}&limit=4`, "invitations");
    expect(pages.flat()).toEqual(all.invitations);
    const found = (await call(server.app, olivia, "GET", `${base}&q=GUEST5`)).json();
    expect(found.invitations.map((invitation: { email: string }) => invitation.email)).toEqual([
      "guest5@example.org",
    ]);
  });

  it("finds resources by id on the engine's sorted names, paged, for the host app and a member", async () => {
    const { ws, olivia, host } = await team();
    const base = `/v1/workspaces/${ws}/resources?type=site&permission=site.view`;
    const found = (await call(server.app, olivia, "GET", `${base}&q=site-02&limit=4`)).json();
    expect(found).toEqual({
      items: ["site:Site-020", "site:Site-021", "site:Site-022", "site:Site-023"],
      next: "site:Site-023",
      // Sites have no children in MZPanel: each listed site carries an empty count.
      children: {
        "site:Site-020": {},
        "site:Site-021": {},
        "site:Site-022": {},
        "site:Site-023": {},
      },
    });
    const rest = (
      await call(server.app, olivia, "GET", `${base}&q=site-02&limit=4&after=site:Site-023`)
    ).json();
    expect(rest.items).toEqual([
      "site:Site-024",
      "site:Site-025",
      "site:Site-026",
      "site:Site-027",
    ]);
    const hosted = (await call(server.app, host, "GET", `${base}&q=30`)).json();
    expect(hosted).toEqual({
      items: ["site:Site-030"],
      next: null,
      children: { "site:Site-030": {} },
    });
    // The type is not part of the id: "site" alone matches every id here, "s1" none.
    const noType = (await call(server.app, olivia, "GET", `${base}&q=s1`)).json();
    expect(noType.items).toEqual([]);
  });

  it("refuses a limit past 500 and a cursor it did not return", async () => {
    const { ws, olivia } = await team();
    const base = `/v1/workspaces/${ws}/members`;
    expectProblem(await call(server.app, olivia, "GET", `${base}?limit=501`), 400, "INVALID_INPUT");
    expectProblem(
      await call(server.app, olivia, "GET", `${base}?limit=5&after=bm90IGEgY3Vyc29y`),
      400,
      "INVALID_INPUT",
    );
  });
});
