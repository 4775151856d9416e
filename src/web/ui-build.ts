import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The built web UI (dist/web, made by scripts/build-web.mjs): index.html and the content-hashed files under
 * assets/, read once at startup. Only files found here are ever served, so a request path is a key into this
 * map, never a path joined onto the disk (no traversal to think about).
 */

/** One file of the build, with its pre-compressed copy when the build wrote one. */
export interface UiFile {
  body: Buffer;
  gzip?: Buffer;
  contentType: string;
}

export interface UiBuild {
  /** Where it was read from (shown on the "not built" page and in the log). */
  root: string;
  index: UiFile;
  /** By name under assets/ ("index-3f2a9c.js"). */
  assets: ReadonlyMap<string, UiFile>;
}

/** dist/web seen from this file's place in dist/src/web/. */
export const DEFAULT_UI_ROOT = fileURLToPath(new URL('../../web/', import.meta.url));

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.json': 'application/json',
  '.map': 'application/json',
};

function contentTypeOf(name: string): string {
  const dot = name.lastIndexOf('.');
  return (dot >= 0 ? CONTENT_TYPES[name.slice(dot)] : undefined) ?? 'application/octet-stream';
}

function readUiFile(path: string, name: string): UiFile {
  const file: UiFile = { body: readFileSync(path), contentType: contentTypeOf(name) };
  if (existsSync(`${path}.gz`)) file.gzip = readFileSync(`${path}.gz`);
  return file;
}

/** Reads the build at `root`; undefined when it has no index.html (the UI was never built). */
export function loadUiBuild(root: string = DEFAULT_UI_ROOT): UiBuild | undefined {
  const indexPath = join(root, 'index.html');
  if (!existsSync(indexPath)) return undefined;
  const assets = new Map<string, UiFile>();
  const assetDir = join(root, 'assets');
  if (existsSync(assetDir)) {
    for (const name of readdirSync(assetDir)) {
      const path = join(assetDir, name);
      if (name.endsWith('.gz') || !statSync(path).isFile()) continue;
      assets.set(name, readUiFile(path, name));
    }
  }
  return { root, index: readUiFile(indexPath, 'index.html'), assets };
}
