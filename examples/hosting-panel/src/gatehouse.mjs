// Everything the panel asks of Gatehouse, over the network with its host credential, through the
// installed @gatehouse/client: provisioning, the tree, and decisions from the local cache.
import { createClient } from "@gatehouse/client";

/** Throws the API's problem (code and detail) as an error; returns the data otherwise. */
function must({ data, error }, what) {
  if (error !== undefined) throw new Error(`${what}: ${error.code} ${error.detail ?? error.title}`);
  return data;
}

/** The panel's tree as Gatehouse's resources: reseller → customer → subscription → domain. */
function treeOf(data) {
  const root = `reseller:${data.workspaceId}`;
  return [
    ...data.customers.map((customer) => ({ resource: `customer:${customer.id}`, parent: root })),
    ...data.subscriptions.map((subscription) => ({
      resource: `subscription:${subscription.id}`,
      parent: `customer:${subscription.customer}`,
    })),
    ...data.domains.map((domain) => ({
      resource: `domain:${domain.name}`,
      parent: `subscription:${domain.subscription}`,
    })),
  ];
}

/**
 * At start: provisions the panel's users by the panel's own ids, creates the reseller's workspace
 * on first run (owned by the reseller's owner, each customer's contact as its customer admin),
 * syncs the tree as it is, and opens the local decision cache.
 * @param {{ baseUrl: string, hostKey: string, store: Awaited<ReturnType<typeof import("./store.mjs").openStore>>, model: { name: string, sections: Record<string, { label: string }> } }} options
 */
export async function connectGatehouse({ baseUrl, hostKey, store, model }) {
  const client = createClient({ baseUrl, apiKey: hostKey });
  const { api } = client;
  const { data } = store;

  for (const user of data.users) {
    must(
      await api.PUT("/v1/users/{id}", {
        params: { path: { id: user.id } },
        body: { email: user.email, name: user.name },
      }),
      `provision user ${user.id}`,
    );
  }

  const firstRun = data.workspaceId === undefined;
  if (firstRun) {
    const workspace = must(
      await api.POST("/v1/workspaces", {
        body: { name: data.reseller.name, preset: model.name, owner: data.reseller.owner },
      }),
      "create the reseller's workspace",
    );
    data.workspaceId = workspace.id;
    store.save();
  }
  const ws = /** @type {string} */ (data.workspaceId);
  const path = { params: { path: { ws } } };

  // The whole tree in one request: idempotent, so every start sends it as it is.
  must(
    await api.POST("/v1/workspaces/{ws}/resources/sync", {
      ...path,
      body: { resources: treeOf(data) },
    }),
    "sync the tree",
  );

  // Only once: afterwards the team is managed in the console, and a restart must not undo it.
  if (firstRun) {
    for (const customer of data.customers) {
      must(
        await api.POST("/v1/workspaces/{ws}/members", {
          ...path,
          body: {
            userId: customer.contact,
            grants: [{ role: "customer_admin", scope: `customer:${customer.id}` }],
          },
        }),
        `add ${customer.contact} as customer admin of ${customer.id}`,
      );
    }
  }

  const local = must(await client.localDecisions(ws), "open the local decision cache");
  return new PanelAccess(client, local, model, ws);
}

/** The panel's questions, answered in-process by the local cache (the server while it is behind). */
class PanelAccess {
  constructor(client, local, model, workspaceId) {
    this.client = client;
    this.local = local;
    this.model = model;
    this.workspaceId = workspaceId;
  }

  /** May the panel user `userId` use `permission` on `resource`? */
  async allows(userId, permission, resource) {
    const { data, error } = await this.local.check(`user:${userId}`, permission, resource);
    // Deny unless granted: an error (e.g. the server unreachable while behind) is a denial.
    return error === undefined && data.allowed;
  }

  /** Every resource of `type` the user may use `permission` on (the fleet list), in pages. */
  async visible(userId, type, permission) {
    const items = [];
    let after;
    do {
      const { data, error } = await this.local.listVisible(`user:${userId}`, type, permission, {
        limit: 500,
        ...(after === undefined ? {} : { after }),
      });
      if (error !== undefined) return [];
      items.push(...data.items.map((ref) => ref.slice(type.length + 1)));
      after = data.next;
    } while (after !== undefined);
    return items;
  }

  /**
   * The model's navigation sections the user may use anywhere in the reseller account (one of a
   * section's permissions held on at least one resource), with their labels from the model.
   */
  async sections(userId) {
    const { data, error } = await this.local.sections(`user:${userId}`);
    if (error !== undefined) return [];
    return data.map((name) => ({ name, label: this.model.sections[name]?.label ?? name }));
  }

  /** A one-time link signing the user into the Gatehouse console (5 minutes, works once). */
  async signInLink(userId) {
    const answer = await this.client.api.POST("/v1/users/{id}/sign-in-links", {
      params: { path: { id: userId } },
    });
    return must(answer, "issue a sign-in link").url;
  }

  /** The cache's state and revision, for the status page. */
  status() {
    return { state: this.local.state, revision: this.local.revision, stats: this.local.stats };
  }
}
