/**
 * Type tests (compiled by `npm run typecheck`, never run): framing specs and handler
 * names are checked where a literal is written; a computed `string` passes and is
 * checked at run time (#17). Each `@ts-expect-error` fails the typecheck if the line
 * it marks stops being an error.
 */
import { expectTypeOf } from 'vitest';
import {
  type Channel,
  createServer,
  decode,
  decodeStream,
  decodeTransform,
  encode,
  encodeStream,
  encodeTransform,
  type FramingSpec,
  type HandlerSpec,
  lineFraming,
  openChannel,
  parseFraming,
  type Server,
} from '../../src/index.js';

declare const computed: string;

// Every kind, with the argument forms the parser accepts.
const valid: FramingSpec[] = [
  'line',
  'line:lf',
  'line:crlf',
  'delim:00',
  'delim:0d0a',
  'fixed:16',
  'length',
  'length:u8',
  'length:u16',
  'length:u24le',
  'length:u32be',
  'length:u64le',
  'length:le',
  'length:be',
  'digits:5',
  'varint',
  'netstring',
  'tagged:01=4,02=length:u16be',
  'eof',
  'mllp',
  'content-length',
];
void valid;
// @ts-expect-error misspelled kind
const misspelled: FramingSpec = 'lenght:u32be';
// @ts-expect-error unknown length width
const badWidth: FramingSpec = 'length:u12';
// @ts-expect-error fixed takes a number
const badFixed: FramingSpec = 'fixed:big';
// sbp is a codec like the others (codec/sbp.ts, #16).
const sbp: FramingSpec = 'sbp';
void [misspelled, badWidth, badFixed, sbp];

// parseFraming: literals checked, computed strings allowed.
parseFraming('length:u16le');
parseFraming(computed);
// @ts-expect-error misspelled kind
parseFraming('lenght:u32be');
parseFraming('sbp');
// @ts-expect-error sbp takes no argument
parseFraming('sbp:x');

// Stream adapters: the same rule, and Framing objects.
decodeStream('varint');
decodeStream(lineFraming());
decodeStream(computed);
// @ts-expect-error misspelled kind
decodeStream('varint32');
// @ts-expect-error misspelled kind
encodeStream('netstrings');
// @ts-expect-error misspelled kind
decode([], 'lines');
// @ts-expect-error misspelled kind
encode([], 'eof:1');
// @ts-expect-error misspelled kind
decodeTransform('mlp');
// @ts-expect-error misspelled kind
encodeTransform('contentlength');
expectTypeOf(decodeStream('line')).toEqualTypeOf<TransformStream<Uint8Array, Uint8Array>>();
expectTypeOf(decode([], 'line')).toEqualTypeOf<AsyncGenerator<Uint8Array, void, undefined>>();

// openChannel and createServer.
async function channels(): Promise<void> {
  expectTypeOf(await openChannel('127.0.0.1:7070', { framing: 'sbp' })).toEqualTypeOf<Channel>();
  await openChannel('127.0.0.1:7070', { framing: 'length:u32be', maxFrame: 4096 });
  await openChannel('127.0.0.1:7070', { framing: computed });
  await openChannel('127.0.0.1:7070', { framing: lineFraming({ crlf: true }) });
  // @ts-expect-error misspelled kind
  await openChannel('127.0.0.1:7070', { framing: 'lenght:u32be' });
}
void channels;

async function servers(): Promise<void> {
  expectTypeOf(await createServer({ handler: 'echo' })).toEqualTypeOf<Server>();
  await createServer({ handler: 'chat', framing: 'line:crlf' });
  await createServer({ handler: './handlers/upper.ts', framing: 'sbp' });
  await createServer({ handler: '../h.mjs' });
  await createServer({ handler: '/srv/handler.js' });
  await createServer({ handler: new URL('./h.js', import.meta.url).href });
  await createServer({ handler: 'file:///srv/h.js' });
  await createServer({ handler: 'handlers/echo.js' });
  await createServer({ handler: computed, framing: computed });
  await createServer({ handler: async (channel) => channel.close() });
  // @ts-expect-error misspelled built-in
  await createServer({ handler: 'eccho' });
  // @ts-expect-error misspelled framing
  await createServer({ handler: 'echo', framing: 'lenght:u32be' });
}
void servers;

const handlerNames: HandlerSpec[] = ['echo', 'chat', 'discard', './x.js'];
void handlerNames;
