/**
 * The generated stack README, read back sentence by sentence for each answer set: everything it says
 * must be true for the stack it describes (not only what the snapshot happens to contain).
 */
import { fileURLToPath } from 'node:url';
import type { Answers } from '../generators/app/questions.js';
import { filesFor } from './helpers/stack.js';

const DATABASES: Record<string, Partial<Answers>> = {
  'patroni, 3 etcd members': { dbMode: 'patroni', etcdMembers: 3 },
  'patroni, 1 etcd member': { dbMode: 'patroni', etcdMembers: 1 },
  single: { dbMode: 'single' },
  external: { dbMode: 'external', dbHost: 'pg.example.com' },
};
const ANSWER_SETS: [string, Partial<Answers>][] = [];
for (const loadBalancer of ['haproxy', 'nginx'] as const) {
  for (const grafanaReplicas of [1, 2]) {
    for (const [db, raw] of Object.entries(DATABASES)) {
      ANSWER_SETS.push([`${loadBalancer}, ${grafanaReplicas} Grafana replica(s), ${db}`, { loadBalancer, grafanaReplicas, ...raw }]);
    }
  }
}
ANSWER_SETS.push(
  ['external, verify-full with a CA file', { dbMode: 'external', dbHost: 'pg.example.com', dbSslMode: 'verify-full', dbCaFile: fileURLToPath(import.meta.url) }],
  ['patroni, async, upstream profile, sub-path URL', { synchronousReplication: false, failoverProfile: 'upstream', publicUrl: 'https://example.com/grafana' }],
);

/** The text under `## heading`, up to the next level-2 heading (its ### subsections included). */
function section(readme: string, heading: string): string {
  const start = readme.indexOf(`\n## ${heading}\n`);
  if (start < 0) throw new Error(`README has no "## ${heading}" section`);
  const end = readme.indexOf('\n## ', start + 1);
  return readme.slice(start, end < 0 ? undefined : end);
}

/** Prose with its line breaks and indentation folded into single spaces, for matching sentences. */
const prose = (text: string) => text.replace(/\s+/g, ' ');

const HTML_ENTITY = /&(?:#\d+|#x[0-9a-f]+|[a-z][a-z0-9]*);/gi;

describe.each(ANSWER_SETS)('the stack README for %s', (_name, raw) => {
  const markdown = filesFor(raw)['README.md'];
  const readme = prose(markdown);
  const sectionOf = (heading: string) => prose(section(markdown, heading));

  it('is Markdown without HTML entities (EJS must not HTML-escape it)', () => {
    expect(markdown.match(HTML_ENTITY)).toBeNull();
    expect(readme).toContain("Grafana's");
  });

  it('says in its limits that Grafana Live is per replica without a Redis HA engine', () => {
    const limits = sectionOf('Limits');
    expect(limits).toMatch(/Grafana Live \(`\/api\/live\/`, WebSocket\) is per replica/);
    expect(limits).toMatch(/without `\[live\] ha_engine = redis`/);
    expect(limits).toMatch(/a Live update reaches only the clients connected to the replica that produced it/);
    expect(readme).not.toMatch(/redis:/i);
  });

  it('claims no Swarm support: one host, process-level redundancy only', () => {
    const limits = sectionOf('Limits');
    expect(readme).not.toMatch(/runs on Docker Swarm|docker stack deploy/);
    expect(limits).toMatch(/Docker Compose on one host gives process-level redundancy only/);
    expect(limits).toMatch(/A Docker Swarm target does not exist yet/);
  });
});
