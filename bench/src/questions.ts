import { readFile } from 'node:fs/promises';

/**
 * The TREC test questions (`LABEL:fine question` per line, latin1), used as realistic load: short
 * questions of varied length, so no request repeats the previous one's work.
 */
export async function loadQuestions(file: string): Promise<string[]> {
  const text = await readFile(file, 'latin1');
  const questions = text
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '')
    .map((line) => line.slice(line.indexOf(' ') + 1).trim())
    .filter((question) => question !== '');
  if (questions.length === 0) throw new Error(`no questions in ${file}`);
  return questions;
}

/** Cycles through `questions`, handing out `n` at a time. */
export function createQuestionCycle(questions: readonly string[]): (n: number) => string[] {
  let next = 0;
  return (n) => {
    const out: string[] = [];
    for (let i = 0; i < n; i++) {
      out.push(questions[next] as string);
      next = (next + 1) % questions.length;
    }
    return out;
  };
}
