/**
 * Compile-time type of a server's `handler` option when it is a string: a built-in
 * name or the path of a handler module, so that `handler: 'eccho'` is a type error.
 *
 * Paths stay possible in the forms people write: relative (`./h.js`, `../h.js`),
 * absolute (`/srv/h.js`), a `file:` URL string (`new URL('./h.js', import.meta.url).href`),
 * or any name ending in a module extension (`handlers/echo.mjs`). A computed value of
 * the wide type `string` passes unchecked (as with framing specs), and is checked at
 * run time (`SB_BAD_OPTION`: not a built-in and no such module).
 */
import type { BuiltinHandlerName } from './handlers.js';

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
