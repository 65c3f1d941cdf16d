import type { ServiceCore } from "../service-core.ts";

export class JoinRequests {
  readonly #core: ServiceCore;

  constructor(core: ServiceCore) {
    this.#core = core;
  }
}
