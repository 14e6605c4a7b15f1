// loopgrad/io: safetensors files and PyTorch's parameter names.
export { readSafetensors, writeSafetensors, tensorToMat, matToTensor, type Tensor, type DType } from './safetensors.js';
export { loadPytorchParams, pytorchStateDict, pytorchName, type PytorchNaming } from './pytorch.js';
export { pytorchRnn, loadPytorchNetwork, pytorchNetworkStateDict, pytorchNetworkNames, fromPytorchStates, pytorchStates } from './pytorch-multilayer.js';
