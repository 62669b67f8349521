/** Checkpoint formats: safetensors (read/write) and PyTorch torch.save files (read), as host tensors. */
export {
  ITEMSIZE, hostTensor, isHostDType, numel, toFloat32, toInt32,
  type CheckpointSource, type HostData, type HostDataOf, type HostDType, type HostTensor,
} from './host-tensor.js';
export { openSafetensors, readSafetensors, writeSafetensors, type SafetensorsFile, type SafetensorsInfo } from './safetensors.js';
export { flattenStateDict, isHostTensor, loadTorch, type TorchValue } from './torch.js';
