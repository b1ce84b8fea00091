// Entry point: styles, cross-origin isolation, then the shell. The engine worker starts later, from App.
import { mount } from 'svelte';
import App from './app/App.svelte';
import { isolateViaServiceWorker } from './app/isolation.ts';
import './app/styles/tokens.css';
import './app/styles/base.css';

async function boot(): Promise<void> {
  if (await isolateViaServiceWorker()) return; // reloading under the isolation service worker
  const target = document.getElementById('app');
  if (!target) throw new Error('index.html lacks <div id="app">.');
  mount(App, { target });
  performance.mark('lab:interactive');
}

void boot();
