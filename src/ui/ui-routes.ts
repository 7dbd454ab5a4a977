import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import express, { type Response, type Router } from 'express';

/**
 * The review page (docs/http-api.md `GET /ui/`): three static files, no build step. Loading the page
 * needs no token; the page signs in with a viewer token and talks to the JSON API.
 *
 * Every response carries a strict Content-Security-Policy: scripts and styles only from this
 * origin (no inline script, no `style=` attributes, no eval), requests only to this origin, no
 * framing, and Trusted Types enforced so that no code path can assign HTML strings to the DOM.
 *
 * Caching: the page itself is `no-cache`; it refers to `app.js?v=HASH` and `style.css?v=HASH`,
 * which are immutable for a year under that exact hash. Any other request of an asset is
 * revalidated (ETag), so an upgrade never runs a stale script against a newer page.
 */
export const UI_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
  "require-trusted-types-for 'script'",
  "trusted-types 'none'",
].join('; ');

interface Asset {
  body: Buffer;
  type: string;
  hash: string;
}

const UI_DIR = new URL('./', import.meta.url);

function load(name: string, type: string): Asset {
  const body = readFileSync(new URL(name, UI_DIR));
  return { body, type, hash: createHash('sha256').update(body).digest('hex').slice(0, 16) };
}

function securityHeaders(res: Response): void {
  res.setHeader('Content-Security-Policy', UI_CSP);
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.setHeader('X-Frame-Options', 'DENY');
  res.setHeader('Referrer-Policy', 'no-referrer');
  res.setHeader('Cross-Origin-Opener-Policy', 'same-origin');
  res.setHeader('Cross-Origin-Resource-Policy', 'same-origin');
}

export function uiRoutes(): Router {
  const js = load('app.js', 'text/javascript; charset=utf-8');
  const css = load('style.css', 'text/css; charset=utf-8');
  const html = load('index.html', 'text/html; charset=utf-8');
  // Pin the page to the exact asset versions it was served with.
  const page = Buffer.from(
    html.body
      .toString('utf8')
      .replace('src="app.js"', `src="app.js?v=${js.hash}"`)
      .replace('href="style.css"', `href="style.css?v=${css.hash}"`),
  );
  const pageAsset: Asset = { body: page, type: html.type, hash: createHash('sha256').update(page).digest('hex').slice(0, 16) };

  const router = express.Router();
  const send = (asset: Asset, immutable: boolean) => (req: express.Request, res: Response) => {
    securityHeaders(res);
    res.setHeader('Content-Type', asset.type);
    const etag = `"${asset.hash}"`;
    res.setHeader('ETag', etag);
    const versioned = immutable && req.query.v === asset.hash;
    res.setHeader('Cache-Control', versioned ? 'public, max-age=31536000, immutable' : 'no-cache');
    if (req.headers['if-none-match'] === etag) {
      res.status(304).end();
      return;
    }
    res.status(200).send(asset.body);
  };

  router.get('/ui', (req, res, next) => {
    // Non-strict routing would also send `/ui/` here; only the bare path redirects.
    if (req.path.endsWith('/')) return next();
    const query = req.originalUrl.includes('?') ? req.originalUrl.slice(req.originalUrl.indexOf('?')) : '';
    res.redirect(301, `/ui/${query}`);
  });
  router.get('/ui/', send(pageAsset, false));
  router.get('/ui/index.html', send(pageAsset, false));
  router.get('/ui/app.js', send(js, true));
  router.get('/ui/style.css', send(css, true));
  return router;
}
