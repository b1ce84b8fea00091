// Cross-origin isolation for static hosts that cannot send headers (e.g. GitHub Pages).
// This is a service worker, registered by src/app/isolation.ts when the page is not isolated. It
// re-serves every same-origin GET with COOP/COEP (and CORP) headers, so after one reload the page
// is cross-origin isolated and SharedArrayBuffer (onnxruntime-web's threads) is available.
// Cross-origin requests are left alone: fetch() to a model host or an endpoint is a CORS request,
// which COEP require-corp accepts without extra headers.

self.addEventListener('install', () => {
  self.skipWaiting();
});

self.addEventListener('activate', (event) => {
  event.waitUntil(self.clients.claim());
});

function withIsolationHeaders(response) {
  if (response.type === 'opaque' || response.type === 'opaqueredirect') return response;
  const headers = new Headers(response.headers);
  headers.set('Cross-Origin-Opener-Policy', 'same-origin');
  headers.set('Cross-Origin-Embedder-Policy', 'require-corp');
  headers.set('Cross-Origin-Resource-Policy', 'same-origin');
  return new Response(response.body, { status: response.status, statusText: response.statusText, headers });
}

self.addEventListener('fetch', (event) => {
  const request = event.request;
  if (request.method !== 'GET' || new URL(request.url).origin !== self.location.origin) return;
  // Chromium rejects refetching these (DevTools issues them); let the browser handle them.
  if (request.cache === 'only-if-cached' && request.mode !== 'same-origin') return;
  event.respondWith(fetch(request).then(withIsolationHeaders));
});
