// What Rtrl (and Snap of order 2 and more) needs from threads, without knowing how they are made: a
// team of workers each holding the model and a block of S's (or Ŝ's) columns (lib/parallel/rtrl-team.ts builds one over a platform's
// workers; node/rtrl-threads.ts provides Node's). The calling thread is shard 0 of the team and
// runs its own block between start() and finish(). lib/rnn does not import lib/parallel (which
// imports lib/rnn): a platform registers its factory here.
import type { MaskState } from '../cells/cell.js';
import { ConfigError } from '../mat/errors.js';
import type { Mat } from '../mat/mat.js';
import type { RecurrentModel } from './model.js';
import type { ColumnRange } from './rtrl-columns.js';

/** What each worker runs over its columns: exact RTRL, or SnAp-n (lib/rnn/snap.ts). */
export type TeamMethod = { kind: 'rtrl' } | { kind: 'snap'; order: number };

export interface RtrlTeam {
  /** The column blocks: [0] is the calling thread's, [i] worker i's (i >= 1). */
  readonly ranges: readonly ColumnRange[];
  /**
   * A new stream on every worker: batch, lengths (null: all full), and the state entering step 0
   * (explicit values, or null for the model's rule). Blocks until every worker has it.
   */
  begin(batch: number, lengths: readonly number[] | null, initial: readonly Mat[] | null): void;
  /**
   * Starts a step on the workers (returns at once): the parameters, the input, the loss's
   * cotangents on the step's output and each state vector (null: no term reads it), for SnAp then
   * the final-state term's on each state vector (SnAp reads that term through Ŝ_T), and where the
   * model's mask streams stand before the step (a stack's dropout; null: none), so that every
   * worker draws the step's masks as this thread does, whatever was changed between steps.
   */
  start(theta: Float64Array, x: Mat, cotangents: readonly (Mat | null)[], masks: MaskState | null): void;
  /**
   * Waits for the step started last; then adds each worker's gradient increment into grad (its own
   * columns only). Throws a WorkerError naming a worker that failed or died; nothing is added then.
   */
  finish(grad: Float64Array): void;
  /** Ends the workers (the team cannot be used after). */
  close(): void;
}

export interface RtrlTeamRequest {
  model: RecurrentModel;
  /** Shards, the calling thread included (>= 2). */
  threads: number;
  /** The model as data (a ModelSpec of lib/parallel/model-spec.ts), or null: the spec the model was made from (specOf). */
  spec: unknown;
  /** Each worker's memory limit (the method's maxBytes). */
  maxBytes: number;
  /** The method of every shard (default RTRL). */
  method?: TeamMethod;
}

export type RtrlTeamFactory = (request: RtrlTeamRequest) => RtrlTeam;

let factory: RtrlTeamFactory | null = null;

/** Registers how this platform makes RTRL teams (node/rtrl-threads.ts does, for Node). */
export function provideRtrlTeams(make: RtrlTeamFactory | null): void {
  factory = make;
}

/** The registered factory, or null when no platform has registered one. */
export function rtrlTeamFactory(): RtrlTeamFactory | null {
  return factory;
}

/**
 * A learner's stream over its team (null: no threads): begins streams on the team, runs a step's
 * phases, and remembers a failure (or close()), after which the learner refuses to step until
 * reset() begins a new stream.
 */
export class TeamStream {
  private broken: string | null = null;

  constructor(private readonly op: string, readonly team: RtrlTeam | null) {}

  /** A new stream: on the team too (a failure there breaks it). */
  begin(batch: number, lengths: readonly number[] | null, initial: readonly Mat[] | null): void {
    this.broken = null;
    const team = this.team;
    if (team !== null) this.guard(() => team.begin(batch, lengths, initial));
  }

  /** Ends the team's workers; the learner cannot step after. Idempotent. */
  close(): void {
    this.team?.close();
    this.broken = 'the learner was closed';
  }

  /** Throws when a step failed earlier in this stream (or the learner was closed). */
  check(): void {
    if (this.broken !== null) throw new ConfigError(this.op, `a step failed earlier in this stream (${this.broken}); reset() starts a new one`, { broken: this.broken });
  }

  /** f(); should it throw, the stream is broken (and undo runs) before the error goes on. */
  guard<T>(f: () => T, undo?: () => void): T {
    try {
      return f();
    } catch (e) {
      this.fail(e, undo);
      throw e;
    }
  }

  /** This thread's block failed during a started step: the workers share it, so wait them out, then rethrow. */
  abandon(e: unknown, params: number, undo?: () => void): never {
    this.fail(e, undo);
    try { this.team?.finish(new Float64Array(params)); } catch { /* the first error is the one reported */ }
    throw e;
  }

  private fail(e: unknown, undo?: () => void): void {
    this.broken = e instanceof Error ? e.message : String(e);
    undo?.();
  }
}
