// What the playground and the API reference share: calls to the gateway (this page's origin, nothing
// else) with the API key when there is one, and a small DOM builder.

const KEY_ITEM = 'modeldock.apiKey';

/** The API key, kept in this tab's sessionStorage at most (gone when the tab closes). */
export const apiKey = {
  get: (): string | undefined => sessionStorage.getItem(KEY_ITEM) ?? undefined,
  set(key: string): void {
    if (key === '') sessionStorage.removeItem(KEY_ITEM);
    else sessionStorage.setItem(KEY_ITEM, key);
  },
};

/** An answer of the gateway, with how long it took as the page saw it. */
export interface Answer {
  status: number;
  ok: boolean;
  body: unknown;
  headers: Headers;
  ms: number;
}

/** Calls the gateway; JSON in and out, the key as a Bearer token. */
export async function call(method: 'GET' | 'POST', path: string, body?: unknown): Promise<Answer> {
  const headers: Record<string, string> = {};
  const key = apiKey.get();
  if (key !== undefined) headers.authorization = `Bearer ${key}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const started = performance.now();
  const res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  const ms = performance.now() - started;
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // Not JSON: kept as text.
  }
  return { status: res.status, ok: res.ok, body: parsed, headers: res.headers, ms };
}

/** The message of an error answer, in either error shape (`{"error": string}` or OpenAI's). */
export function errorMessage(answer: Answer): string {
  const error = (answer.body as { error?: unknown } | null)?.error;
  const message = typeof error === 'string' ? error : (error as { message?: unknown } | undefined)?.message;
  return `${answer.status}: ${typeof message === 'string' ? message : 'no message'}`;
}

type Child = Node | string | number | undefined | false;

/** An element with attributes (`class`, `for`, `aria-*`, ...) and children; strings become text, never HTML. */
export function el<K extends keyof HTMLElementTagNameMap>(tag: K, attributes: Record<string, string> = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) element.setAttribute(name, value);
  for (const child of children) {
    if (child === undefined || child === false) continue;
    element.append(typeof child === 'number' ? String(child) : child);
  }
  return element;
}

/** The element with `id`, which the page must have. */
export function byId<T extends HTMLElement>(id: string): T {
  const element = document.getElementById(id);
  if (element === null) throw new Error(`the page has no #${id}`);
  return element as T;
}

/**
 * The API-key form in the page's `#key-section` (shown when the gateway asks for a key, or when a key
 * is kept): a key given is used at once and `onKey` runs again; "Forget key" removes it.
 */
export function keyForm(onKey: () => void): { ask(message: string): void } {
  const section = byId<HTMLElement>('key-section');
  const input = el('input', { id: 'api-key', type: 'password', autocomplete: 'off', spellcheck: 'false' });
  const status = el('p', { id: 'key-status', role: 'status' });
  const forget = el('button', { type: 'button' }, 'Forget key');
  const form = el(
    'form',
    {},
    el('label', { for: 'api-key' }, 'API key'),
    input,
    el('button', { type: 'submit' }, 'Use key'),
    ' ',
    forget,
    status,
    el('p', { class: 'hint' }, "Kept in this tab's session storage only; sent to this gateway only."),
  );
  section.replaceChildren(form);
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    apiKey.set(input.value.trim());
    input.value = '';
    status.textContent = apiKey.get() === undefined ? 'No key.' : 'Key kept for this tab.';
    onKey();
  });
  forget.addEventListener('click', () => {
    apiKey.set('');
    status.textContent = 'Key forgotten.';
  });
  if (apiKey.get() !== undefined) section.hidden = false;
  return {
    ask(message) {
      section.hidden = false;
      status.textContent = message;
      input.focus();
    },
  };
}
