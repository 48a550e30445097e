// The core DAG suite (dag.suite.ts) on the Docker engine.
import { describeDag } from './dag.suite.js';

describeDag('docker', async () => ({}));
