/**
 * Engine benchmark: the mzpanel preset (workspace → server → site) at a sweep of workspace sizes up
 * to 100k sites / 2k servers / 10k members / ~40k grants, against a hand-written Map floor, CASL and
 * casbin in the same run. `npm run bench` (full) or `npm run bench -- --quick` (< 1 minute).
 * Optional: `--sizes=1000,10000` to pick the sweep. See docs/benchmarks.md.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { createEngine, type Engine } from "../packages/engine/src/index.ts";
import { collectGarbage, loadAverage, machine, settledHeap } from "./lib/env.ts";
import { fmtInt, fmtMs, fmtNs, fmtOps, revision, type Target, table } from "./lib/format.ts";
import {
  type BatchRunner,
  measureCalls,
  measureRound,
  pool,
  type Round,
  type Stats,
  sinkValue,
  timeMs,
  timeMsAsync,
} from "./lib/measure.ts";
import { buildCasbin, buildCasl, MapFloor, SITE_PERMISSIONS } from "./lib/peers.ts";
import { Prng } from "./lib/prng.ts";
import {
  CHECK_PERMISSIONS,
  generateQueries,
  generateScenario,
  type Member,
  type MemberKind,
  type MzPerm,
  type MzRef,
  type MzRole,
  type MzType,
  mzpanel,
  type Scenario,
  type Sizes,
  type UserRef,
  WORKSPACE,
} from "./lib/scenario.ts";

type MzEngine = Engine<MzType, MzPerm, MzRole>;

const SEED = 0x6a7e_5eed;
const QUERY_COUNT = 1 << 16;
const HOT_QUERIES = 1 << 10;
/** Warm-up before each round after the first (caches and JIT state after other contenders ran). */
const REWARM_MS = 50;
const FULL_SITES = 100_000;

interface Settings {
  readonly quick: boolean;
  readonly sizes: readonly number[];
  readonly warmupMs: number;
  /** Total measured time per contender, split over `rounds` interleaved rounds. */
  readonly durationMs: number;
  readonly rounds: number;
  /** Per-call timing (listVisible): time budget per configuration. */
  readonly listDurationMs: number;
  readonly listMaxCalls: number;
  readonly verifySamples: number;
}

function parseSettings(argv: readonly string[]): Settings {
  const quick = argv.includes("--quick");
  const sizesArg = argv.find((arg) => arg.startsWith("--sizes="));
  const sizes = sizesArg
    ? sizesArg
        .slice("--sizes=".length)
        .split(",")
        .map((value) => Number(value.replace(/_/g, "")))
    : [1_000, 10_000, FULL_SITES];
  if (sizes.some((size) => !Number.isInteger(size) || size < 100)) {
    throw new Error(`--sizes takes whole numbers ≥ 100, got ${sizesArg}`);
  }
  return quick
    ? {
        quick,
        sizes,
        warmupMs: 150,
        durationMs: 400,
        rounds: 1,
        listDurationMs: 250,
        listMaxCalls: 5_000,
        verifySamples: 10_000,
      }
    : {
        quick,
        sizes,
        warmupMs: 500,
        durationMs: 3_000,
        rounds: 3,
        listDurationMs: 1_500,
        listMaxCalls: 50_000,
        verifySamples: 10_000,
      };
}

// ------------------------------------------------------------------------------------------------
// One size of the sweep.

interface Row {
  readonly name: string;
  readonly stats: Stats;
  /** The row's floor, for the "× floor time" column. */
  readonly floor: string | undefined;
  /** The row's CASL counterpart, for the "× CASL speed" column. */
  readonly casl: string | undefined;
}

interface Contender {
  readonly name: string;
  readonly run: BatchRunner;
  readonly batch: number;
  readonly floor: string | undefined;
  readonly casl: string | undefined;
  readonly rounds: Round[];
  position: number;
}

interface ListRow {
  readonly kind: string;
  readonly members: number;
  readonly visibleMean: number;
  readonly page: Stats;
  readonly full: Stats;
}

interface SizeResult {
  readonly sizes: Sizes;
  readonly allowShare: number;
  readonly build: Record<string, number>;
  readonly heapMiB: Record<string, number>;
  readonly rows: readonly Row[];
  readonly lists: readonly ListRow[];
  readonly cursorPage: Stats;
}

/** The check queries as the host app would pass them: subject, permission and resource names. */
interface QueryStrings {
  readonly mask: number;
  readonly subject: UserRef[];
  readonly permission: MzPerm[];
  readonly site: MzRef[];
}

function materialize(scenario: Scenario, seed: number): QueryStrings {
  const queries = generateQueries(scenario, QUERY_COUNT, seed);
  const subject: UserRef[] = [];
  const permission: MzPerm[] = [];
  const site: MzRef[] = [];
  for (let i = 0; i < queries.length; i++) {
    subject.push(scenario.members[queries.member[i]!]!.subject);
    permission.push(CHECK_PERMISSIONS[queries.permission[i]!]!);
    site.push(scenario.sites[queries.site[i]!]!);
  }
  return { mask: queries.mask, subject, permission, site };
}

function mib(bytes: number): number {
  return Math.round((bytes / 2 ** 20) * 10) / 10;
}

function fail(message: string): never {
  throw new Error(`VERIFICATION FAILED: ${message}`);
}

async function runSize(sites: number, settings: Settings): Promise<SizeResult> {
  const scenario = generateScenario(sites, SEED);
  const q = materialize(scenario, SEED + 1);
  const sizes = scenario.sizes;
  log(
    `\n── ${fmtInt(sizes.sites)} sites, ${fmtInt(sizes.servers)} servers, ${fmtInt(sizes.members)} members, ${fmtInt(sizes.grants)} grants (load average ${loadAverage()})`,
  );

  // Build every contender, measuring wall time and retained heap.
  const build: Record<string, number> = {};
  const heapMiB: Record<string, number> = {};
  let heap = settledHeap();
  const builtEngine = timeMs(() =>
    createEngine(mzpanel, {
      workspace: WORKSPACE,
      resources: scenario.resources,
      grants: scenario.grants,
    }),
  );
  const engine: MzEngine = builtEngine.value;
  build["engine"] = builtEngine.ms;
  heapMiB["engine"] = mib(settledHeap() - heap);

  heap = settledHeap();
  const builtFloor = timeMs(() => new MapFloor(scenario));
  const floor = builtFloor.value;
  build["floor"] = builtFloor.ms;
  heapMiB["floor"] = mib(settledHeap() - heap);

  heap = settledHeap();
  const builtCasl = timeMs(() => buildCasl(scenario));
  const casl = builtCasl.value;
  build["casl"] = builtCasl.ms;
  heapMiB["casl"] = mib(settledHeap() - heap);

  heap = settledHeap();
  const builtCasbin = await timeMsAsync(() => buildCasbin(scenario));
  const casbin = builtCasbin.value;
  build["casbin"] = builtCasbin.ms;
  heapMiB["casbin"] = mib(settledHeap() - heap);
  log(
    `   built: engine ${fmtMs(build["engine"])} (${heapMiB["engine"]} MiB), floor ${fmtMs(build["floor"])} (${heapMiB["floor"]} MiB), ` +
      `CASL ${fmtMs(build["casl"])} (${heapMiB["casl"]} MiB, ${fmtInt(casl.rules)} rules), casbin ${fmtMs(build["casbin"])} (${heapMiB["casbin"]} MiB)`,
  );

  const { abilities, siteSubjects } = casl;
  const { enforcer, siteServer } = casbin;
  const root = scenario.root;
  const caslCan = (user: string, permission: string, site: string): boolean =>
    abilities.get(user)?.can(permission, siteSubjects.get(site)!) ?? false;
  const casbinCan = (user: string, permission: string, site: string): boolean =>
    enforcer.enforceSync(user, site, siteServer.get(site)!, root, permission);

  // Every peer must agree with the engine before any figure is printed.
  const allowShare = verify(scenario, engine, floor, caslCan, casbinCan, settings);

  const { mask, subject, permission, site } = q;
  const contenders: Contender[] = [];
  const bench = (
    name: string,
    run: BatchRunner,
    batch: number,
    floorName?: string,
    caslName?: string,
  ): void => {
    contenders.push({
      name,
      run,
      batch,
      floor: floorName,
      casl: caslName,
      rounds: [],
      position: 0,
    });
  };

  bench(
    "engine.check",
    (start, count) => {
      let allowed = 0;
      for (let i = 0; i < count; i++) {
        const k = (start + i) & mask;
        if (engine.check(subject[k]!, permission[k]!, site[k]!).allowed) allowed++;
      }
      return allowed;
    },
    1000,
    "floor.check",
    "casl.check",
  );
  bench(
    "floor.check",
    (start, count) => {
      let allowed = 0;
      for (let i = 0; i < count; i++) {
        const k = (start + i) & mask;
        if (floor.check(subject[k]!, permission[k]!, site[k]!)) allowed++;
      }
      return allowed;
    },
    1000,
    "floor.check",
    "casl.check",
  );
  bench(
    "casl.check",
    (start, count) => {
      let allowed = 0;
      for (let i = 0; i < count; i++) {
        const k = (start + i) & mask;
        const ability = abilities.get(subject[k]!);
        if (ability?.can(permission[k]!, siteSubjects.get(site[k]!)!)) allowed++;
      }
      return allowed;
    },
    1000,
    "floor.check",
    "casl.check",
  );
  bench(
    "casbin.check",
    (start, count) => {
      let allowed = 0;
      for (let i = 0; i < count; i++) {
        const k = (start + i) & mask;
        const s = site[k]!;
        if (enforcer.enforceSync(subject[k]!, s, siteServer.get(s)!, root, permission[k]!))
          allowed++;
      }
      return allowed;
    },
    10,
    "floor.check",
    "casl.check",
  );
  bench(
    "engine.permissionsOn",
    (start, count) => {
      let held = 0;
      for (let i = 0; i < count; i++) {
        const k = (start + i) & mask;
        held += engine.permissionsOn(subject[k]!, site[k]!).length;
      }
      return held;
    },
    1000,
    "floor.permissionsOn",
    "casl.permissionsOn",
  );
  bench(
    "floor.permissionsOn",
    (start, count) => {
      let held = 0;
      for (let i = 0; i < count; i++) {
        const k = (start + i) & mask;
        held += floor.permissionsOnSite(subject[k]!, site[k]!).length;
      }
      return held;
    },
    1000,
    "floor.permissionsOn",
    "casl.permissionsOn",
  );
  bench(
    "casl.permissionsOn",
    (start, count) => {
      let held = 0;
      for (let i = 0; i < count; i++) {
        const k = (start + i) & mask;
        const ability = abilities.get(subject[k]!);
        if (ability === undefined) continue;
        const target = siteSubjects.get(site[k]!)!;
        const names: string[] = [];
        for (const name of SITE_PERMISSIONS) if (ability.can(name, target)) names.push(name);
        held += names.length;
      }
      return held;
    },
    100,
    "floor.permissionsOn",
    "casl.permissionsOn",
  );

  // The same calls over only 1,024 distinct queries: the working set stays in cache, so these rows
  // show the CPU cost of a decision without the cache misses of a random walk over 100k sites.
  const hot = HOT_QUERIES - 1;
  bench(
    "engine.check.hot",
    (start, count) => {
      let allowed = 0;
      for (let i = 0; i < count; i++) {
        const k = (start + i) & hot;
        if (engine.check(subject[k]!, permission[k]!, site[k]!).allowed) allowed++;
      }
      return allowed;
    },
    1000,
    "floor.check.hot",
  );
  bench(
    "floor.check.hot",
    (start, count) => {
      let allowed = 0;
      for (let i = 0; i < count; i++) {
        const k = (start + i) & hot;
        if (floor.check(subject[k]!, permission[k]!, site[k]!)) allowed++;
      }
      return allowed;
    },
    1000,
    "floor.check.hot",
  );
  bench(
    "engine.permissionsOn.hot",
    (start, count) => {
      let held = 0;
      for (let i = 0; i < count; i++) {
        const k = (start + i) & hot;
        held += engine.permissionsOn(subject[k]!, site[k]!).length;
      }
      return held;
    },
    1000,
    "floor.permissionsOn.hot",
  );
  bench(
    "floor.permissionsOn.hot",
    (start, count) => {
      let held = 0;
      for (let i = 0; i < count; i++) {
        const k = (start + i) & hot;
        held += floor.permissionsOnSite(subject[k]!, site[k]!).length;
      }
      return held;
    },
    1000,
    "floor.permissionsOn.hot",
  );

  // Rounds interleave the contenders, so a burst of load from elsewhere hits them all alike.
  for (let round = 0; round < settings.rounds; round++) {
    for (const contender of contenders) {
      collectGarbage();
      const measured = measureRound(
        contender.run,
        {
          batch: contender.batch,
          warmupMs: round === 0 ? settings.warmupMs : REWARM_MS,
          durationMs: settings.durationMs / settings.rounds,
        },
        contender.position,
      );
      contender.position = measured.position;
      contender.rounds.push(measured);
    }
  }
  const rows: Row[] = contenders.map((contender) => ({
    name: contender.name,
    stats: pool(contender.rounds),
    floor: contender.floor,
    casl: contender.casl,
  }));
  for (const { name, stats } of rows) {
    log(
      `   ${name.padEnd(26)} ${fmtOps(stats.opsPerSec).padStart(9)}/s  p50 ${fmtNs(stats.p50Ns).padStart(9)}  p99 ${fmtNs(stats.p99Ns).padStart(9)}`,
    );
  }

  const { lists, cursorPage } = benchListVisible(scenario, engine, settings);
  return { sizes, allowShare, build, heapMiB, rows, lists, cursorPage };
}

/**
 * Compares every peer's decisions with the engine's on `verifySamples` fresh random queries, plus
 * permissionsOn against the floor and listVisible against a brute-force scan for sampled members.
 * Returns the share of allowed decisions.
 */
function verify(
  scenario: Scenario,
  engine: MzEngine,
  floor: MapFloor,
  caslCan: (user: string, permission: string, site: string) => boolean,
  casbinCan: (user: string, permission: string, site: string) => boolean,
  settings: Settings,
): number {
  const sample = materialize(scenario, SEED + 7);
  const count = Math.min(settings.verifySamples, sample.subject.length);
  let allowed = 0;
  for (let i = 0; i < count; i++) {
    const user = sample.subject[i]!;
    const permission = sample.permission[i]!;
    const site = sample.site[i]!;
    const expected = engine.check(user, permission, site).allowed;
    if (expected) allowed++;
    const answers = {
      floor: floor.check(user, permission, site),
      casl: caslCan(user, permission, site),
      casbin: casbinCan(user, permission, site),
    };
    for (const [peer, answer] of Object.entries(answers)) {
      if (answer !== expected) {
        fail(
          `${peer} says ${answer ? "allow" : "deny"} but the engine says ${expected ? "allow" : "deny"} for check(${user}, ${permission}, ${site})`,
        );
      }
    }
    const mine = engine.permissionsOn(user, site).join(",");
    const theirs = floor.permissionsOnSite(user, site).join(",");
    if (mine !== theirs)
      fail(`permissionsOn(${user}, ${site}): engine [${mine}], floor [${theirs}]`);
  }
  if (allowed === 0 || allowed === count)
    fail(`the query mix is not mixed (${allowed}/${count} allowed)`);

  // listVisible: the full list and the first page, against a scan of every site.
  const prng = new Prng(SEED + 11);
  const byKind = membersByKind(scenario);
  let listed = 0;
  for (const members of byKind.values()) {
    for (let n = 0; n < Math.min(4, members.length); n++) {
      const member = prng.pick(members);
      const expected = scenario.sites
        .filter((site) => floor.check(member.subject, "site.view", site))
        .sort();
      const full = engine.listVisible(member.subject, "site", "site.view");
      if (full.items.join("\n") !== expected.join("\n") || full.next !== undefined) {
        fail(
          `listVisible(${member.subject}) returned ${full.items.length} sites, a scan finds ${expected.length}`,
        );
      }
      const page = engine.listVisible(member.subject, "site", "site.view", { limit: 100 });
      if (page.items.join("\n") !== expected.slice(0, 100).join("\n"))
        fail(`listVisible(${member.subject}, limit 100) is not the first 100 of the full list`);
      if (expected.length > 100 && page.next !== expected[99])
        fail(`listVisible(${member.subject}, limit 100).next should be ${expected[99]}`);
      listed++;
    }
  }
  log(
    `   verified: ${fmtInt(count)} checks and permissionsOn agree across engine/floor/CASL/casbin ` +
      `(${((allowed / count) * 100).toFixed(1)} % allowed); listVisible matches a scan for ${listed} members`,
  );
  return allowed / count;
}

const KIND_ORDER: readonly MemberKind[] = [
  "admin",
  "operator",
  "regional-operator",
  "fleet-operator",
  "customer",
];

function membersByKind(scenario: Scenario): Map<MemberKind, Member[]> {
  const byKind = new Map<MemberKind, Member[]>(KIND_ORDER.map((kind) => [kind, []]));
  for (const member of scenario.members) byKind.get(member.kind)?.push(member);
  return byKind;
}

function benchListVisible(
  scenario: Scenario,
  engine: MzEngine,
  settings: Settings,
): { lists: ListRow[]; cursorPage: Stats } {
  const lists: ListRow[] = [];
  const options = {
    warmupMs: settings.warmupMs / 2,
    durationMs: settings.listDurationMs,
    maxCalls: settings.listMaxCalls,
  };
  const prng = new Prng(SEED + 13);
  for (const [kind, all] of membersByKind(scenario)) {
    const members: UserRef[] = [];
    for (let i = 0; i < Math.min(64, all.length); i++) members.push(prng.pick(all).subject);
    const n = members.length;
    const visible = members.map(
      (user) => engine.listVisible(user, "site", "site.view").items.length,
    );
    const visibleMean = visible.reduce((sum, value) => sum + value, 0) / n;
    collectGarbage();
    const page = measureCalls(
      (i) => engine.listVisible(members[i % n]!, "site", "site.view", { limit: 100 }).items.length,
      options,
    );
    collectGarbage();
    const full = measureCalls(
      (i) => engine.listVisible(members[i % n]!, "site", "site.view").items.length,
      options,
    );
    lists.push({ kind, members: n, visibleMean, page, full });
    log(
      `   listVisible ${kind.padEnd(15)} sees ${fmtInt(Math.round(visibleMean)).padStart(7)}  page of 100 p50 ${fmtMs(page.p50Ns / 1e6).padStart(9)} p99 ${fmtMs(page.p99Ns / 1e6).padStart(9)}` +
        `  full set p50 ${fmtMs(full.p50Ns / 1e6).padStart(9)} p99 ${fmtMs(full.p99Ns / 1e6).padStart(9)}`,
    );
  }
  // An admin paging from a random cursor (binary search into the sorted site list).
  const admin = membersByKind(scenario).get("admin")![0]!.subject;
  const cursors = Array.from({ length: 1024 }, () => prng.pick(scenario.sites));
  collectGarbage();
  const cursorPage = measureCalls(
    (i) =>
      engine.listVisible(admin, "site", "site.view", { limit: 100, after: cursors[i & 1023] }).items
        .length,
    options,
  );
  log(
    `   listVisible admin, page after a random cursor: p50 ${fmtMs(cursorPage.p50Ns / 1e6)} p99 ${fmtMs(cursorPage.p99Ns / 1e6)}`,
  );
  return { lists, cursorPage };
}

// ------------------------------------------------------------------------------------------------
// Output.

const out = (line: string): void => {
  process.stdout.write(`${line}\n`);
};
const log = out;

function checkTable(result: SizeResult): string[] {
  const byName = new Map(result.rows.map((row) => [row.name, row.stats]));
  return table(
    ["name", "ops/s", "p50 / call", "p99 / call", "× floor time", "× CASL speed"],
    result.rows.map((row) => {
      const floor = row.floor === undefined ? undefined : byName.get(row.floor);
      const casl = row.casl === undefined ? undefined : byName.get(row.casl);
      return [
        row.name,
        fmtOps(row.stats.opsPerSec),
        fmtNs(row.stats.p50Ns),
        fmtNs(row.stats.p99Ns),
        floor === undefined ? "" : `${(floor.opsPerSec / row.stats.opsPerSec).toFixed(2)}×`,
        casl === undefined ? "" : `${(row.stats.opsPerSec / casl.opsPerSec).toFixed(2)}×`,
      ];
    }),
  );
}

function listTable(result: SizeResult): string[] {
  return table(
    [
      "listVisible (site.view)",
      "sites seen",
      "page 100 p50",
      "page 100 p99",
      "full p50",
      "full p99",
    ],
    [
      ...result.lists.map((row) => [
        `${row.kind} (${row.members} sampled)`,
        fmtInt(row.visibleMean),
        fmtMs(row.page.p50Ns / 1e6),
        fmtMs(row.page.p99Ns / 1e6),
        fmtMs(row.full.p50Ns / 1e6),
        fmtMs(row.full.p99Ns / 1e6),
      ]),
      [
        "admin, page after random cursor",
        fmtInt(result.sizes.sites),
        fmtMs(result.cursorPage.p50Ns / 1e6),
        fmtMs(result.cursorPage.p99Ns / 1e6),
        "",
        "",
      ],
    ],
  );
}

function sweepTable(results: readonly SizeResult[]): string[] {
  const ops = (result: SizeResult, name: string): string => {
    const row = result.rows.find((candidate) => candidate.name === name);
    return row === undefined ? "" : `${fmtOps(row.stats.opsPerSec)}/s`;
  };
  const worst = (result: SizeResult, kinds: readonly string[]): string =>
    fmtMs(
      Math.max(
        ...result.lists
          .filter((row) => kinds.includes(row.kind))
          .map((row) => row.page.p99Ns / 1e6),
      ),
    );
  const names = [
    "engine.check",
    "floor.check",
    "casl.check",
    "casbin.check",
    "engine.check.hot",
    "floor.check.hot",
    "engine.permissionsOn",
    "floor.permissionsOn",
  ];
  return table(
    ["", ...results.map((result) => `${fmtInt(result.sizes.sites)} sites`)],
    [
      ...names.map((name) => [name, ...results.map((result) => ops(result, name))]),
      [
        "listVisible page p99, admin/operator/customer",
        ...results.map((result) => worst(result, ["admin", "operator", "customer"])),
      ],
      [
        "listVisible page p99, regional operator",
        ...results.map((result) => worst(result, ["regional-operator"])),
      ],
      [
        "listVisible page p99, fleet operator",
        ...results.map((result) => worst(result, ["fleet-operator"])),
      ],
      [
        "listVisible full p99, fleet operator",
        ...results.map((result) =>
          fmtMs(result.lists.find((row) => row.kind === "fleet-operator")!.full.p99Ns / 1e6),
        ),
      ],
      ["engine build", ...results.map((result) => fmtMs(result.build["engine"]))],
      ["engine heap", ...results.map((result) => `${result.heapMiB["engine"]} MiB`)],
    ],
  );
}

/** Flat metrics of one size, prefixed with `prefix`. */
function metricsOf(result: SizeResult, prefix: string): Record<string, number> {
  const metrics: Record<string, number> = {};
  const put = (name: string, value: number) => {
    metrics[`${prefix}${name}`] = Number(value.toPrecision(6));
  };
  const rowNames: Record<string, string> = {
    "engine.check": "engine.check",
    "floor.check": "engine.floor",
    "casl.check": "engine.casl",
    "casbin.check": "engine.casbin",
    "engine.permissionsOn": "engine.permissions_on",
    "floor.permissionsOn": "engine.floor_permissions_on",
    "casl.permissionsOn": "engine.casl_permissions_on",
    "engine.check.hot": "engine.check_hot",
    "floor.check.hot": "engine.floor_hot",
    "engine.permissionsOn.hot": "engine.permissions_on_hot",
    "floor.permissionsOn.hot": "engine.floor_permissions_on_hot",
  };
  for (const row of result.rows) {
    const name = rowNames[row.name] ?? row.name;
    put(`${name}.ops_per_s`, row.stats.opsPerSec);
    put(`${name}.p50_ns`, row.stats.p50Ns);
    put(`${name}.p99_ns`, row.stats.p99Ns);
  }
  const ops = (name: string) =>
    result.rows.find((row) => row.name === name)?.stats.opsPerSec ?? Number.NaN;
  put("engine.check.floor_time_ratio", ops("floor.check") / ops("engine.check"));
  put("engine.check.casl_speedup", ops("engine.check") / ops("casl.check"));
  put("engine.check.casbin_speedup", ops("engine.check") / ops("casbin.check"));
  put("engine.check_hot.floor_time_ratio", ops("floor.check.hot") / ops("engine.check.hot"));
  put(
    "engine.permissions_on.floor_time_ratio",
    ops("floor.permissionsOn") / ops("engine.permissionsOn"),
  );
  put("engine.check.allow_share", result.allowShare);
  let worstPage = 0;
  let worstFull = 0;
  for (const row of result.lists) {
    const kind = row.kind.replaceAll("-", "_");
    put(`engine.list_visible.${kind}.p50_ms`, row.page.p50Ns / 1e6);
    put(`engine.list_visible.${kind}.p99_ms`, row.page.p99Ns / 1e6);
    put(`engine.list_visible_all.${kind}.p50_ms`, row.full.p50Ns / 1e6);
    put(`engine.list_visible_all.${kind}.p99_ms`, row.full.p99Ns / 1e6);
    put(`engine.list_visible.${kind}.sites_seen`, row.visibleMean);
    worstPage = Math.max(worstPage, row.page.p99Ns / 1e6);
    worstFull = Math.max(worstFull, row.full.p99Ns / 1e6);
  }
  put("engine.list_visible.admin_cursor.p99_ms", result.cursorPage.p99Ns / 1e6);
  worstPage = Math.max(worstPage, result.cursorPage.p99Ns / 1e6);
  put("engine.list_visible.p99_ms", worstPage);
  put("engine.list_visible_all.p99_ms", worstFull);
  for (const [name, ms] of Object.entries(result.build)) put(`${name}.build_ms`, ms);
  for (const [name, value] of Object.entries(result.heapMiB)) put(`${name}.heap_mib`, value);
  return metrics;
}

function targetsOf(metrics: Record<string, number>): Target[] {
  const m = (name: string) => metrics[name] ?? Number.NaN;
  return [
    {
      what: "check ≥ 3M/s on one core",
      measured: `${fmtOps(m("engine.check.ops_per_s"))}/s`,
      pass: m("engine.check.ops_per_s") >= 3e6,
    },
    {
      what: "check within 3× of the Map floor",
      measured: `${m("engine.check.floor_time_ratio").toFixed(2)}× the floor's time`,
      pass: m("engine.check.floor_time_ratio") <= 3,
    },
    {
      what: "check ≥ 2× CASL",
      measured: `${m("engine.check.casl_speedup").toFixed(1)}× CASL`,
      pass: m("engine.check.casl_speedup") >= 2,
    },
    {
      what: "check faster than casbin",
      measured: `${fmtInt(m("engine.check.casbin_speedup"))}× casbin`,
      pass: m("engine.check.casbin_speedup") > 1,
    },
    {
      what: "listVisible p99 < 1 ms, page of 100 (worst member kind)",
      measured: fmtMs(m("engine.list_visible.p99_ms")),
      pass: m("engine.list_visible.p99_ms") < 1,
    },
    {
      what: "listVisible full set p99 < 20 ms (SPEC; worst member kind)",
      measured: fmtMs(m("engine.list_visible_all.p99_ms")),
      pass: m("engine.list_visible_all.p99_ms") < 20,
    },
    {
      what: "permissionsOn ≥ 2M/s",
      measured: `${fmtOps(m("engine.permissions_on.ops_per_s"))}/s`,
      pass: m("engine.permissions_on.ops_per_s") >= 2e6,
    },
  ];
}

async function main(): Promise<void> {
  const settings = parseSettings(process.argv.slice(2));
  const host = machine();
  const here = dirname(fileURLToPath(import.meta.url));
  const source = revision(join(here, ".."), "packages/engine");
  out(
    `Gatehouse engine benchmark${settings.quick ? " (--quick)" : ""} — commit ${source.commit}${source.engineDirty ? " with uncommitted engine changes" : ""}`,
  );
  out(
    `machine: ${host.cpu}, ${host.cores} cores, ${host.totalMemoryGiB} GiB, Node ${host.node} (V8 ${host.v8}), ${host.os}`,
  );
  if (host.loadAverage1m > 0.5) {
    out(
      `warning: load average ${host.loadAverage1m} on ${host.cores} cores — other processes compete for the CPU; figures will be low and noisy`,
    );
  }
  out(
    `scenario: mzpanel preset, sizes ${settings.sizes.map(fmtInt).join(" / ")} sites; ${fmtInt(QUERY_COUNT)} pre-generated queries; ` +
      `warm-up ${settings.warmupMs} ms, ${settings.durationMs} ms per contender in ${settings.rounds} interleaved round(s); one process, sequential`,
  );

  const results: SizeResult[] = [];
  for (const sites of settings.sizes) {
    results.push(await runSize(sites, settings));
    collectGarbage();
  }

  const headline = results.reduce((best, result) =>
    result.sizes.sites > best.sizes.sites ? result : best,
  );
  const metrics: Record<string, number> = { ...metricsOf(headline, "") };
  for (const result of results) {
    if (result !== headline)
      Object.assign(metrics, metricsOf(result, `sites_${result.sizes.sites}.`));
  }

  for (const result of results) {
    const s = result.sizes;
    out(
      `\n## ${fmtInt(s.sites)} sites · ${fmtInt(s.servers)} servers · ${fmtInt(s.members)} members · ${fmtInt(s.grants)} grants ` +
        `(account ${s.accountGrants}, server ${fmtInt(s.serverGrants)}, site ${fmtInt(s.siteGrants)}); ${(result.allowShare * 100).toFixed(1)} % of checks allowed`,
    );
    for (const line of checkTable(result)) out(line);
    out("");
    for (const line of listTable(result)) out(line);
  }

  if (results.length > 1) {
    out("\n## Size sweep");
    for (const line of sweepTable(results)) out(line);
  }

  const targets = targetsOf(metrics);
  out(`\n## Targets at ${fmtInt(headline.sizes.sites)} sites`);
  for (const line of table(
    ["target", "measured", "result"],
    targets.map((target) => [target.what, target.measured, target.pass ? "PASS" : "MISS"]),
  ))
    out(line);
  if (headline.sizes.sites < FULL_SITES)
    out(
      `(note: the largest size run was ${fmtInt(headline.sizes.sites)} sites, not the full ${fmtInt(FULL_SITES)})`,
    );

  const loadAtEnd = loadAverage();
  out(`load average: ${host.loadAverage1m} at start, ${loadAtEnd} at end`);
  const report = {
    machine: { ...host, loadAverage1mAtEnd: loadAtEnd },
    sizes: {
      ...headline.sizes,
      sweep: results.map((result) => result.sizes.sites),
      casbinSites: headline.sizes.sites,
    },
    date: new Date().toISOString(),
    quick: settings.quick,
    source,
    settings: {
      warmupMs: settings.warmupMs,
      durationMs: settings.durationMs,
      rounds: settings.rounds,
      queries: QUERY_COUNT,
      verifySamples: settings.verifySamples,
      seed: SEED,
    },
    metrics,
    targets,
  };
  const file = join(here, "results", settings.quick ? "latest-quick.json" : "latest.json");
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
  out(`\nwrote ${file} (sink ${sinkValue() % 1000})`);
}

main().catch((error: unknown) => {
  process.stderr.write(
    `${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  process.exitCode = 1;
});
