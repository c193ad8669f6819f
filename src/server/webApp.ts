/**
 * Serves the web UI (ui/, built into ui/dist by `npm install` through `npm run build:ui`) at `/`, beside the API:
 *
 * - `/assets/*` (content-hashed file names): `cache-control: public, max-age=31536000, immutable`, and the
 *   `.br` / `.gz` files the build writes beside each asset are sent by Accept-Encoding (`preCompressed`).
 * - other files of ui/dist (favicon.svg): revalidated (`no-cache`).
 * - the SPA fallback, index.html (`no-cache`, and a Content-Security-Policy allowing this origin only), only for
 *   GET/HEAD of extension-less paths outside `/api` and `/assets` (ui.md §6.3 trap 6): a missing `/assets/x.js`
 *   is a 404, never HTML that breaks the page.
 * - everything under `/api` that no route matched keeps Mage's JSON 404 (the app's not-found handler).
 *
 * Files are looked up on each request (no glob at registration), so a rebuild is served without a restart.
 * When the UI has not been built, pages answer 503 with a short HTML page that says how to build it.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

/** ui/dist of this checkout: the same from src/server (tsx) and dist/server (built). */
export const DEFAULT_UI_DIR = fileURLToPath(new URL('../../ui/dist/', import.meta.url));

export interface WebAppOptions {
  /** The built UI folder (default ui/dist; BLOCKFLOW_UI_DIR overrides it). */
  root?: string;
}

const IMMUTABLE = 'public, max-age=31536000, immutable';

/**
 * The app's page may load only from this server: no CDN (ui.md §6.3 trap 2), nothing an output's HTML names
 * elsewhere. Monaco injects <style> elements, hence 'unsafe-inline' for styles only.
 */
const CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "font-src 'self' data:",
  "worker-src 'self' blob:",
  "connect-src 'self'",
  "frame-src 'self'",
  "object-src 'none'",
  "base-uri 'self'",
  "frame-ancestors 'self'",
].join('; ');

const NOT_BUILT = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Blockflow: web UI not built</title>
<style>body{font-family:system-ui,sans-serif;background:#10131a;color:#d8deea;display:flex;align-items:center;justify-content:center;height:100vh;margin:0}
main{max-width:560px;padding:24px;border:1px solid #2a3040;border-radius:10px;background:#161a22}code{background:#222838;padding:1px 5px;border-radius:4px}</style></head>
<body><main><h1>Blockflow is running; its web UI is not built</h1>
<p>The API answers under <code>/api</code> (see <a href="/api/openapi.json" style="color:#4f8cff">/api/openapi.json</a>).</p>
<p>Build the web UI with <code>npm run build:ui</code> (<code>npm install</code> runs it), then reload this page.</p></main></body></html>
`;

function isUnder(path: string, prefix: string): boolean {
  return path === prefix || path.startsWith(`${prefix}/`);
}

export async function registerWebApp(app: FastifyInstance, options: WebAppOptions = {}): Promise<void> {
  const root = options.root ?? (process.env.BLOCKFLOW_UI_DIR || DEFAULT_UI_DIR);
  const rootWithSlash = root.endsWith('/') ? root : `${root}/`;
  const assetsDir = `${rootWithSlash}assets/`;
  const built = () => existsSync(`${rootWithSlash}index.html`);

  await app.register(fastifyStatic, {
    root,
    serve: false,
    preCompressed: true,
    index: false,
    dotfiles: 'deny',
    // Cache headers are set here, not by @fastify/send's defaults; setHeaders gets the Fastify reply (trap 7).
    cacheControl: false,
    setHeaders(reply: FastifyReply, filePath: string) {
      reply.header('cache-control', filePath.startsWith(assetsDir) ? IMMUTABLE : 'no-cache');
      reply.header('x-content-type-options', 'nosniff');
    },
  });

  const handler = (request: FastifyRequest, reply: FastifyReply) => {
    const path = request.url.split('?')[0];
    if (isUnder(path, '/api')) return reply.callNotFound();
    const last = path.slice(path.lastIndexOf('/') + 1);
    const isFile = isUnder(path, '/assets') || last.includes('.');
    if (!built()) {
      if (isFile) return reply.callNotFound();
      return reply.code(503).header('cache-control', 'no-store').type('text/html; charset=utf-8').send(NOT_BUILT);
    }
    if (isFile) {
      // @fastify/static refuses traversal and dotfiles, and calls the not-found handler for a missing file.
      let decoded: string;
      try {
        decoded = decodeURIComponent(path);
      } catch {
        return reply.callNotFound();
      }
      return reply.sendFile(decoded.slice(1));
    }
    // Every client-side route: the app's shell, always revalidated so a rebuild is picked up.
    return reply.header('cache-control', 'no-cache').header('content-security-policy', CSP).sendFile('index.html');
  };

  app.route({ method: ['GET', 'HEAD'], url: '/', config: { public: true }, schema: { hide: true }, handler });
  app.route({ method: ['GET', 'HEAD'], url: '/*', config: { public: true }, schema: { hide: true }, handler });
}
