// A local Bluesky network: PLC directory, PDS (2583), AppView (2584) and Ozone, from
// @atproto/dev-env, without the mock data its own `dev-env` bin seeds. Needs DB_POSTGRES_URL
// and REDIS_HOST; run with `node --import ./bind-local.mjs devnet.mjs` so it listens on
// 127.0.0.1 only. Prints `READY <pds url> <appview url>` once it serves; SIGTERM stops it.
import { TestNetwork } from '@atproto/dev-env'

const network = await TestNetwork.create({
  dbPostgresSchema: 'devnet',
  pds: { port: 2583, hostname: 'localhost' },
  bsky: { port: 2584, publicUrl: 'http://localhost:2584' },
  plc: { port: 2582 },
  ozone: { port: 2587, chatUrl: 'http://localhost:2590', chatDid: 'did:example:chat' },
})
console.log('READY', network.pds.url, network.bsky.url)

let stopping = false
const stop = async () => {
  if (stopping) return
  stopping = true
  await network.close()
  process.exit(0)
}
process.on('SIGTERM', stop)
process.on('SIGINT', stop)
