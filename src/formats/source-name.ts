// What the lab calls a model after its source (the card, the status bar, run names): a repo id as it
// is typed, a local folder by its name, and a URL by the end of its path (a hub-style URL by its repo
// id), never by the whole address.
import type { ModelSource } from './source.ts';

/** `…/org/name/resolve/<revision>/` or `…/tree/<revision>/`: a repository laid out like the hub's. */
const HUB_STYLE = /\/([^/]+\/[^/]+)\/(?:resolve|tree)\/([^/]+)\/?$/;

export function sourceName(source: Pick<ModelSource, 'id' | 'kind' | 'revision'>): string {
  const id = source.id.replace(/^(hf|url|local):/, '');
  if (source.kind === 'hub') return withRevision(id, source.revision);
  if (source.kind !== 'url') return id;
  const url = new URL(id);
  const hub = HUB_STYLE.exec(url.pathname);
  if (hub) return withRevision(decoded(hub[1]), decoded(hub[2]));
  // The last two folders say what the model is (models/student, run-3/step-500); the host is the
  // name of a model served at its root.
  return decoded(url.pathname.split('/').filter(Boolean).slice(-2).join('/')) || url.host;
}

function withRevision(repo: string, revision: string): string {
  return revision && revision !== 'main' ? `${repo}@${revision}` : repo;
}

function decoded(path: string): string {
  try {
    return decodeURIComponent(path);
  } catch {
    return path; // a stray % that is no escape
  }
}
