// WebKit's own context menu (Back, Forward, Reload, in English whatever the language) has
// nothing for a chat app outside text fields. Our elements open their own menus; elsewhere
// a right click does nothing, as in Discord. Text fields keep the system's menu: cut, copy,
// paste and spelling belong to the platform.

/** Where the system's menu is still wanted: editable text, and selected text to copy. */
export function wantsSystemMenu(target: EventTarget | null): boolean {
  if (!(target instanceof Element)) return false;
  if (target.closest("input, textarea, [contenteditable=''], [contenteditable='true']")) return true;
  const selection = window.getSelection?.();
  return !!selection && !selection.isCollapsed && selection.toString().trim() !== "";
}

/** Installs the guard; returns the function that removes it. */
export function suppressSystemContextMenu(): () => void {
  const onContextMenu = (e: MouseEvent) => {
    if (!e.defaultPrevented && !wantsSystemMenu(e.target)) e.preventDefault();
  };
  window.addEventListener("contextmenu", onContextMenu);
  return () => window.removeEventListener("contextmenu", onContextMenu);
}
