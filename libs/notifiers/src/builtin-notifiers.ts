/**
 * The notifiers Gofer installs itself at startup (GOFER_BUILTIN_NOTIFIERS), each an app of this
 * repository built into an image: `log` is `apps/notifier-log`, `webhook` is `apps/notifier-webhook`.
 */
export const BUILTIN_NOTIFIERS = ['log', 'webhook'] as const;

/** One of {@link BUILTIN_NOTIFIERS}. */
export type BuiltinNotifier = (typeof BUILTIN_NOTIFIERS)[number];

/** The app (under `apps/`) a built-in notifier's image is built from, e.g. `notifier-webhook`. */
export function builtinNotifierApp(name: BuiltinNotifier): string {
  return `notifier-${name}`;
}
