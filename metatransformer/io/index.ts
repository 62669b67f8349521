/** File readers and writers for the Meta-Transformer modalities (host side, no GPU). */
export { type FileSource } from './common.js';
export { decodePng, encodePng, readPngFile, MAX_PNG_SAMPLES, type PngImage } from './png.js';
export { decodeJpeg, readJpegFile, type JpegImage, type JpegOptions } from './jpeg.js';
export {
  centerCrop,
  CLIP_MEAN,
  CLIP_STD,
  decodeImage,
  IMAGENET_MEAN,
  IMAGENET_STD,
  readImageFile,
  resize,
  toCHW,
  toFloat,
  toGray,
  toRGB,
  type FloatImage,
  type Image,
  type Normalization,
  type ResizeMethod,
  type ResizeOptions,
} from './image.js';
export { decodeWav, encodeWav, readWavFile, resample, toMono, type Audio, type EncodeWavOptions } from './wav.js';
export {
  parsePointCloud,
  readPointCloudFile,
  type PointCloud,
  type PointCloudFormat,
  type PointCloudOptions,
} from './pointcloud.js';
export {
  columnValues,
  inferSchema,
  isMissing,
  parseCsv,
  parseNumber,
  parseTimestamp,
  readCsvFile,
  timeFeatures,
  type ColumnKind,
  type ColumnSchema,
  type CsvOptions,
  type CsvTable,
  type InferOptions,
  type TimeFrequency,
} from './csv.js';
export { readNpy, readNpyFile, writeNpy, type NpyArray, type NpyData, type NpyDType } from './npy.js';
