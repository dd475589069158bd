/** Renders an EJS template from the package's top-level `templates/` folder. */
import ejs from 'ejs';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The package root: the first folder above this file with a package.json (sources and dist/ alike). */
function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error('generator-grafana-ha: cannot find its package.json');
    dir = parent;
  }
  return dir;
}

export const TEMPLATES_DIR = join(packageRoot(), 'templates');

export function renderTemplate(name: string, data: Record<string, unknown>): string {
  const file = join(TEMPLATES_DIR, `${name}.ejs`);
  return ejs.render(readFileSync(file, 'utf8'), data, { filename: file });
}
