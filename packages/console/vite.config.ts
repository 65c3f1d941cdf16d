import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

// The console is served by the Gatehouse server at `/`: it builds into the server package's
// console/ folder, which @gatehouse/server ships. During `npm run dev -w @gatehouse/console` Vite
// proxies the API to a server on port 8080.
export default defineConfig({
  plugins: [react()],
  build: {
    outDir: "../server/console",
    emptyOutDir: true,
    sourcemap: false,
    chunkSizeWarningLimit: 800,
  },
  server: {
    proxy: Object.fromEntries(
      ["/v1", "/docs", "/openapi.json"].map((path) => [path, "http://127.0.0.1:8080"]),
    ),
  },
});
