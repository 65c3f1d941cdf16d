// The panel's web server (node:http): its own sign-in and sessions, and every route guarded by a
// decision from Gatehouse before it touches the panel's data.
import { createHash, randomBytes } from "node:crypto";
import { createServer } from "node:http";

const SESSION_COOKIE = "panel_session";

const escapeHtml = (text) =>
  String(text).replace(
    /[&<>"']/g,
    (char) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[char],
  );
const sha256 = (text) => createHash("sha256").update(text).digest("hex");

/**
 * The panel's routes. `guard` answers whether the signed-in user may use the route at all —
 * a decision from Gatehouse; a denied route answers 404, exactly like a missing page.
 * @typedef {{ user: import("./store.mjs").User, params: Record<string, string>, form: URLSearchParams }} Context
 * @typedef {{ method: string, pattern: RegExp, guard: (context: Context) => Promise<boolean>, handle: (context: Context) => Promise<Answer> }} Route
 * @typedef {{ status?: number, html?: string, json?: unknown, redirect?: string, cookie?: string }} Answer
 */

/**
 * Creates the panel's HTTP server.
 * @param {{ store: Awaited<ReturnType<typeof import("./store.mjs").openStore>>, access: Awaited<ReturnType<typeof import("./gatehouse.mjs").connectGatehouse>> }} options
 */
export function createPanel({ store, access }) {
  const { data } = store;
  /** Session token hash → panel user id; the token itself lives only in the browser's cookie. */
  const sessions = new Map();
  const root = () => `reseller:${data.workspaceId}`;
  const hasSection = async (user, name) =>
    (await access.sections(user.id)).some((section) => section.name === name);

  async function page(user, title, body) {
    const sections = await access.sections(user.id);
    const links = sections
      .filter((section) => section.name !== "team")
      .map((section) => `<li><a href="/${section.name}">${escapeHtml(section.label)}</a></li>`)
      .join("");
    const team = sections.some((section) => section.name === "team")
      ? `<form method="post" action="/manage-team"><button>Manage team</button></form>`
      : `<form method="post" action="/manage-team"><button>Your Gatehouse account</button></form>`;
    return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)} · ${escapeHtml(data.reseller.name)}</title>
<style>body{font:15px system-ui;margin:0}header{display:flex;gap:1rem;align-items:center;padding:.6rem 1rem;background:#123;color:#fff}header a{color:#fff}nav ul{display:flex;gap:1rem;list-style:none;margin:0;padding:0}main{padding:1rem}table{border-collapse:collapse}td,th{padding:.3rem .6rem;border-bottom:1px solid #ccc;text-align:left}</style></head>
<body><header><strong>${escapeHtml(data.reseller.name)}</strong><nav aria-label="Sections"><ul>${links}</ul></nav>${team}
<span>${escapeHtml(user.name)}</span><form method="post" action="/sign-out"><button>Sign out</button></form></header>
<main><h1>${escapeHtml(title)}</h1>${body}</main></body></html>`;
  }

  const subscriptionOf = (id) => data.subscriptions.find((subscription) => subscription.id === id);
  const customerOf = (id) => data.customers.find((customer) => customer.id === id);

  /** @type {Route[]} */
  const routes = [
    {
      method: "GET",
      pattern: /^\/$/,
      guard: async () => true,
      handle: async ({ user }) => {
        const [first] = (await access.sections(user.id)).filter(({ name }) => name !== "team");
        if (first !== undefined) return { redirect: `/${first.name}` };
        return {
          html: await page(user, "Welcome", "<p>You have no access in this panel yet.</p>"),
        };
      },
    },
    {
      // The fleet list: only what Gatehouse lists as visible to the user, never all then filtered.
      method: "GET",
      pattern: /^\/domains$/,
      guard: ({ user }) => hasSection(user, "domains"),
      handle: async ({ user }) => {
        const names = await access.visible(user.id, "domain", "domain.view");
        const rows = names
          .map((name) => data.domains.find((domain) => domain.name === name))
          .filter((domain) => domain !== undefined)
          .map((domain) => {
            const subscription = subscriptionOf(domain.subscription);
            return `<tr><td><a href="/domains/${escapeHtml(domain.name)}">${escapeHtml(domain.name)}</a></td><td>${escapeHtml(customerOf(subscription?.customer)?.name ?? "")}</td><td>${escapeHtml(subscription?.plan ?? "")}</td><td>${escapeHtml(subscription?.server ?? "")}</td></tr>`;
          })
          .join("");
        return {
          html: await page(
            user,
            "Sites",
            `<table aria-label="Sites"><thead><tr><th>Site</th><th>Customer</th><th>Plan</th><th>Server</th></tr></thead><tbody>${rows}</tbody></table>`,
          ),
        };
      },
    },
    {
      method: "GET",
      pattern: /^\/domains\/(?<name>[^/]+)$/,
      guard: ({ user, params }) => access.allows(user.id, "domain.view", `domain:${params.name}`),
      handle: async ({ user, params }) => {
        const domain = data.domains.find((candidate) => candidate.name === params.name);
        if (domain === undefined) return notFound();
        const records = domain.records.map((record) => `<li>${escapeHtml(record)}</li>`).join("");
        const editable = await access.allows(user.id, "domain.dns", `domain:${domain.name}`);
        const form = editable
          ? `<form method="post" action="/domains/${escapeHtml(domain.name)}/records"><label>New record <input name="record" required></label> <button>Add record</button></form>`
          : "";
        return {
          html: await page(
            user,
            domain.name,
            `<h2>DNS records</h2><ul aria-label="DNS records">${records}</ul>${form}`,
          ),
        };
      },
    },
    {
      method: "POST",
      pattern: /^\/domains\/(?<name>[^/]+)\/records$/,
      guard: ({ user, params }) => access.allows(user.id, "domain.dns", `domain:${params.name}`),
      handle: async ({ params, form }) => {
        const domain = data.domains.find((candidate) => candidate.name === params.name);
        const record = (form.get("record") ?? "").trim();
        if (domain === undefined) return notFound();
        if (record !== "" && record.length <= 200) {
          domain.records.push(record);
          store.save();
        }
        return { redirect: `/domains/${domain.name}` };
      },
    },
    {
      method: "GET",
      pattern: /^\/customers$/,
      guard: ({ user }) => hasSection(user, "customers"),
      handle: async ({ user }) => {
        const ids = await access.visible(user.id, "customer", "customer.view");
        const items = ids
          .map((id) => customerOf(id))
          .filter((customer) => customer !== undefined)
          .map((customer) => `<li>${escapeHtml(customer.name)}</li>`)
          .join("");
        return {
          html: await page(user, "Customers", `<ul aria-label="Customers">${items}</ul>`),
        };
      },
    },
    {
      method: "GET",
      pattern: /^\/billing$/,
      guard: ({ user }) => access.allows(user.id, "billing.manage", root()),
      handle: async ({ user }) => ({
        html: await page(
          user,
          "Billing",
          `<p>${data.customers.length} customers, ${data.subscriptions.length} subscriptions.</p>`,
        ),
      }),
    },
    {
      // Into the Gatehouse console, signed in as this user by a one-time link.
      method: "POST",
      pattern: /^\/manage-team$/,
      guard: async () => true,
      handle: async ({ user }) => ({ redirect: await access.signInLink(user.id) }),
    },
  ];

  function notFound() {
    return { status: 404, html: "<!doctype html><title>Not found</title><h1>Not found</h1>" };
  }

  function sessionUser(request) {
    const cookies = Object.fromEntries(
      (request.headers.cookie ?? "").split(/;\s*/).map((pair) => {
        const at = pair.indexOf("=");
        return [pair.slice(0, at), pair.slice(at + 1)];
      }),
    );
    const token = cookies[SESSION_COOKIE];
    const userId = token === undefined ? undefined : sessions.get(sha256(token));
    return data.users.find((user) => user.id === userId);
  }

  async function readForm(request) {
    let body = "";
    for await (const chunk of request) {
      body += chunk;
      if (body.length > 10_000) throw new Error("form too large");
    }
    return new URLSearchParams(body);
  }

  const signInPage = (message = "") =>
    `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Sign in · ${escapeHtml(data.reseller.name)}</title></head>
<body><main><h1>Sign in to ${escapeHtml(data.reseller.name)}</h1>${message === "" ? "" : `<p role="alert">${escapeHtml(message)}</p>`}
<form method="post" action="/sign-in"><p><label>Email <input name="email" type="email" autocomplete="username" required></label></p>
<p><label>Password <input name="password" type="password" autocomplete="current-password" required></label></p>
<button>Sign in</button></form></main></body></html>`;

  /** @returns {Promise<Answer>} */
  async function answer(request) {
    const url = new URL(request.url ?? "/", "http://panel");
    const method = request.method ?? "GET";
    // A cross-site form post carries a foreign Origin: refused (the session cookie is also SameSite).
    const origin = request.headers.origin;
    if (method === "POST" && origin !== undefined && new URL(origin).host !== request.headers.host)
      return { status: 403, html: "Cross-site request refused" };

    if (url.pathname === "/status" && method === "GET")
      return { json: { gatehouse: access.status() } };
    if (url.pathname === "/sign-in") {
      if (method === "GET") return { html: signInPage() };
      if (method === "POST") {
        const form = await readForm(request);
        const user = await store.authenticate(form.get("email") ?? "", form.get("password") ?? "");
        if (user === undefined)
          return { status: 401, html: signInPage("Wrong email or password.") };
        const token = randomBytes(32).toString("base64url");
        sessions.set(sha256(token), user.id);
        return {
          redirect: "/",
          cookie: `${SESSION_COOKIE}=${token}; HttpOnly; SameSite=Lax; Path=/`,
        };
      }
    }
    const user = sessionUser(request);
    if (url.pathname === "/sign-out" && method === "POST") {
      const token = (request.headers.cookie ?? "").match(/panel_session=([^;]+)/)?.[1];
      if (token !== undefined) sessions.delete(sha256(token));
      return { redirect: "/sign-in", cookie: `${SESSION_COOKIE}=; Max-Age=0; Path=/` };
    }
    if (user === undefined) return { redirect: "/sign-in" };

    for (const route of routes) {
      const match = url.pathname.match(route.pattern);
      if (match === null || route.method !== method) continue;
      const params = Object.fromEntries(
        Object.entries(match.groups ?? {}).map(([key, value]) => [key, decodeURIComponent(value)]),
      );
      const form = method === "POST" ? await readForm(request) : new URLSearchParams();
      const context = { user, params, form };
      if (!(await route.guard(context))) return notFound();
      return route.handle(context);
    }
    return notFound();
  }

  return createServer((request, response) => {
    answer(request).then(
      (result) => {
        const headers = { "cache-control": "no-store" };
        if (result.cookie !== undefined) headers["set-cookie"] = result.cookie;
        if (result.redirect !== undefined) {
          response.writeHead(303, { ...headers, location: result.redirect }).end();
        } else if (result.json !== undefined) {
          response
            .writeHead(result.status ?? 200, { ...headers, "content-type": "application/json" })
            .end(JSON.stringify(result.json));
        } else {
          response
            .writeHead(result.status ?? 200, {
              ...headers,
              "content-type": "text/html; charset=utf-8",
            })
            .end(result.html);
        }
      },
      (error) => {
        console.error(error);
        response.writeHead(500, { "content-type": "text/plain" }).end("Internal error");
      },
    );
  });
}
