import type { ServiceCore } from "../service-core.ts";

export class ActivityLog {
  readonly #core: ServiceCore;

  constructor(core: ServiceCore) {
    this.#core = core;
  }
}
