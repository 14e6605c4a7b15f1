// The peers of `loopgrad bench lstm --peers`: other JavaScript libraries (bench/peers/package.json,
// installed on demand by `npm run peers:install`, never dependencies of loopgrad) each run in a
// child process (bench/peers/peer.mjs), driven one batch at a time over the IPC channel, so the
// parent interleaves them with loopgrad round by round. A peer that is not installed, fails to
// load, answers an error or dies is reported with its reason; the run goes on without it.
import { type ChildProcess, fork } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError } from '../../lib/errors.js';
import { checkKeys } from '../../lib/mat/options.js';

export const PEER_NAMES = ['tfjs-cpu', 'tfjs-wasm', 'brain.js', 'jax-js'] as const;
export type PeerName = (typeof PEER_NAMES)[number];

/** The packages (in bench/peers/node_modules) each peer needs. */
export const PEER_PACKAGES: Readonly<Record<PeerName, readonly string[]>> = {
  'tfjs-cpu': ['@tensorflow/tfjs'],
  'tfjs-wasm': ['@tensorflow/tfjs', '@tensorflow/tfjs-backend-wasm'],
  'brain.js': ['brain.js'],
  'jax-js': ['@jax-js/jax'],
};

export const INSTALL_HINT = 'install them with `npm run peers:install` (bench/peers/package.json into bench/peers/node_modules; needs the npm registry)';

export interface PeerOptions {
  /** Which peers to run (default all of PEER_NAMES). */
  peers?: readonly string[];
  /** The peers package: a folder with peer.mjs and node_modules (default bench/peers of this checkout). */
  dir?: string;
  /** How long one setup or batch may take before the peer is stopped and reported (default 120 s). */
  timeoutMs?: number;
}

export interface ResolvedPeerOptions {
  peers: PeerName[];
  /** null: no peers package in this installation (bench/peers is in the git repository, not the npm package). */
  dir: string | null;
  timeoutMs: number;
}

const OP = 'bench lstm peers';

/** bench/peers of the checkout this module was compiled from (build/bench/peers or dist/bench/peers), or null. */
export function defaultPeersDir(): string | null {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = join(dir, 'bench', 'peers');
    if (existsSync(join(candidate, 'peer.mjs')) && existsSync(join(candidate, 'package.json'))) return candidate;
    const parent = dirname(dir);
    if (parent === dir) return null;
    dir = parent;
  }
}

export function parsePeerOptions(options: PeerOptions): ResolvedPeerOptions {
  checkKeys(OP, options, ['peers', 'dir', 'timeoutMs']);
  let peers: PeerName[] = [...PEER_NAMES];
  if (options.peers !== undefined) {
    if (!Array.isArray(options.peers) || options.peers.length === 0) {
      throw new ConfigError(OP, `peers must be a non-empty list of ${PEER_NAMES.join(', ')}, got ${JSON.stringify(options.peers)}`, { value: options.peers });
    }
    peers = [];
    for (const name of options.peers) {
      if (!(PEER_NAMES as readonly unknown[]).includes(name)) {
        throw new ConfigError(OP, `unknown peer ${JSON.stringify(name)} (known: ${PEER_NAMES.join(', ')})`, { value: name });
      }
      if (peers.includes(name as PeerName)) throw new ConfigError(OP, `peer "${name}" is named twice`, { value: name });
      peers.push(name as PeerName);
    }
  }
  let dir: string | null;
  if (options.dir !== undefined) {
    if (typeof options.dir !== 'string' || options.dir.trim() === '') {
      throw new ConfigError(OP, `dir must be a folder name, got ${JSON.stringify(options.dir)}`, { value: options.dir });
    }
    dir = resolve(options.dir);
  } else {
    dir = defaultPeersDir();
  }
  const timeoutMs = options.timeoutMs ?? 120_000;
  if (typeof timeoutMs !== 'number' || !Number.isFinite(timeoutMs) || timeoutMs <= 0) {
    throw new ConfigError(OP, `timeoutMs must be a positive number of ms, got ${String(timeoutMs)}`, { value: timeoutMs });
  }
  return { peers, dir, timeoutMs };
}

export interface PeerAvailability {
  available: PeerName[];
  missing: { name: PeerName; reason: string }[];
}

/** Which of the chosen peers have their packages in dir/node_modules (nothing is loaded or run). */
export function findInstalledPeers(opts: ResolvedPeerOptions): PeerAvailability {
  const available: PeerName[] = [];
  const missing: { name: PeerName; reason: string }[] = [];
  for (const name of opts.peers) {
    if (opts.dir === null) {
      missing.push({ name, reason: 'no bench/peers package in this installation (it is in the git repository)' });
      continue;
    }
    const absent = PEER_PACKAGES[name].filter((pkg) => !existsSync(join(opts.dir!, 'node_modules', ...pkg.split('/'), 'package.json')));
    if (absent.length === 0 && existsSync(join(opts.dir, 'peer.mjs'))) available.push(name);
    else missing.push({ name, reason: absent.length === 0 ? `no peer.mjs in ${opts.dir}` : `${absent.join(', ')} not installed in ${join(opts.dir, 'node_modules')}` });
  }
  return { available, missing };
}

/** One of bench/lstm.ts's configs as every runner sees it (bench/lstm.ts adds how it is timed). */
export interface LstmShape {
  name: string;
  batch: number;
  steps: number;
  inputSize: number;
  hiddenSize: number;
  /** false: forward only (no loss, no gradient, no update). */
  train: boolean;
}

/** What a peer is told to run: a config and the SGD learning rate. */
export interface PeerConfig extends LstmShape {
  lr: number;
}

export type PeerSetup = { kind: 'ready'; info: string } | { kind: 'skip'; reason: string };

type Request = { type: 'setup'; config: PeerConfig } | { type: 'batch'; count: number };

type Reply = { type: 'ready'; info: string } | { type: 'skip'; reason: string } | { type: 'done'; ms: number; loss: number } | { type: 'error'; message: string };

/** One peer's child process; every request either answers or rejects with the peer's name and a reason. */
export class PeerProcess {
  private readonly child: ChildProcess;
  private stderr = '';
  /** Why the process can no longer answer (it exited, failed to start, or timed out), or null. */
  private dead: string | null = null;
  private pending: { resolve: (r: Reply) => void; reject: (e: Error) => void; timer: ReturnType<typeof setTimeout> } | null = null;
  /** Settles when the child has started and says hello (a Node start is not the library's time). */
  private readonly started: Promise<void>;
  private hello: (() => void) | null = null;

  constructor(readonly name: PeerName, dir: string, private readonly timeoutMs: number) {
    this.child = fork(join(dir, 'peer.mjs'), [name], { cwd: dir, stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
    this.child.stderr!.setEncoding('utf8');
    this.child.stderr!.on('data', (text: string) => { this.stderr = (this.stderr + text).slice(-4000); });
    const startLimit = setTimeout(() => {
      this.fail('did not start within 60 s; stopped');
      this.child.kill();
    }, 60_000);
    startLimit.unref();
    this.started = new Promise((resolve) => { this.hello = () => { clearTimeout(startLimit); resolve(); }; });
    this.child.on('message', (reply: Reply | { type: 'hello' }) => {
      if (reply.type === 'hello') this.hello?.();
      else this.settle(null, reply);
    });
    this.child.on('error', (e) => this.fail(`could not run: ${e.message}`));
    // 'close', not 'exit': by then stderr has been read to its end.
    this.child.on('close', (code, signal) => this.fail(`exited (${signal ?? `code ${code}`})`));
  }

  private settle(error: Error | null, reply: Reply | null): void {
    const p = this.pending;
    if (p === null) return;
    this.pending = null;
    clearTimeout(p.timer);
    if (error !== null) p.reject(error);
    else p.resolve(reply!);
  }

  private fail(why: string): void {
    if (this.dead !== null) return;
    // The last line the child wrote to stderr usually names the cause (a missing module, a throw).
    const last = this.stderr.split('\n').map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('at ')).slice(-1)[0];
    this.dead = last === undefined ? why : `${why}: ${last}`;
    this.hello?.();
    this.settle(new Error(`${this.name}: ${this.dead}`), null);
  }

  private async request(msg: Request): Promise<Reply> {
    await this.started;
    if (this.dead !== null) throw new Error(`${this.name}: ${this.dead}`);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.fail(`no answer to "${msg.type}" within ${this.timeoutMs} ms; stopped`);
        this.child.kill();
      }, this.timeoutMs);
      this.pending = { resolve, reject, timer };
      this.child.send(msg);
    });
  }

  async setup(config: PeerConfig): Promise<PeerSetup> {
    const r = await this.request({ type: 'setup', config });
    if (r.type === 'ready') return { kind: 'ready', info: r.info };
    if (r.type === 'skip') return { kind: 'skip', reason: r.reason };
    throw new Error(`${this.name}: ${r.type === 'error' ? r.message : `unexpected reply ${r.type} to setup`}`);
  }

  /** count batches back to back; the ms per batch the peer measured around them and its last loss (or first output, forward only). */
  async batch(count = 1): Promise<{ ms: number; loss: number }> {
    const r = await this.request({ type: 'batch', count });
    if (r.type === 'done' && Number.isFinite(r.ms)) return { ms: r.ms, loss: r.loss };
    throw new Error(`${this.name}: ${r.type === 'error' ? r.message : `unexpected reply ${JSON.stringify(r)} to batch`}`);
  }

  /** Asks the child to exit; kills it if it has not within a second. */
  async close(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    if (this.child.connected) this.child.send({ type: 'close' });
    const timer = setTimeout(() => this.child.kill(), 1000);
    await exited;
    clearTimeout(timer);
  }
}
