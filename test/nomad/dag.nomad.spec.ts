// The core DAG suite (test/e2e/dag.suite.ts) with GOFER_SCHEDULER=nomad, against the Nomad API stand-in:
// the same pipeline, outcomes, exit codes, timeout, retry and logs as on Docker.
import { afterAll } from 'vitest';
import { describeDag } from '../e2e/dag.suite.js';
import { startTestNomad, type TestNomad } from '../support/nomad.js';

let nomad: TestNomad | undefined;
afterAll(async () => nomad?.standIn.close());

describeDag('nomad', async () => {
  nomad = await startTestNomad();
  return nomad.env;
});
