import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { parsePolicyFile } from "./policy-file.ts";
import { runPolicySuite } from "./run-policy-suite.ts";

const folder = mkdtempSync(join(tmpdir(), "gatehouse-policy-unit-"));
afterAll(() => rmSync(folder, { recursive: true, force: true }));

function write(name: string, text: string): string {
  const path = join(folder, name);
  writeFileSync(path, text);
  return path;
}

function issuesOf(path: string) {
  const parsed = parsePolicyFile(path);
  if (parsed.success) throw new Error("the file was accepted");
  return parsed.issues.map((issue) => `${issue.path}: ${issue.message}`);
}

const MODEL = {
  name: "tiny",
  types: { account: {}, project: { parents: ["account"] } },
  permissions: { "team.manage": { on: "account" }, "project.view": { on: "project" } },
  delegation: "team.manage",
  roles: {
    owner: { owner: true, scopes: ["account"] },
    viewer: { scopes: ["project"], permissions: ["project.view"] },
  },
};

describe("policy test files", () => {
  it("reads JSON too, with the model in a file next to the test file", () => {
    write("tiny.model.json", JSON.stringify(MODEL));
    const path = write(
      "tiny.policy.json",
      JSON.stringify({
        model: "./tiny.model.json",
        workspace: "north",
        resources: { "project:web": "account:north" },
        grants: [{ subject: "user:vic", role: "viewer", scope: "project:web" }],
        checks: [
          {
            subject: "user:vic",
            permission: "project.view",
            resource: "project:web",
            expect: "allow",
          },
          {
            subject: "user:vic",
            permission: "team.manage",
            resource: "account:north",
            expect: "deny",
          },
        ],
      }),
    );
    const parsed = parsePolicyFile(path);
    expect(parsed.success).toBe(true);
    if (parsed.success)
      expect(runPolicySuite(parsed.suite)).toMatchObject({ passed: 2, failed: 0 });
  });

  it("judges expiring grants at the file's clock", () => {
    const at = (now: string) =>
      write(
        `expiry-${now.slice(0, 4)}.yaml`,
        `preset: mzpanel
workspace: w
now: ${now}
resources: { "server:s1": "workspace:w" }
grants:
  - { subject: user:otto, role: operator, scope: server:s1, expiresAt: 2026-01-01T00:00:00Z }
checks:
  - { subject: user:otto, permission: server.restart, resource: server:s1, expect: allow }
`,
      );
    const before = parsePolicyFile(at("2025-12-31T00:00:00Z"));
    const after = parsePolicyFile(at("2026-02-01T00:00:00Z"));
    if (!before.success || !after.success) throw new Error("invalid file");
    expect(runPolicySuite(before.suite).failed).toBe(0);
    const outcome = runPolicySuite(after.suite).outcomes[0];
    expect(outcome).toMatchObject({
      passed: false,
      explanation: { considered: [{ outcome: "expired" }] },
    });
  });

  it("reports cycles, unknown parents, bad groups, an inline model's own issues and empty files", () => {
    expect(
      issuesOf(
        write(
          "tree.yaml",
          `preset: mzpanel
workspace: w
resources:
  "server:a": "site:b"
  "site:b": "server:a"
groups:
  team: [user:x]
  group:ops: [otto]
checks:
  - { subject: user:x, permission: server.view, resource: server:a, expect: deny, reason: sometimes }
`,
        ),
      ),
    ).toEqual([
      'resources["server:a"]: site:b is not placed: its own parent is missing, or they form a cycle',
      'resources["site:b"]: server:a is not placed: its own parent is missing, or they form a cycle',
      "groups.team: must be group:<id>",
      'groups["group:ops"][0]: must be user:<id>',
      "checks[0].reason: goes with expect: deny and is one of not_found, not_applicable, no_grant, key_expired, key_scope, key_resource",
    ]);
    expect(
      issuesOf(
        write(
          "model.yaml",
          `model: { name: x, types: {}, permissions: {}, roles: {} }\nchecks: []\n`,
        ),
      )[0],
    ).toMatch(/^model: /);
    expect(issuesOf(write("empty.yaml", "preset: mzpanel\n"))).toEqual([
      ": no checks and no lists: nothing to test",
    ]);
    expect(issuesOf(write("both.yaml", "preset: mzpanel\nmodel: {}\n"))[0]).toContain(
      "give either preset",
    );
  });
});
