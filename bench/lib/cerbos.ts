/**
 * The Cerbos policy decision point as a benchmark peer: its server binary comes from the
 * `@cerbos/cerbos-linux-x64` npm package, fetched with `npm pack` into the git-ignored
 * `bench/.cache` (never a dependency of the product), and runs with resource policies generated
 * from the mzpanel preset. Cerbos is stateless: each request carries the principal's grants as an
 * attribute and each resource its ancestors. Its REST API is driven with JSON bodies, its gRPC API
 * through the official client (`@cerbos/grpc`). See docs/benchmarks.md.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { GRPC } from "@cerbos/grpc";
import { freePort } from "../../packages/server/test/support/instances.ts";
import { rolePermissions } from "./peers.ts";
import { type MzPerm, type MzRole, type MzType, mzpanel } from "./scenario.ts";

export const CERBOS_VERSION = "0.55.0";
const PACKAGE = "@cerbos/cerbos-linux-x64";

/** The Cerbos server binary, fetched once into `cacheDir` with the npm client. */
export function cerbosBinary(cacheDir: string): string {
  const folder = join(cacheDir, `cerbos-${CERBOS_VERSION}`);
  const binary = join(folder, "package", "cerbos-linux-x64");
  if (existsSync(binary)) return binary;
  if (process.platform !== "linux" || process.arch !== "x64")
    throw new Error(`the Cerbos peer needs linux-x64, not ${process.platform}-${process.arch}`);
  mkdirSync(folder, { recursive: true });
  const tarball = execFileSync(
    "npm",
    ["pack", `${PACKAGE}@${CERBOS_VERSION}`, "--pack-destination", folder, "--silent"],
    { encoding: "utf8" },
  )
    .trim()
    .split("\n")
    .at(-1)!;
  execFileSync("tar", ["xzf", join(folder, tarball), "-C", folder]);
  rmSync(join(folder, tarball));
  chmodSync(binary, 0o755);
  return binary;
}

const ROLES = mzpanel.roles as readonly MzRole[];
const definition = mzpanel.definition;

/** The resource types a permission acts on. */
function typesOf(permission: MzPerm): readonly MzType[] {
  const on = definition.permissions[permission].on;
  return typeof on === "string" ? [on] : on;
}

/** Ancestors of a type, nearest first: site → [server, workspace]. */
function ancestorTypes(type: MzType): MzType[] {
  const chain: MzType[] = [];
  let parents: readonly string[] | undefined = definition.types[type].parents;
  while (parents !== undefined && parents.length > 0) {
    const parent = parents[0] as MzType;
    chain.push(parent);
    parents = definition.types[parent].parents;
  }
  return chain;
}

/** The scope types a role can be granted at. */
function roleScopes(role: MzRole): readonly MzType[] {
  return definition.roles[role].scopes as readonly MzType[];
}

/**
 * The CEL expression naming the resource's node of `scopeType` as the request sees it: the
 * resource itself (`R.id`) or one of its ancestors, passed as an attribute named after the type.
 */
function nodeExpression(resourceType: MzType, scopeType: MzType): string | undefined {
  if (scopeType === resourceType) return "R.id";
  return ancestorTypes(resourceType).includes(scopeType) ? `R.attr.${scopeType}` : undefined;
}

/**
 * Policies equivalent to the engine's tree semantics for mzpanel, generated from the preset: per
 * resource type, one derived role per model role, held when the principal's `grants` map (scope →
 * role) gives that role at the resource or at an ancestor where the role can be granted; one
 * resource-policy rule per role allows exactly the role's permissions that act on the type.
 */
export function cerbosPolicies(): Record<string, unknown> {
  const policies: Record<string, unknown> = {};
  for (const type of Object.keys(definition.types) as MzType[]) {
    const derived = ROLES.flatMap((role) => {
      const nodes = roleScopes(role)
        .map((scope) => nodeExpression(type, scope))
        .filter((node): node is string => node !== undefined);
      if (nodes.length === 0) return [];
      const expr = nodes
        .map((node) => `(${node} in P.attr.grants && P.attr.grants[${node}] == "${role}")`)
        .join(" || ");
      return [{ name: role, parentRoles: ["member"], condition: { match: { expr } } }];
    });
    policies[`derived_roles_${type}.json`] = {
      apiVersion: "api.cerbos.dev/v1",
      derivedRoles: { name: `mzpanel_${type}_grants`, definitions: derived },
    };
    const rules = derived.flatMap(({ name }) => {
      const actions = rolePermissions(name as MzRole).filter((permission) =>
        typesOf(permission).includes(type),
      );
      return actions.length === 0
        ? []
        : [{ actions: [...actions], effect: "EFFECT_ALLOW", derivedRoles: [name] }];
    });
    policies[`resource_${type}.json`] = {
      apiVersion: "api.cerbos.dev/v1",
      resourcePolicy: {
        version: "default",
        resource: type,
        importDerivedRoles: [`mzpanel_${type}_grants`],
        rules,
      },
    };
  }
  return policies;
}

export interface CerbosServer {
  /** The REST (HTTP/1.1 JSON) API. */
  readonly url: string;
  /** The gRPC API, `host:port`. */
  readonly grpcAddress: string;
  readonly pid: number;
  readonly policyDir: string;
  stop(): Promise<void>;
}

/**
 * Writes the policies and a config into `workDir` and starts `cerbos server` on a loopback port,
 * with telemetry off (no traffic leaves the machine), audit off, and request limits raised to the
 * batch size. `gomaxprocs` caps the Go scheduler; `cpus` pins it with taskset.
 */
export async function startCerbos(options: {
  readonly binary: string;
  readonly workDir: string;
  readonly maxResourcesPerRequest: number;
  readonly gomaxprocs: number;
  readonly cpus?: string | undefined;
}): Promise<CerbosServer> {
  const policyDir = join(options.workDir, "policies");
  rmSync(options.workDir, { recursive: true, force: true });
  mkdirSync(policyDir, { recursive: true });
  for (const [name, policy] of Object.entries(cerbosPolicies()))
    writeFileSync(join(policyDir, name), `${JSON.stringify(policy, null, 2)}\n`);
  const httpPort = await freePort();
  const grpcPort = await freePort();
  const config = {
    server: {
      httpListenAddr: `127.0.0.1:${httpPort}`,
      grpcListenAddr: `127.0.0.1:${grpcPort}`,
      requestLimits: {
        maxActionsPerResource: 50,
        maxResourcesPerRequest: options.maxResourcesPerRequest,
      },
    },
    storage: { driver: "disk", disk: { directory: policyDir, watchForChanges: false } },
    audit: { enabled: false },
    telemetry: { disabled: true },
  };
  const configFile = join(options.workDir, "config.yaml");
  // JSON is YAML.
  writeFileSync(configFile, `${JSON.stringify(config, null, 2)}\n`);
  const command = [options.binary, "server", `--config=${configFile}`, "--log-level=warn"];
  const [program, ...args] =
    options.cpus === undefined ? command : ["taskset", "-c", options.cpus, ...command];
  const child: ChildProcess = spawn(program!, args, {
    env: {
      PATH: process.env["PATH"] ?? "/usr/bin:/bin",
      GOMAXPROCS: String(options.gomaxprocs),
      CERBOS_NO_TELEMETRY: "1",
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  const collect = (chunk: Buffer) => {
    output = (output + chunk.toString("utf8")).slice(-20_000);
  };
  child.stdout?.on("data", collect);
  child.stderr?.on("data", collect);
  const url = `http://127.0.0.1:${httpPort}`;
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const done = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    child.kill("SIGTERM");
    const killer = setTimeout(() => child.kill("SIGKILL"), 5_000);
    await done;
    clearTimeout(killer);
  };
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null)
      throw new Error(`cerbos exited before it was ready:\n${output}`);
    try {
      const response = await fetch(`${url}/_cerbos/health`);
      await response.arrayBuffer();
      if (response.status === 200) break;
    } catch {
      // Not listening yet.
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`cerbos was not ready in time:\n${output}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  return { url, grpcAddress: `127.0.0.1:${grpcPort}`, pid: child.pid!, policyDir, stop };
}

/** A principal as Cerbos sees it: the member's grants, scope → role. */
export interface CerbosPrincipal {
  readonly id: string;
  readonly roles: readonly string[];
  readonly attr: { readonly grants: Readonly<Record<string, string>> };
}

/** A site as Cerbos sees it: its id and its ancestors. */
export interface CerbosSite {
  readonly kind: "site";
  readonly id: string;
  readonly attr: { readonly server: string; readonly workspace: string };
}

/** The body of `POST /api/check/resources` for one principal and several resources. */
export function checkResourcesBody(
  requestId: string,
  principal: CerbosPrincipal,
  resources: readonly { resource: CerbosSite; actions: readonly string[] }[],
): string {
  return JSON.stringify({ requestId, principal, resources });
}

/** `results[i].actions[action] === "EFFECT_ALLOW"` for each resource, in request order. */
export function cerbosEffects(body: unknown): { id: string; actions: Record<string, boolean> }[] {
  const results = (body as { results?: unknown }).results;
  if (!Array.isArray(results))
    throw new Error(`cerbos answered no results: ${JSON.stringify(body)}`);
  return results.map((result: { resource: { id: string }; actions: Record<string, string> }) => ({
    id: result.resource.id,
    actions: Object.fromEntries(
      Object.entries(result.actions).map(([action, effect]) => [action, effect === "EFFECT_ALLOW"]),
    ),
  }));
}

/** The request of `CheckResources` as the gRPC client takes it: the REST body's fields. */
export type CerbosCheckRequest = Parameters<GRPC["checkResources"]>[0];

/** The same question as a REST body of {@link checkResourcesBody}, for the gRPC client. */
export function checkResourcesRequest(body: string): CerbosCheckRequest {
  return JSON.parse(body) as CerbosCheckRequest;
}

/**
 * `count` gRPC clients of the PDP at `address`, plaintext, each on its own HTTP/2 connection (a
 * local subchannel pool: grpc-js otherwise shares one connection between clients of a target).
 */
export function cerbosGrpcClients(address: string, count: number): GRPC[] {
  return Array.from(
    { length: count },
    () =>
      new GRPC(address, {
        tls: false,
        channelOptions: { "grpc.use_local_subchannel_pool": 1, "grpc.enable_retries": 0 },
      }),
  );
}

/** Asks the gRPC API and returns the effects as {@link cerbosEffects} does for REST. */
export async function cerbosGrpcEffects(
  client: GRPC,
  request: CerbosCheckRequest,
): Promise<{ id: string; actions: Record<string, boolean> }[]> {
  const response = await client.checkResources(request);
  return response.results.map((result) => ({
    id: result.resource.id,
    actions: Object.fromEntries(
      Object.keys(result.actions).map((action) => [action, result.isAllowed(action) === true]),
    ),
  }));
}
