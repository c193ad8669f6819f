/**
 * Blockflow's web UI, built into ui/dist (served by `blockflow start` at `/`, see src/server/webApp.ts).
 * `npm run dev:ui` serves it from the Vite dev server with /api proxied to a running Blockflow on :6789.
 */
import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';
import { fileURLToPath } from 'node:url';

const uiRoot = fileURLToPath(new URL('.', import.meta.url));
const repoRoot = fileURLToPath(new URL('..', import.meta.url));

export default defineConfig({
  root: uiRoot,
  base: '/',
  plugins: [react()],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    assetsDir: 'assets',
    sourcemap: false,
    // Monaco's core is ~4 MB whatever is trimmed (ui.md §6.3 trap 9); it sits in the lazy editor chunk.
    chunkSizeWarningLimit: 8000,
    // Monaco's worker URLs make the worker plugin the slow part; its timing report is noise in `npm install`.
    rolldownOptions: { checks: { bundlerTimings: false } },
  },
  worker: { format: 'es' },
  server: {
    port: 5173,
    // types/blockflow.d.ts (TypeScript completion in the editor) lives outside ui/.
    fs: { allow: [repoRoot] },
    proxy: { '/api': { target: process.env.BLOCKFLOW_URL ?? 'http://127.0.0.1:6789', changeOrigin: false } },
  },
});
