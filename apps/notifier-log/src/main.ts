// The built-in `log` notifier: prints the summary of the run that just completed and exits 0
// (Gofer forwards a notifier's output to its worker's log). See docs/design.md §6.
import { summaryText, type Summary } from './summary-text.js';

const raw = process.env.GOFER_RUN_SUMMARY;
if (!raw) {
  process.stderr.write('notifier-log: GOFER_RUN_SUMMARY is not set: this image is a Gofer notifier, run by Gofer after a run\n');
  process.exit(2);
}
let summary: Summary;
try {
  summary = JSON.parse(raw) as Summary;
} catch (error) {
  process.stderr.write(`notifier-log: GOFER_RUN_SUMMARY is not JSON: ${(error as Error).message}\n`);
  process.exit(2);
}
process.stdout.write(`${summaryText(summary)}\n`);
