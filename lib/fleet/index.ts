/** Fleet learning: federated averaging across devices over MQTT. */
export { FleetAggregator, type AggregatorOptions, type RoundReport, type Rejection } from './aggregator';
export { FleetDevice, type DeviceOptions, type DeviceTrainOptions } from './device';
export type { ConnectionOptions } from './connection';
export {
  decodeModel,
  decodeUpdate,
  encodeModel,
  encodeUpdate,
  networkBytes,
  updateSize,
  type Model,
  type Update,
  type UpdateEncoding,
  type EncodeUpdateInput,
} from './encoding';
export { topics } from './topics';
