#!/usr/bin/env node
// Gatehouse's packages are TypeScript consumed from source: register tsx's loader, then run the CLI.
import { register } from "tsx/esm/api";

register();
await import("../src/main.ts");
