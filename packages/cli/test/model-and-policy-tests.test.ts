import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { presets } from "@gatehouse/engine/presets";
import { afterAll, describe, expect, it, vi } from "vitest";
import { gatehouse } from "./harness.ts";

vi.setConfig({ testTimeout: 120_000 });

const folder = mkdtempSync(join(tmpdir(), "gatehouse-policy-"));
afterAll(() => rmSync(folder, { recursive: true, force: true }));

function file(name: string, text: string): string {
  const path = join(folder, name);
  writeFileSync(path, text);
  return path;
}

describe("gatehouse model show", () => {
  it("prints the type tree, roles × scopes and the role × permission matrix, or the JSON", async () => {
    const [text, json, unknown, invalid] = await Promise.all([
      gatehouse(["model", "show", "hosting-customer"]),
      gatehouse(["model", "show", "company", "--json"]),
      gatehouse(["model", "show", "nope"]),
      gatehouse([
        "model",
        "show",
        file("bad-model.json", JSON.stringify({ name: "x", types: { a: { parents: ["b"] } } })),
      ]),
    ]);
    expect(text.code).toBe(0);
    expect(text.stdout).toContain(
      "workspace (Team)  [root]\n  └─ customer (Customer)\n     └─ hosting (Hosting)",
    );
    expect(text.stdout).toMatch(/customer_admin +customer +\d+ +Full Customer Admin/);
    expect(text.stdout).toMatch(/workspace\.close \* +workspace +✓ +· +· +·/);
    expect(text.stdout).toMatch(/hosting\.stats\.view +hosting +✓ +✓ +· +· +✓ +· +· +✓/);
    expect(text.stdout).toContain("Delegation: permissions.manage");
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout)).toEqual(JSON.parse(JSON.stringify(presets.company.definition)));
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('unknown preset "nope"; presets: mzpanel, hosting-customer');
    expect(invalid.code).toBe(1);
    expect(invalid.stderr).toContain("[INVALID_MODEL]");
    expect(invalid.stderr).toMatch(/ {2}types\.a\.parents\[0\]: /);
  });

  it("stops quietly when its reader closes the pipe (`gatehouse model show … | head`)", async () => {
    const result = await gatehouse(["model", "show", "hosting-customer"], { closeStdout: true });
    expect(result.stderr).toBe("");
    // As a process ended by SIGPIPE (128 + 13), like git's and coreutils'.
    expect(result.code).toBe(141);
  });
});

describe("gatehouse test", () => {
  it("passes the shipped examples for two presets and a custom model", async () => {
    const result = await gatehouse([
      "test",
      "docs/examples/mzpanel.policy.yaml",
      "docs/examples/hosting-customer.policy.yaml",
      "docs/examples/custom-model.policy.yaml",
    ]);
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    expect(result.stdout).toContain("docs/examples/mzpanel.policy.yaml — MZPanel");
    expect(result.stdout).toMatch(/total: \d+ passed, 0 failed/);
    expect(result.stdout).not.toContain("✗");
  });

  it("reports a wrong expectation with the engine's explanation and exits 1", async () => {
    const wrong = file(
      "wrong.policy.yaml",
      `preset: mzpanel
workspace: acme
resources:
  server:fra-1: workspace:acme
  site:shop.example: server:fra-1
  site:blog.example: server:fra-1
groups:
  group:web: [user:cara]
grants:
  - { subject: group:web, role: customer, scope: site:shop.example }
checks:
  - { subject: user:cara, permission: site.deploy, resource: site:shop.example, expect: allow }
  # Wrong on purpose: cara is a customer of shop.example only.
  - { subject: user:cara, permission: site.deploy, resource: site:blog.example, expect: allow }
  - { subject: user:cara, permission: site.view, resource: site:nope, expect: deny, reason: no_grant }
lists:
  - { subject: user:cara, type: site, permission: site.view, expect: [site:blog.example] }
`,
    );
    const result = await gatehouse(["test", wrong]);
    expect(result.code).toBe(1);
    const lines = result.stdout.split("\n");
    expect(lines).toContain(
      "  ✗ checks[1] (line 14): user:cara site.deploy on site:blog.example: expected allow, got denied (no_grant)",
    );
    expect(result.stdout).toContain(
      '        role "customer" on site:shop.example (through group:web): not at the resource or above it',
    );
    expect(result.stdout).toContain(
      '      would be allowed by: role "customer" on site:blog.example',
    );
    expect(result.stdout).toContain(
      "  ✗ checks[2] (line 15): user:cara site.view on site:nope: expected deny (no_grant), got denied (not_found)",
    );
    expect(result.stdout).toContain("      missing: site:blog.example");
    expect(result.stdout).toContain("      not expected: site:shop.example");
    expect(result.stdout).toContain("  1 passed, 3 failed");
  });

  it("lists every problem of an invalid file with its path and line, and exits 1", async () => {
    const invalid = file(
      "invalid.policy.yaml",
      `preset: mzpanel
workspace: acme
colour: blue
resources:
  site:shop.example: server:nowhere
grants:
  - { subject: cara, role: customer, scope: site:shop.example }
checks:
  - { subject: user:cara, permission: site.fly, resource: site:shop.example, expect: maybe }
`,
    );
    const broken = file("broken.policy.yaml", "preset: mzpanel\nchecks: [\n");
    const result = await gatehouse(["test", invalid, broken]);
    expect(result.code).toBe(1);
    expect(result.stdout).toContain(`${invalid}: invalid policy test file`);
    expect(result.stdout).toContain("  colour (line 3): unknown field");
    expect(result.stdout).toContain(
      '  resources["site:shop.example"] (line 5): the parent server:nowhere is neither the root workspace:acme nor a listed resource',
    );
    expect(result.stdout).toContain(
      "  grants[0].subject (line 7): must be user:<id> or group:<id>",
    );
    expect(result.stdout).toContain(
      '  checks[0].permission (line 9): unknown permission "site.fly"',
    );
    expect(result.stdout).toContain("  checks[0].expect (line 9): must be allow or deny");
    expect(result.stdout).toContain(`${broken}: invalid policy test file\n  (file) (line 3):`);
    expect(result.stdout).toContain("total: 0 passed, 0 failed, 2 invalid file(s)");
  });
});
