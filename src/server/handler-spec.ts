/**
 * The `handler` option as a string: its compile-time type, and the one place that
 * decides whether it names a built-in or a handler module ({@link chooseHandler}).
 *
 * The type is a built-in name or the path of a handler module, so that
 * `handler: 'eccho'` is a type error.
 *
 * Paths stay possible in the forms people write: relative (`./h.js`, `../h.js`),
 * absolute (`/srv/h.js`), a `file:` URL string (`new URL('./h.js', import.meta.url).href`),
 * or any name ending in a module extension (`handlers/echo.mjs`). A computed value of
 * the wide type `string` passes unchecked (as with framing specs), and is checked at
 * run time (`SB_BAD_OPTION`: not a built-in and no such module).
 */
import { didYouMean } from '../did-you-mean.js';
import { InvalidArgumentError } from '../errors.js';
import { resolveHandlerModule } from './dispatch/entry.js';

/** Names accepted as a built-in `handler`. */
export type BuiltinHandlerName = 'echo' | 'chat' | 'discard';

/** The built-in names, for validation. */
export const BUILTIN_HANDLER_NAMES: readonly BuiltinHandlerName[] = Object.freeze([
  'echo',
  'chat',
  'discard',
]);

/** File extensions of a handler module. */
export type HandlerModuleExtension = 'js' | 'mjs' | 'cjs' | 'ts' | 'mts' | 'cts';

/** A `handler` string: a built-in name or a handler module path. */
export type HandlerSpec =
  | BuiltinHandlerName
  | `./${string}`
  | `../${string}`
  | `/${string}`
  | `file:${string}`
  | `${string}.${HandlerModuleExtension}`;

/** `H` when it is a {@link HandlerSpec} or the wide `string`; otherwise HandlerSpec (a type error). */
export type CheckedHandlerSpec<H extends string> = string extends H
  ? string
  : H extends HandlerSpec
    ? H
    : HandlerSpec;

/**
 * A `handler` string, decided: a built-in, or a module's file: URL (checked to exist).
 * Plain data, so it crosses to worker threads and processes as it is.
 */
export type HandlerChoice = { builtin: BuiltinHandlerName } | { module: string };

/**
 * Decides what a `handler` string names: a built-in name wins; anything else is a module
 * path, resolved against the working directory.
 * @throws InvalidArgumentError `SB_BAD_OPTION` when no such module exists (with a guess
 *   when the string is a typo of a built-in name).
 */
export function chooseHandler(handler: string): HandlerChoice {
  if ((BUILTIN_HANDLER_NAMES as readonly string[]).includes(handler)) {
    return { builtin: handler as BuiltinHandlerName };
  }
  try {
    return { module: resolveHandlerModule(handler) };
  } catch (error) {
    // `handler: 'ecoh'` (a computed string escapes the type check) reads as a missing
    // module; name the built-in it was most likely meant to be.
    const guess = didYouMean(handler, BUILTIN_HANDLER_NAMES);
    if (guess === undefined) {
      throw error;
    }
    throw new InvalidArgumentError(
      'SB_BAD_OPTION',
      `handler: ${JSON.stringify(handler)} is neither a built-in handler nor an existing module (did you mean '${guess}'?)`,
    );
  }
}
