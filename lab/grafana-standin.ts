/**
 * Grafana STAND-IN (not Grafana: Grafana has no Debian package). A small HTTP
 * server that uses its database the way Grafana does, so the lab can measure
 * what Grafana's users would see during failures:
 *  - reads grafana.ini like Grafana: `[server] http_port`, `[database] host,
 *    name, user, password, ssl_mode, max_open_conn, conn_max_lifetime`, with
 *    `$__file{...}` / `$__env{...}` expansion and GF_<SECTION>_<KEY> overrides;
 *  - one connection pool to `[database] host` (the DB router), recycled after
 *    conn_max_lifetime;
 *  - GET /api/health: SELECT 1 through that pool, result cached 5 s; 200
 *    {"database":"ok"} or 503 {"database":"failing"} (Grafana's semantics);
 *  - GET /healthz: 200 while the web server is up;
 *  - POST /api/standin/writes: inserts a row (with the client's X-Request-Key, so a request the
 *    load balancer replayed shows up twice) and answers with its id only after COMMIT;
 *    `?hold_ms=N` waits N ms between COMMIT and the answer, like a slow save, so a test can kill
 *    the replica while a committed request is still unanswered;
 *    GET /api/standin/writes lists the ids (`?key=K`: only K's rows, with the instance that wrote each);
 *    GET /api/standin/duplicates lists the request keys written more than once;
 *  - GET /api/standin/ping: answers without touching the database;
 *  - `[unified_alerting]` gossip like Grafana's memberlist: with `ha_peers` set it binds TCP and
 *    UDP on `ha_listen_address` and refuses to start when `ha_advertise_address` is not an IP
 *    (grafana/grafana#45060); with no advertise address and a wildcard listen address it picks
 *    the first private IPv4 of its interfaces, as memberlist does. GET /api/standin/gossip shows both.
 * Every answer carries `X-Standin-Instance: <hostname>`.
 *
 * Usage: node grafana-standin.js /etc/grafana/grafana.ini
 */
import { createSocket } from 'node:dgram';
import { readFileSync } from 'node:fs';
import { createServer, type ServerResponse } from 'node:http';
import { createServer as createTcpServer, isIP } from 'node:net';
import { hostname, networkInterfaces } from 'node:os';
import pg from 'pg';

type Ini = Record<string, Record<string, string>>;

/** Grafana's own expansion: $__file{path} (trimmed contents) and $__env{NAME}. */
export function expandValue(value: string, readFile: (p: string) => string = (p) => readFileSync(p, 'utf8')): string {
  return value
    .replace(/\$__file\{([^}]*)\}/g, (_, p: string) => readFile(p.trim()).trim())
    .replace(/\$__env\{([^}]*)\}/g, (_, n: string) => process.env[n.trim()] ?? '');
}

/**
 * Sections of Grafana's defaults.ini the stand-in reads. Grafana applies GF_<SECTION>_<KEY> to the
 * sections it knows (defaults.ini and grafana.ini), so `GF_UNIFIED_ALERTING_HA_LISTEN_ADDRESS` is
 * `[unified_alerting] ha_listen_address` even when grafana.ini has no such section.
 */
const KNOWN_SECTIONS = ['server', 'database', 'unified_alerting', 'security', 'remote_cache', 'live'];

/** Parses grafana.ini and applies GF_<SECTION>_<KEY> environment overrides. */
export function parseGrafanaIni(text: string, env: NodeJS.ProcessEnv = {}): Ini {
  const ini: Ini = {};
  let section = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#') || line.startsWith(';')) continue;
    const header = /^\[(.+)\]$/.exec(line);
    if (header) {
      section = (header[1] ?? '').trim();
      ini[section] ??= {};
      continue;
    }
    const eq = line.indexOf('=');
    if (eq < 0) continue;
    (ini[section] ??= {})[line.slice(0, eq).trim()] = line
      .slice(eq + 1)
      .trim()
      .replace(/^"(.*)"$/, '$1');
  }
  // Longest section first: GF_UNIFIED_ALERTING_X is [unified_alerting] x.
  const sections = [...new Set([...KNOWN_SECTIONS, ...Object.keys(ini)])].sort((a, b) => b.length - a.length);
  for (const [k, v] of Object.entries(env)) {
    if (!k.startsWith('GF_') || v === undefined || k.endsWith('__FILE')) continue;
    const section = sections.find((s) => k.startsWith(`GF_${s.toUpperCase().replace(/[.-]/g, '_')}_`));
    if (!section) continue;
    (ini[section] ??= {})[k.slice(`GF_${section}_`.length).toLowerCase()] = v;
  }
  return ini;
}

/**
 * Grafana's [database] ssl_mode (lib/pq semantics): disable → plain; require → TLS without
 * verification; verify-ca → TLS, certificate checked against ca_cert_path; verify-full → also the
 * host name. pq refuses to fall back to plain text in every TLS mode, and so does node-postgres.
 */
export function sslOptions(mode: string, caCertPath: string, readFile: (p: string) => string = (p) => readFileSync(p, 'utf8')) {
  if (mode === 'disable' || mode === '') return false;
  if (mode === 'require') return { rejectUnauthorized: false };
  if (mode !== 'verify-ca' && mode !== 'verify-full') throw new Error(`ssl_mode ${mode} is not one Grafana knows`);
  const ca = caCertPath ? readFile(caCertPath) : undefined;
  return { rejectUnauthorized: true, ...(ca ? { ca } : {}), ...(mode === 'verify-ca' ? { checkServerIdentity: () => undefined } : {}) };
}

/**
 * What memberlist would bind and advertise for `[unified_alerting]`, or an error Grafana fails to
 * start with. `interfaces`: this host's IPv4 addresses, in the kernel's order.
 */
export function gossipAddresses(
  alerting: Record<string, string>,
  interfaces: string[],
): { listen: string; advertise: string; port: number } | { error: string } | null {
  if (!(alerting.ha_peers ?? '').trim()) return null;
  const [listenHost, listenPort] = splitHostPort(alerting.ha_listen_address || '0.0.0.0:9094');
  if (!isIP(listenHost)) return { error: `Failed to parse listen address "${listenHost}"` };
  const advertiseSetting = alerting.ha_advertise_address ?? '';
  if (advertiseSetting) {
    const [host, port] = splitHostPort(advertiseSetting);
    if (!isIP(host))
      return {
        error: `unable to initialize gossip mesh: create memberlist: Failed to get final advertise address: Failed to parse advertise address "${host}"`,
      };
    return { listen: listenHost, advertise: host, port: port || listenPort };
  }
  if (listenHost !== '0.0.0.0') return { listen: listenHost, advertise: listenHost, port: listenPort };
  const privateIp = interfaces.find((a) => /^(10\.|192\.168\.|172\.(1[6-9]|2\d|3[01])\.)/.test(a));
  if (!privateIp)
    return { error: 'create memberlist: Failed to get final advertise address: No private IP address found, and explicit IP not provided' };
  return { listen: listenHost, advertise: privateIp, port: listenPort };
}

function splitHostPort(value: string): [string, number] {
  const i = value.lastIndexOf(':');
  return i < 0 ? [value, 0] : [value.slice(0, i).replace(/^\[|\]$/g, ''), Number(value.slice(i + 1))];
}

const HEALTH_CACHE_MS = 5000; // Grafana caches the /api/health database check for 5 s.

function main(): void {
  const configPath = process.argv[2] ?? '/etc/grafana/grafana.ini';
  const ini = parseGrafanaIni(readFileSync(configPath, 'utf8'), process.env);
  const db = ini.database ?? {};
  const get = (s: Ini[string], k: string, d: string) => expandValue(s?.[k] ?? d);
  const [dbHost, dbPort] = get(db, 'host', '127.0.0.1:5432').split(':');
  const instance = hostname();
  const log = (msg: string) => console.log(`${new Date().toISOString()} grafana-standin ${instance}: ${msg}`);

  const pool = new pg.Pool({
    host: dbHost,
    port: Number(dbPort ?? 5432),
    database: get(db, 'name', 'grafana'),
    user: get(db, 'user', 'root'),
    password: get(db, 'password', ''),
    ssl: sslOptions(get(db, 'ssl_mode', 'disable'), get(db, 'ca_cert_path', '')),
    max: Number(get(db, 'max_open_conn', '0')) || 100,
    maxLifetimeSeconds: Number(get(db, 'conn_max_lifetime', '14400')),
    // Stand-in bounds (Grafana relies on the OS): keep a dead route from hanging a request forever.
    connectionTimeoutMillis: 5000,
    query_timeout: 10_000,
  });
  pool.on('error', (e) => log(`idle connection error: ${e.message}`));

  let health: { ok: boolean; at: number } | null = null;
  async function databaseHealthy(): Promise<boolean> {
    if (health && Date.now() - health.at < HEALTH_CACHE_MS) return health.ok;
    let ok = false;
    try {
      await pool.query('SELECT 1');
      ok = true;
    } catch (e) {
      log(`health query failed: ${(e as Error).message}`);
    }
    health = { ok, at: Date.now() };
    return ok;
  }

  const send = (res: ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json', 'x-standin-instance': instance });
    res.end(JSON.stringify(body));
  };

  const server = createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://stand-in');
    const path = url.pathname;
    const query = url.searchParams;
    try {
      if (path === '/healthz') return send(res, 200, 'Ok');
      if (path === '/api/health') {
        const ok = await databaseHealthy();
        return send(res, ok ? 200 : 503, { database: ok ? 'ok' : 'failing', version: 'stand-in' });
      }
      if (path === '/api/standin/ping') return send(res, 200, { instance });
      if (path === '/api/standin/gossip') return send(res, 200, gossip);
      if (path === '/api/standin/writes' && req.method === 'POST') {
        // Autocommit: the id is returned only once COMMIT has succeeded (and, in
        // synchronous mode, once the sync standby has confirmed it).
        const key = req.headers['x-request-key'] ?? null;
        const r = await pool.query('INSERT INTO standin_writes (instance, request_key) VALUES ($1, $2) RETURNING id', [instance, key]);
        const holdMs = Math.min(Number(query.get('hold_ms') ?? 0) || 0, 30_000);
        if (holdMs > 0) await new Promise((r) => setTimeout(r, holdMs));
        return send(res, 200, { id: Number(r.rows[0].id), instance });
      }
      if (path === '/api/standin/writes') {
        const key = query.get('key');
        const r = key
          ? await pool.query('SELECT id, instance FROM standin_writes WHERE request_key = $1 ORDER BY id', [key])
          : await pool.query('SELECT id, instance FROM standin_writes ORDER BY id');
        return send(res, 200, { ids: r.rows.map((x) => Number(x.id)), ...(key ? { instances: r.rows.map((x) => x.instance) } : {}) });
      }
      if (path === '/api/standin/duplicates') {
        const r = await pool.query(
          'SELECT request_key FROM standin_writes WHERE request_key IS NOT NULL GROUP BY request_key HAVING count(*) > 1',
        );
        return send(res, 200, { keys: r.rows.map((x) => x.request_key) });
      }
      return send(res, 404, { message: 'not found' });
    } catch (e) {
      return send(res, 500, { message: (e as Error).message });
    }
  });

  // Grafana runs its migrations before serving, under a DB lock so that
  // replicas started together do not race (migration_locking).
  async function migrate(): Promise<void> {
    const deadline = Date.now() + 1000 * Number(get(db, 'locking_attempt_timeout_sec', '0') || 60);
    for (;;) {
      const client = await pool.connect().catch((e) => e as Error);
      try {
        if (client instanceof Error) throw client;
        await client.query('BEGIN');
        await client.query('SELECT pg_advisory_xact_lock(4711)');
        await client.query(
          'CREATE TABLE IF NOT EXISTS standin_writes (id bigserial PRIMARY KEY, instance text, request_key text, at timestamptz DEFAULT now())',
        );
        // Tables made by an older stand-in (a restored dump) lack the key.
        await client.query('ALTER TABLE standin_writes ADD COLUMN IF NOT EXISTS request_key text');
        await client.query('COMMIT');
        return;
      } catch (e) {
        if (Date.now() > deadline) throw e;
        log(`migration waiting for the database: ${(e as Error).message}`);
        await new Promise((r) => setTimeout(r, 1000));
      } finally {
        if (!(client instanceof Error)) client.release();
      }
    }
  }

  // Alerting gossip starts before the web server, and its failure stops Grafana from starting.
  const ipv4 = Object.values(networkInterfaces())
    .flat()
    .filter((a) => a && a.family === 'IPv4' && !a.internal)
    .map((a) => a!.address);
  const gossipSettings = Object.fromEntries(Object.entries(ini.unified_alerting ?? {}).map(([k, v]) => [k, expandValue(v)]));
  const gossip = gossipAddresses(gossipSettings, ipv4);
  if (gossip && 'error' in gossip) {
    log(`Failed to start grafana. error: ${gossip.error}`);
    process.exit(1);
  }
  if (gossip) {
    createTcpServer((socket) => socket.end()).listen(gossip.port, gossip.listen);
    createSocket('udp4').bind(gossip.port, gossip.listen);
    log(`alerting gossip on ${gossip.listen}:${gossip.port}, advertised as ${gossip.advertise}:${gossip.port}`);
  }

  const port = Number(get(ini.server ?? {}, 'http_port', '3000'));
  const addr = get(ini.server ?? {}, 'http_addr', '') || undefined;
  migrate().then(
    () => server.listen(port, addr, () => log(`listening on :${port}, database ${dbHost}:${dbPort}`)),
    (e) => {
      log(`migration failed: ${(e as Error).message}`);
      process.exit(1);
    },
  );
  // Grafana shuts its HTTP server down gracefully (http.Server.Shutdown): no new connections, requests
  // in flight are answered, idle keep-alive connections are closed; then the process exits.
  process.on('SIGTERM', () => {
    log('SIGTERM: shutting down');
    server.close(() => pool.end().finally(() => process.exit(0)));
    server.closeIdleConnections();
    setTimeout(() => process.exit(0), 8000).unref();
  });
}

if (process.argv[1]?.endsWith('grafana-standin.js')) main();
