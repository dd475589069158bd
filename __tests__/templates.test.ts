/**
 * Every template is used, and reads every key it is given: over the whole answer matrix, the keys
 * renderTemplate received for a template must each appear in that template's code (for the stack
 * README, in its partials too). A key no template reads is dead data and fails here.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { renderStack } from '../generators/app/render/index.js';
import { keysGiven, TEMPLATES_DIR } from '../generators/app/render/templates.js';
import { ANSWER_MATRIX, SWARM_CELLS, topologyFor } from './helpers/stack.js';

const README_PARTIALS = join(TEMPLATES_DIR, 'stack/readme');

function templateFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? templateFiles(join(dir, e.name)) : [join(dir, e.name)],
  );
}

/** The JavaScript inside a template's EJS tags (`<% … %>`, `<%= … %>`, `<%- … %>`). */
const codeOf = (file: string) => [...readFileSync(file, 'utf8').matchAll(/<%[=_-]?([\s\S]*?)[-_]?%>/g)].map((m) => m[1]).join('\n');

for (const raw of [...ANSWER_MATRIX, ...SWARM_CELLS]) renderStack(topologyFor(raw));

describe('templates', () => {
  it('are each rendered by some cell of the answer matrix (partials of the stack README aside)', () => {
    const rendered = [...keysGiven.keys()].map((name) => `${name}.ejs`).sort();
    const onDisk = templateFiles(TEMPLATES_DIR)
      .filter((f) => !f.startsWith(README_PARTIALS))
      .map((f) => relative(TEMPLATES_DIR, f))
      .sort();
    expect(rendered).toEqual(onDisk);
  });

  it.each([...keysGiven.entries()])('%s reads every key it is given', (name, keys) => {
    const files = [join(TEMPLATES_DIR, `${name}.ejs`), ...(name === 'stack/README.md' ? templateFiles(README_PARTIALS) : [])];
    const code = files.map(codeOf).join('\n');
    const unread = [...keys].filter((key) => !new RegExp(`\\b${key}\\b`).test(code));
    expect(unread).toEqual([]);
  });
});
