// What every peer shares: the config it is handed, seeded float32 data, a skip with a reason.
import { readFileSync } from 'node:fs';

/** A peer that cannot run a config in a way that matches it throws this; the reason is reported. */
export class Skip extends Error {}

/** Seeded uniform numbers in [-scale, scale) (a 32-bit LCG: the values only fill the shapes). */
export function seededFloat32(length, seed, scale) {
  const out = new Float32Array(length);
  let s = seed >>> 0;
  for (let i = 0; i < length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = ((s / 4294967296) * 2 - 1) * scale;
  }
  return out;
}

/**
 * The config as the parent sends it: { name, batch, steps, inputSize, hiddenSize, train, lr }.
 * The dense head maps hidden to inputSize outputs at every step (as loopgrad's bench does).
 */
export function checkConfig(cfg) {
  for (const key of ['batch', 'steps', 'inputSize', 'hiddenSize']) {
    if (!Number.isInteger(cfg[key]) || cfg[key] < 1) throw new Error(`peer config: ${key} must be a positive integer, got ${cfg[key]}`);
  }
  if (typeof cfg.train !== 'boolean') throw new Error(`peer config: train must be a boolean, got ${cfg.train}`);
  if (!(cfg.lr > 0)) throw new Error(`peer config: lr must be positive, got ${cfg.lr}`);
  return { ...cfg, outputSize: cfg.inputSize };
}

/** Glorot-like scale for a fan-in. */
export function scaleFor(fanIn) {
  return 1 / Math.sqrt(fanIn);
}

/** The installed version of a peer package (read from bench/peers/node_modules; '?' if unreadable). */
export function versionOf(pkg) {
  try {
    return JSON.parse(readFileSync(new URL(`./node_modules/${pkg}/package.json`, import.meta.url), 'utf8')).version;
  } catch {
    return '?';
  }
}
