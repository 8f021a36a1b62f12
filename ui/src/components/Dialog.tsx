import { useEffect, useId, useRef, type ReactNode } from "react";
import { createPortal } from "react-dom";
import { useT } from "../i18n";
import { Icon } from "./Icon";

/** Elements Tab can reach, for keeping focus inside an open dialog. */
export function focusables(root: HTMLElement): HTMLElement[] {
  return Array.from(
    root.querySelectorAll<HTMLElement>(
      'a[href], button:not([disabled]), input:not([disabled]), select:not([disabled]), textarea:not([disabled]), [tabindex]:not([tabindex="-1"])',
    ),
  ).filter((el) => !el.closest("[hidden]"));
}

/** Keeps Tab and Shift+Tab inside `root`, and closes on Escape. */
export function useFocusTrap(ref: React.RefObject<HTMLElement | null>, onClose: () => void, active = true) {
  const close = useRef(onClose);
  close.current = onClose;
  // Taken during the first render: by the time effects run, autoFocus has moved focus.
  const opener = useRef(document.activeElement as HTMLElement | null);
  useEffect(() => {
    if (!active) return;
    const root = ref.current;
    if (!root) return;
    const previous = opener.current;
    // React's autoFocus has already focused a field inside: keep it there.
    if (!root.contains(document.activeElement)) {
      const first = root.querySelector<HTMLElement>("[data-autofocus]") ?? focusables(root)[0];
      first?.focus();
    }
    const onKey = (e: KeyboardEvent) => {
      // A control that records key presses (the push-to-talk keybind) owns every key.
      if ((e.target as HTMLElement | null)?.closest?.("[data-keycapture]")) return;
      if (e.key === "Escape") {
        e.stopPropagation();
        e.preventDefault();
        close.current();
      } else if (e.key === "Tab") {
        const list = focusables(root);
        if (!list.length) return;
        const i = list.indexOf(document.activeElement as HTMLElement);
        if (e.shiftKey && (i <= 0)) {
          e.preventDefault();
          list[list.length - 1].focus();
        } else if (!e.shiftKey && i === list.length - 1) {
          e.preventDefault();
          list[0].focus();
        }
      }
    };
    root.addEventListener("keydown", onKey);
    return () => {
      root.removeEventListener("keydown", onKey);
      previous?.focus?.();
    };
  }, [ref, active]);
}

export function Dialog({
  title,
  description,
  onClose,
  children,
  wide,
}: {
  title: string;
  description?: string;
  onClose: () => void;
  children: ReactNode;
  wide?: boolean;
}) {
  const t = useT();
  const ref = useRef<HTMLDivElement>(null);
  const titleId = useId();
  const descId = useId();
  useFocusTrap(ref, onClose);
  return createPortal(
    <div
      className="fixed inset-0 z-50 flex items-center justify-center bg-black/70 p-4"
      onMouseDown={(e) => {
        if (e.target === e.currentTarget) onClose();
      }}
    >
      <div
        ref={ref}
        role="dialog"
        aria-modal="true"
        aria-labelledby={titleId}
        aria-describedby={description ? descId : undefined}
        className={`relative w-full ${wide ? "max-w-xl" : "max-w-md"} rounded-lg bg-s2 p-6 text-fg shadow-2xl`}
      >
        <button
          type="button"
          onClick={onClose}
          aria-label={t("common.close")}
          className="absolute right-3 top-3 rounded p-1 text-muted hover:text-fg"
        >
          <Icon name="close" size={22} />
        </button>
        <h2 id={titleId} className="mb-1 text-center text-2xl font-bold text-fg-strong">
          {title}
        </h2>
        {description && (
          <p id={descId} className="mb-4 text-center text-muted">
            {description}
          </p>
        )}
        {children}
      </div>
    </div>,
    document.body,
  );
}
