// Hash routing between panels (`#/models`, `#/train`, …): works from any base path and any static
// host, and keeps back/forward and links to a panel. An empty or unknown hash becomes the first panel.
import { PANELS, isPanelId, type PanelId } from './panels.ts';

function fromHash(hash: string): PanelId {
  const id = hash.replace(/^#\/?/, '');
  return isPanelId(id) ? id : PANELS[0].id;
}

export class HashRouter {
  current = $state<PanelId>(PANELS[0].id);

  constructor() {
    this.sync();
  }

  /** Follow the address bar (call on `hashchange`), rewriting a hash that names no panel. */
  sync(): void {
    this.current = fromHash(location.hash);
    if (location.hash !== `#/${this.current}`) history.replaceState(history.state, '', `#/${this.current}`);
  }

  go(id: PanelId): void {
    this.current = id;
    if (location.hash !== `#/${id}`) location.hash = `#/${id}`;
  }
}
