/** Launchers for kernels/wgsl/pointcloud.wgsl: farthest point sampling and k-nearest neighbours. */
import { ParamWriter, specialize, type AdapterClass, type Launch } from './launch.js';

export const KNN_MAX_K = 64;

function params(batch: number, numPoints: number, numSamples: number, k: number, pointsOffset: number, centresOffset: number): ArrayBuffer {
  return new ParamWriter().u32(batch).u32(numPoints).u32(numSamples).u32(k).u32(pointsOffset).u32(centresOffset).finish();
}

/** fps workgroup width per adapter class (see pointcloud.wgsl's header). */
export const FPS_WG: Readonly<Record<AdapterClass, number>> = { cpu: 64, gpu: 256 };

/** Bindings: points [B,N,3], scratch [B,N], out [B,S] (i32). One workgroup per cloud. */
export function fpsLaunch(batch: number, numPoints: number, numSamples: number, pointsOffset: number, adapterClass: AdapterClass = 'gpu'): Launch {
  const wg = FPS_WG[adapterClass];
  return {
    key: `pointcloud/fps/${wg}`,
    code: specialize('pointcloud'),
    entryPoint: 'fps',
    constants: { WG: wg },
    params: params(batch, numPoints, numSamples, 0, pointsOffset, 0),
    workgroups: [batch, 1, 1],
  };
}

/** Bindings: points [B,N,3], centres [B,S,3], out [B,S,K] (i32). */
export function knnLaunch(batch: number, numPoints: number, numSamples: number, k: number, pointsOffset: number, centresOffset: number): Launch {
  return {
    key: 'pointcloud/knn',
    code: specialize('pointcloud'),
    entryPoint: 'knn',
    params: params(batch, numPoints, numSamples, k, pointsOffset, centresOffset),
    workgroups: [Math.ceil((batch * numSamples) / 64), 1, 1],
  };
}
