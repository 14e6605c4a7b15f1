// Reading a network saved by `loopgrad train text --save` (network.save()) for the commands that
// use one: any problem with the file (unreadable, not safetensors, not a saved network, not a
// text model that can generate) is an Error naming the file and the flag; the CLI exits 1 on it.
import { readFileSync, statSync } from 'node:fs';
import { type Network, loadNetwork } from '../lib/train/network.js';

/** The network in `path` (given as --flag), checked to be a character model that can be stepped. */
export function readTextNetwork(flag: string, path: string): Network {
  let bytes: Uint8Array;
  try {
    if (statSync(path).isDirectory()) throw new Error('it is a directory');
    bytes = readFileSync(path);
  } catch (e) {
    throw new Error(`--${flag} ${path}: cannot read the file: ${(e as Error).message}`);
  }
  let network: Network;
  try {
    network = loadNetwork(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length));
  } catch (e) {
    throw new Error(`--${flag} ${path} is not a saved network: ${(e as Error).message}`);
  }
  const d = network.description;
  const problem = network.vocabulary === null ? 'it has no vocabulary (it was not trained on text)'
    : d.loss !== 'softmax-ce' || d.output.size !== network.vocabulary.size ? `it predicts ${d.output.size} outputs with loss ${d.loss}, not the next of its ${network.vocabulary.size} symbols`
      : d.bidirectional ? 'it is bidirectional (it reads the future, so it cannot write text)'
        : d.shape !== 'many-to-many' ? `its shape is ${d.shape}, not many-to-many`
          : null;
  if (problem !== null) throw new Error(`--${flag} ${path} is a saved network but not a text model: ${problem}`);
  return network;
}
