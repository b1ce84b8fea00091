// Loading environments: the official layout `dataset/<domain>/{eval,fair,hard}.json` from any
// source that can read a file by path (a folder in Node, a browser File list or directory handle,
// a URL), and single JSON / JSONL files. Every problem is reported with file, item and field;
// items with errors are skipped, the rest load.
import { LabError } from '../engine/errors.ts';
import { DOMAIN_KEYS, isDomainKey, isTier, type DomainKey, type Tier } from './domains.ts';
import { makeScenario, validateItem, type Scenario, type ScenarioIssue } from './schema.ts';

/** Reads files of a dataset by '/'-separated path relative to its root. */
export interface ScenarioSource {
  /** A name for messages (a folder path, a URL). */
  readonly name: string;
  /** The file's text, or null when it does not exist. */
  readText(path: string): Promise<string | null>;
}

export interface LoadedScenarios {
  scenarios: Scenario[];
  issues: ScenarioIssue[];
}

export interface LayoutOptions {
  domains?: readonly DomainKey[];
  tiers?: readonly Tier[];
}

export class ScenarioLoadError extends LabError {
  constructor(message: string, hint?: string) {
    super('ScenarioLoadError', message, hint);
  }
}

/** JSON.parse's position as line:column, for messages. */
function jsonErrorWhere(text: string, err: unknown): string {
  const message = (err as Error).message;
  const pos = Number(/position (\d+)/.exec(message)?.[1]);
  if (!Number.isFinite(pos)) return message;
  const before = text.slice(0, pos);
  const line = before.split('\n').length;
  return `${message.replace(/ in JSON at position \d+.*$/, '')} at line ${line}, column ${pos - before.lastIndexOf('\n')}`;
}

/** The raw items of a JSON array (or one object), or of JSON Lines. */
export function parseItemsText(text: string, file: string): { raw: unknown[]; issues: ScenarioIssue[] } {
  const trimmed = text.replace(/^\uFEFF/, '').trim();
  if (trimmed === '') return { raw: [], issues: [{ severity: 'error', file, message: 'the file is empty' }] };
  try {
    const parsed: unknown = JSON.parse(trimmed);
    return { raw: Array.isArray(parsed) ? parsed : [parsed], issues: [] };
  } catch (err) {
    const lines = trimmed.split(/\r?\n/);
    // One line that is not JSON, or a file that starts like a JSON array: report it as JSON.
    if (lines.length < 2 || trimmed.startsWith('[')) {
      return { raw: [], issues: [{ severity: 'error', file, message: `not valid JSON: ${jsonErrorWhere(trimmed, err)}` }] };
    }
    const raw: unknown[] = [];
    const issues: ScenarioIssue[] = [];
    lines.forEach((line, i) => {
      if (line.trim() === '') return;
      try {
        raw.push(JSON.parse(line));
      } catch (lineErr) {
        issues.push({ severity: 'error', file, message: `line ${i + 1} is not valid JSON (read as JSON Lines): ${(lineErr as Error).message}` });
        raw.push(undefined);
      }
    });
    return { raw, issues };
  }
}

function validateAll(
  raw: unknown[],
  file: string,
  place: (obj: Record<string, unknown>, index: number) => { domain: DomainKey; tier: Tier | null } | ScenarioIssue,
): LoadedScenarios {
  const scenarios: Scenario[] = [];
  const issues: ScenarioIssue[] = [];
  raw.forEach((entry, index) => {
    if (entry === undefined) return; // an unreadable JSON line, already reported
    const { item, issues: itemIssues } = validateItem(entry, file, index);
    issues.push(...itemIssues);
    if (!item) return;
    const where = place(entry as Record<string, unknown>, index);
    if ('message' in where) issues.push(where);
    else scenarios.push(makeScenario(item, where.domain, where.tier, index, file));
  });
  return { scenarios, issues };
}

function parseDomainFile(text: string, path: string, domain: DomainKey, tier: Tier | null): LoadedScenarios {
  const { raw, issues } = parseItemsText(text, path);
  const loaded = validateAll(raw, path, () => ({ domain, tier }));
  return { scenarios: loaded.scenarios, issues: [...issues, ...loaded.issues] };
}

/** The texts of a domain's files under the first root prefix that has any of them. */
async function readDomainFiles(source: ScenarioSource, domain: DomainKey): Promise<{ dir: string; fair: string | null; hard: string | null; eval: string | null } | null> {
  for (const prefix of ['dataset/', '']) {
    const dir = `${prefix}${domain}`;
    const [fair, hard] = await Promise.all([source.readText(`${dir}/fair.json`), source.readText(`${dir}/hard.json`)]);
    // eval.json is fair ∪ hard: read it only when the split is missing.
    const all = fair === null && hard === null ? await source.readText(`${dir}/eval.json`) : null;
    if (fair !== null || hard !== null || all !== null) return { dir, fair, hard, eval: all };
  }
  return null;
}

/**
 * The official layout. The root may be the folder that holds `dataset/` or `dataset/` itself.
 * Per domain, fair.json + hard.json are read (eval.json is their union and is then skipped);
 * a domain with only eval.json loads with no tier (and is skipped when tiers are chosen).
 */
export async function loadOfficialLayout(source: ScenarioSource, options: LayoutOptions = {}): Promise<LoadedScenarios> {
  const out: LoadedScenarios = { scenarios: [], issues: [] };
  for (const domain of options.domains ?? DOMAIN_KEYS) {
    const files = await readDomainFiles(source, domain);
    if (!files) {
      out.issues.push({ severity: 'warning', file: `${source.name}/dataset/${domain}`, message: 'no fair.json, hard.json or eval.json for this domain' });
    } else if (files.eval === null) {
      for (const tier of ['fair', 'hard'] as const) {
        const text = files[tier];
        if (text !== null && (!options.tiers || options.tiers.includes(tier))) merge(out, parseDomainFile(text, `${files.dir}/${tier}.json`, domain, tier));
      }
    } else if (options.tiers) {
      out.issues.push({ severity: 'warning', file: `${files.dir}/eval.json`, message: 'has no fair/hard split next to it; skipped because tiers were chosen' });
    } else {
      merge(out, parseDomainFile(files.eval, `${files.dir}/eval.json`, domain, null));
    }
  }
  return out;
}

function merge(into: LoadedScenarios, from: LoadedScenarios): void {
  into.scenarios.push(...from.scenarios);
  into.issues.push(...from.issues);
}

/** Domain and tier from a path like `…/persuasion/hard.json`. */
function placeFromPath(file: string): { domain?: DomainKey; tier?: Tier } {
  const m = /(?:^|[\\/])([^\\/]+)[\\/](fair|hard|eval)\.jsonl?$/.exec(file);
  const domain = m && isDomainKey(m[1]) ? m[1] : undefined;
  const tier = m && isTier(m[2]) ? m[2] : undefined;
  return { domain, tier };
}

/**
 * One JSON (array or single item) or JSON Lines file. Each item's domain comes from its own
 * "domain" field, else `options.domain`, else the path (`<domain>/fair.json`); likewise the tier.
 */
export function loadScenarioFile(text: string, file: string, options: { domain?: DomainKey; tier?: Tier } = {}): LoadedScenarios {
  const fromPath = placeFromPath(file);
  const { raw, issues } = parseItemsText(text, file);
  const loaded = validateAll(raw, file, (obj, index) => {
    const domain = isDomainKey(obj.domain) ? obj.domain : (options.domain ?? fromPath.domain);
    if (!domain) {
      return {
        severity: 'error',
        file,
        index,
        field: 'domain',
        message: `cannot tell the domain: add a "domain" field (one of ${DOMAIN_KEYS.join(', ')}), choose one, or place the file at dataset/<domain>/eval.json`,
      };
    }
    const tier = isTier(obj.tier) ? obj.tier : (options.tier ?? fromPath.tier ?? null);
    return { domain, tier };
  });
  return { scenarios: loaded.scenarios, issues: [...issues, ...loaded.issues] };
}

/** The index of a bundled or hosted dataset (`index.json` next to `dataset/`). */
export interface ScenarioIndex {
  format: 'proactiveeval-layout';
  root: string;
  domains: Partial<Record<DomainKey, { fair: number; hard: number }>>;
  total: number;
  note?: string;
}

export async function readScenarioIndex(source: ScenarioSource): Promise<ScenarioIndex> {
  const text = await source.readText('index.json');
  if (text === null) throw new ScenarioLoadError(`${source.name} has no index.json.`);
  let index: ScenarioIndex;
  try {
    index = JSON.parse(text) as ScenarioIndex;
  } catch (err) {
    throw new ScenarioLoadError(`${source.name}/index.json is not valid JSON: ${jsonErrorWhere(text, err)}`);
  }
  if (index.format !== 'proactiveeval-layout' || typeof index.domains !== 'object') {
    throw new ScenarioLoadError(`${source.name}/index.json is not a scenario index (format "${String(index.format)}").`);
  }
  return index;
}

/** An address resolved against the page (Node: absolute only); a clear error when it is none. */
function resolveUrl(address: string): URL {
  try {
    return new URL(address, typeof location !== 'undefined' ? location.href : undefined);
  } catch {
    throw new ScenarioLoadError(`"${address}" is not a URL.`, 'Give an address like https://example.org/proactiveeval/ (the folder that holds dataset/) or https://example.org/items.json.');
  }
}

/** A file's text over HTTP, or null when the server has no such file. */
async function fetchText(url: URL, fetchImpl: typeof fetch): Promise<string | null> {
  let response: Response;
  try {
    response = await fetchImpl(url);
  } catch (err) {
    throw new ScenarioLoadError(
      `Could not fetch ${url.href}: ${(err as Error).message}.`,
      'Check the URL and that the server allows this page (CORS). The page itself reaches only https addresses, its own server and http://localhost.',
    );
  }
  // Static servers with an SPA fallback answer missing files with the page itself.
  if (response.status === 404 || (response.headers.get('content-type') ?? '').includes('text/html')) return null;
  if (!response.ok) throw new ScenarioLoadError(`Fetching ${url.href} failed with HTTP ${response.status}.`);
  return response.text();
}

/** A dataset served over HTTP (the page's bundled `scenarios/`, or any URL). */
export function urlSource(base: string, fetchImpl: typeof fetch = fetch): ScenarioSource {
  const root = resolveUrl(base.endsWith('/') ? base : `${base}/`);
  return {
    name: root.href.replace(/\/$/, ''),
    readText: (path) => fetchText(new URL(path, root), fetchImpl),
  };
}

/** Only the chosen domains and tiers of a single file (the layout loader filters as it reads). */
export function filterScenarios(loaded: LoadedScenarios, options: LayoutOptions): LoadedScenarios {
  return {
    scenarios: loaded.scenarios.filter(
      (s) => (!options.domains || options.domains.includes(s.domain)) && (!options.tiers || (s.tier !== null && options.tiers.includes(s.tier))),
    ),
    issues: loaded.issues,
  };
}

/** Environments at a URL: one .json / .jsonl file, or else a root of the official layout. */
export async function loadScenarioUrl(address: string, options: LayoutOptions = {}, fetchImpl: typeof fetch = fetch): Promise<LoadedScenarios> {
  const url = resolveUrl(address);
  if (!/\.jsonl?$/i.test(url.pathname)) return loadOfficialLayout(urlSource(url.href, fetchImpl), options);
  const text = await fetchText(url, fetchImpl);
  if (text === null) throw new ScenarioLoadError(`${url.href} was not found.`, 'Check the address; a folder in the official layout is given without a file name.');
  return filterScenarios(loadScenarioFile(text, url.href), options);
}

/** Files the person picked (`<input type=file webkitdirectory multiple>` or a drop), matched by path suffix. */
export function fileListSource(files: Iterable<File>, name = 'the selected files'): ScenarioSource {
  const list = [...files];
  return {
    name,
    async readText(path) {
      const wanted = `/${path}`;
      const file = list.find((f) => `/${f.webkitRelativePath || f.name}`.endsWith(wanted));
      return file ? file.text() : null;
    },
  };
}

/** A folder opened with the File System Access API (`showDirectoryPicker`). */
export function directoryHandleSource(root: FileSystemDirectoryHandle): ScenarioSource {
  return {
    name: root.name,
    async readText(path) {
      const parts = path.split('/').filter(Boolean);
      try {
        let dir = root;
        for (const part of parts.slice(0, -1)) dir = await dir.getDirectoryHandle(part);
        const handle = await dir.getFileHandle(parts[parts.length - 1]);
        return await (await handle.getFile()).text();
      } catch (err) {
        const errName = (err as { name?: string }).name;
        if (errName === 'NotFoundError' || errName === 'TypeMismatchError') return null;
        throw err;
      }
    },
  };
}

/** Errors first, then warnings; the loader's result is usable as long as `scenarios` is not empty. */
export function requireScenarios(loaded: LoadedScenarios, sourceName: string): Scenario[] {
  if (loaded.scenarios.length === 0) {
    const errors = loaded.issues.filter((i) => i.severity === 'error').length;
    throw new ScenarioLoadError(
      `No usable environments in ${sourceName}${errors ? ` (${errors} error${errors > 1 ? 's' : ''})` : ''}.`,
      'Expected dataset/<domain>/{fair,hard,eval}.json (JSON arrays of items) or one JSON/JSONL file of items.',
    );
  }
  return loaded.scenarios;
}
