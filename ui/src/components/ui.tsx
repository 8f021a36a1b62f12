// Small form primitives so every control gets a label and the same look.

import { useId, type ButtonHTMLAttributes, type InputHTMLAttributes, type ReactNode, type SelectHTMLAttributes } from "react";

type Variant = "primary" | "secondary" | "danger" | "ghost" | "link";

const variants: Record<Variant, string> = {
  primary: "bg-accent text-white hover:bg-accent-hover disabled:opacity-50",
  secondary: "bg-s3 text-fg hover:bg-active disabled:opacity-50",
  danger: "bg-danger text-white hover:brightness-90 disabled:opacity-50",
  ghost: "text-fg hover:bg-hover disabled:opacity-50",
  link: "text-[#00a8fc] hover:underline p-0",
};

export function Button({
  variant = "primary",
  className = "",
  ...props
}: ButtonHTMLAttributes<HTMLButtonElement> & { variant?: Variant }) {
  const pad = variant === "link" ? "" : "px-4 py-2";
  return (
    <button
      type="button"
      {...props}
      className={`${pad} rounded text-sm font-medium transition-colors ${variants[variant]} ${className}`}
    />
  );
}

/** A form dialog's buttons: cancel, then the submit button with its label. */
export function FormActions({
  cancelLabel,
  onCancel,
  submitLabel,
  disabled,
  variant = "primary",
}: {
  cancelLabel: string;
  onCancel: () => void;
  submitLabel: string;
  disabled?: boolean;
  variant?: Variant;
}) {
  return (
    <div className="flex justify-end gap-2">
      <Button variant="ghost" onClick={onCancel}>
        {cancelLabel}
      </Button>
      <Button type="submit" variant={variant} disabled={disabled}>
        {submitLabel}
      </Button>
    </div>
  );
}

export function Field({
  label,
  hint,
  error,
  className = "",
  ...props
}: InputHTMLAttributes<HTMLInputElement> & { label: string; hint?: string; error?: string }) {
  const id = useId();
  const hintId = useId();
  return (
    <div className={`mb-4 ${className}`}>
      <label htmlFor={id} className="mb-2 block text-xs font-bold uppercase tracking-wide text-muted">
        {label}
        {props.required && <span className="text-danger"> *</span>}
      </label>
      <input
        id={id}
        aria-describedby={hint || error ? hintId : undefined}
        aria-invalid={error ? true : undefined}
        {...props}
        className="w-full rounded bg-s0 px-3 py-2.5 text-fg outline-none placeholder:text-muted focus-visible:outline-2"
      />
      {(hint || error) && (
        <p id={hintId} className={`mt-1 text-xs ${error ? "text-danger" : "text-muted"}`}>
          {error ?? hint}
        </p>
      )}
    </div>
  );
}

export function Select({
  label,
  children,
  className = "",
  ...props
}: SelectHTMLAttributes<HTMLSelectElement> & { label: string; children: ReactNode }) {
  const id = useId();
  return (
    <div className={`mb-4 ${className}`}>
      <label htmlFor={id} className="mb-2 block text-xs font-bold uppercase tracking-wide text-muted">
        {label}
      </label>
      <select id={id} {...props} className="w-full rounded bg-s0 px-3 py-2.5 text-fg outline-none">
        {children}
      </select>
    </div>
  );
}

export function Toggle({
  label,
  hint,
  checked,
  onChange,
  name,
  disabled,
}: {
  label: string;
  hint?: string;
  checked: boolean;
  onChange: (v: boolean) => void;
  name?: string;
  disabled?: boolean;
}) {
  const id = useId();
  const hintId = useId();
  return (
    <div className={`mb-4 flex items-start justify-between gap-4 ${disabled ? "opacity-50" : ""}`}>
      <div>
        <label htmlFor={id} className="font-medium text-fg-strong">
          {label}
        </label>
        {hint && (
          <p id={hintId} className="text-sm text-muted">
            {hint}
          </p>
        )}
      </div>
      <input
        id={id}
        name={name}
        type="checkbox"
        role="switch"
        checked={checked}
        disabled={disabled}
        aria-describedby={hint ? hintId : undefined}
        onChange={(e) => onChange(e.target.checked)}
        className="peer h-6 w-10 shrink-0 cursor-pointer disabled:cursor-not-allowed appearance-none rounded-full bg-[#80848e] transition-colors checked:bg-ok relative before:absolute before:left-0.5 before:top-0.5 before:h-5 before:w-5 before:rounded-full before:bg-white before:transition-transform checked:before:translate-x-4"
      />
    </div>
  );
}

export function SectionTitle({ children }: { children: ReactNode }) {
  return <h3 className="mb-3 mt-6 text-xs font-bold uppercase tracking-wide text-muted first:mt-0">{children}</h3>;
}

export function ErrorText({ children, testId }: { children: ReactNode; testId?: string }) {
  if (!children) return null;
  return (
    <p role="alert" data-testid={testId} className="mb-3 rounded bg-danger/10 px-3 py-2 text-sm text-danger">
      {children}
    </p>
  );
}
