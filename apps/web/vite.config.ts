// Builds the web UI into apps/web/dist (`npm run build`), served by the API role under /ui
// (apps/gofer/src/api/web-ui.ts). Everything it needs is bundled: the page works offline, no CDN.
import { resolve } from 'node:path';
import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

export default defineConfig({
  root: import.meta.dirname,
  base: '/ui/',
  plugins: [react()],
  resolve: {
    alias: [{ find: /^@gofer\/proto\/es$/, replacement: resolve(import.meta.dirname, '../../libs/proto/src/es.ts') }],
  },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    sourcemap: true,
    // Content-hashed file names: the server can let browsers cache them for good.
    assetsDir: 'assets',
  },
  logLevel: 'warn',
});
