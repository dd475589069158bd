import { ConfigError, validateAnswers } from '../generators/app/config.js';
import { FAILOVER_PROFILES, patroniTimingProblems } from '../generators/app/failover-profiles.js';
import { QUESTIONS } from '../generators/app/questions.js';

const problemsOf = (raw: Record<string, unknown>): string[] => {
  try {
    validateAnswers(raw);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  return [];
};

describe('validateAnswers', () => {
  it('fills every answer with its default when nothing is given', () => {
    const { answers } = validateAnswers({});
    expect(Object.keys(answers).sort()).toEqual(QUESTIONS.map((q) => q.name).sort());
    expect(answers).toMatchObject({ grafanaReplicas: 2, loadBalancer: 'haproxy', patroniNodes: 3, etcdMembers: 3 });
    expect(answers.publicUrl).toBe('http://localhost:8080/');
  });

  it('coerces option strings the way the CLI passes them', () => {
    const { answers } = validateAnswers({ grafanaReplicas: '4', synchronousReplication: 'false', httpPort: '9000' });
    expect(answers).toMatchObject({ grafanaReplicas: 4, synchronousReplication: false, httpPort: 9000 });
    expect(answers.publicUrl).toBe('http://localhost:9000/');
  });

  it('names every problem at once, with the option that carries it', () => {
    const problems = problemsOf({
      projectName: 'Bad_Name',
      grafanaReplicas: 0,
      loadBalancer: 'traefik',
      etcdMembers: 4,
      patroniNodes: 'three',
      publicUrl: 'ftp://x',
      typo: true,
    });
    expect(problems).toHaveLength(7);
    expect(problems.join('\n')).toEqual(expect.stringContaining('--project-name'));
    for (const option of ['--grafana-replicas', '--load-balancer', '--etcd-members', '--patroni-nodes', '--public-url', '"typo"']) {
      expect(problems.some((p) => p.includes(option))).toBe(true);
    }
  });

  it('takes a public URL written with plain URL characters only (it is written unescaped into grafana.ini, shell commands and the README)', () => {
    for (const publicUrl of [
      'https://example.com/<script>',
      'https://example.com/a b',
      "https://example.com/it's",
      'https://example.com/a&b',
      'https://example.com/"x"',
    ]) {
      expect({ publicUrl, problems: problemsOf({ publicUrl }) }).toEqual({
        publicUrl,
        problems: [expect.stringContaining('--public-url')],
      });
    }
    for (const publicUrl of [
      'https://grafana.example.com/',
      'https://example.com:8443/ops/grafana_1/',
      'http://[::1]:3000/',
      'https://example.com/%C3%A9/',
    ]) {
      expect({ publicUrl, problems: problemsOf({ publicUrl }) }).toEqual({ publicUrl, problems: [] });
    }
  });

  it("records etcd's data directory: the subdirectory for a new etcd, the volume root for a Patroni stack recorded without one", () => {
    expect(validateAnswers({}).history.etcdDataDir).toBe('/var/lib/etcd/data');
    // A stored Patroni stack without the field was generated before it existed: its members keep the root.
    expect(validateAnswers({ etcdFoundingMembers: 3 }, { stored: true }).history.etcdDataDir).toBe('/var/lib/etcd');
    expect(validateAnswers({}, { stored: true }).history.etcdDataDir).toBe('/var/lib/etcd');
    // A stack without etcd so far gets the subdirectory when it first has one.
    expect(validateAnswers({ dbMode: 'single' }, { stored: true }).history.etcdDataDir).toBe('/var/lib/etcd/data');
    for (const etcdDataDir of ['/var/lib/etcd', '/var/lib/etcd/data']) {
      expect(validateAnswers({ etcdDataDir }, { stored: true }).history.etcdDataDir).toBe(etcdDataDir);
      expect(validateAnswers({ etcdDataDir }).history.etcdDataDir).toBe(etcdDataDir);
    }
  });

  it('refuses an etcdDataDir that is neither layout, naming it', () => {
    for (const etcdDataDir of ['/var/lib/etcd/', '/var/lib/etcd/member', 'data', 42, null]) {
      const problems = problemsOf({ etcdDataDir });
      expect({ etcdDataDir, problems }).toEqual({
        etcdDataDir,
        problems: [expect.stringContaining('etcdDataDir (recorded in .yo-rc.json): must be one of /var/lib/etcd/data, /var/lib/etcd')],
      });
    }
  });

  it('takes .yo-rc.json values only with their exact JSON type: a "3" there is an error, never coerced', () => {
    const stored = (raw: Record<string, unknown>) => {
      try {
        validateAnswers(raw, { stored: true });
      } catch (error) {
        if (error instanceof ConfigError) return error.problems;
        throw error;
      }
      return [];
    };
    const problems = stored({
      grafanaReplicas: '3',
      synchronousReplication: 'false',
      projectName: 42,
      etcdFoundingMembers: '3',
      etcdDataDir: 7,
    });
    expect(problems).toHaveLength(5);
    expect(problems.join('\n')).toMatch(/--grafana-replicas \(grafanaReplicas\): must be a JSON integer \(got "3"\)/);
    expect(problems.join('\n')).toMatch(/--synchronous-replication \(synchronousReplication\): must be JSON true or false/);
    expect(problems.join('\n')).toMatch(/--project-name \(projectName\): must be a JSON string/);
    expect(stored({ grafanaReplicas: 3, synchronousReplication: false })).toEqual([]);
  });

  it('refuses options that do not apply to the chosen stack, naming each, in the same error as the other problems', () => {
    const options = { dbHost: 'pg.example.com', dbSslMode: 'require', grafanaReplicas: 0 };
    const problems = (() => {
      try {
        validateAnswers(options, { options });
      } catch (error) {
        if (error instanceof ConfigError) return error.problems;
        throw error;
      }
      return [];
    })();
    expect(problems).toEqual([
      expect.stringMatching(/^--grafana-replicas/),
      '--db-host: does not apply to this stack (--db-mode patroni); leave it out',
      '--db-ssl-mode: does not apply to this stack (--db-mode patroni); leave it out',
    ]);
    // The same value from .yo-rc.json of a stack switching modes is not an option: no error.
    expect(() => validateAnswers({ dbMode: 'external', dbHost: 'pg', patroniNodes: 3 }, { options: { dbMode: 'external' } })).not.toThrow();
    const external = { dbMode: 'external', dbHost: 'pg', patroniNodes: 3, dbCaFile: '/x.crt' };
    expect(() => validateAnswers(external, { options: external })).toThrow(
      /--db-ca-file: does not apply to this stack \(--db-mode external, --db-ssl-mode require\)[\s\S]*--patroni-nodes: does not apply/,
    );
  });

  it('warns where a user would want to know: a port rootless Docker cannot publish, a localhost URL on another port, a Grafana older than supported', () => {
    expect(validateAnswers({}).warnings).toEqual([]);
    expect(validateAnswers({ httpPort: 80 }).warnings).toEqual([
      expect.stringMatching(/--http-port 80: below 1024, which rootless Docker cannot publish/),
    ]);
    expect(validateAnswers({ httpPort: 9090, publicUrl: 'http://localhost:8080/' }).warnings).toEqual([
      expect.stringMatching(/--public-url http:\/\/localhost:8080\/ is on this machine, port 8080, but the stack publishes port 9090/),
    ]);
    expect(validateAnswers({ httpPort: 8443, publicUrl: 'https://grafana.example.com/' }).warnings).toEqual([]);
    expect(validateAnswers({ grafanaVersion: '11.6.2' }).warnings).toEqual([
      expect.stringMatching(/--grafana-version 11\.6\.2 is older than 12\.0\.0, the oldest this generator supports/),
    ]);
    expect(validateAnswers({ grafanaVersion: '12.0.0' }).warnings).toEqual([]);
  });

  it('warns, but accepts, setups that are not highly available', () => {
    const { warnings } = validateAnswers({ grafanaReplicas: 1, etcdMembers: 1 });
    expect(warnings).toHaveLength(2);
  });
});

describe('failover profiles', () => {
  it.each(Object.entries(FAILOVER_PROFILES))('%s satisfies Patroni timing rules', (_name, profile) => {
    expect(patroniTimingProblems(profile)).toEqual([]);
  });

  it('detects a timing Patroni would silently rewrite', () => {
    expect(patroniTimingProblems({ ttl: 20, loopWait: 10, retryTimeout: 10 })).toHaveLength(1);
    expect(patroniTimingProblems({ ttl: 10, loopWait: 0, retryTimeout: 6 })).toHaveLength(3);
  });
});
