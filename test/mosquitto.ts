/**
 * A real Eclipse Mosquitto broker for the fleet tests: each call starts its
 * own /usr/sbin/mosquitto on a free localhost port with a temporary config
 * (password file + ACL: a device may publish only to its own update and
 * status topics and read only the model topic), and stops it. No test
 * depends on a broker already running.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

export const MOSQUITTO = process.env.MOSQUITTO ?? '/usr/sbin/mosquitto';

export interface Broker {
  port: number;
  url: string;
  dir: string;
  /** name -> password of every user in the password file */
  users: Record<string, string>;
  stop(): Promise<void>;
  /** Starts the same broker again (same port, same persistence folder). */
  start(): Promise<void>;
  cleanup(): Promise<void>;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

function waitForPort(port: number, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const attempt = () => {
      const socket = createConnection({ port, host: '127.0.0.1' });
      socket.once('connect', () => {
        socket.destroy();
        resolve();
      });
      socket.once('error', () => {
        socket.destroy();
        if (Date.now() > until) reject(new Error(`mosquitto did not listen on ${port}`));
        else setTimeout(attempt, 50);
      });
    };
    attempt();
  });
}

/** The README's ACL: the aggregator reads updates and writes the model; each device writes only its own topics. */
export function aclFor(fleet: string): string {
  return [
    'user aggregator',
    `topic readwrite hdrnn/${fleet}/model`,
    `topic read hdrnn/${fleet}/update/+`,
    `topic read hdrnn/${fleet}/status/+`,
    '',
    '# every other user: its own update and status topics, and the model',
    `pattern write hdrnn/${fleet}/update/%u`,
    `pattern write hdrnn/${fleet}/status/%u`,
    `pattern read hdrnn/${fleet}/model`,
    '',
  ].join('\n');
}

/** A CA and a server certificate for 127.0.0.1 (openssl), for the TLS listener. */
function makeCertificates(dir: string): { ca: string; cert: string; key: string } {
  const f = (n: string) => path.join(dir, n);
  const sh = (args: string[]) => {
    const r = spawnSync('openssl', args, { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`openssl ${args[0]} failed: ${r.stderr}`);
  };
  sh(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=hdrnn test CA', '-keyout', f('ca.key'), '-out', f('ca.pem')]);
  sh(['req', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=127.0.0.1', '-keyout', f('server.key'), '-out', f('server.csr')]);
  writeFileSync(f('san.ext'), 'subjectAltName=IP:127.0.0.1\n');
  sh(['x509', '-req', '-in', f('server.csr'), '-CA', f('ca.pem'), '-CAkey', f('ca.key'), '-CAcreateserial', '-days', '2', '-extfile', f('san.ext'), '-out', f('server.pem')]);
  return { ca: f('ca.pem'), cert: f('server.pem'), key: f('server.key') };
}

export async function startMosquitto(opts: { fleet: string; devices: string[]; tls?: boolean }): Promise<Broker & { ca?: string }> {
  const dir = mkdtempSync(path.join(tmpdir(), 'hdrnn-mosquitto-'));
  const port = await freePort();
  const users: Record<string, string> = { aggregator: 'agg-secret' };
  for (const d of opts.devices) users[d] = `pw-${d}`;
  const passwd = path.join(dir, 'passwd');
  writeFileSync(passwd, Object.entries(users).map(([u, p]) => `${u}:${p}`).join('\n') + '\n', { mode: 0o600 });
  const r = spawnSync('mosquitto_passwd', ['-U', passwd], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`mosquitto_passwd -U failed: ${r.stderr}`);
  writeFileSync(path.join(dir, 'acl'), aclFor(opts.fleet), { mode: 0o600 });
  const tls = opts.tls ? makeCertificates(dir) : undefined;
  const conf = path.join(dir, 'mosquitto.conf');
  writeFileSync(
    conf,
    [
      // As root, mosquitto would switch to the 'mosquitto' user, which cannot read this private folder.
      ...(process.getuid?.() === 0 ? ['user root'] : []),
      `listener ${port} 127.0.0.1`,
      ...(tls ? [`cafile ${tls.ca}`, `certfile ${tls.cert}`, `keyfile ${tls.key}`, 'tls_version tlsv1.2'] : []),
      'allow_anonymous false',
      `password_file ${passwd}`,
      `acl_file ${path.join(dir, 'acl')}`,
      'persistence true',
      `persistence_location ${dir}/`,
      'log_dest stderr',
      'log_type error',
      'log_type warning',
      'max_packet_size 20000000',
      '',
    ].join('\n'),
  );
  let child: ChildProcess | undefined;
  let log = '';
  const start = async () => {
    child = spawn(MOSQUITTO, ['-c', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
    child.stderr!.on('data', (d) => (log += d));
    const exited = new Promise<never>((_, reject) => child!.once('exit', (code) => reject(new Error(`mosquitto exited (${code}): ${log}`))));
    await Promise.race([waitForPort(port, 10_000), exited]);
    exited.catch(() => {});
  };
  const stop = async () => {
    const c = child;
    child = undefined;
    if (!c || c.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      c.once('exit', () => resolve());
      c.kill('SIGTERM');
    });
  };
  await start();
  return {
    port,
    url: `${tls ? 'mqtts' : 'mqtt'}://127.0.0.1:${port}`,
    ca: tls?.ca,
    dir,
    users,
    stop,
    start,
    cleanup: async () => {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
