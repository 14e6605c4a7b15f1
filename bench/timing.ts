// Timing shared by the benches: best ms per call (rtrl-step, online-step), the median (lstm, network).

/**
 * Best ms per call: warm up for warmupMs (the JIT), size a sample to >= sampleMs, take `samples`
 * samples and keep the fastest. On a machine shared with other jobs, interference only ever adds
 * time, so the minimum is the most repeatable estimate of what the code itself costs.
 */
export function bestMsPerCall(fn: () => void, samples: number, warmupMs: number, sampleMs: number): number {
  const warmEnd = performance.now() + warmupMs;
  let calls = 0;
  let spent = 0;
  do {
    const s = performance.now();
    fn();
    spent += performance.now() - s;
    calls++;
  } while (performance.now() < warmEnd);
  const perCall = spent / calls;
  const reps = Math.max(1, Math.ceil(sampleMs / Math.max(perCall, 1e-4)));
  let best = Infinity;
  for (let s = 0; s < samples; s++) {
    const start = performance.now();
    for (let r = 0; r < reps; r++) fn();
    best = Math.min(best, (performance.now() - start) / reps);
  }
  return best;
}

/** The median of xs (the upper middle one for an even count), xs left unsorted. */
export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1];
}

/**
 * The process's CPU time in ms (user + system, every thread), where Node has it, else wall time:
 * on a shared machine a process that waits for a core does not count the wait.
 */
export function cpuMs(): number {
  if (typeof process !== 'undefined' && typeof process.cpuUsage === 'function') {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1000;
  }
  return performance.now();
}
