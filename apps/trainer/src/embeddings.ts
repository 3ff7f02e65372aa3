import { createHash } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { SentenceEncoder } from '@modeldock/model-runtime';
import type { Dataset } from './data.js';
import { createBar } from './progress.js';
import { applyTextTransform, type TextTransform } from './text-transform.js';

const BATCH = 64;

/**
 * Embeds every question of a dataset, row-major n×dimension, cached on disk. The cache key covers
 * the encoder, the text transform and the data checksum, so a change to any of them re-embeds
 * instead of silently reusing stale vectors. Embedding is by far the slowest step on wasm.
 */
export async function embedDataset(
  encoder: SentenceEncoder,
  dataset: Dataset,
  transform: TextTransform,
  cacheDir: string,
): Promise<Float32Array> {
  const key = createHash('sha256')
    .update(JSON.stringify({ encoder: encoder.id, source: path.basename(encoder.source), transform, data: dataset.sha256 }))
    .digest('hex')
    .slice(0, 16);
  const file = path.join(cacheDir, `embeddings-${path.basename(dataset.file)}-${transform}-${key}.f32`);
  const n = dataset.examples.length;
  try {
    const bytes = await readFile(file);
    if (bytes.byteLength === n * encoder.dimension * 4) {
      return new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
    }
  } catch {
    // No cache yet: fall through and embed.
  }
  const out = new Float32Array(n * encoder.dimension);
  const bar = createBar(`embed ${path.basename(dataset.file)}`, n);
  for (let start = 0; start < n; start += BATCH) {
    const texts = dataset.examples.slice(start, start + BATCH).map((e) => applyTextTransform(transform, e.text));
    const tensor = await encoder.embed(texts);
    out.set(await tensor.data(), start * encoder.dimension);
    tensor.dispose();
    bar.update(Math.min(n, start + BATCH));
  }
  bar.stop();
  await mkdir(cacheDir, { recursive: true });
  // Write-then-rename so an interrupted run never leaves a truncated cache file behind.
  await writeFile(`${file}.tmp`, Buffer.from(out.buffer));
  await rename(`${file}.tmp`, file);
  return out;
}
