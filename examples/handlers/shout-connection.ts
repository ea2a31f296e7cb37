/**
 * A connection handler module for examples/02-dispatch-models.ts (`dispatch: 'processes'`):
 * its default export serves one whole connection, here inside a worker process.
 * It answers every message in upper case and says which process did the work.
 */
import type { ConnectionHandler } from 'switchboard';

const shout: ConnectionHandler = async (channel) => {
  for await (const message of channel) {
    await channel.send(
      `${new TextDecoder().decode(message).toUpperCase()} from pid ${process.pid}`,
    );
  }
};
export default shout;
