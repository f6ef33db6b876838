/**
 * Keeps a CONNECT's password out of the broker's memory once authentication has read it.
 *
 * mqtt-packet's parser keeps the last CONNECT it parsed as `parser.settings` (it reads the
 * protocol version from it) for the life of the connection, password included; and that
 * password Buffer is usually a view into the socket chunk the CONNECT arrived in, so the bytes
 * would stay as long as the device stays connected. `forgetPassword` overwrites them with zeros,
 * which also clears every other view of the same memory, and drops the parser's reference.
 *
 * When the CONNECT arrived split over two reads, the parser copies the password and the last read
 * still holds its tail, kept alive by whatever the parser has not consumed yet (the start of the
 * next packet). `rememberConnectEnd` (from aedes' preConnect, which runs right after the parser
 * consumed the CONNECT) notes where that read resumes; the bytes just before it are the CONNECT's
 * last ones, the password's tail, and are zeroed too when they match it.
 */
interface ParserState {
  settings?: { password?: unknown };
  _list?: { _bufs?: unknown[] };
}

const parserOf = (client: object): ParserState | undefined => (client as { _parser?: ParserState })._parser;

/** Where the read that completed each client's CONNECT resumes, if the parser still holds that read. */
const connectEnds = new WeakMap<object, Buffer>();

/** Call from aedes.preConnect (synchronous with the parse that consumed the CONNECT). */
export function rememberConnectEnd(client: object): void {
  const rest = parserOf(client)?._list?._bufs?.[0];
  if (Buffer.isBuffer(rest) && rest.byteOffset > 0) connectEnds.set(client, rest);
}

/** Zeroes the CONNECT password the client sent and drops the parser's reference to it. */
export function forgetPassword(client: object, password: Buffer | undefined): void {
  const rest = connectEnds.get(client);
  connectEnds.delete(client);
  if (password && password.length > 0) {
    if (rest) wipeTail(rest, password);
    password.fill(0);
  }
  const settings = parserOf(client)?.settings;
  if (settings && 'password' in settings) delete settings.password;
}

/** Zeroes the bytes right before `rest` in its memory if they are the end of `password`. */
function wipeTail(rest: Buffer, password: Buffer): void {
  const length = Math.min(password.length, rest.byteOffset);
  const before = Buffer.from(rest.buffer, rest.byteOffset - length, length);
  if (before.equals(password.subarray(password.length - length))) before.fill(0);
}
