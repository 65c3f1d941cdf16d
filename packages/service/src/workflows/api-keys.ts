import type { ServiceCore } from "../service-core.ts";

export class ApiKeys {
  readonly #core: ServiceCore;

  constructor(core: ServiceCore) {
    this.#core = core;
  }
}
