// loopgrad/arch: what is built from cells, above the modes. Deep (stacked) and bidirectional
// networks, a readout, hierarchical subsampling, and multidimensional (grid) RNNs.
export { stacked, isStacked, layerParamName, type StackedCell, type StackedOptions } from './stacked.js';
export { bidirectional, isBidirectional, type BidirectionalLayer } from './bidirectional.js';
export { withReadout, type ReadoutCell } from './readout.js';
export { withEmbedding, type EmbeddedCell } from './embedding.js';
export { subsample, gridSubsample, hierarchy, recurrentLayer, sequenceLayerBptt, type SequenceLayer, type SequenceLayerBpttResult, type SubsampleOptions, type GridSubsampleOptions } from './subsampling.js';
export {
  mdTanh, mdLstm, mdScan, mdFourWay, gridStack, scanGrid, gridBptt, gridForward, gridLeaves, createLayerParams, CORNERS,
  type MdCell, type MdTanhOptions, type MdLstmOptions, type Grid, type GridLayer, type GridShape, type GridBpttResult, type Corner,
} from './mdrnn.js';
