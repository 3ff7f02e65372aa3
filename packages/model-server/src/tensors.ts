import {
  elementCount,
  type Batch,
  type Datatype,
  type ModelDescription,
  type Tensor,
  type TensorSpec,
  type TensorValues,
  type TextMeasure,
} from '@modeldock/model-runtime';
import { HttpError } from '@modeldock/service-kit';

/** Work limits on one request, checked before anything is queued. */
export interface RequestLimits {
  /** Most rows (texts) in one request. */
  maxRows: number;
  /** Most characters in one text, after NFKC normalisation (what the encoder reads). */
  maxTextLength: number;
  /** Most encoder pieces in one text. */
  maxTextPieces: number;
  /**
   * Most padded encoder positions the request's engine calls may take, as the batcher runs them
   * (the text measure's `plan`): what its engine time grows with (packages/model-runtime/BUDGET.md).
   */
  maxRequestPositions: number;
  /** Most elements in one request's tensors (numeric models). */
  maxTensorElements: number;
}

/** What the server knows of a text model's work: its kind's measure (tokenizer pieces, planned positions). */
export type TextBudget = TextMeasure;

/** A tensor as a request carries it, not yet validated: any JSON. */
export interface RawTensor {
  name: unknown;
  datatype: unknown;
  shape: unknown;
  data: unknown;
  /** Where it came from in the request, for error messages (`inputs[0]`). */
  field: string;
  /** Where its data came from, when not `<field>.data` (`rawtext_list`). */
  dataField?: string;
}

const invalid = (message: string) => HttpError.invalidInput(message);

/** What a client does about a request over a size limit, unless its protocol has better advice. */
export const SIZE_HINT = 'send fewer or shorter texts per request';

/** A short, safe description of a client value for an error message (never its contents). */
export function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return value.length <= 40 && /^[\w .:/-]*$/.test(value) ? `'${value}'` : 'a string';
  return typeof value === 'object' ? 'an object' : typeof value;
}

/**
 * Flattens nested arrays (OIP allows tensor data nested by shape or flat) without recursion,
 * stopping once more than `limit` elements have been seen.
 */
function flatten(data: unknown, limit: number, field: string): unknown[] {
  if (!Array.isArray(data)) throw invalid(`'${field}.data' must be an array`);
  const out: unknown[] = [];
  const stack: unknown[][] = [data];
  const positions: number[] = [0];
  while (stack.length > 0) {
    const top = stack.length - 1;
    const array = stack[top] as unknown[];
    const position = positions[top] as number;
    if (position >= array.length) {
      stack.pop();
      positions.pop();
      continue;
    }
    positions[top] = position + 1;
    const item = array[position];
    if (Array.isArray(item)) {
      stack.push(item);
      positions.push(0);
    } else {
      out.push(item);
      if (out.length > limit) throw invalid(`'${field}.data' has more than ${limit} elements; the limit is ${limit}`);
    }
  }
  return out;
}

function shapeOf(value: unknown, spec: TensorSpec, field: string, textInput: boolean): number[] {
  if (!Array.isArray(value) || value.length === 0 || value.length > 8 || !value.every((dim) => Number.isInteger(dim) && (dim as number) >= 0)) {
    throw invalid(`'${field}.shape' must be an array of non-negative integers`);
  }
  const shape = value as number[];
  // A text input [n] also comes as [n, 1] (one text per row, as TF Serving and Triton write it).
  const accepted = textInput && shape.length === 2 && shape[1] === 1 ? [shape[0] as number] : shape;
  const matches =
    accepted.length === spec.shape.length && spec.shape.every((dim, i) => i === 0 || dim === -1 || dim === accepted[i]);
  if (!matches) {
    throw invalid(`input '${spec.name}' must have shape [${spec.shape.map((dim) => (dim === -1 ? 'n' : dim)).join(', ')}], got [${shape.join(', ')}]`);
  }
  return accepted;
}

function typedValues(datatype: Datatype, values: unknown[], name: string): TensorValues {
  const bad = (index: number, expected: string) =>
    invalid(`input '${name}' element ${index} must be ${expected}, got ${describeValue(values[index])}`);
  switch (datatype) {
    case 'FP32': {
      const out = new Float32Array(values.length);
      values.forEach((value, i) => {
        if (typeof value !== 'number' || !Number.isFinite(value)) throw bad(i, 'a number');
        out[i] = value;
      });
      return out;
    }
    case 'INT32': {
      const out = new Int32Array(values.length);
      values.forEach((value, i) => {
        if (typeof value !== 'number' || !Number.isInteger(value) || value < -2147483648 || value > 2147483647) {
          throw bad(i, 'a 32-bit integer');
        }
        out[i] = value;
      });
      return out;
    }
    case 'BOOL': {
      const out = new Uint8Array(values.length);
      values.forEach((value, i) => {
        if (typeof value !== 'boolean') throw bad(i, 'a boolean');
        out[i] = value ? 1 : 0;
      });
      return out;
    }
    case 'BYTES':
      values.forEach((value, i) => {
        if (typeof value !== 'string') throw bad(i, 'a string');
      });
      return values as string[];
    default: {
      const unknown: never = datatype;
      throw new Error(`unhandled datatype ${String(unknown)}`);
    }
  }
}

/**
 * Checks texts bound for the sentence encoder against the per-text limits and counts their
 * pieces. The raw length is bounded first (Unicode normalisation is quadratic in a run of
 * combining marks), then the length after NFKC, which is what the encoder reads (one character can
 * become eighteen), then each text's pieces. The request's engine calls, which its pieces plan,
 * are bounded by the data plane.
 * @returns each text's pieces (their sum is OpenAI's `usage`).
 */
export function checkTexts(texts: readonly string[], field: string, limits: RequestLimits, budget: TextBudget): number[] {
  return texts.map((text, i) => {
    const where = `'${field}[${i}]'`;
    if (text.length > limits.maxTextLength) throw invalid(`${where} has ${text.length} characters; the limit is ${limits.maxTextLength}`);
    if (text.trim() === '') throw invalid(`${where} is blank`);
    const normalized = budget.normalize(text);
    if (normalized.length > limits.maxTextLength) {
      throw invalid(`${where} has ${normalized.length} characters after Unicode normalisation; the limit is ${limits.maxTextLength}`);
    }
    const count = budget.countPieces(text);
    if (count > limits.maxTextPieces) throw invalid(`${where} has ${count} encoder pieces (tokens); the limit is ${limits.maxTextPieces}`);
    return count;
  });
}

/** Validated request tensors as one batch, with the encoder pieces of each text of a text model. */
export interface DecodedTensors {
  inputs: Batch;
  /** All texts' encoder pieces (OpenAI's `usage`); 0 for a model without text. */
  pieces: number;
  /** Each row's encoder pieces, for a text model measured by a {@link TextBudget}. */
  textPieces?: number[];
}

/**
 * Validates raw request tensors against a model's signature and the work limits: every input
 * exactly once, its datatype, its shape (fixed dimensions must match), its element count and
 * element types, one row count for all, and the text budget for the encoder's input.
 */
export function decodeTensors(
  model: Pick<ModelDescription, 'signature' | 'textInput'>,
  raw: readonly RawTensor[],
  limits: RequestLimits,
  budget: TextBudget | undefined,
  /** What the client should do about a request over a size limit (default: send fewer or shorter texts). */
  hint: string = SIZE_HINT,
): DecodedTensors {
  const specs = model.signature.inputs;
  const expected = specs.map((spec) => `'${spec.name}'`).join(', ');
  if (raw.length !== specs.length) {
    throw invalid(`the model takes ${specs.length} input tensor${specs.length === 1 ? '' : 's'} (${expected}), got ${raw.length}`);
  }
  const tensors: Record<string, Tensor> = {};
  let rows: number | undefined;
  let elements = 0;
  let textPieces: number[] | undefined;
  for (const tensor of raw) {
    if (typeof tensor.name !== 'string') throw invalid(`'${tensor.field}.name' must be a string`);
    const spec = specs.find((candidate) => candidate.name === tensor.name);
    if (spec === undefined) throw invalid(`unknown input ${describeValue(tensor.name)}; inputs are ${expected}`);
    if (tensors[spec.name] !== undefined) throw invalid(`input '${spec.name}' is given twice`);
    if (tensor.datatype !== spec.datatype) {
      throw invalid(`input '${spec.name}' must have datatype ${spec.datatype}, got ${describeValue(tensor.datatype)}`);
    }
    const isText = model.textInput === spec.name;
    const shape = shapeOf(tensor.shape, spec, tensor.field, isText);
    const count = elementCount(shape);
    elements += count;
    if (elements > limits.maxTensorElements) {
      throw invalid(`the request has more than ${limits.maxTensorElements} tensor elements; the limit is ${limits.maxTensorElements}`);
    }
    const values = flatten(tensor.data, Math.min(count, limits.maxTensorElements), tensor.field);
    if (values.length !== count) {
      throw invalid(`input '${spec.name}' has shape [${shape.join(', ')}] (${count} elements) but ${values.length} elements`);
    }
    const rowCount = shape[0] as number;
    if (rowCount === 0) throw invalid(`input '${spec.name}' has no rows`);
    if (rowCount > limits.maxRows) {
      throw invalid(`'${tensor.dataField ?? `${tensor.field}.data`}' has ${rowCount} rows; the limit is ${limits.maxRows}: ${hint}`);
    }
    if (rows !== undefined && rows !== rowCount) throw invalid(`every input must have the same number of rows (${rows} and ${rowCount})`);
    rows = rowCount;
    const data = typedValues(spec.datatype, values, spec.name);
    if (isText && budget !== undefined) textPieces = checkTexts(data as string[], tensor.dataField ?? `${tensor.field}.data`, limits, budget);
    tensors[spec.name] = { datatype: spec.datatype, shape, data };
  }
  const inputs = { rows: rows as number, tensors };
  if (textPieces === undefined) return { inputs, pieces: 0 };
  return { inputs, pieces: textPieces.reduce((sum, count) => sum + count, 0), textPieces };
}

/**
 * A list of texts from a protocol's JSON (the seed route's `rawtext_list`, OpenAI's `input`, TF
 * Serving's `instances`) as the one raw text tensor of a text model.
 */
export function textTensor(model: Pick<ModelDescription, 'signature' | 'textInput'>, value: unknown, field: string): RawTensor {
  const name = model.textInput;
  if (name === undefined) throw invalid('this model does not take text; send its input tensors');
  if (!Array.isArray(value)) throw invalid(`'${field}' must be an array of strings`);
  if (value.length === 0) throw invalid(`'${field}' must not be empty`);
  value.forEach((text: unknown, i) => {
    if (typeof text !== 'string') throw invalid(`'${field}[${i}]' must be a string, got ${describeValue(text)}`);
  });
  return { name, datatype: 'BYTES', shape: [value.length], data: value, field, dataField: field };
}
