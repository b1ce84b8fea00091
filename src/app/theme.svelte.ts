// Light / dark / follow the system. The choice is stored in localStorage and applied as
// `data-theme` on <html>; tokens.css does the rest (no attribute = prefers-color-scheme).
export type ThemeChoice = 'system' | 'light' | 'dark';

const STORAGE_KEY = 'student-lab.theme';

function stored(): ThemeChoice {
  try {
    const value = localStorage.getItem(STORAGE_KEY);
    return value === 'light' || value === 'dark' ? value : 'system';
  } catch {
    return 'system'; // storage disabled: follow the system
  }
}

export class Theme {
  choice = $state<ThemeChoice>(stored());

  constructor() {
    this.apply();
  }

  set(choice: ThemeChoice): void {
    this.choice = choice;
    try {
      if (choice === 'system') localStorage.removeItem(STORAGE_KEY);
      else localStorage.setItem(STORAGE_KEY, choice);
    } catch {
      // not persisted; the choice still holds for this visit
    }
    this.apply();
  }

  private apply(): void {
    const root = document.documentElement;
    if (this.choice === 'system') delete root.dataset.theme;
    else root.dataset.theme = this.choice;
  }
}
