// Helpers shared by the specs: where the golden files are, random data, errors.
import { fileURLToPath } from 'node:url';

/** spec/golden, the in-repository copy of PyTorch's golden files (from build/spec or spec alike). */
export const GOLDEN_DIR = fileURLToPath(new URL('../../spec/golden', import.meta.url));
