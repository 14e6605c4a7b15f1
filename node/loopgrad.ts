// The root export of loopgrad under Node (the "node" condition of package.json's "."): the
// library as everywhere, with worker_threads registered so that `threads` works.
import './register.js';
export * from '../lib/index.js';
