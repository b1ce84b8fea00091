// Cross-origin isolation (SharedArrayBuffer, needed by onnxruntime-web's threads) and where it
// comes from: the server's COOP/COEP headers, or the public/coi.js service-worker shim.
export interface IsolationState {
  isolated: boolean;
  source: 'headers' | 'service worker' | 'none';
  /** One sentence for the status details. */
  note: string;
}

export function isolationState(): IsolationState {
  const viaShim = Boolean(navigator.serviceWorker?.controller?.scriptURL.endsWith('/coi.js'));
  if (crossOriginIsolated) {
    return viaShim
      ? { isolated: true, source: 'service worker', note: 'This host sends no COOP/COEP headers; the coi.js service worker adds them. SharedArrayBuffer is available.' }
      : { isolated: true, source: 'headers', note: 'The server sends COOP/COEP headers. SharedArrayBuffer is available.' };
  }
  return {
    isolated: false,
    source: 'none',
    note: 'Not isolated: SharedArrayBuffer is off, so ONNX teachers run single-threaded on the CPU path. The WebGPU engine is unaffected.',
  };
}

const RELOAD_KEY = 'student-lab.coi-reload';

/**
 * On hosts that send no COOP/COEP headers (GitHub Pages), register public/coi.js, a service worker
 * that adds them, and reload once under its control. Resolves true when a reload is under way (do
 * not mount), false when the page stays as it is (already isolated, or the shim cannot help).
 */
export async function isolateViaServiceWorker(): Promise<boolean> {
  if (crossOriginIsolated || !isSecureContext || !('serviceWorker' in navigator)) return false;
  // Controlled but still not isolated, or reloaded once already: the shim cannot help here.
  if (navigator.serviceWorker.controller || sessionStorage.getItem(RELOAD_KEY)) return false;
  try {
    await navigator.serviceWorker.register(new URL('coi.js', document.baseURI));
    await navigator.serviceWorker.ready;
  } catch {
    return false; // service workers disabled (private mode, policy): run without isolation
  }
  sessionStorage.setItem(RELOAD_KEY, '1');
  location.reload();
  return true;
}
