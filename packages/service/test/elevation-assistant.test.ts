import { isGatehouseError } from "@gatehouse/engine";
import { afterEach, describe, expect, it } from "vitest";
import { asUser, systemActor } from "../src/actor.ts";
import type { Gatehouse } from "../src/gatehouse.ts";
import { backends, codeOf, openService, signUpPerson } from "./backends.ts";

describe.each(backends)(
  "gatehouse_elevate through the assistant gate on $name (#18)",
  (backend) => {
    let gatehouse: Gatehouse;
    afterEach(async () => {
      await gatehouse.close();
    });

    async function panel() {
      ({ gatehouse } = await openService(backend));
      const olivia = await signUpPerson(gatehouse, "olivia");
      const ws = (
        await gatehouse.workspaces.create(asUser(olivia.id), { name: "Panel", preset: "mzpanel" })
      ).id;
      const host = systemActor();
      await gatehouse.resources.upsert(host, ws, {
        resource: "server:fra-1",
        parent: `workspace:${ws}`,
      });
      await gatehouse.resources.upsert(host, ws, { resource: "site:shop", parent: "server:fra-1" });
      const ids: Record<string, string> = {};
      for (const name of ["cara", "bea"]) {
        const user = await signUpPerson(gatehouse, name);
        await gatehouse.members.add(host, ws, {
          userId: user.id,
          grants: [{ role: "customer", scope: "site:shop" }],
        });
        ids[name] = user.id;
      }
      return { ws, olivia: olivia.id, cara: ids["cara"]!, bea: ids["bea"]! };
    }

    const names = async (userId: string, ws: string) =>
      (await gatehouse.assistant.tools(asUser(userId), ws)).map((tool) => tool.name);

    it("is offered only to a member with an eligibility, and elevates and ends as they ask", async () => {
      const { ws, olivia, cara, bea } = await panel();
      expect(await names(cara, ws)).not.toContain("gatehouse_elevate");
      await gatehouse.elevations.set(asUser(olivia), ws, {
        subject: `user:${cara}`,
        role: "operator",
        scope: "server:fra-1",
        maxDurationMs: 3_600_000,
      });
      expect(await names(cara, ws)).toContain("gatehouse_elevate");
      expect(await names(bea, ws)).not.toContain("gatehouse_elevate");

      // "Elevate me to Operator on server fra-1 for 1 hour"
      const elevated = await gatehouse.assistant.call(asUser(cara), ws, {
        tool: "gatehouse_elevate",
        arguments: { scope: "server:fra-1", role: "operator", minutes: 60, reason: "php restart" },
      });
      expect(elevated.status === "completed" && elevated.result).toMatchObject({
        elevated: {
          role: "operator",
          scope: "server:fra-1",
          note: expect.stringContaining("php restart"),
        },
      });
      const restart = () =>
        gatehouse.decisions.check(asUser(cara), ws, {
          permission: "server.restart",
          resource: "server:fra-1",
        });
      expect((await restart()).allowed).toBe(true);
      // The activity log names the assistant as the one who elevated.
      const entries = (await gatehouse.activityLog.list(asUser(olivia), ws)).entries;
      expect(entries.find((entry) => entry.action === "elevation.activate")).toMatchObject({
        actor: { type: "assistant", id: cara },
      });

      // Already elevated: the workflow refuses a second one.
      expect(
        await codeOf(
          gatehouse.assistant.call(asUser(cara), ws, {
            tool: "gatehouse_elevate",
            arguments: { scope: "server:fra-1", minutes: 30, reason: "more", end: false },
          }),
        ),
      ).toBe("CONFLICT");
      await gatehouse.assistant.call(asUser(cara), ws, {
        tool: "gatehouse_elevate",
        arguments: { scope: "server:fra-1", end: true },
      });
      expect((await restart()).allowed).toBe(false);
      // Longer than the eligibility allows: bad input.
      expect(
        await codeOf(
          gatehouse.assistant.call(asUser(cara), ws, {
            tool: "gatehouse_elevate",
            arguments: { scope: "server:fra-1", minutes: 61, reason: "more" },
          }),
        ),
      ).toBe("INVALID_INPUT");
    });

    it("refuses, and logs, a member without an eligibility at the gate", async () => {
      const { ws, olivia, bea } = await panel();
      let refused: unknown;
      try {
        await gatehouse.assistant.call(asUser(bea), ws, {
          tool: "gatehouse_elevate",
          arguments: { scope: "server:fra-1", minutes: 60, reason: "let me in" },
        });
      } catch (error) {
        refused = error;
      }
      expect(isGatehouseError(refused) && refused.code).toBe("PERMISSION_DENIED");
      const entries = (await gatehouse.activityLog.list(asUser(olivia), ws)).entries;
      expect(entries[0]).toMatchObject({
        actor: { type: "assistant", id: bea },
        action: "assistant.tool.call",
        result: "denied",
        details: { tool: "gatehouse_elevate" },
      });
    });
  },
);
