import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { z } from 'zod';

/** Formats zod issues as one line naming each bad field. */
export function describeIssues(error: z.ZodError): string {
  return error.issues.map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`).join('; ');
}

/** Parses `value` with `schema` or throws naming `file` and every bad field. */
export function parseMetadata<S extends z.ZodType>(schema: S, value: unknown, file: string): z.output<S> {
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw new Error(`${file}: ${describeIssues(parsed.error)}`);
  return parsed.data;
}

/** Reads `metadata.json` of one version directory (parsed JSON, not yet validated by its kind). */
export async function readMetadataFile(versionDir: string): Promise<unknown> {
  const file = path.join(versionDir, 'metadata.json');
  try {
    return JSON.parse(await readFile(file, 'utf8')) as unknown;
  } catch (error) {
    throw new Error(`${file}: ${error instanceof Error ? error.message : String(error)}`);
  }
}

