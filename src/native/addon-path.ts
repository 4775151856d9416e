import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The root of the checkout (the folder holding binding.gyp), from src/... or dist/src/... */
function packageRoot(): string {
  let folder = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(folder, 'binding.gyp'))) return folder;
    const parent = dirname(folder);
    if (parent === folder) throw new Error('cannot find binding.gyp above ' + dirname(fileURLToPath(import.meta.url)));
    folder = parent;
  }
}

/** Where node-gyp put the addon `name` (binding.gyp's target_name): build/Release/<name>.node. */
export function nativeAddonPath(name: string): string {
  return join(packageRoot(), 'build', 'Release', `${name}.node`);
}
