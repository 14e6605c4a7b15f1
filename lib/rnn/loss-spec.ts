import type { Graph, Var } from '../ad/graph.js';

/**
 * A loss over a sequence, written once against the Graph so that BPTT and
 * RTRL both differentiate it: a term per step (any subset of steps) and an
 * optional term on the final state. Each returns a 1x1 Var or null.
 */
export interface SequenceLoss {
  step?(g: Graph, t: number, output: Var, state: readonly Var[]): Var | null;
  final?(g: Graph, state: readonly Var[]): Var | null;
}
