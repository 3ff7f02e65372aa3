/**
 * What two answers of a model to one request can be compared by, per row: the top label where the
 * answer carries labels (a classifier), else its rows of numbers (an embedding, or scores without
 * labels). The gateway knows no model; it reads the forms the model servers answer in.
 */
export interface AnswerRows {
  /** One top label per row. */
  readonly labels?: readonly string[];
  /** One vector per row, all of one width. */
  readonly vectors?: readonly (readonly number[])[];
}

/** How a shadow's answer compares with the served one. */
export interface Comparison {
  /** Rows whose top labels are the same. */
  readonly agree: number;
  /** Rows whose top labels differ, each with both labels. */
  readonly disagreements: readonly { readonly row: number; readonly served: string; readonly shadow: string }[];
  /** Cosine similarity of each row's vectors. */
  readonly cosines: readonly number[];
  /** Neither labels nor vectors of the same rows and widths in both answers. */
  readonly incomparable: boolean;
}

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);
const isNumbers = (value: unknown): value is number[] => Array.isArray(value) && value.length > 0 && value.every((v) => typeof v === 'number');
const isStrings = (value: unknown): value is string[] => Array.isArray(value) && value.every((v) => typeof v === 'string');

/** OIP's floating-point datatypes (inference_rest.md, "Tensor Data Types"). */
const FLOATS = new Set(['FP16', 'FP32', 'FP64']);

/** OIP `outputs`: the first BYTES output as labels, the first rank-2 float output as rows. */
function fromOip(outputs: readonly Record<string, unknown>[]): AnswerRows {
  let labels: string[] | undefined;
  let vectors: number[][] | undefined;
  for (const output of outputs) {
    const { datatype, shape, data } = output;
    if (labels === undefined && datatype === 'BYTES' && isStrings(data)) labels = data;
    if (vectors === undefined && typeof datatype === 'string' && FLOATS.has(datatype) && Array.isArray(shape) && shape.length === 2 && isNumbers(data)) {
      const width = Number(shape[1]);
      if (Number.isInteger(width) && width > 0 && data.length % width === 0) {
        vectors = Array.from({ length: data.length / width }, (_, row) => data.slice(row * width, (row + 1) * width));
      }
    }
  }
  return { ...(labels === undefined ? {} : { labels }), ...(vectors === undefined ? {} : { vectors }) };
}

/** The label with the highest score of `[[label, score], ...]` (TF Serving's classify result row). */
function topOfPairs(row: unknown): string | undefined {
  if (!Array.isArray(row) || row.length === 0) return undefined;
  let best: string | undefined;
  let bestScore = -Infinity;
  for (const pair of row) {
    if (!Array.isArray(pair) || typeof pair[0] !== 'string' || typeof pair[1] !== 'number') return undefined;
    if (pair[1] > bestScore) {
      best = pair[0];
      bestScore = pair[1];
    }
  }
  return best;
}

/** TF Serving rows (`predictions`, or columnar `outputs` of one output): each a label, a vector, or `{<output>: value}`. */
function fromRows(rows: readonly unknown[]): AnswerRows {
  if (isStrings(rows)) return { labels: rows };
  if (rows.every(isNumbers)) return { vectors: rows };
  if (rows.every(isRecord)) {
    const first = rows[0] as Record<string, unknown>;
    const labelField = Object.keys(first).find((key) => typeof first[key] === 'string');
    if (labelField !== undefined && rows.every((row) => typeof row[labelField] === 'string')) {
      return { labels: rows.map((row) => row[labelField] as string) };
    }
    const vectorField = Object.keys(first).find((key) => isNumbers(first[key]));
    if (vectorField !== undefined && rows.every((row) => isNumbers(row[vectorField]))) return { vectors: rows.map((row) => row[vectorField] as number[]) };
  }
  return {};
}

/** OpenAI's `encoding_format: "base64"`: little-endian float32s. */
function decodeFloats(text: string): number[] | undefined {
  const bytes = Buffer.from(text, 'base64');
  if (bytes.length === 0 || bytes.length % 4 !== 0) return undefined;
  return Array.from({ length: bytes.length / 4 }, (_, i) => bytes.readFloatLE(i * 4));
}

/**
 * The rows of an answer in any of the forms the model servers give: OIP `outputs`, the seed route's
 * `topics`, TF Serving's `results` (classify), `predictions` and columnar `outputs`, OpenAI's
 * embeddings `data`. Undefined for anything else.
 */
export function answerRows(body: unknown): AnswerRows | undefined {
  if (!isRecord(body)) return undefined;
  const { outputs, topics, results, predictions, data } = body;
  if (Array.isArray(outputs) && outputs.length > 0 && outputs.every((o) => isRecord(o) && 'datatype' in o)) {
    return fromOip(outputs as Record<string, unknown>[]);
  }
  if (isStrings(topics)) return { labels: topics };
  if (Array.isArray(results)) {
    const labels = results.map(topOfPairs);
    return labels.every((label) => label !== undefined) ? { labels } : {};
  }
  if (Array.isArray(predictions)) return fromRows(predictions);
  if (Array.isArray(outputs)) return fromRows(outputs);
  if (isRecord(outputs)) {
    for (const value of Object.values(outputs)) {
      if (!Array.isArray(value)) continue;
      const rows = fromRows(value);
      if (rows.labels !== undefined) return rows;
    }
    const firstArray = Object.values(outputs).find(Array.isArray);
    return firstArray === undefined ? {} : fromRows(firstArray);
  }
  if (Array.isArray(data) && data.every((item) => isRecord(item) && 'embedding' in item)) {
    const vectors = data.map((item) => {
      const embedding = (item as Record<string, unknown>).embedding;
      return typeof embedding === 'string' ? decodeFloats(embedding) : isNumbers(embedding) ? embedding : undefined;
    });
    return vectors.every((v) => v !== undefined) ? { vectors: vectors } : {};
  }
  return undefined;
}

/** Cosine similarity; 1 for two zero vectors (the same answer), 0 when only one is zero. */
export function cosine(a: readonly number[], b: readonly number[]): number {
  let dot = 0;
  let normA = 0;
  let normB = 0;
  for (let i = 0; i < a.length; i++) {
    const x = a[i] as number;
    const y = b[i] as number;
    dot += x * y;
    normA += x * x;
    normB += y * y;
  }
  if (normA === 0 || normB === 0) return normA === normB ? 1 : 0;
  return Math.max(-1, Math.min(1, dot / Math.sqrt(normA * normB)));
}

const INCOMPARABLE: Comparison = { agree: 0, disagreements: [], cosines: [], incomparable: true };

/**
 * Compares the served answer with the shadow's: by top label row by row where both carry labels for
 * the same rows, else by the cosine of each row's vectors where both have vectors of the same rows
 * and width. Anything else (other forms, other row counts) is incomparable.
 */
export function compareAnswers(served: AnswerRows | undefined, shadow: AnswerRows | undefined): Comparison {
  if (served === undefined || shadow === undefined) return INCOMPARABLE;
  if (served.labels !== undefined && shadow.labels !== undefined) {
    if (served.labels.length !== shadow.labels.length || served.labels.length === 0) return INCOMPARABLE;
    let agree = 0;
    const disagreements: { row: number; served: string; shadow: string }[] = [];
    served.labels.forEach((label, row) => {
      const other = shadow.labels?.[row] as string;
      if (label === other) agree++;
      else disagreements.push({ row, served: label, shadow: other });
    });
    return { agree, disagreements, cosines: [], incomparable: false };
  }
  const a = served.vectors;
  const b = shadow.vectors;
  if (a === undefined || b === undefined || a.length !== b.length || a.length === 0) return INCOMPARABLE;
  if (a.some((row, i) => row.length !== b[i]?.length)) return INCOMPARABLE;
  return { agree: 0, disagreements: [], cosines: a.map((row, i) => cosine(row, b[i] as number[])), incomparable: false };
}
