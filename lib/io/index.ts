// loopgrad/io: safetensors files and PyTorch's parameter names, for one layer or many.
export { readSafetensors, writeSafetensors, tensorToMat, matToTensor, MAX_HEADER_BYTES_BROWSER, type Tensor, type DType } from './safetensors.js';
export {
  pytorchRnn, loadPytorchParams, pytorchStateDict, pytorchName, pytorchNames, fromPytorchStates, pytorchStates, PYTORCH_MODULES,
  type PytorchModule, type PytorchOptions, type PytorchRnnOptions,
} from './pytorch.js';
