// `npm run nomad:dev`: serves the Nomad API stand-in on 127.0.0.1 for development (not a product
// feature; see apps/nomad-dev/src/nomad-stand-in.ts). NOMAD_DEV_PORT picks the port (default 4646,
// Nomad's own), NOMAD_DEV_TOKEN turns ACLs on.
import { startNomadStandIn } from './nomad-stand-in.js';

const port = Number(process.env.NOMAD_DEV_PORT ?? 4646);
const token = process.env.NOMAD_DEV_TOKEN || undefined;
const standIn = await startNomadStandIn({ port, token });
console.log(`nomad-dev: Nomad API stand-in at ${standIn.address}${token ? ' (ACL token required)' : ''}; containers labelled gofer.nomad-dev.instance=${standIn.instanceId}`);
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    void standIn.close().then(() => process.exit(0));
  });
}
