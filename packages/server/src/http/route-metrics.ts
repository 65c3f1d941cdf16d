import { Counter, type Histogram, type Registry } from "prom-client";

/** The request-duration buckets, in seconds. */
const BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1] as const;

/** One method and route: answers by status, and the durations counted into the buckets. */
interface RouteStats {
  readonly method: string;
  readonly route: string;
  readonly statuses: Map<number, number>;
  /** Observations per bucket (not cumulative); the last slot is above the largest bound. */
  readonly buckets: number[];
  sum: number;
  count: number;
}

/**
 * Requests and their durations by method, route (the pattern) and status, as
 * `gatehouse_http_requests_total` and `gatehouse_http_request_duration_seconds`. A request only
 * adds to plain numbers (prom-client's labelled `inc` and `observe` hash their labels on every
 * call: ~3 µs of a check's server CPU in the HTTP benchmark); the registry reads them when
 * scraped, in the exposition prom-client writes for a counter and a histogram.
 * @example
 * const metrics = new RouteMetrics(registry);
 * metrics.record("POST", "/v1/workspaces/:ws/decision", 200, 0.0004);
 */
export class RouteMetrics {
  readonly #byMethod = new Map<string, Map<string, RouteStats>>();

  constructor(registry: Registry) {
    const all = () => [...this.#byMethod.values()].flatMap((routes) => [...routes.values()]);
    const reported = new Map<RouteStats, Map<number, number>>();
    new Counter({
      name: "gatehouse_http_requests_total",
      help: "HTTP requests by route and status",
      labelNames: ["method", "route", "status"],
      registers: [registry],
      collect() {
        for (const stats of all()) {
          let seen = reported.get(stats);
          if (seen === undefined) {
            seen = new Map();
            reported.set(stats, seen);
          }
          for (const [status, count] of stats.statuses) {
            const added = count - (seen.get(status) ?? 0);
            if (added === 0) continue;
            this.inc({ method: stats.method, route: stats.route, status: String(status) }, added);
            seen.set(status, count);
          }
        }
      },
    });
    const name = "gatehouse_http_request_duration_seconds";
    const histogram = {
      name,
      help: "HTTP request duration by route",
      type: "histogram",
      aggregator: "sum",
      reset: () => {},
      get: async () => ({
        name,
        help: histogram.help,
        type: "histogram",
        aggregator: "sum",
        values: all().flatMap((stats) => {
          const labels = { method: stats.method, route: stats.route };
          let cumulative = 0;
          return [
            ...BUCKETS.map((le, index) => {
              cumulative += stats.buckets[index]!;
              return { metricName: `${name}_bucket`, labels: { le, ...labels }, value: cumulative };
            }),
            { metricName: `${name}_bucket`, labels: { le: "+Inf", ...labels }, value: stats.count },
            { metricName: `${name}_sum`, labels, value: stats.sum },
            { metricName: `${name}_count`, labels, value: stats.count },
          ];
        }),
      }),
    };
    // The registry formats any metric by its get(); this one has no prom-client class of its own.
    registry.registerMetric(histogram as unknown as Histogram);
  }

  /** Counts one answered request (`seconds`: its duration). */
  record(method: string, route: string, status: number, seconds: number): void {
    let routes = this.#byMethod.get(method);
    if (routes === undefined) {
      routes = new Map();
      this.#byMethod.set(method, routes);
    }
    let stats = routes.get(route);
    if (stats === undefined) {
      stats = {
        method,
        route,
        statuses: new Map(),
        buckets: new Array<number>(BUCKETS.length + 1).fill(0),
        sum: 0,
        count: 0,
      };
      routes.set(route, stats);
    }
    stats.statuses.set(status, (stats.statuses.get(status) ?? 0) + 1);
    let bucket = 0;
    while (bucket < BUCKETS.length && seconds > BUCKETS[bucket]!) bucket++;
    stats.buckets[bucket]!++;
    stats.sum += seconds;
    stats.count++;
  }
}
