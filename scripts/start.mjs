// `npm start`: the HTTP server, web console and demo workspace arrive with the server package.
// Until then this shows what the repository provides today instead of failing.
console.log(`Gatehouse — team and access control for hosting control panels.

The decision engine and its five presets are ready (packages/engine).
The server (REST API, web console, demo workspace) comes in a later step;
until then, try:

  npm test          type-check, lint and the whole test suite
  npm run bench     the engine benchmark against a Map floor, CASL and casbin
`);
