import type { ServiceCore } from "../service-core.ts";

export class Invitations {
  readonly #core: ServiceCore;

  constructor(core: ServiceCore) {
    this.#core = core;
  }
}
