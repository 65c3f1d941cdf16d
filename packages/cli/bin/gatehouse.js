#!/usr/bin/env node
// The published command runs the built JavaScript in dist/ (`npm run build` at the repository's
// root, or the package's tarball) with plain Node.js.
await import("../dist/main.js");
