/**
 * The generated stack README, read back sentence by sentence for each answer set: everything it says
 * must be true for the stack it describes (not only what the snapshot happens to contain).
 */
import { firstStartCommands } from '../generators/app/render/index.js';
import type { Answers } from '../generators/app/questions.js';
import { MEASURED_FAILURES } from '../generators/app/measured-failures.js';
import { filesFor, TEST_CA_FILE, topologyFor } from './helpers/stack.js';

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
  [
    'external, verify-full with a CA file',
    { dbMode: 'external', dbHost: 'pg.example.com', dbSslMode: 'verify-full', dbCaFile: TEST_CA_FILE },
  ],
  [
    'patroni, async, upstream profile, sub-path URL',
    { synchronousReplication: false, failoverProfile: 'upstream', publicUrl: 'https://example.com/grafana' },
  ],
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

/** The commands of the first ```sh block of `text`, without comments. */
const shCommands = (text: string) =>
  /```sh\n([\s\S]*?)```/
    .exec(text)![1]
    .split('\n')
    .map((line) => line.replace(/\s+#.*$/, '').trim())
    .filter(Boolean);

const HTML_ENTITY = /&(?:#\d+|#x[0-9a-f]+|[a-z][a-z0-9]*);/gi;

describe.each(ANSWER_SETS)('the stack README for %s', (_name, raw) => {
  const t = topologyFor(raw);
  const markdown = filesFor(raw)['README.md'];
  const readme = prose(markdown);
  const sectionOf = (heading: string) => prose(section(markdown, heading));
  const mode = t.database.mode;
  const oneReplica = t.grafana.replicas.length === 1;

  it('has the measured "What happens when…" table only for a Patroni stack, with the rows true for its replication mode', () => {
    if (t.database.mode !== 'patroni') {
      expect(markdown).not.toContain('### What happens when');
      return;
    }
    const table = markdown.slice(markdown.indexOf('### What happens when'));
    const sync = t.database.patroni.synchronous;
    const rows = MEASURED_FAILURES.filter((r) => r.replication === undefined || r.replication === (sync ? 'synchronous' : 'asynchronous'));
    for (const row of MEASURED_FAILURES) expect(table.includes(`| ${row.failure} |`)).toBe(rows.includes(row));
    expect(prose(table).includes('Replication is asynchronous in this stack')).toBe(!t.database.patroni.synchronous);
    expect(prose(table).includes(`This stack's \`${t.answers.failoverProfile}\` profile waits longer`)).toBe(
      t.answers.failoverProfile !== 'fast',
    );
  });

  it('is Markdown without HTML entities (EJS must not HTML-escape it)', () => {
    expect(markdown.match(HTML_ENTITY)).toBeNull();
    expect(readme).toContain("Grafana's");
  });

  it('says what losing a Grafana replica means for this replica count', () => {
    const failover = sectionOf('Failover');
    if (oneReplica) {
      expect(readme).not.toMatch(/retried on another replica/);
      expect(readme).not.toMatch(/the replicas gossip/);
      expect(failover).toMatch(/there is no other replica/);
    } else {
      expect(failover).toMatch(/retried on another replica/);
      expect(readme).not.toMatch(/no other replica/);
    }
  });

  it('describes the health checks the chosen load balancer really has', () => {
    const failover = sectionOf('Failover');
    if (t.loadBalancer.kind === 'haproxy') {
      expect(failover).toMatch(/HAProxy checks `\/healthz`/);
    } else {
      // nginx open source has passive checks only: it checks neither /healthz nor /api/health.
      expect(readme).not.toMatch(/(?:load balancer|nginx) checks `\/healthz`|it checks `\/healthz`/);
      expect(failover).toMatch(/nginx has no health check of its own/);
      if (oneReplica) expect(failover).toMatch(/one-server upstream/);
    }
  });

  it('warns that a 1-member etcd is a single point of failure, and only then', () => {
    const note = /etcd is then a single point of failure: while it is down the Patroni cluster cannot elect a leader/;
    if (mode === 'patroni' && t.database.etcd.members.length === 1) {
      expect(sectionOf('Failover')).toMatch(note);
      expect(readme).toMatch(/writes stop until etcd is back/);
    } else {
      expect(readme).not.toMatch(note);
    }
  });

  it('lists the start commands of this stack: docker compose build only when it builds an image', () => {
    const commands = shCommands(section(markdown, 'Start it'));
    expect(commands).toEqual(firstStartCommands(t));
    expect(commands.includes('docker compose build')).toBe(mode === 'patroni');
    // single mode's migration to patroni builds the new stack's image; external never builds anything.
    if (mode === 'external') expect(readme).not.toContain('docker compose build');
  });

  it('gives advice on shrinking Patroni and etcd only to a stack that has them', () => {
    const growing = sectionOf('Growing the stack');
    const shrinkAdvice = /Removing PostgreSQL nodes or etcd members is refused/;
    if (mode === 'patroni') {
      expect(growing).toMatch(shrinkAdvice);
      expect(growing).toContain('grafana-ha --defaults --patroni-nodes 4 --etcd-members 5');
    } else {
      expect(readme).not.toMatch(shrinkAdvice);
      expect(readme).not.toMatch(/patronictl|etcdctl|etcd-add-member|--patroni-nodes|--etcd-members/);
    }
    if (mode === 'external') {
      expect(readme).not.toMatch(/\betcd\b|PostgreSQL major version|PostgreSQL as 999|pg_isready/);
    }
  });

  it('says in its limits that Grafana Live is per replica without a Redis HA engine', () => {
    const limits = sectionOf('Limits');
    expect(limits).toMatch(/Grafana Live \(`\/api\/live\/`, WebSocket\) is per replica/);
    expect(limits).toMatch(/without `\[live\] ha_engine = redis`/);
    expect(limits).toMatch(/a Live update reaches only the clients connected to the replica that produced it/);
    expect(readme).not.toMatch(/redis:/i);
  });

  it('a Compose stack claims one host, process-level redundancy only, and points to the swarm target', () => {
    const limits = sectionOf('Limits');
    expect(readme).not.toMatch(/runs on Docker Swarm|docker stack deploy/);
    expect(limits).toMatch(/Docker Compose on one host gives process-level redundancy only/);
    expect(limits).toMatch(/generate\s+it for Docker Swarm \(`--deploy-target swarm`\) in a new folder/);
  });
});
