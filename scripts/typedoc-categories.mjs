// @ts-check
/**
 * A TypeDoc plugin: puts every export of the public API in the category of the
 * layer it comes from (src/codec -> Codecs, src/net -> Sockets & channels, ...), so
 * the API reference reads by concept without a `@category` tag on each of ~150
 * declarations. A declaration that has its own `@category` keeps it.
 */
import { Comment, CommentTag, Converter, ReflectionKind } from 'typedoc';

/** Source folder (under src/) or file -> category, first match wins. */
const CATEGORIES = [
  ['src/codec/', 'Codecs'],
  ['src/binary/', 'Binary'],
  ['src/net/', 'Sockets & channels'],
  ['src/server/', 'Server'],
  ['src/testing/', 'Testing'],
  ['src/errors.ts', 'Errors'],
  ['src/options.ts', 'Server'],
  ['src/diagnostics.ts', 'Server'],
];

/** @param {import('typedoc').Application} app */
export function load(app) {
  app.converter.on(Converter.EVENT_CREATE_DECLARATION, (context, reflection) => {
    if (reflection.parent === undefined || !reflection.parent.kindOf(ReflectionKind.Module)) {
      return;
    }
    const symbol = context.getSymbolFromReflection(reflection);
    const file = symbol?.declarations?.[0]?.getSourceFile().fileName.replaceAll('\\', '/');
    const category = CATEGORIES.find(([prefix]) => file?.includes(`/${prefix}`))?.[1];
    if (category === undefined) {
      return;
    }
    reflection.comment ??= new Comment();
    if (!reflection.comment.blockTags.some((tag) => tag.tag === '@category')) {
      reflection.comment.blockTags.push(
        new CommentTag('@category', [{ kind: 'text', text: category }]),
      );
    }
  });
}
