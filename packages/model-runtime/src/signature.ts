import { z } from 'zod';

/**
 * Tensor element types a model may declare, named as the Open Inference Protocol names them
 * (inference_rest.md "Tensor Data Types"). These are the ones TF.js computes with natively:
 * FP32 and INT32 tensors, BOOL, and BYTES for strings.
 */
export const DATATYPES = ['FP32', 'INT32', 'BOOL', 'BYTES'] as const;
export type Datatype = (typeof DATATYPES)[number];

/** Flat, row-major tensor contents; structured-clonable, so they cross to the engine thread as is. */
export type TensorValues = Float32Array | Int32Array | Uint8Array | string[];

/** A tensor: its element type, its shape (batch dimension first) and its flat, row-major data. */
export interface Tensor {
  readonly datatype: Datatype;
  readonly shape: readonly number[];
  readonly data: TensorValues;
}

/**
 * One named input or output of a model. `shape` includes the batch dimension first, which is
 * always `-1`; any other `-1` is a dimension the model accepts at any size.
 */
export interface TensorSpec {
  readonly name: string;
  readonly datatype: Datatype;
  readonly shape: readonly number[];
}

/** A model's interface: what every protocol's routes read instead of naming a model's tensors. */
export interface Signature {
  readonly inputs: readonly TensorSpec[];
  readonly outputs: readonly TensorSpec[];
}

/**
 * `rows` rows of every tensor of a request or a response: each tensor's first dimension is `rows`.
 * The unit of batching: the batcher concatenates batches along the first dimension and slices the
 * answers back.
 */
export interface Batch {
  readonly rows: number;
  readonly tensors: Readonly<Record<string, Tensor>>;
}

const TENSOR_NAME = /^[A-Za-z_][\w.:/-]{0,127}$/;

/** A signature as written in `metadata.json` (the bring-your-own kind declares its own). */
export const tensorSpecSchema = z.strictObject({
  name: z.string().regex(TENSOR_NAME, 'tensor names use letters, digits, "_", ".", ":", "/" and "-"'),
  datatype: z.enum(DATATYPES),
  shape: z
    .array(z.number().int().min(-1))
    .min(1)
    .refine((shape) => shape[0] === -1, 'the first dimension is the batch dimension and must be -1')
    .refine((shape) => shape.slice(1).every((dim) => dim !== 0), 'dimensions after the first are -1 or positive'),
});

export const signatureSchema = z
  .strictObject({ inputs: z.array(tensorSpecSchema).min(1), outputs: z.array(tensorSpecSchema).min(1) })
  .superRefine((signature, ctx) => {
    for (const side of ['inputs', 'outputs'] as const) {
      const names = signature[side].map((spec) => spec.name);
      const duplicate = names.find((name, i) => names.indexOf(name) !== i);
      if (duplicate !== undefined) ctx.addIssue({ code: 'custom', path: [side], message: `duplicate ${side} name '${duplicate}'` });
    }
  });

/** Elements in one row of a tensor of `shape` (the product of every dimension after the first). */
export function rowSize(shape: readonly number[]): number {
  return shape.slice(1).reduce((product, dim) => product * dim, 1);
}

/** Elements in a tensor of `shape`. */
export function elementCount(shape: readonly number[]): number {
  return shape.reduce((product, dim) => product * dim, 1);
}

/** An empty flat array of the type that carries `datatype`. */
export function emptyValues(datatype: Datatype, length = 0): TensorValues {
  switch (datatype) {
    case 'FP32':
      return new Float32Array(length);
    case 'INT32':
      return new Int32Array(length);
    case 'BOOL':
      return new Uint8Array(length);
    case 'BYTES':
      return Array.from({ length }, () => '');
    default: {
      const unknown: never = datatype;
      throw new Error(`unknown datatype ${String(unknown)}`);
    }
  }
}

function concatValues(datatype: Datatype, parts: readonly TensorValues[]): TensorValues {
  if (datatype === 'BYTES') return (parts as readonly string[][]).flat();
  const length = parts.reduce((sum, part) => sum + part.length, 0);
  const out = emptyValues(datatype, length) as Float32Array | Int32Array | Uint8Array;
  let offset = 0;
  for (const part of parts as readonly (Float32Array | Int32Array | Uint8Array)[]) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

/**
 * Concatenates batches with the same tensors along the first dimension. Each tensor's other
 * dimensions must agree (they come from one model's validated inputs or outputs).
 */
export function concatBatches(batches: readonly Batch[]): Batch {
  const [first] = batches;
  if (first === undefined) throw new Error('nothing to concatenate');
  if (batches.length === 1) return first;
  const rows = batches.reduce((sum, batch) => sum + batch.rows, 0);
  const tensors: Record<string, Tensor> = {};
  for (const [name, tensor] of Object.entries(first.tensors)) {
    const parts = batches.map((batch) => {
      const part = batch.tensors[name];
      if (part === undefined || part.datatype !== tensor.datatype || rowSize(part.shape) !== rowSize(tensor.shape)) {
        throw new Error(`tensor '${name}' differs between the batches`);
      }
      return part.data;
    });
    tensors[name] = { datatype: tensor.datatype, shape: [rows, ...tensor.shape.slice(1)], data: concatValues(tensor.datatype, parts) };
  }
  return { rows, tensors };
}

/** Rows `[start, end)` of every tensor of `batch` (typed arrays are copied, never shared views). */
export function sliceBatch(batch: Batch, start: number, end: number): Batch {
  if (start === 0 && end === batch.rows) return batch;
  const tensors: Record<string, Tensor> = {};
  for (const [name, tensor] of Object.entries(batch.tensors)) {
    const width = rowSize(tensor.shape);
    tensors[name] = {
      datatype: tensor.datatype,
      shape: [end - start, ...tensor.shape.slice(1)],
      data: tensor.data.slice(start * width, end * width),
    };
  }
  return { rows: end - start, tensors };
}

/** The rows `rows` of `batch`, in that order (typed arrays are copied). */
export function selectRows(batch: Batch, rows: readonly number[]): Batch {
  const tensors: Record<string, Tensor> = {};
  for (const [name, tensor] of Object.entries(batch.tensors)) {
    const width = rowSize(tensor.shape);
    const shape = [rows.length, ...tensor.shape.slice(1)];
    if (tensor.datatype === 'BYTES') {
      const data = tensor.data as string[];
      tensors[name] = { datatype: 'BYTES', shape, data: rows.flatMap((row) => data.slice(row * width, (row + 1) * width)) };
      continue;
    }
    const source = tensor.data as Float32Array | Int32Array | Uint8Array;
    const data = emptyValues(tensor.datatype, rows.length * width) as Float32Array | Int32Array | Uint8Array;
    rows.forEach((row, i) => data.set(source.subarray(row * width, (row + 1) * width), i * width));
    tensors[name] = { datatype: tensor.datatype, shape, data };
  }
  return { rows: rows.length, tensors };
}

/** A batch holding one BYTES tensor of texts, shape [n]: the input of every text kind. */
export function textBatch(name: string, texts: readonly string[]): Batch {
  return { rows: texts.length, tensors: { [name]: { datatype: 'BYTES', shape: [texts.length], data: [...texts] } } };
}

/** The texts of a BYTES tensor, checked. */
export function textsOf(batch: Batch, name: string): string[] {
  const tensor = batch.tensors[name];
  if (tensor === undefined || tensor.datatype !== 'BYTES') throw new Error(`input '${name}' must be a BYTES tensor`);
  return tensor.data as string[];
}

/** A numeric tensor as one array per row (its first dimension), for JSON answers and tests. */
export function rowsOf(tensor: Tensor): number[][] {
  if (tensor.datatype === 'BYTES') throw new Error('rowsOf takes a numeric tensor');
  const width = rowSize(tensor.shape);
  const data = tensor.data as Float32Array | Int32Array | Uint8Array;
  return Array.from({ length: tensor.shape[0] ?? 0 }, (_, row) => Array.from(data.subarray(row * width, (row + 1) * width)));
}
