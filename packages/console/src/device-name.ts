/**
 * A session's user-agent string in words, "Chrome on Linux": the major browsers and systems only,
 * checked in the order that tells them apart (Edge and Opera also say "Chrome", Chrome also says
 * "Safari", Android also says "Linux", iPadOS and iOS also say "Mac OS X"). Anything else is shown
 * by its first word, so nothing is hidden.
 * @example
 * deviceName("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36"); // "Chrome on Linux"
 */
export function deviceName(agent: string | null | undefined): string {
  if (agent === null || agent === undefined || agent.trim() === "") return "Unknown device";
  const browser = first(agent, browsers);
  const system = first(agent, systems);
  if (browser === undefined && system === undefined) return agent.split(/[\s/]/)[0] || agent;
  if (browser === undefined) return `A browser on ${system}`;
  return system === undefined ? browser : `${browser} on ${system}`;
}

const browsers: readonly (readonly [RegExp, string])[] = [
  [/\bEdg(e|A|iOS)?\//, "Edge"],
  [/\bOPR\/|\bOpera\b/, "Opera"],
  [/\bSamsungBrowser\//, "Samsung Internet"],
  [/\bFirefox\/|\bFxiOS\//, "Firefox"],
  [/\b(Headless)?Chrom(e|ium)\/|\bCriOS\//, "Chrome"],
  [/\bVersion\/[\d.]+.*\bSafari\//, "Safari"],
  [/^curl\//, "curl"],
];

const systems: readonly (readonly [RegExp, string])[] = [
  [/\bAndroid\b/, "Android"],
  [/\biPad\b/, "iPad"],
  [/\biPhone\b/, "iPhone"],
  [/\bCrOS\b/, "ChromeOS"],
  [/\bWindows\b/, "Windows"],
  [/\bMac OS X\b|\bMacintosh\b/, "macOS"],
  [/\bLinux\b|\bX11\b/, "Linux"],
];

function first(agent: string, table: readonly (readonly [RegExp, string])[]): string | undefined {
  return table.find(([pattern]) => pattern.test(agent))?.[1];
}
